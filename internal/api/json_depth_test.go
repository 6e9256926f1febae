package api

import (
	"strings"
	"testing"
)

// depthByByte is the byte-at-a-time reading checkDepth replaced: the
// deepest nesting outside strings, or -1 for an unterminated string.
func depthByByte(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// checkDepth, which skips strings with IndexByte, refuses exactly the
// bodies nested deeper than the limit, brackets and escaped quotes inside
// strings included.
func TestCheckDepthSkipsStrings(t *testing.T) {
	bodies := []string{
		`{}`, `[[[]]]`, `{"a":"[[[[["}`, `{"a":"\"[[[["}`, `{"a":"\\"}`, `{"a":"\\\"[[[[[","b":[[]]}`,
		`{"a":"x\\\\"}[[[`, `"unterminated [[[[`, `{"a":"\\`, `[["]]]]\"]]"]]`, `{"k\"[":"v\\\\\\\"{{{{"}`,
		strings.Repeat(`{"a":`, 5) + `"` + strings.Repeat(`\\`, 7) + `"` + strings.Repeat(`}`, 5),
	}
	for _, b := range bodies {
		want := depthByByte([]byte(b))
		for limit := 0; limit <= 7; limit++ {
			err := checkDepth([]byte(b), limit)
			if refused := err != nil; refused != (want > limit) {
				t.Errorf("%s, limit %d: refused %v, nesting %d", b, limit, refused, want)
			}
		}
	}
}
