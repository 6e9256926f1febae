// Package text makes user- and sender-supplied strings safe to store: the
// same bytes must land in SQLite and PostgreSQL, and PostgreSQL refuses NUL
// in text columns, so a NUL must never turn into a 500 that a sender retries
// forever.
package text

import (
	"strings"
	"unicode/utf8"
)

// Clean replaces invalid UTF-8 and NUL with U+FFFD and cuts s to at most
// max bytes on a rune boundary (max <= 0 means no limit).
func Clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return Cut(s, max)
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
