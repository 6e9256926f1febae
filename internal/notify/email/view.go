package email

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/quenchhq/quench/internal/markdown"
	"github.com/quenchhq/quench/internal/notify"
)

// pageView is what both parts of an e-mail show. Strings are plain text:
// the HTML template escapes them; Body is markdown.Render's sanitized
// HTML.
type pageView struct {
	Subject      string
	Headline     string
	Title        string // "#12 Checkout p99 latency high"
	URL          string // a safe http(s) URL or ""
	Number       int64
	Fields       []field
	Body         template.HTML
	BodyText     string
	Label        string
	Actor        string
	At           string
	Confidential bool
}

type field struct{ Name, Value string }

func view(m notify.Message) pageView {
	inc := m.Incident
	title := line(inc.Title)
	if inc.Number > 0 {
		title = "#" + strconv.FormatInt(inc.Number, 10) + " " + title
	}
	headline := line(m.Headline)
	if headline == "" {
		headline = m.Event.Label()
	}
	phase := inc.Phase
	if m.From != "" && m.To != "" {
		phase = m.From + " → " + m.To
	}
	owner := inc.Owner
	if owner == "" {
		owner = "no owner"
	}
	services := strings.Join(inc.Services, ", ")
	if services == "" {
		services = "none"
	}
	var fields []field
	for _, f := range []field{{"Phase", phase}, {"Severity", inc.Severity}, {"Owner", owner}, {"Services", services}} {
		if v := line(f.Value); v != "" && aboutIncident(inc) {
			fields = append(fields, field{f.Name, v})
		}
	}
	v := pageView{
		Subject:      Subject(m),
		Headline:     headline,
		Title:        title,
		URL:          safeURL(inc.URL),
		Number:       inc.Number,
		Fields:       fields,
		BodyText:     clean(markdown.Text(m.Body)),
		Label:        m.Event.Label(),
		Actor:        line(m.Actor),
		Confidential: inc.Visibility == "confidential",
	}
	if v.BodyText != "" {
		v.Body = markdown.Render(m.Body)
	}
	if !m.At.IsZero() {
		v.At = m.At.UTC().Format("2006-01-02 15:04 UTC")
	}
	return v
}

// aboutIncident is false for messages about no incident (the review's
// agenda), which have no phase, owner or services to show.
func aboutIncident(inc notify.Incident) bool { return inc.Number != 0 || inc.Phase != "" }

// plainText is the text/plain part: headline first (inbox previews show
// it), then the incident, its fields, the body and a signature line.
func plainText(v pageView) string {
	var b strings.Builder
	b.WriteString(v.Headline + "\n\n")
	b.WriteString(v.Title + "\n")
	if v.URL != "" {
		b.WriteString(v.URL + "\n")
	}
	b.WriteString("\n")
	for _, f := range v.Fields {
		b.WriteString(fmt.Sprintf("%-10s%s\n", f.Name+":", f.Value))
	}
	if v.BodyText != "" {
		b.WriteString("\n" + v.BodyText + "\n")
	}
	b.WriteString("\n-- \n" + footer(v) + "\n")
	return b.String()
}

func footer(v pageView) string {
	parts := []string{v.Label}
	if v.Actor != "" {
		parts[0] += " by " + v.Actor
	}
	if v.At != "" {
		parts = append(parts, v.At)
	}
	if v.Confidential {
		parts = append(parts, "confidential")
	}
	return strings.Join(parts, " · ") + " · sent by Quench"
}

// page is the text/html part. Mail clients ignore <style> sheets and
// external CSS, so styles are inline; layout tables are what they render
// reliably. Parsed once: a broken template fails at start-up.
var page = template.Must(template.New("email").Funcs(template.FuncMap{"footer": footer}).Parse(shellTop + `
<tr><td style="padding:20px 24px 4px;">
<p style="margin:0 0 4px;font-size:13px;color:#5e6c84;">{{.Label}}{{if .Actor}} by {{.Actor}}{{end}}{{if .Confidential}} · <strong>confidential</strong>{{end}}</p>
<h1 style="margin:0;font-size:20px;line-height:1.3;font-weight:600;">{{.Headline}}</h1>
</td></tr>
<tr><td style="padding:8px 24px;">
<p style="margin:0;font-size:16px;font-weight:600;">{{if .URL}}<a href="{{.URL}}" style="color:#0052cc;text-decoration:none;">{{.Title}}</a>{{else}}{{.Title}}{{end}}</p>
</td></tr>
{{- if .Fields}}
<tr><td style="padding:4px 24px 12px;">
<table role="presentation" cellpadding="0" cellspacing="0" style="font-size:14px;">
{{- range .Fields}}
<tr><td style="padding:2px 16px 2px 0;color:#5e6c84;">{{.Name}}</td><td style="padding:2px 0;">{{.Value}}</td></tr>
{{- end}}
</table>
</td></tr>
{{- end}}
{{- if .Body}}
<tr><td style="padding:12px 24px;border-top:1px solid #dfe1e6;">
{{.Body}}</td></tr>
{{- end}}
{{- if .URL}}
<tr><td style="padding:12px 24px 24px;">
<a href="{{.URL}}" style="display:inline-block;padding:8px 16px;background:#0052cc;color:#ffffff;text-decoration:none;border-radius:4px;font-weight:600;">Open {{if .Number}}incident #{{.Number}}{{else}}Quench{{end}}</a>
</td></tr>
{{- end}}
</table>
<p style="margin:12px 0 0;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:12px;color:#7a869a;">{{footer .}}</p>
</td></tr>
</table>
</body>
</html>
`))

// shellTop opens the HTML part of every e-mail, the team's and the
// customers': the preview line, and the centred white card the rows go
// into.
const shellTop = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Subject}}</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<div style="display:none;max-height:0;overflow:hidden;">{{.Headline}}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;width:100%;background:#ffffff;border:1px solid #dfe1e6;border-radius:6px;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#172b4d;">`
