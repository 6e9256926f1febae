package web

import (
	"fmt"
	"html/template"
	"strings"
)

// Charts are drawn here as SVG in the page: no script, nothing loaded
// from elsewhere, nothing the Content-Security-Policy would stop (fills
// and strokes are presentation attributes, not styles). Each is readable
// without colour: series differ by fill pattern or line dash and marker
// as well as colour, every bar and point carries its value as text, and
// the same numbers follow as a table.

// series is one set of values, one per row or point; Labels are how each
// value is written on the chart.
type series struct {
	Name   string
	Values []float64
	Labels []string
}

const (
	chartWidth = 640
	labelWidth = 150
	valueSpace = 90
	barHeight  = 14
	barGap     = 3
	rowGap     = 8
)

var esc = template.HTMLEscapeString

// seriesLook is how series i is drawn: a fill (a colour or a pattern)
// for bars, a dash and a marker for lines.
func seriesLook(id string, i int) (fill, dash, marker string) {
	switch i % 3 {
	case 0:
		return "#1f5fbf", "", "circle"
	case 1:
		return "url(#" + id + "-hatch)", "6 3", "square"
	}
	return "url(#" + id + "-dots)", "2 3", "diamond"
}

// patterns are the fills of series 1 and 2: diagonal hatching and dots.
func patterns(id string) string {
	return `<defs><pattern id="` + id + `-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
		`<rect width="6" height="6" fill="#fff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b45309" stroke-width="3"/></pattern>` +
		`<pattern id="` + id + `-dots" width="5" height="5" patternUnits="userSpaceOnUse">` +
		`<rect width="5" height="5" fill="#fff"/><circle cx="2.5" cy="2.5" r="1.6" fill="#1a7f37"/></pattern></defs>`
}

// legend draws one swatch and name per series at y.
func legend(b *strings.Builder, id string, ss []series, y int, line bool) {
	x := 0
	for i, s := range ss {
		fill, dash, marker := seriesLook(id, i)
		if line {
			fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1d2330" stroke-width="2" stroke-dasharray="%s"/>`, x, y-4, x+22, y-4, dash)
			b.WriteString(markerAt(marker, x+11, y-4))
			x += 28
		} else {
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="12" fill="%s" stroke="#1d2330" stroke-width="1"/>`, x, y-10, fill)
			x += 20
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" fill="#1d2330">%s</text>`, x, y, esc(s.Name))
		x += 12 + 7*len(s.Name)
	}
}

func markerAt(kind string, x, y int) string {
	switch kind {
	case "square":
		return fmt.Sprintf(`<rect x="%d" y="%d" width="8" height="8" fill="#fff" stroke="#1d2330" stroke-width="2"/>`, x-4, y-4)
	case "diamond":
		return fmt.Sprintf(`<polygon points="%d,%d %d,%d %d,%d %d,%d" fill="#1d2330"/>`, x, y-5, x+5, y, x, y+5, x-5, y)
	}
	return fmt.Sprintf(`<circle cx="%d" cy="%d" r="4" fill="#1d2330"/>`, x, y)
}

// svgOpen starts an SVG with an accessible name and description.
func svgOpen(b *strings.Builder, id, title, desc string, height int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d">`+
		`<title id="%s-t">%s</title><desc id="%s-d">%s</desc>%s`, chartWidth, height, id, id, id, esc(title), id, esc(desc), patterns(id))
}

// barChart draws horizontal bars: one group per row, one bar per series,
// each with its value written after it.
func barChart(id, title, desc string, rows []string, ss []series) template.HTML {
	var b strings.Builder
	group := len(ss)*(barHeight+barGap) + rowGap
	height := 28 + len(rows)*group + 4
	svgOpen(&b, id, title, desc, height)
	legend(&b, id, ss, 14, false)
	top := 26
	most := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			most = max(most, v)
		}
	}
	span := float64(chartWidth - labelWidth - valueSpace)
	for r, label := range rows {
		y := top + r*group
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end" fill="#1d2330">%s</text>`,
			labelWidth-6, y+len(ss)*(barHeight+barGap)/2+4, esc(cutLabel(label)))
		for i, s := range ss {
			w := 0.0
			if most > 0 {
				w = s.Values[r] / most * span
			}
			fill, _, _ := seriesLook(id, i)
			by := y + i*(barHeight+barGap)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s" stroke="#1d2330" stroke-width="1"/>`,
				labelWidth, by, w, barHeight, fill)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#1d2330">%s</text>`, float64(labelWidth)+w+4, by+barHeight-3, esc(s.Labels[r]))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#5c6677"/></svg>`, labelWidth, top-2, labelWidth, height-4)
	return template.HTML(b.String())
}

// lineChart draws series over evenly spaced points from 0 to top, each
// point marked and labelled with its value.
func lineChart(id, title, desc string, points []string, ss []series, top float64) template.HTML {
	var b strings.Builder
	const height, left, bottom, plotTop = 240, 40, 200, 40
	svgOpen(&b, id, title, desc, height)
	legend(&b, id, ss, 14, true)
	n := len(points)
	step := float64(chartWidth-left-20) / float64(max(n, 1))
	x := func(i int) float64 { return float64(left) + step*(float64(i)+0.5) }
	y := func(v float64) float64 { return bottom - v/top*(bottom-plotTop) }
	for _, frac := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d9dee7"/><text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="#5c6677">%s</text>`,
			left, y(frac*top), chartWidth-10, y(frac*top), left-4, y(frac*top)+3, esc(fmt.Sprintf("%.0f%%", frac*top)))
	}
	for i, p := range points {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="#1d2330">%s</text>`, x(i), bottom+16, esc(p))
	}
	for si, s := range ss {
		_, dash, marker := seriesLook(id, si)
		var pts []string
		for i, v := range s.Values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#1d2330" stroke-width="2" stroke-dasharray="%s"/>`, strings.Join(pts, " "), dash)
		for i, v := range s.Values {
			b.WriteString(markerAt(marker, int(x(i)), int(y(v))))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle" fill="#1d2330">%s</text>`, x(i), y(v)-8, esc(s.Labels[i]))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// cutLabel keeps a row label within the label column.
func cutLabel(s string) string {
	r := []rune(s)
	if len(r) > 22 {
		return string(r[:21]) + "…"
	}
	return s
}
