// Package markdown renders what people write in incident summaries and
// updates. The HTML is safe to put into pages that also hold internal
// content: raw HTML is escaped, links keep only http, https and mailto
// destinations (or same-site paths), images become links (no third-party
// loads), and "#123" links to an incident only when the viewer may see it.
package markdown

import (
	"bytes"
	"html/template"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// MaxSource bounds what is rendered; longer input is cut, so no request
// can make rendering slow.
const MaxSource = 64 << 10

// Renderer renders Markdown for one viewer.
type Renderer struct {
	// IncidentLink resolves "#123" for this viewer; ok false leaves the
	// text as it is, revealing nothing about incidents the viewer may not
	// see. Nil never links.
	IncidentLink func(number int64) (href, title string, ok bool)
}

// Render returns sanitized HTML without incident links.
func Render(s string) template.HTML { return Renderer{}.Render(s) }

// Render returns sanitized HTML for Markdown source s.
func (r Renderer) Render(s string) template.HTML {
	src := []byte(cut(s))
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(&sanitizer{link: r.IncidentLink}, 0))),
		goldmark.WithRendererOptions(html.WithHardWraps()), // pasted log lines keep their breaks
	)
	var buf bytes.Buffer
	if err := md.Convert(src, &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(s))
	}
	return template.HTML(buf.String())
}

func cut(s string) string {
	if len(s) <= MaxSource {
		return s
	}
	i := MaxSource
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// sanitizer rewrites the parsed document before rendering: unsafe link
// destinations are dropped (the link text stays), images become links, raw
// HTML becomes text, links get rel attributes, and incident references
// become links where allowed.
type sanitizer struct {
	link func(int64) (string, string, bool)
}

var rel = []byte("nofollow noopener noreferrer")

func (s *sanitizer) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	source := reader.Source()
	// Collect first, rewrite after: replacing a node while walking would
	// detach it and end the walk before its later siblings.
	var nodes []ast.Node
	var refs []*ast.Text
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch v := n.(type) {
		case *ast.Link, *ast.AutoLink, *ast.Image, *ast.RawHTML, *ast.HTMLBlock:
			nodes = append(nodes, n)
		case *ast.CodeSpan, *ast.CodeBlock, *ast.FencedCodeBlock:
			return ast.WalkSkipChildren, nil
		case *ast.Text:
			if s.link != nil && bytes.IndexByte(v.Segment.Value(source), '#') >= 0 {
				refs = append(refs, v)
			}
		}
		return ast.WalkContinue, nil
	})
	for _, n := range nodes {
		switch v := n.(type) {
		case *ast.Link:
			if SafeURL(string(v.Destination)) {
				v.SetAttributeString("rel", rel)
			} else {
				unwrap(v)
			}
		case *ast.AutoLink:
			if SafeURL(string(v.URL(source))) {
				v.SetAttributeString("rel", rel)
			} else {
				replaceWithText(v, v.Label(source))
			}
		case *ast.Image:
			// An image becomes a link to it (or its alt text if unsafe):
			// no third-party loads on pages with internal content.
			link := ast.NewLink()
			link.Destination, link.Title = v.Destination, v.Title
			for c := v.FirstChild(); c != nil; {
				next := c.NextSibling()
				link.AppendChild(link, c)
				c = next
			}
			v.Parent().ReplaceChild(v.Parent(), v, link)
			if SafeURL(string(link.Destination)) {
				link.SetAttributeString("rel", rel)
			} else {
				unwrap(link)
			}
		case *ast.RawHTML, *ast.HTMLBlock:
			// Without WithUnsafe these render as a comment; show what was
			// written instead, as text.
			replaceWithText(n, rawText(n, source))
		}
	}
	for _, t := range refs {
		if t.Parent() != nil && inLinkless(t) {
			s.linkRefs(t, source)
		}
	}
}

// inLinkless reports whether a text node is outside any link.
func inLinkless(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		switch p.(type) {
		case *ast.Link, *ast.AutoLink:
			return false
		}
	}
	return true
}

var ref = regexp.MustCompile(`#([0-9]{1,12})\b`)

// linkRefs splits a text node around "#123" references the viewer may see.
func (s *sanitizer) linkRefs(t *ast.Text, source []byte) {
	seg := t.Segment
	val := seg.Value(source)
	parent := t.Parent()
	last := 0
	var nodes []ast.Node
	for _, m := range ref.FindAllSubmatchIndex(val, -1) {
		if m[0] > 0 {
			if r, _ := utf8.DecodeLastRune(val[:m[0]]); unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '&' {
				continue // abc#1, &#123;
			}
		}
		n, err := strconv.ParseInt(string(val[m[2]:m[3]]), 10, 64)
		if err != nil {
			continue
		}
		href, title, ok := s.link(n)
		if !ok || !SafeURL(href) {
			continue
		}
		if m[0] > last {
			nodes = append(nodes, ast.NewTextSegment(text.NewSegment(seg.Start+last, seg.Start+m[0])))
		}
		l := ast.NewLink()
		l.Destination, l.Title = []byte(href), []byte(title)
		l.AppendChild(l, ast.NewTextSegment(text.NewSegment(seg.Start+m[0], seg.Start+m[1])))
		nodes = append(nodes, l)
		last = m[1]
	}
	if len(nodes) == 0 {
		return
	}
	if last < len(val) {
		rest := ast.NewTextSegment(text.NewSegment(seg.Start+last, seg.Stop))
		rest.SetSoftLineBreak(t.SoftLineBreak())
		rest.SetHardLineBreak(t.HardLineBreak())
		nodes = append(nodes, rest)
	}
	for _, n := range nodes {
		parent.InsertBefore(parent, t, n)
	}
	parent.RemoveChild(parent, t)
}

// unwrap replaces a node by its children.
func unwrap(n ast.Node) {
	parent := n.Parent()
	for c := n.FirstChild(); c != nil; {
		next := c.NextSibling()
		parent.InsertBefore(parent, n, c)
		c = next
	}
	parent.RemoveChild(parent, n)
}

func replaceWithText(n ast.Node, s []byte) {
	// A plain String renders escaped (SetCode would write it verbatim).
	t := ast.NewString(s)
	if n.Type() == ast.TypeBlock {
		p := ast.NewParagraph()
		p.AppendChild(p, t)
		n.Parent().ReplaceChild(n.Parent(), n, p)
		return
	}
	n.Parent().ReplaceChild(n.Parent(), n, t)
}

func rawText(n ast.Node, source []byte) []byte {
	var b bytes.Buffer
	switch v := n.(type) {
	case *ast.RawHTML:
		for i := 0; i < v.Segments.Len(); i++ {
			s := v.Segments.At(i)
			b.Write(s.Value(source))
		}
	case *ast.HTMLBlock:
		lines := v.Lines()
		for i := 0; i < lines.Len(); i++ {
			s := lines.At(i)
			b.Write(s.Value(source))
		}
		if v.HasClosure() {
			b.Write(v.ClosureLine.Value(source))
		}
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// SafeURL reports whether a link destination may be followed: absolute
// http, https or mailto URLs, or paths on this site ("/incidents/4").
// Protocol-relative "//host" and backslash tricks are refused: they leave
// the site without saying so.
func SafeURL(raw string) bool {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsControl(r) || r == '\\' }) {
		return false
	}
	if strings.HasPrefix(raw, "/") {
		return !strings.HasPrefix(raw, "//")
	}
	if strings.HasPrefix(raw, "#") {
		return true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != "" && !strings.ContainsFunc(u.Host, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(".-_:[]", r)
		})
	case "mailto":
		return true
	}
	return false
}
