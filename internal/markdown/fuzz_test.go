package markdown

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRender checks the invariants on any input: the HTML follows the
// output grammar (checkInert) and both outputs are valid UTF-8 without NUL.
//
//	go test -run=NONE -fuzz=FuzzRender -fuzztime=30s ./internal/markdown/
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"**x** [a](https://b)", "<script>", "[x](javascript:1)", "#12 text #13", "- [ ] a\n- b", "`a`\n\n```\nb\n```",
		"| a | b |\n|:-|-:|\n| 1 | 2 |", "> > x", "![i](https://x/y.png \"t\")", "<a href=x>y</a>", "[x][r]\n\n[r]: /y",
		"www.example.com ops@example.com <https://x>", "[x](&#106;avascript:1)", "```js:x\ny\n```", "a\\\nb",
	} {
		f.Add(s)
	}
	r := Renderer{IncidentLink: func(n int64) (string, string, bool) {
		return fmt.Sprintf("/incidents/%d", n), fmt.Sprintf(`"<title %d>"`, n), n%2 == 0
	}}
	f.Fuzz(func(t *testing.T, s string) {
		out := string(r.Render(s))
		checkInert(t, s, out)
		if !utf8.ValidString(out) {
			t.Fatalf("Render(%q) is not valid UTF-8", s)
		}
		if txt := Text(s); !utf8.ValidString(txt) || strings.ContainsRune(txt, 0) {
			t.Fatalf("Text(%q) = %q: invalid UTF-8 or NUL", s, txt)
		}
	})
}
