package alert

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quenchhq/quench/internal/text"
)

// Caps on what one alert may carry. Senders are machines we do not
// control; the caps keep one misbehaving rule (a label holding a stack
// trace, a templating loop) from filling the database, a page or a chat
// message.
const (
	MaxKeyBytes             = 256      // label and annotation names
	MaxLabelValueBytes      = 1 << 10  // label values
	MaxAnnotationValueBytes = 16 << 10 // annotation values
	MaxTitleRunes           = 300      // Title and Link.Title, counted in runes because they are read by people
	MaxURLBytes             = 2 << 10  // Link.URL
	MaxLabels               = 64       // labels per alert
	MaxAnnotations          = 64       // annotations per alert
	MaxLinks                = 32       // links per alert
	MaxFingerprintBytes     = 256      // Fingerprint
	MaxGroupKeyBytes        = 1 << 10  // GroupKey
	MaxBatch                = 10000    // alerts in one payload: an Alertmanager group of this many is taken whole (max_alerts in the snippet)
	maxKindBytes            = 32       // Link.Kind
)

// Clean makes s safe to store: invalid UTF-8 (including encoded UTF-16
// surrogates) and NUL become U+FFFD, one per offending byte, and the result
// is cut to at most maxBytes bytes at a rune boundary. PostgreSQL refuses
// both in text columns while SQLite keeps them, so without this the two
// stores would hold different text for the same alert. maxBytes <= 0 yields
// "".
func Clean(s string, maxBytes int) string {
	if maxBytes <= 0 {
		return ""
	}
	return text.Clean(s, maxBytes)
}

// cleanTitle turns a candidate headline into one line: runs of whitespace
// and control characters (a multi-line summary, a stray tab) become single
// spaces, and an over-long title ends in "…" so readers see it was cut.
func cleanTitle(s string) string {
	s = strings.Join(strings.FieldsFunc(Clean(s, MaxAnnotationValueBytes), isTitleSpace), " ")
	if utf8.RuneCountInString(s) <= MaxTitleRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxTitleRunes-1 {
			return strings.TrimRight(s[:i], " ") + "…"
		}
		n++
	}
	return s
}

func isTitleSpace(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// isClean reports whether Clean would leave s unchanged (length aside).
func isClean(s string) bool { return text.Clean(s, 0) == s }
