package markdown

import (
	"sort"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Limits that keep rendering of hostile input cheap. goldmark's work grows
// with the square of container depth and of unterminated link destinations
// on one line, and a GFM table pads every row to the header's width, so a
// 64 KiB table can ask for hundreds of millions of cells. People never
// write anything near these limits; past them the input renders as text.
const (
	// maxNesting bounds block quotes and lists inside each other.
	maxNesting = 32
	// maxTableCells bounds header width times rows. 64 KiB of real cells
	// ("|1|2|3|") stays below it; only padding can reach it.
	maxTableCells = 1 << 15
	// linkScanBudget is how many bytes of link destinations one document
	// may scan; afterwards each destination may scan minLinkScan bytes.
	linkScanBudget = 1 << 20
	minLinkScan    = 512
)

// shallow refuses to open a block quote or list deeper than maxNesting;
// goldmark then tries the next parser, and the line becomes text.
type shallow struct{ parser.BlockParser }

func (s shallow) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	depth := 0
	for n := parent; n != nil; n = n.Parent() {
		if k := n.Kind(); k == ast.KindBlockquote || k == ast.KindList {
			if depth++; depth >= maxNesting {
				return nil, parser.NoChildren
			}
		}
	}
	return s.BlockParser.Open(parent, reader, pc)
}

// boundedTable leaves a paragraph as text when the table it would become
// has more than maxTableCells cells.
type boundedTable struct{ parser.ParagraphTransformer }

func (t boundedTable) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	lines, src := node.Lines(), reader.Source()
	for i := 1; i < lines.Len(); i++ {
		// Every line goldmark might take as the delimiter row counts;
		// the header and all lines after it become rows.
		seg := lines.At(i)
		if cols := delimiterColumns(seg.Value(src)); cols*(lines.Len()-i) > maxTableCells {
			return
		}
	}
	t.ParagraphTransformer.Transform(node, reader, pc)
}

// delimiterColumns returns the number of columns of a GFM delimiter row
// ("|---|:-:|"), or 0 when line cannot be one. It may overcount, never
// undercount.
func delimiterColumns(line []byte) int {
	cols, cell, dash := 0, false, false
	for _, c := range line {
		switch c {
		case '|':
			if cell {
				cols++
			}
			cell = false
		case '-':
			cell, dash = true, true
		case ':':
			cell = true
		case ' ', '\t', '\n', '\r', '\v', '\f':
		default:
			return 0
		}
	}
	if !dash {
		return 0
	}
	if cell {
		cols++
	}
	return cols
}

// boundedLinks wraps goldmark's link parser, whose work is quadratic in
// two ways on hostile input:
//
//   - For "](", goldmark scans the destination to the end of the line when
//     it does not terminate, so a line of "[a](" repeated costs n² time.
//     boundedLinks scans first itself, within the document's remaining
//     budget; when the destination does not end within it, goldmark is
//     shown an empty rest of line and the brackets stay text.
//   - Each "]" walks everything after its "[", so deeply nested brackets
//     ("[[[[…]]]]") cost n² time. At most maxOpenBrackets "[" may be open
//     in one block; further ones are text.
//   - Each "]" reads the label text, and goldmark's block reader finds its
//     line by walking back from the block's last line: n² in a paragraph
//     of many short lines ("[a](\n" repeated). linesReader finds it by
//     binary search.
type boundedLinks struct{ parser.InlineParser }

const maxOpenBrackets = 128

var linkStateKey = parser.NewContextKey()

// linkState mirrors goldmark's bracket stack (pushed on "[" and "![",
// popped on "]", cleared when a block closes) as a count, and sums the
// destination bytes scanned in the document.
type linkState struct{ open, scanned int }

func (b boundedLinks) state(pc parser.Context) *linkState {
	return pc.ComputeIfAbsent(linkStateKey, func() any { return &linkState{} }).(*linkState)
}

