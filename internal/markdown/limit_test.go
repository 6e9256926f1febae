package markdown

import (
	"strings"
	"testing"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// pathological returns inputs that make naive Markdown renderers slow or
// large, each at most MaxSource bytes.
func pathological() map[string]string {
	var ticks strings.Builder
	for i := 1; ticks.Len() < MaxSource; i++ {
		ticks.WriteString(strings.Repeat("`", i%300) + "a")
	}
	p := map[string]string{
		"quote_nest":      strings.Repeat("> ", 30000) + "deep",
		"list_nest":       strings.Repeat("- ", 30000) + "deep",
		"ordered_nest":    strings.Repeat("1. ", 20000) + "deep",
		"quote_list_nest": strings.Repeat("> - ", 16000) + "deep",
		"open_brackets":   strings.Repeat("[", 10000),
		"brackets_64k":    strings.Repeat("[", MaxSource),
		"nested_brackets": strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		"open_images":     strings.Repeat("![", 30000),
		"open_links":      strings.Repeat("[a](", 16000),
		"open_angle":      strings.Repeat("[a](<", 13000),
		"open_titles":     strings.Repeat(`[a](b "`, 9000),
		"open_links_ml":   strings.Repeat("[a](\n", 13000),
		"ref_links":       "[a]: /x\n" + strings.Repeat("[a]", 21000),
		"ref_defs":        strings.Repeat("[a]: /x\n", 8000),
		"emphasis":        strings.Repeat("*a **a ", 9000),
		"emphasis_nest":   strings.Repeat("*", 32000) + "a" + strings.Repeat("*", 32000),
		"backticks":       ticks.String(),
		"lt":              strings.Repeat("<a ", 21000),
		"autolinks":       strings.Repeat("http://a.example ", 3800),
		"wide_table":      "|" + strings.Repeat("a|", 8000) + "\n|" + strings.Repeat("-|", 8000) + "\n" + strings.Repeat("x\n", 16000),
		"long_table":      "|a|b|\n|-|-|\n" + strings.Repeat("|1|2|\n", 10000),
		"refs":            strings.Repeat("#1 ", 21000),
		"newlines":        strings.Repeat("a\n", 32000),
		"mixed":           strings.Repeat("*_~`[<>!#&\\|", 5000),
	}
	for k, v := range p {
		if len(v) > MaxSource {
			p[k] = v[:MaxSource]
		}
	}
	return p
}

func TestPathologicalInput(t *testing.T) {
	// Bounded time is shown by BenchmarkPathological; here every input
	// completes with inert output of bounded size.
	r := Renderer{IncidentLink: func(n int64) (string, string, bool) { return "/incidents/1", "t", true }}
	for name, in := range pathological() {
		out := string(r.Render(in))
		checkInert(t, name, out)
		// Linked "#1 " grows 25 times; padding a table grew 2000 times.
		if len(out) > 32*len(in)+1024 {
			t.Errorf("%s: %d bytes in, %d bytes out", name, len(in), len(out))
		}
		if txt := Text(in); len(txt) > 4*len(in)+1024 {
			t.Errorf("%s: Text %d bytes in, %d bytes out", name, len(in), len(txt))
		}
	}
}

func TestLongInputIsCut(t *testing.T) {
	in := strings.Repeat("é", MaxSource) // 2 bytes a rune: cut mid-input at a rune boundary
	out := string(Render(in))
	if n := strings.Count(out, "é"); n != MaxSource/2 {
		t.Errorf("kept %d runes, want %d", n, MaxSource/2)
	}
}

func TestNestingLimit(t *testing.T) {
	out := string(Render(strings.Repeat("> ", maxNesting+5) + "deep"))
	if n := strings.Count(out, "<blockquote>"); n != maxNesting {
		t.Errorf("%d block quotes, want %d", n, maxNesting)
	}
	if !strings.Contains(out, "&gt; &gt; &gt; &gt; &gt; deep") {
		t.Errorf("the rest is not text: %s", out[len(out)-200:])
	}
	// Ordinary nesting is untouched.
	if out := string(Render("> - a\n>   - b\n>     > c")); strings.Count(out, "<blockquote>") != 2 || strings.Count(out, "<ul>") != 2 {
		t.Errorf("ordinary nesting: %s", out)
	}
}

func TestTableLimit(t *testing.T) {
	// A table that padding would blow up stays text; real tables of the
	// same size in bytes render.
	wide := "|" + strings.Repeat("a|", 300) + "\n|" + strings.Repeat("-|", 300) + "\n" + strings.Repeat("x\n", 200)
	if out := string(Render(wide)); strings.Contains(out, "<table>") {
		t.Errorf("padded table rendered (%d bytes)", len(out))
	}
	long := "|a|b|\n|-|-|\n" + strings.Repeat("|1|2|\n", 10000)
	if out := string(Render(long)); strings.Count(out, "<tr>") != 10001 {
		t.Errorf("long table: %d rows", strings.Count(out, "<tr>"))
	}
	if delimiterColumns([]byte("|:--|--:|:-:|---|\n")) != 4 || delimiterColumns([]byte("--|--")) != 2 || delimiterColumns([]byte("| a |")) != 0 {
		t.Error("delimiterColumns")
	}
}

func TestLinkLimits(t *testing.T) {
	// Long but real destinations (Kibana, Grafana) still link, also after
	// a hostile stretch has used up the scan budget.
	long := "https://kibana.example/app/discover#/?_a=" + strings.Repeat("(columns:!(message),query:x),", 200)
	doc := "[logs](" + long + ")\n\n" + strings.Repeat("[a](", 12000) + "\n\n[later](https://x.example/later)"
	out := string(Render(doc))
	if !strings.Contains(out, `<a href="https://kibana.example/app/discover`) {
		t.Error("long destination did not link")
	}
	if !strings.Contains(out, `<a href="https://x.example/later"`) {
		t.Error("link after hostile stretch did not link")
	}
	// Brackets beyond maxOpenBrackets are text, but the document renders
	// the same links before and after.
	out = string(Render(strings.Repeat("[", maxOpenBrackets+10) + "\n\n[ok](https://ok.example) [a [b [c](https://c.example)]]"))
	if strings.Count(out, "<a href") != 2 {
		t.Errorf("links after many brackets: %s", out[len(out)-200:])
	}
	if n, ends := destinationScan([]byte("https://x.example/a_(b)) rest"), 100); !ends || n != 23 {
		t.Errorf("destinationScan = %d, %v", n, ends)
	}
	if _, ends := destinationScan([]byte(strings.Repeat("(", 200)), 100); ends {
		t.Error("destinationScan past limit")
	}
}

func TestLinesReaderValue(t *testing.T) {
	// linesReader.Value must agree with goldmark's block reader on every
	// segment of every block, padding (tabs) and container prefixes
	// included.
	for _, doc := range []string{
		"[a](\n[b] c\n> d [e]\n\tf",
		"> quoted [a\n> b] text\n> more\n>\tpad",
		"- item [a\n  b](c)\n  \td\n- next",
		strings.Repeat("[x](\n", 40),
	} {
		src := []byte(doc)
		root := md.Parser().Parse(text.NewReader(src))
		_ = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if !entering || n.Type() != ast.TypeBlock || n.Lines() == nil || n.Lines().Len() == 0 {
				return ast.WalkContinue, nil
			}
			lines := n.Lines()
			want := text.NewBlockReader(src, lines)
			got := &linesReader{Reader: text.NewBlockReader(src, lines), lines: lines}
			first, last := lines.At(0).Start, lines.At(lines.Len()-1).Stop
			for a := first; a <= last; a++ {
				for b := a; b <= last; b++ {
					seg := text.NewSegment(a, b)
					if w, g := want.Value(seg), got.Value(seg); string(w) != string(g) {
						t.Fatalf("%q: Value(%d, %d) = %q, want %q", doc, a, b, g, w)
					}
				}
			}
			return ast.WalkContinue, nil
		})
	}
}
