// Package text makes user- and sender-supplied strings safe to store: the
// same bytes must land in SQLite and PostgreSQL, and PostgreSQL refuses NUL
// in text columns, so a NUL must never turn into a 500 that a sender retries
// forever.
package text

import (
	"strings"
	"unicode/utf8"
)

// Clean replaces each invalid UTF-8 byte (encoded surrogates included) and
// each NUL with U+FFFD, as encoding/json does, and cuts the result to at
// most max bytes on a rune boundary (max <= 0 means no limit).
func Clean(s string, max int) string {
	if (max <= 0 || len(s) <= max) && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 {
			r = utf8.RuneError
		}
		if max > 0 && b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r) // an invalid byte decodes as RuneError, size 1
		i += size
	}
	return b.String()
}

// Cut shortens s to at most max bytes without splitting a rune.
func Cut(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// Line is Clean for single-line fields: line breaks and tabs become spaces
// and surrounding space is trimmed, so a title cannot inject a header or a
// second line into a notification.
func Line(s string, max int) string {
	s = Clean(s, 0)
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\t', '\v', '\f', '\u2028', '\u2029':
			return ' '
		}
		return r
	}, s)
	return Cut(strings.TrimSpace(s), max)
}
