package markdown

import (
	"html"
	"regexp"
	"strings"
	"testing"
)

// The output grammar: text with '<', '>' and '&'-entities escaped, and
// tags from a short list with a short list of attributes, values in
// double quotes. checkInert holds every rendered output to it.
var (
	tagRE  = regexp.MustCompile(`^<(/?)([a-z][a-z0-9]*)((?: [a-z]+="[^"<>]*")*)>`)
	attrRE = regexp.MustCompile(` ([a-z]+)="([^"<>]*)"`)
	tags   = map[string]map[string]*regexp.Regexp{
		"a":     {"href": nil, "title": regexp.MustCompile(`.*`), "rel": regexp.MustCompile(`^nofollow noopener noreferrer$`)},
		"input": {"checked": regexp.MustCompile(`^$`), "disabled": regexp.MustCompile(`^$`), "type": regexp.MustCompile(`^checkbox$`)},
		"th":    {"align": regexp.MustCompile(`^(left|right|center)$`)},
		"td":    {"align": regexp.MustCompile(`^(left|right|center)$`)},
		"code":  {"class": regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]+$`)},
		"ol":    {"start": regexp.MustCompile(`^[0-9]+$`)},
		"p":     {}, "br": {}, "strong": {}, "em": {}, "del": {}, "pre": {}, "ul": {}, "li": {}, "blockquote": {},
		"h1": {}, "h2": {}, "h3": {}, "h4": {}, "h5": {}, "h6": {}, "hr": {},
		"table": {}, "thead": {}, "tbody": {}, "tr": {},
	}
	// Never in markup, whatever the case or encoding.
	forbidden = []string{"<script", "javascript:", "vbscript:", "data:", "onerror", "onload", "style", "srcdoc"}
)

// checkInert fails unless out follows the output grammar: only listed tags
// and attributes, every href passing SafeURL, nothing forbidden inside any
// tag, and no unescaped '<' or '>' in text.
func checkInert(t testing.TB, in, out string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		if len(in) > 200 {
			in = in[:200] + "…"
		}
		if len(out) > 400 {
			out = out[:400] + "…"
		}
		t.Fatalf("input %q\nrendered %q:\n"+format, append([]any{in, out}, args...)...)
	}
	rest := out
	for rest != "" {
		i := strings.IndexAny(rest, "<>")
		if i < 0 {
			break
		}
		if rest[i] == '>' {
			fail("unescaped '>' in text at %q", rest[i:min(len(rest), i+40)])
		}
		rest = rest[i:]
		m := tagRE.FindStringSubmatch(rest)
		if m == nil {
			fail("not an allowed tag at %q", rest[:min(len(rest), 60)])
		}
		allowed, ok := tags[m[2]]
		if !ok {
			fail("tag %q not allowed", m[0])
		}
		if m[1] == "/" && m[3] != "" {
			fail("attributes on end tag %q", m[0])
		}
		// Titles are free text (a tooltip) and hrefs are held to SafeURL
		// (a safe URL may say "javascript:" in its query); everything else
		// in a tag must hold nothing forbidden.
		markup := "<" + m[2]
		for _, a := range attrRE.FindAllStringSubmatch(m[3], -1) {
			markup += " " + a[1]
			if a[1] != "title" && a[1] != "href" {
				markup += "=" + html.UnescapeString(a[2])
			}
		}
		for _, f := range forbidden {
			if strings.Contains(strings.ToLower(markup), f) {
				fail("%q in markup %q", f, m[0])
			}
		}
		for _, a := range attrRE.FindAllStringSubmatch(m[3], -1) {
			re, ok := allowed[a[1]]
			if !ok {
				fail("attribute %q not allowed on <%s>", a[1], m[2])
			}
			v := html.UnescapeString(a[2])
			if a[1] == "href" {
				if !SafeURL(v) {
					fail("unsafe href %q", v)
				}
			} else if !re.MatchString(v) {
				fail("attribute %s=%q not allowed on <%s>", a[1], v, m[2])
			}
		}
		rest = rest[len(m[0]):]
	}
	if strings.Contains(strings.ToLower(out), "<script") {
		fail("<script in output")
	}
}

// markup returns the tags of out, entities in them decoded.
func markup(out string) string {
	return html.UnescapeString(strings.Join(regexp.MustCompile(`<[^>]*>`).FindAllString(out, -1), ""))
}

// visible returns the text a browser shows for out: tags dropped, entities
// decoded.
func visible(out string) string {
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(out, ""))
}

func TestCheckInertCatches(t *testing.T) {
	// The checker itself must reject what it is there to catch.
	for _, bad := range []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href="jav&#x61;script:alert(1)">x</a>`,
		`<a href="//evil.example">x</a>`,
		`<p style="color:red">x</p>`,
		`<p onclick="x">x</p>`,
		`<td align="left;x">x</td>`,
		`<code class="language-javascript:x">x</code>`,
		`<!-- x -->`,
		`a > b`,
		`<svg onload=alert(1)>`,
	} {
		ft := &fakeT{}
		func() {
			defer func() { _ = recover() }()
			checkInert(ft, "", bad)
		}()
		if !ft.failed {
			t.Errorf("checkInert accepted %q", bad)
		}
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
