package markdown

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var (
	tagRE       = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>`)
	handlerRE   = regexp.MustCompile(`(?i)\son[a-z]+\s*=|\sstyle\s*=|\ssrc\s*=`)
	allowedTags = map[string]bool{"p": true, "br": true, "strong": true, "em": true, "del": true, "code": true, "pre": true,
		"a": true, "ul": true, "ol": true, "li": true, "blockquote": true, "h1": true, "h2": true, "h3": true, "h4": true,
		"h5": true, "h6": true, "hr": true, "table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "input": true}
)

// checkInert fails unless every tag in out is an allowed one without event
// handlers, styles or sources, and every href is safe.
func checkInert(t testing.TB, in string, out string) {
	t.Helper()
	for _, m := range tagRE.FindAllStringSubmatch(out, -1) {
		if !allowedTags[strings.ToLower(m[1])] || handlerRE.MatchString(m[2]) {
			t.Fatalf("%q rendered %q: tag %q", in, out, m[0])
		}
	}
	for _, h := range hrefs(out) {
		if !SafeURL(h) {
			t.Fatalf("%q rendered %q: href %q", in, out, h)
		}
	}
}

func TestXSSPayloadsRenderInert(t *testing.T) {
	for _, p := range []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<svg onload=alert(1)>`,
		`[x](javascript:alert(1))`,
		`[x](jAvAsCrIpT:alert(1))`,
		`[x](java&#x09;script:alert(1))`,
		`[x](&#106;avascript:alert(1))`,
		`[x](data:text/html;base64,PHNjcmlwdD4=)`,
		`![x](javascript:alert(1))`,
		`![x](https://tracker.example/pixel.png)`,
		`<a href="javascript:alert(1)">x</a>`,
		`<javascript:alert(1)>`,
		`[x](vbscript:msgbox)`,
		`[x]( javascript:alert(1))`,
		"[x](java\nscript:alert(1))",
		`[x][r]` + "\n\n" + `[r]: javascript:alert(1)`,
		"<div onclick=alert(1)>\n\nhello\n\n</div>",
		`[x](//evil.example)`,
		`[x](\\evil.example)`,
	} {
		out := string(Render(p))
		checkInert(t, p, out)
		if strings.Contains(out, "//evil.example") && strings.Contains(out, "href") {
			t.Errorf("%q kept a protocol-relative link: %s", p, out)
		}
	}
	// Template syntax stays literal text.
	for _, p := range []string{"{{constructor.constructor('alert(1)')()}}", "${7*7}", "{{.}}"} {
		if out := string(Render(p)); !strings.Contains(out, p) {
			t.Errorf("%q rendered %q", p, out)
		}
	}
	// Raw HTML is shown as text, not dropped.
	if out := string(Render(`a <b>bold</b> claim`)); !strings.Contains(out, "&lt;b&gt;bold&lt;/b&gt;") {
		t.Errorf("raw HTML: %q", out)
	}
}

func TestOrdinaryMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"**bold** and _it_", "<strong>bold</strong> and <em>it</em>"},
		{"line one\nline two", "line one<br>\nline two"},
		{"- a\n- b", "<li>a</li>"},
		{"- [x] done\n- [ ] open", `type="checkbox"`},
		{"`<code>`", "<code>&lt;code&gt;</code>"},
		{"```\n<script>x</script>\n```", "&lt;script&gt;x&lt;/script&gt;"},
		{"| a | b |\n|---|---|\n| 1 | 2 |", "<table>"},
		{"~~gone~~", "<del>gone</del>"},
		{"[MR](https://gitlab.example/mr/1)", `<a href="https://gitlab.example/mr/1" rel="nofollow noopener noreferrer">MR</a>`},
		{"see https://grafana.example/d/x", `<a href="https://grafana.example/d/x" rel="nofollow noopener noreferrer">`},
		{"[mail](mailto:ops@example.com)", `href="mailto:ops@example.com"`},
		{"[log](/incidents/4)", `href="/incidents/4"`},
		{"![graph](https://grafana.example/x.png)", `<a href="https://grafana.example/x.png" rel="nofollow noopener noreferrer">graph</a>`},
		{"[bad](javascript:alert(1)) text", "bad text"},
	}
	for _, tt := range tests {
		if got := string(Render(tt.in)); !strings.Contains(got, tt.want) {
			t.Errorf("Render(%q) = %q, want it to contain %q", tt.in, got, tt.want)
		}
	}
}

