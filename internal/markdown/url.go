package markdown

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// SafeURL reports whether a link target may be put into an href as is:
//
//   - absolute http and https URLs with a host (scheme in any case),
//   - mailto: URLs,
//   - paths on this site ("/incidents/4") and fragments ("#timeline").
//
// Everything else is refused: other schemes (javascript:, vbscript:,
// data:, file:), relative paths ("x/y", which would resolve differently on
// different pages), protocol-relative "//host" and "/\host" (they leave the
// site without looking like it), and any control character, space or
// backslash, which browsers strip or reinterpret before they read the
// scheme ("java\tscript:"). raw must be the decoded attribute value the
// browser will see; entity references are not resolved here.
func SafeURL(raw string) bool {
	if raw == "" || !utf8.ValidString(raw) {
		return false
	}
	for _, r := range raw {
		if r <= ' ' || r == '\\' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	switch raw[0] {
	case '/':
		return len(raw) == 1 || raw[1] != '/'
	case '#':
		return true
	}
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || !isScheme(scheme) {
		return false
	}
	switch strings.ToLower(scheme) {
	case "mailto":
		return true
	case "http", "https":
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return false
		}
		// A host is letters, digits, dots and hyphens (IDNs reach here
		// percent-encoded, which url.Parse decodes), or an IP literal.
		for _, r := range u.Host {
			if !(r == '.' || r == '-' || r == '_' || r == ':' || r == '[' || r == ']' ||
				r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80) {
				return false
			}
		}
		return true
	}
	return false
}

// isScheme reports whether s is an RFC 3986 scheme: a letter, then
// letters, digits, "+", "-" or ".". A colon after anything else ("a/b:c",
// "?x:y") is not a scheme separator.
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
