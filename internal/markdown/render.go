package markdown

import (
	"bytes"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// safeHTML renders every node kind that can carry a URL or raw markup;
// goldmark's renderers handle the rest, all of which escape their text.
// Node attributes (which goldmark would copy into tags) are never written:
// nothing here sets them, and the attribute syntax is not enabled.
type safeHTML struct{}

func (safeHTML) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindLink, renderLink)
	reg.Register(ast.KindImage, renderImage)
	reg.Register(ast.KindAutoLink, renderAutoLink)
	reg.Register(ast.KindRawHTML, renderRawHTML)
	reg.Register(ast.KindHTMLBlock, renderHTMLBlock)
	reg.Register(ast.KindFencedCodeBlock, renderFencedCode)
}

var rel = []byte(` rel="nofollow noopener noreferrer">`)

// href returns the attribute value a destination becomes (goldmark's
// escaping, which also resolves entities and backslash escapes) and
// whether it may be followed. The check runs on that final value, so
// "&#106;avascript:" or "/&#x2F;host" cannot slip past it.
func href(dest []byte, resolve bool) ([]byte, bool) {
	h := util.URLEscape(dest, resolve)
	return h, SafeURL(string(h))
}

// anchor renders a link-like node as <a> around its children when the
// destination is safe, or as its children alone.
func anchor(w util.BufWriter, n ast.Node, dest, title []byte, entering bool) (ast.WalkStatus, error) {
	h, ok := href(dest, true)
	if !ok || insideAnchor(n) {
		return ast.WalkContinue, nil
	}
	if !entering {
		_, _ = w.WriteString("</a>")
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML(h))
	_ = w.WriteByte('"')
	if len(title) > 0 {
		_, _ = w.WriteString(` title="`)
		html.DefaultWriter.Write(w, title)
		_ = w.WriteByte('"')
	}
	_, _ = w.Write(rel)
	return ast.WalkContinue, nil
}

func renderLink(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Link)
	return anchor(w, n, n.Destination, n.Title, entering)
}

// renderImage makes an image a link to it, its alt text the link text: no
// third-party loads on pages with internal content.
func renderImage(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Image)
	return anchor(w, n, n.Destination, n.Title, entering)
}

func renderAutoLink(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.AutoLink)
	url, label := n.URL(source), n.Label(source)
	if n.AutoLinkType == ast.AutoLinkEmail && !bytes.HasPrefix(bytes.ToLower(url), []byte("mailto:")) {
		url = append([]byte("mailto:"), url...)
	}
	h, ok := href(url, false)
	if !ok || insideAnchor(n) {
		_, _ = w.Write(util.EscapeHTML(label))
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML(h))
	_ = w.WriteByte('"')
	_, _ = w.Write(rel)
	_, _ = w.Write(util.EscapeHTML(label))
	_, _ = w.WriteString("</a>")
	return ast.WalkContinue, nil
}

// renderRawHTML shows inline HTML as the text that was written: people
// paste log lines with "<nil>" and "List<String>" far more often than they
// mean markup.
func renderRawHTML(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.RawHTML)
	for i := 0; i < n.Segments.Len(); i++ {
		s := n.Segments.At(i)
		writeText(w, s.Value(source))
	}
	return ast.WalkSkipChildren, nil
}

// renderHTMLBlock shows a block of HTML as a paragraph of its text.
func renderHTMLBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.HTMLBlock)
	var b []byte
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		s := lines.At(i)
		b = append(b, s.Value(source)...)
	}
	if n.HasClosure() {
		b = append(b, n.ClosureLine.Value(source)...)
	}
	_, _ = w.WriteString("<p>")
	writeText(w, bytes.TrimRight(b, "\r\n"))
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

// writeText writes s escaped, each newline as a hard break.
func writeText(w util.BufWriter, s []byte) {
	for {
		line, rest, more := bytes.Cut(s, []byte{'\n'})
		_, _ = w.Write(util.EscapeHTML(bytes.TrimSuffix(line, []byte{'\r'})))
		if !more {
			return
		}
		_, _ = w.WriteString("<br>\n")
		s = rest
	}
}

// renderFencedCode is goldmark's, except that the language class is kept
// only when it is a plain word ("go", "c++", "objective-c").
func renderFencedCode(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		_, _ = w.WriteString("</code></pre>\n")
		return ast.WalkContinue, nil
	}
	n := node.(*ast.FencedCodeBlock)
	_, _ = w.WriteString("<pre><code")
	if lang := n.Language(source); plainWord(lang) {
		_, _ = w.WriteString(` class="language-`)
		_, _ = w.Write(lang)
		_ = w.WriteByte('"')
	}
	_ = w.WriteByte('>')
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		s := lines.At(i)
		_, _ = w.Write(util.EscapeHTML(s.Value(source)))
	}
	return ast.WalkContinue, nil
}

func plainWord(s []byte) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !util.IsAlphaNumeric(c) && c != '-' && c != '_' && c != '+' && c != '#' && c != '.' {
			return false
		}
	}
	return true
}

// insideAnchor reports whether n is inside a node rendered as <a>; an
// anchor inside an anchor is invalid HTML, so inner ones render as text.
func insideAnchor(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		switch p.Kind() {
		case ast.KindLink, ast.KindImage, ast.KindAutoLink:
			return true
		}
	}
	return false
}
