package markdown

import (
	"strconv"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Text returns s as plain text for e-mails and chat fallbacks: markup
// removed, escapes and entities resolved, links as "text (url)" when the
// URL is safe (images likewise), list items as "- " or "1. ", quotes as
// "> ", table rows as cells joined by " | ", blocks separated by blank
// lines. "#123" stays as written. The result is not escaped for any
// channel; each channel escapes for its own format.
func Text(s string) string {
	src := []byte(prepare(s))
	doc := md.Parser().Parse(text.NewReader(src))
	p := plain{src: src}
	return strings.TrimSpace(p.blocks(doc, "\n\n"))
}

type plain struct{ src []byte }

// blocks returns the children of n, one after the other, separated by sep.
func (p plain) blocks(n ast.Node, sep string) string {
	var parts []string
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if s := p.block(c); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, sep)
}

func (p plain) block(n ast.Node) string {
	switch v := n.(type) {
	case *ast.Paragraph, *ast.TextBlock, *ast.Heading:
		var b strings.Builder
		p.inlines(&b, n)
		return strings.TrimRight(b.String(), "\n")
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		return strings.TrimRight(p.lines(n), "\n")
	case *ast.HTMLBlock:
		s := p.lines(n)
		if v.HasClosure() {
			s += string(v.ClosureLine.Value(p.src))
		}
		return strings.TrimRight(s, "\n")
	case *ast.ThematicBreak:
		return "---"
	case *ast.Blockquote:
		return indent(p.blocks(n, "\n\n"), "> ", "> ")
	case *ast.List:
		sep := "\n"
		if !v.IsTight {
			sep = "\n\n"
		}
		var items []string
		num := v.Start
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			marker := "- "
			if v.IsOrdered() {
				marker = strconv.Itoa(num) + ". "
				num++
			}
			items = append(items, indent(p.blocks(c, sep), marker, strings.Repeat(" ", len(marker))))
		}
		return strings.Join(items, sep)
	case *east.Table:
		var rows []string
		for r := n.FirstChild(); r != nil; r = r.NextSibling() {
			var cells []string
			for c := r.FirstChild(); c != nil; c = c.NextSibling() {
				var b strings.Builder
				p.inlines(&b, c)
				cells = append(cells, strings.TrimSpace(b.String()))
			}
			rows = append(rows, strings.TrimRight(strings.Join(cells, " | "), " |"))
		}
		return strings.Join(rows, "\n")
	}
	if n.Type() == ast.TypeBlock && n.FirstChild() != nil && n.FirstChild().Type() == ast.TypeInline {
		var b strings.Builder
		p.inlines(&b, n)
		return strings.TrimRight(b.String(), "\n")
	}
	return p.blocks(n, "\n\n")
}

func (p plain) lines(n ast.Node) string {
	var b strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		s := lines.At(i)
		b.Write(s.Value(p.src))
	}
	return b.String()
}

// indent prefixes the first line of s with first and the others with rest.
func indent(s, first, rest string) string {
	if s == "" {
		return strings.TrimRight(first, " ")
	}
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		pre := rest
		if i == 0 {
			pre = first
		}
		if line == "" {
			pre = strings.TrimRight(pre, " ")
		}
		b.WriteString(pre)
		b.WriteString(line)
	}
	return b.String()
}

func (p plain) inlines(b *strings.Builder, n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		p.inline(b, c)
	}
}

func (p plain) inline(b *strings.Builder, n ast.Node) {
	switch v := n.(type) {
	case *ast.Text:
		val := v.Segment.Value(p.src)
		if !v.IsRaw() {
			val = unescape(val)
		}
		b.Write(val)
		if v.SoftLineBreak() || v.HardLineBreak() {
			b.WriteByte('\n')
		}
	case *ast.String:
		b.Write(v.Value)
	case *ast.CodeSpan:
		for c := v.FirstChild(); c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				b.Write(t.Segment.Value(p.src))
			} else if s, ok := c.(*ast.String); ok {
				b.Write(s.Value)
			}
		}
	case *ast.Link:
		p.link(b, v, v.Destination)
	case *ast.Image:
		p.link(b, v, v.Destination)
	case *ast.AutoLink:
		b.Write(v.Label(p.src))
	case *ast.RawHTML:
		for i := 0; i < v.Segments.Len(); i++ {
			s := v.Segments.At(i)
			b.Write(s.Value(p.src))
		}
	case *east.TaskCheckBox:
		if v.IsChecked {
			b.WriteString("[x] ")
		} else {
			b.WriteString("[ ] ")
		}
	default:
		p.inlines(b, n)
	}
}

// link writes the link text, then the URL in parentheses unless it is
// unsafe or the text already says it.
func (p plain) link(b *strings.Builder, n ast.Node, dest []byte) {
	start := b.Len()
	p.inlines(b, n)
	label := b.String()[start:]
	h, ok := href(dest, true)
	if !ok {
		return
	}
	u := string(h)
	if label == u || "mailto:"+label == u {
		return
	}
	if strings.TrimSpace(label) == "" {
		b.WriteString(u)
		return
	}
	b.WriteString(" (" + u + ")")
}

// unescape resolves backslash escapes and entity references, as the
// HTML renderer does for text.
func unescape(b []byte) []byte {
	return util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(b)))
}
