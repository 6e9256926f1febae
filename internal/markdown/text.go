package markdown

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Text returns s without markup, for e-mails, chat fallbacks and excerpts:
// paragraphs separated by blank lines, list items as "- ", links as
// "text (url)" when the URL is safe.
func Text(s string) string {
	src := []byte(cut(s))
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(src))
	var b strings.Builder
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch v := c.(type) {
			case *ast.Text:
				b.Write(v.Segment.Value(src))
				if v.SoftLineBreak() || v.HardLineBreak() {
					b.WriteByte('\n')
				}
			case *ast.String:
				b.Write(v.Value)
			case *ast.CodeSpan:
				walk(v)
			case *ast.Link:
				walk(v)
				if SafeURL(string(v.Destination)) && string(v.Destination) != nodeText(v, src) {
					b.WriteString(" (" + string(v.Destination) + ")")
				}
			case *ast.AutoLink:
				b.Write(v.Label(src))
			case *ast.Image:
				walk(v)
			case *ast.RawHTML:
				for i := 0; i < v.Segments.Len(); i++ {
					s := v.Segments.At(i)
					b.Write(s.Value(src))
				}
			case *ast.ListItem:
				b.WriteString("- ")
				walk(v)
			default:
				if c.Type() == ast.TypeBlock {
					if lines := c.Lines(); lines != nil && c.FirstChild() == nil {
						for i := 0; i < lines.Len(); i++ {
							s := lines.At(i)
							b.Write(s.Value(src))
						}
					} else {
						walk(c)
					}
					if !strings.HasSuffix(b.String(), "\n") {
						b.WriteByte('\n')
					}
					if _, inList := c.Parent().(*ast.ListItem); !inList {
						b.WriteByte('\n')
					}
					continue
				}
				walk(c)
			}
		}
	}
	walk(doc)
	return strings.TrimSpace(collapseBlank(b.String()))
}

func nodeText(n ast.Node, src []byte) string {
	var b bytes.Buffer
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if t, ok := c.(*ast.Text); ok {
			b.Write(t.Segment.Value(src))
		}
	}
	return b.String()
}

func collapseBlank(s string) string {
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return s
}

// Excerpt returns about the first n runes of Text(s) on one line, cut at a
// word boundary, with "…" when cut.
func Excerpt(s string, n int) string {
	t := strings.Join(strings.Fields(Text(s)), " ")
	if utf8.RuneCountInString(t) <= n {
		return t
	}
	cutAt, count := 0, 0
	for i := range t {
		if count == n {
			cutAt = i
			break
		}
		count++
	}
	if sp := strings.LastIndexByte(t[:cutAt], ' '); sp > cutAt/2 {
		cutAt = sp
	}
	return strings.TrimRight(t[:cutAt], " .,;:") + "…"
}