func TestIncidentReferences(t *testing.T) {
	r := Renderer{IncidentLink: func(n int64) (string, string, bool) {
		if n == 7 {
			return "/incidents/7", "Queue backlog", true
		}
		return "", "", false
	}}
	out := string(r.Render("see #7 and #8, not abc#7, `#7` or [#7](https://x.example)"))
	if strings.Count(out, `href="/incidents/7"`) != 1 || !strings.Contains(out, `title="Queue backlog"`) {
		t.Fatalf("references: %s", out)
	}
	if strings.Contains(out, "/incidents/8") || !strings.Contains(out, "#8") {
		t.Fatalf("invisible incident linked: %s", out)
	}
	if out := string(Render("see #7")); strings.Contains(out, "href") {
		t.Fatalf("Render without a resolver linked: %s", out)
	}
}

func TestText(t *testing.T) {
	got := Text("# Title\n\nSome **bold** [link](https://x.example) and [bad](javascript:x).\n\n- one\n- two\n\n```\ncode <b>\n```")
	for _, want := range []string{"Title", "Some bold link (https://x.example) and bad.", "- one", "- two", "code <b>"} {
		if !strings.Contains(got, want) {
			t.Errorf("Text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "javascript") || strings.Contains(got, "**") {
		t.Errorf("Text kept markup or unsafe URL:\n%s", got)
	}
	if e := Excerpt("The consumer of the queue stopped after the deploy of version 4.2 and messages piled up", 40); utf8.RuneCountInString(e) > 41 || !strings.HasSuffix(e, "…") {
		t.Errorf("Excerpt = %q", e)
	}
	if e := Excerpt("short", 40); e != "short" {
		t.Errorf("Excerpt short = %q", e)
	}
}

func TestPathologicalInputCompletes(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("> ", 10000) + "deep",
		strings.Repeat("[", 20000),
		strings.Repeat("*a", 20000),
		"|" + strings.Repeat("a|", 2000) + "\n|" + strings.Repeat("-|", 2000) + "\n" + strings.Repeat("|x", 2000) + "\n",
		strings.Repeat("x", MaxSource*2),
	} {
		out := Render(in)
		checkInert(t, in[:20], string(out))
		Text(in)
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"**x** [a](https://b)", "<script>", "[x](javascript:1)", "#12 text", "- [ ] a\n- b", "`a`\n\n```\nb\n```"} {
		f.Add(s)
	}
	r := Renderer{IncidentLink: func(n int64) (string, string, bool) { return fmt.Sprintf("/incidents/%d", n), "t", n%2 == 0 }}
	f.Fuzz(func(t *testing.T, s string) {
		checkInert(t, s, string(r.Render(s)))
		_ = Text(s)
	})
}

// hrefs extracts href values (HTML-unescaped enough for the check).
func hrefs(html string) []string {
	var out []string
	for _, part := range strings.Split(html, `href="`)[1:] {
		v, _, _ := strings.Cut(part, `"`)
		v = strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(v)
		out = append(out, v)
	}
	return out
}

func BenchmarkRender(b *testing.B) {
	src := strings.Repeat("The **consumer** stopped after deploy `4.2`; see [dashboard](https://grafana.example/d/q) and #12.\n\n- restarted pods\n- drained the queue\n\n", 12)
	r := Renderer{IncidentLink: func(n int64) (string, string, bool) { return "/incidents/12", "x", true }}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		r.Render(src)
	}
}