func (b boundedLinks) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, seg := block.PeekLine()
	st := b.state(pc)
	switch {
	case len(line) == 0:
	case line[0] == '[' || line[0] == '!' && len(line) > 1 && line[1] == '[':
		if st.open >= maxOpenBrackets {
			return nil
		}
		st.open++
	case line[0] == ']':
		st.open = max(st.open-1, 0)
		// parent is the block whose lines the reader holds.
		if parent.Type() == ast.TypeBlock && parent.Lines() != nil && parent.Lines().Len() > 8 {
			block = &linesReader{Reader: block, lines: parent.Lines()}
		}
		if len(line) > 1 && line[1] == '(' {
			allowed := max(linkScanBudget-st.scanned, minLinkScan)
			n, ends := destinationScan(line[2:], allowed)
			st.scanned += n
			if !ends {
				block = &cappedReader{Reader: block, stop: seg.Start + 2}
			}
		}
	}
	return b.InlineParser.Parse(parent, block, pc)
}

// CloseBlock forwards to goldmark's link parser, which turns unclosed
// brackets into text there.
func (b boundedLinks) CloseBlock(parent ast.Node, block text.Reader, pc parser.Context) {
	b.state(pc).open = 0
	if c, ok := b.InlineParser.(parser.CloseBlocker); ok {
		c.CloseBlock(parent, block, pc)
	}
}

// destinationScan mirrors how far goldmark's parseLinkDestination reads
// line (the text after "(" — leading spaces are skipped first), looking at
// no more than limit bytes. ends is false when it would read past limit.
func destinationScan(line []byte, limit int) (n int, ends bool) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i < len(line) && line[i] == '<' {
		for i++; i < len(line); i++ {
			if i >= limit {
				return i, false
			}
			c := line[i]
			if c == '\\' && i < len(line)-1 && util.IsPunct(line[i+1]) {
				i++
			} else if c == '>' {
				return i, true
			}
		}
		return i, true
	}
	opened := 0
	for ; i < len(line); i++ {
		if i >= limit {
			return i, false
		}
		c := line[i]
		if c == '\\' && i < len(line)-1 && util.IsPunct(line[i+1]) {
			i++
		} else if c == '(' {
			opened++
		} else if c == ')' {
			if opened--; opened < 0 {
				return i, true
			}
		} else if util.IsSpace(c) {
			return i, true
		}
	}
	return i, true
}

// cappedReader shows nothing of the current line at or after source
// offset stop.
type cappedReader struct {
	text.Reader
	stop int
}

func (r *cappedReader) PeekLine() ([]byte, text.Segment) {
	line, seg := r.Reader.PeekLine()
	if seg.Stop > r.stop {
		cut := max(r.stop-seg.Start, 0)
		line, seg = line[:min(cut, len(line))], seg.WithStop(seg.Start+min(cut, len(line)))
	}
	return line, seg
}

// linesReader is goldmark's block reader with a faster Value: lines holds
// the block's lines (the segments the reader was reset to), sorted.
type linesReader struct {
	text.Reader
	lines *text.Segments
}

// Value returns the text of seg within the block's lines, exactly as
// text.blockReader.Value does (TestLinesReaderValue compares them).
func (r *linesReader) Value(seg text.Segment) []byte {
	n, src := r.lines.Len(), r.Source()
	// The last line starting at or before seg.
	line := max(sort.Search(n, func(i int) bool { return r.lines.At(i).Start > seg.Start })-1, 0)
	ret := make([]byte, 0, seg.Stop-seg.Start+1)
	i := seg.Start
	for ; line < n; line++ {
		s := r.lines.At(line)
		if i < 0 {
			i = s.Start
		}
		ret = s.ConcatPadding(ret)
		for ; i < seg.Stop && i < s.Stop; i++ {
			ret = append(ret, src[i])
		}
		i = -1
		if s.Stop > seg.Stop {
			break
		}
	}
	return ret
}
