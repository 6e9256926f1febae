package email

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/quenchhq/quench/internal/markdown"
	"github.com/quenchhq/quench/internal/notify"
)

// Messages to a status page's customers (its subscribers, and people who
// reported a problem) look like the status page, not like the team's
// e-mail: no owners, severities, services, actors or links into Quench,
// only what the message carries for customers (the customer-facing title,
// the state, public text), a link to the status page and, for
// subscribers, the way out: a one-click unsubscribe link in the body and
// in the List-Unsubscribe header (RFC 8058), which mail clients show as an
// "Unsubscribe" button.
//
// Messages about one incident thread under one root made from the
// incident's address on the status page, <status-HASH@DOMAIN>, apart from
// the team's; incident numbers are the team's and never reach customers
// (their gaps would count the incidents customers do not see).

// customerView is what both parts of a customer's e-mail show.
type customerView struct {
	Subject     string
	Instance    string
	Headline    string
	Title       string
	State       string
	Body        template.HTML
	BodyText    string
	At          string
	StatusURL   string
	ConfirmURL  string
	Unsubscribe string
}

// CustomerSubject is the subject of a message to a customer: stable per
// incident, so mail clients thread its messages.
func CustomerSubject(m notify.Message) string {
	name := line(m.Instance)
	if name == "" {
		name = "Status"
	}
	var s string
	switch m.Event {
	case notify.StatusConfirm:
		s = "Confirm your subscription to " + name
	case notify.ReportResolved:
		s = "[" + name + "] The problem you reported is resolved"
	default:
		s = "[" + name + "] " + line(m.Incident.Title)
	}
	return cut(strings.TrimSpace(s), 150)
}

func composeCustomer(msg *gomail.Msg, m notify.Message, domain string) error {
	msg.Subject(CustomerSubject(m))
	msg.SetMessageIDWithValue(idLeft(m.ID) + "@" + domain)
	if m.Event == notify.StatusIncident && m.Incident.URL != "" {
		sum := sha256.Sum256([]byte(m.Incident.URL))
		root := "<status-" + hex.EncodeToString(sum[:12]) + "@" + domain + ">"
		msg.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, root)
		msg.SetGenHeaderPreformatted(gomail.HeaderReferences, root)
	}
	msg.SetGenHeader("X-Quench-Event", headerToken(string(m.Event)))
	v := customerView{Subject: CustomerSubject(m), Instance: line(m.Instance), Headline: line(m.Headline),
		Title: line(m.Incident.Title), State: line(m.Incident.Phase), BodyText: clean(markdown.Text(m.Body))}
	if v.Instance == "" {
		v.Instance = "Status"
	}
	if v.BodyText != "" {
		v.Body = markdown.Render(m.Body)
	}
	if !m.At.IsZero() {
		v.At = m.At.UTC().Format("2006-01-02 15:04 UTC")
	}
	if c := m.Customer; c != nil {
		v.StatusURL, v.ConfirmURL, v.Unsubscribe = safeURL(c.StatusPage), safeURL(c.Confirm), safeURL(c.Unsubscribe)
	}
	if v.StatusURL == "" {
		v.StatusURL = safeURL(m.Incident.URL)
	}
	if v.Unsubscribe != "" {
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribe, "<"+v.Unsubscribe+">")
		msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	return setBody(msg, customerText(v), customerPage, v)
}

// customerText is the text/plain part.
func customerText(v customerView) string {
	var b strings.Builder
	b.WriteString(v.Headline + "\n\n")
	if v.Title != "" {
		b.WriteString(v.Title + "\n")
	}
	if v.State != "" {
		b.WriteString("Status: " + v.State + "\n")
	}
	if v.BodyText != "" {
		b.WriteString("\n" + v.BodyText + "\n")
	}
	if v.ConfirmURL != "" {
		fmt.Fprintf(&b, "\nConfirm your subscription: %s\nIf you did not ask for it, ignore this message; nothing more will come.\n", v.ConfirmURL)
	}
	if v.StatusURL != "" {
		fmt.Fprintf(&b, "\nStatus page: %s\n", v.StatusURL)
	}
	b.WriteString("\n-- \n" + v.Instance)
	if v.At != "" {
		b.WriteString(" · " + v.At)
	}
	b.WriteString("\n")
	if v.Unsubscribe != "" {
		fmt.Fprintf(&b, "Unsubscribe: %s\n", v.Unsubscribe)
	}
	return b.String()
}

var customerPage = template.Must(template.New("customer").Parse(shellTop + `
<tr><td style="padding:20px 24px 4px;">
<p style="margin:0 0 4px;font-size:13px;color:#5e6c84;">{{.Instance}}{{if .State}} · {{.State}}{{end}}</p>
<h1 style="margin:0;font-size:20px;line-height:1.3;font-weight:600;">{{.Headline}}</h1>
</td></tr>
{{- if and .Title (ne .Title .Headline)}}
<tr><td style="padding:8px 24px;"><p style="margin:0;font-size:16px;font-weight:600;">{{.Title}}</p></td></tr>
{{- end}}
{{- if .Body}}
<tr><td style="padding:12px 24px;border-top:1px solid #dfe1e6;">
{{.Body}}</td></tr>
{{- end}}
{{- if .ConfirmURL}}
<tr><td style="padding:12px 24px;">
<a href="{{.ConfirmURL}}" style="display:inline-block;padding:8px 16px;background:#0052cc;color:#ffffff;text-decoration:none;border-radius:4px;font-weight:600;">Confirm my subscription</a>
<p style="margin:12px 0 0;font-size:13px;color:#5e6c84;">If you did not ask for it, ignore this message; nothing more will come.</p>
</td></tr>
{{- end}}
{{- if .StatusURL}}
<tr><td style="padding:12px 24px 24px;"><a href="{{.StatusURL}}" style="color:#0052cc;">Open the status page</a></td></tr>
{{- end}}
</table>
<p style="margin:12px 0 0;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:12px;color:#7a869a;">{{.Instance}}{{if .At}} · {{.At}}{{end}}{{if .Unsubscribe}} · <a href="{{.Unsubscribe}}" style="color:#7a869a;">Unsubscribe</a>{{end}}</p>
</td></tr>
</table>
</body>
</html>
`))
