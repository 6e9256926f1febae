// Package markdown renders what people write in incident summaries and
// updates: to HTML that is safe to put into pages which also hold internal
// content, and to plain text for notifications.
//
// Safety is enforced where the HTML is written, not by cleaning it up
// afterwards: the few node kinds that can carry a URL or raw markup (links,
// autolinks, images, raw HTML, code block info strings) are rendered by this
// package's own functions, so no parser path can emit an unchecked URL.
//
//   - Raw HTML is shown as the text that was written ("<nil>" in a pasted log
//     line stays visible), never passed through and never silently dropped.
//   - Links keep only http, https and mailto URLs, paths on this site
//     ("/incidents/4") and same-page fragments ("#timeline"); the check runs
//     on the exact href the browser receives, after entity and escape
//     decoding. Protocol-relative "//host" is refused: it leaves the site
//     without saying so. A refused link shows its text only.
//   - Every link gets rel="nofollow noopener noreferrer".
//   - Images become links to the image: no third-party loads on pages with
//     internal content (the CSP blocks them anyway).
//   - "#123" links to an incident only when Renderer.IncidentLink says the
//     viewer may see it; otherwise it stays text and reveals nothing.
//   - No style attributes (table alignment uses align=), no event handlers,
//     no element outside a short list; template syntax stays literal text.
//
// Input is cut to MaxSource bytes, and nesting depth, table size, open
// brackets and link destination scanning are bounded (see limit.go), so
// any input renders in bounded time and memory: hostile 64 KiB inputs take
// at most tens of milliseconds, a 2 KiB update about 50 µs
// (BenchmarkPathological, BenchmarkRender).
package markdown

import (
	"bytes"
	"html/template"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// MaxSource bounds what is rendered; longer input is cut (at a rune
// boundary). The API refuses longer bodies before they get here.
const MaxSource = 64 << 10

// Renderer renders Markdown for one viewer.
type Renderer struct {
	// IncidentLink resolves "#123" for this viewer; ok false leaves the
	// text as it is, revealing nothing about incidents the viewer may not
	// see. Nil never links. It is called once per reference, so callers
	// that look incidents up should cache within one page.
	IncidentLink func(number int64) (href, title string, ok bool)
}

// Render returns sanitized HTML for Markdown source s, without incident
// links.
func Render(s string) template.HTML { return Renderer{}.Render(s) }

// Render returns sanitized HTML for Markdown source s.
func (r Renderer) Render(s string) template.HTML {
	src := []byte(prepare(s))
	doc := md.Parser().Parse(text.NewReader(src))
	if r.IncidentLink != nil {
		linkRefs(doc, src, r.IncidentLink)
	}
	var b bytes.Buffer
	b.Grow(len(src) + len(src)/2)
	if err := md.Renderer().Render(&b, src, doc); err != nil {
		// Only a failing writer errs, and bytes.Buffer does not; stay
		// safe regardless.
		return template.HTML("<p>" + template.HTMLEscapeString(string(src)) + "</p>\n")
	}
	return template.HTML(b.String())
}

// md is the one configured goldmark instance. It is never modified after
// package initialisation; goldmark parsers and renderers keep per-document
// state in the parser context, so concurrent use is safe.
var md = newMarkdown()

func newMarkdown() goldmark.Markdown {
	// goldmark's defaults (parser.DefaultBlockParsers and
	// DefaultInlineParsers), with the nesting containers and the link
	// parser wrapped in the limits of limit.go.
	blocks := []util.PrioritizedValue{
		util.Prioritized(parser.NewSetextHeadingParser(), 100),
		util.Prioritized(parser.NewThematicBreakParser(), 200),
		util.Prioritized(shallow{parser.NewListParser()}, 300),
		util.Prioritized(parser.NewListItemParser(), 400),
		util.Prioritized(parser.NewCodeBlockParser(), 500),
		util.Prioritized(parser.NewATXHeadingParser(), 600),
		util.Prioritized(parser.NewFencedCodeBlockParser(), 700),
		util.Prioritized(shallow{parser.NewBlockquoteParser()}, 800),
		util.Prioritized(parser.NewHTMLBlockParser(), 900),
		util.Prioritized(parser.NewParagraphParser(), 1000),
	}
	inlines := []util.PrioritizedValue{
		util.Prioritized(parser.NewCodeSpanParser(), 100),
		util.Prioritized(boundedLinks{parser.NewLinkParser()}, 200),
		util.Prioritized(parser.NewAutoLinkParser(), 300),
		util.Prioritized(parser.NewRawHTMLParser(), 400),
		util.Prioritized(parser.NewEmphasisParser(), 500),
	}
	p := parser.NewParser(
		parser.WithBlockParsers(blocks...),
		parser.WithInlineParsers(inlines...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
		// GFM tables, wired by hand so the cell count can be bounded.
		parser.WithParagraphTransformers(util.Prioritized(boundedTable{extension.NewTableParagraphTransformer()}, 200)),
		parser.WithASTTransformers(util.Prioritized(extension.NewTableASTTransformer(), 0)),
	)
	return goldmark.New(
		goldmark.WithParser(p),
		goldmark.WithExtensions(extension.Strikethrough, extension.Linkify, extension.TaskList),
		goldmark.WithRendererOptions(
			html.WithHardWraps(), // pasted log lines keep their breaks
			renderer.WithNodeRenderers(
				util.Prioritized(extension.NewTableHTMLRenderer(
					// The default writes style="text-align:…", which the
					// CSP blocks and the rules forbid.
					extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)), 500),
				// Lowest priority value registers last and wins over
				// goldmark's own renderers for these kinds.
				util.Prioritized(safeHTML{}, 1),
			),
		),
	)
}

// prepare cuts s to MaxSource and makes it valid UTF-8 without NUL bytes
// (CommonMark replaces NUL with U+FFFD).
func prepare(s string) string {
	if len(s) > MaxSource {
		i := MaxSource
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
