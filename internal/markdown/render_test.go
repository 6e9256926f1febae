package markdown

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.html from the current output")

func TestXSSPayloadsRenderInert(t *testing.T) {
	// Every payload: output follows the output grammar, no tag or
	// attribute holds any of the forbidden strings, and what the writer
	// meant to show is still visible. Raw HTML shows as the text that was
	// written (people paste "<nil>" in log lines), so for those payloads
	// the visible text is the payload itself, escaped.
	tests := []struct{ in, visible string }{
		{`<script>alert(1)</script>`, `<script>alert(1)</script>`},
		{`<img src=x onerror=alert(1)>`, `<img src=x onerror=alert(1)>`},
		{`<svg onload=alert(1)>`, `<svg onload=alert(1)>`},
		{`[x](javascript:alert(1))`, `x`},
		{`[x](jAvAsCrIpT:alert(1))`, `x`},
		{`[x](java&#x09;script:alert(1))`, `x`},
		{`[x](&#106;avascript:alert(1))`, `x`},
		{`[x](javascript&colon;alert(1))`, `x`},
		{`[x](data:text/html;base64,PHNjcmlwdD4=)`, `x`},
		{`![x](javascript:alert(1))`, `x`},
		{`<a href="javascript:alert(1)">x</a>`, `<a href="javascript:alert(1)">x</a>`},
		{`{{constructor.constructor('alert(1)')()}}`, `{{constructor.constructor('alert(1)')()}}`},
		{`${7*7}`, `${7*7}`},
		{`{{.}} {{template "x"}}`, `{{.}} {{template "x"}}`},
		{`<javascript:alert(1)>`, `javascript:alert(1)`},
		{`[x](vbscript:msgbox)`, `x`},
		{`[x]( javascript:alert(1))`, `x`},
		{`[x](<javascript:alert(1)>)`, `x`},
		{"[x](java\nscript:alert(1))", `x`},
		{"[x](file:///etc/passwd)", `x`},
		{"[x][r]\n\n[r]: javascript:alert(1)", `x`},
		{"[x][r]\n\n[r]: <data:text/html,<script>alert(1)</script>>", `x`},
		{"<div onclick=alert(1)>\n\nhello\n\n</div>", `hello`},
		{`<iframe srcdoc="<script>alert(1)</script>">`, `<iframe srcdoc=`},
		{`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`, `<math>`},
		{"```\" onmouseover=\"alert(1)\n```", ``},
		{"```javascript:alert(1)\nx\n```", `x`},
		{`[x](https://ok.example "\" onmouseover=\"alert(1))`, `x`},
		{`[x](https://ok.example/"onmouseover="alert(1))`, `x`},
		{"[![x](javascript:alert(1))](https://ok.example)", `x`},
		{"<https://ok.example/\"onmouseover=alert(1)>", `https://ok.example/"onmouseover=alert(1)`},
		{"| a |\n|:-|\n| <script>alert(1)</script> |", `<script>alert(1)</script>`},
	}
	for _, tt := range tests {
		out := string(Render(tt.in))
		checkInert(t, tt.in, out)
		m := strings.ToLower(markup(out))
		for _, f := range []string{"<script", "onerror", "onload", "javascript:", "vbscript:", "data:text/html", "style"} {
			if strings.Contains(m, f) {
				t.Errorf("%q rendered %q: %q in markup", tt.in, out, f)
			}
		}
		if !strings.Contains(visible(out), tt.visible) {
			t.Errorf("%q rendered %q: visible text lacks %q", tt.in, out, tt.visible)
		}
	}
}

func TestGolden(t *testing.T) {
	// Ordinary Markdown: testdata/golden/NAME.md renders to NAME.html.
	// Review the diff after go test -run TestGolden -update.
	files, _ := filepath.Glob("testdata/golden/*.md")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := Renderer{IncidentLink: func(n int64) (string, string, bool) { return "/incidents/4", "Disk full", n == 4 }}
		got := string(r.Render(string(in)))
		checkInert(t, string(in), got)
		golden := strings.TrimSuffix(f, ".md") + ".html"
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s rendered:\n%s\nwant (%s):\n%s", f, got, golden, want)
		}
	}
}

func TestOrdinaryMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"**bold** and _it_", "<p><strong>bold</strong> and <em>it</em></p>\n"},
		{"line one\nline two", "<p>line one<br>\nline two</p>\n"},
		{"`<code>`", "<p><code>&lt;code&gt;</code></p>\n"},
		{"```\n<script>x</script>\n```", "<pre><code>&lt;script&gt;x&lt;/script&gt;\n</code></pre>\n"},
		{"~~gone~~", "<p><del>gone</del></p>\n"},
		{"- [x] done", `<ul>` + "\n" + `<li><input checked="" disabled="" type="checkbox"> done</li>` + "\n</ul>\n"},
		{"[MR](https://gitlab.example/mr/1)", `<p><a href="https://gitlab.example/mr/1" rel="nofollow noopener noreferrer">MR</a></p>` + "\n"},
		{"[MR](HTTPS://gitlab.example/mr/1)", `<p><a href="HTTPS://gitlab.example/mr/1" rel="nofollow noopener noreferrer">MR</a></p>` + "\n"},
		{"see https://grafana.example/d/x", `<p>see <a href="https://grafana.example/d/x" rel="nofollow noopener noreferrer">https://grafana.example/d/x</a></p>` + "\n"},
		{"[log](/incidents/4)", `<p><a href="/incidents/4" rel="nofollow noopener noreferrer">log</a></p>` + "\n"},
		{"[notes](#timeline)", `<p><a href="#timeline" rel="nofollow noopener noreferrer">notes</a></p>` + "\n"},
		{"[a b](https://x.example/a b)", `<p>[a b](<a href="https://x.example/a" rel="nofollow noopener noreferrer">https://x.example/a</a> b)</p>` + "\n"},
		{"[ä](https://x.example/ä)", `<p><a href="https://x.example/%C3%A4" rel="nofollow noopener noreferrer">ä</a></p>` + "\n"},
		// Images are links to the image, never <img>.
		{"![graph](https://grafana.example/x.png)", `<p><a href="https://grafana.example/x.png" rel="nofollow noopener noreferrer">graph</a></p>` + "\n"},
		// A refused link shows its text only.
		{"[bad](javascript:alert(1)) text", "<p>bad text</p>\n"},
		{"[proto](//evil.example/x)", "<p>proto</p>\n"},
		{"[proto](/&#x2F;evil.example/x)", "<p>proto</p>\n"},
		{"[rel](foo/bar)", "<p>rel</p>\n"},
		// No anchor inside an anchor.
		{"[![badge](https://ci.example/b.svg)](https://ci.example)", `<p><a href="https://ci.example" rel="nofollow noopener noreferrer">badge</a></p>` + "\n"},
		// Raw HTML shows as written.
		{"a <b>bold</b> claim", "<p>a &lt;b&gt;bold&lt;/b&gt; claim</p>\n"},
		{"err=<nil>", "<p>err=&lt;nil&gt;</p>\n"},
		{"<div>\nx\n</div>", "<p>&lt;div&gt;<br>\nx<br>\n&lt;/div&gt;</p>\n"},
		// Invalid UTF-8 and NUL do not reach the page.
		{"a\x00b\xff", "<p>a\uFFFDb\uFFFD</p>\n"},
	}
	for _, tt := range tests {
		got := string(Render(tt.in))
		if got != tt.want {
			t.Errorf("Render(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		checkInert(t, tt.in, got)
	}
}

func TestSafeURL(t *testing.T) {
	for _, u := range []string{
		"http://a.example", "https://a.example/x?y=1#z", "HTTPS://A.EXAMPLE", "hTtP://a.example:8080/",
		"https://[::1]:9090/graph", "https://user@a.example/", "mailto:ops@example.com", "MAILTO:ops@example.com?subject=x",
		"/incidents/4", "/", "/a//b", "#timeline", "https://xn--bcher-kva.example/", "https://a.example/?q=javascript:x",
	} {
		if !SafeURL(u) {
			t.Errorf("SafeURL(%q) = false, want true", u)
		}
	}
	for _, u := range []string{
		"", "javascript:alert(1)", "JAVASCRIPT:alert(1)", "jAvAsCrIpT:alert(1)", " javascript:alert(1)",
		"java\tscript:alert(1)", "java\nscript:alert(1)", "\x01javascript:alert(1)", "javascript\x00:alert(1)",
		"vbscript:msgbox", "data:text/html;base64,PHNjcmlwdD4=", "DATA:text/html,x", "file:///etc/passwd",
		"ftp://a.example/", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example",
		"https:/evil.example", "https:///evil.example", "https://", "http://a b.example", "https://a.example\\@evil.example",
		"x/y", "incidents/4", "./x", "../x", "?q=1", "&#106;avascript:alert(1)", "javascript&colon;alert(1)",
		"https://a.example/\u2028", "https://a.example/\u0085", "https://\xff.example", "https://a\"b.example/",
	} {
		if SafeURL(u) {
			t.Errorf("SafeURL(%q) = true, want false", u)
		}
	}
}

func TestRenderConcurrent(t *testing.T) {
	// One goldmark instance serves every request; run under -race.
	src := realisticUpdate()
	want := Render(src)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got := Render(src); got != want {
					t.Error("concurrent render differs")
					return
				}
				_ = Text(src)
			}
		})
	}
	wg.Wait()
}
