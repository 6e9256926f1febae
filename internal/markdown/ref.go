package markdown

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// linkRefs turns "#123" in running text into links where link allows it.
// References inside code, links and raw HTML stay as they are, and so do
// those glued to a word ("abc#1", "#1abc"), escaped ("\#1") or written as
// entities ("&#35;1").
//
// link is called once per distinct number and for at most maxRefs numbers
// per document, so a document listing "#1 #2 … #20000" costs a page at
// most maxRefs lookups; later numbers stay text.
func linkRefs(doc ast.Node, src []byte, link func(int64) (string, string, bool)) {
	// Collect first, rewrite after: replacing nodes during the walk would
	// end it early.
	var texts []*ast.Text
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindCodeSpan, ast.KindCodeBlock, ast.KindFencedCodeBlock, ast.KindHTMLBlock, ast.KindRawHTML,
			ast.KindLink, ast.KindImage, ast.KindAutoLink:
			return ast.WalkSkipChildren, nil
		case ast.KindText:
			t := n.(*ast.Text)
			if !t.IsRaw() && t.Segment.Padding == 0 && hasHash(t.Segment.Value(src)) {
				texts = append(texts, t)
			}
		}
		return ast.WalkContinue, nil
	})
	if len(texts) == 0 {
		return
	}
	seen := map[int64]resolved{}
	lookup := func(n int64) resolved {
		r, ok := seen[n]
		if !ok && len(seen) < maxRefs {
			r.href, r.title, r.ok = link(n)
			r.ok = r.ok && SafeURL(r.href)
			seen[n] = r
		}
		return r
	}
	for _, t := range texts {
		splitRefs(t, src, lookup)
	}
}

// maxRefs bounds the distinct incident numbers looked up per document.
const maxRefs = 100

type resolved struct {
	href, title string
	ok          bool
}

func hasHash(b []byte) bool {
	for _, c := range b {
		if c == '#' {
			return true
		}
	}
	return false
}

// splitRefs replaces t by text and link nodes around the references the
// viewer may see. Positions are checked against the whole source, so a
// word split across text nodes ("abc_#1") still counts as one.
func splitRefs(t *ast.Text, src []byte, lookup func(int64) resolved) {
	seg := t.Segment
	var nodes []ast.Node
	last := seg.Start
	for i := seg.Start; i < seg.Stop; i++ {
		if src[i] != '#' {
			continue
		}
		j := i + 1
		for j < seg.Stop && j-i <= 18 && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		if j == i+1 || src[i+1] == '0' || !refBoundary(t, src, i, j) {
			continue
		}
		num, err := strconv.ParseInt(string(src[i+1:j]), 10, 64)
		if err != nil {
			continue
		}
		ref := lookup(num)
		if !ref.ok {
			continue
		}
		if i > last {
			nodes = append(nodes, ast.NewTextSegment(text.NewSegment(last, i)))
		}
		l := ast.NewLink()
		l.Destination, l.Title = []byte(ref.href), []byte(ref.title)
		l.AppendChild(l, ast.NewTextSegment(text.NewSegment(i, j)))
		nodes = append(nodes, l)
		last = j
		i = j - 1
	}
	if len(nodes) == 0 {
		return
	}
	if last < seg.Stop {
		nodes = append(nodes, ast.NewTextSegment(text.NewSegment(last, seg.Stop)))
	}
	// The line break that ended the text now ends its last piece.
	if end, ok := nodes[len(nodes)-1].(*ast.Text); ok {
		end.SetSoftLineBreak(t.SoftLineBreak())
		end.SetHardLineBreak(t.HardLineBreak())
	} else if t.SoftLineBreak() || t.HardLineBreak() {
		br := ast.NewTextSegment(text.NewSegment(seg.Stop, seg.Stop))
		br.SetSoftLineBreak(t.SoftLineBreak())
		br.SetHardLineBreak(t.HardLineBreak())
		nodes = append(nodes, br)
	}
	parent := t.Parent()
	for _, n := range nodes {
		parent.InsertBefore(parent, t, n)
	}
	parent.RemoveChild(parent, t)
}

// refBoundary reports whether src[i:j] ("#123") in t stands alone: not
// after a word character, "&" (an entity) or "\" (an escape), not before a
// word character. At the edges of t the neighbour counts only if it is
// text too: in "_#7_" the underscores are emphasis, in "x_#7" a word.
func refBoundary(t *ast.Text, src []byte, i, j int) bool {
	if i > 0 && (i > t.Segment.Start || adjacentText(t.PreviousSibling(), i, true)) {
		r, _ := utf8.DecodeLastRune(src[:i])
		if r == '&' || r == '\\' || r == '_' || r == '#' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	if j < len(src) && (j < t.Segment.Stop || adjacentText(t.NextSibling(), j, false)) {
		r, _ := utf8.DecodeRune(src[j:])
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// adjacentText reports whether n is a text node ending (before) or
// starting (after) at source offset at.
func adjacentText(n ast.Node, at int, before bool) bool {
	t, ok := n.(*ast.Text)
	if !ok {
		return false
	}
	if before {
		return t.Segment.Stop == at
	}
	return t.Segment.Start == at
}
