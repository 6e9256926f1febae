// Package slack posts notifications to a Slack incoming webhook as Block
// Kit messages.
//
// Everything a person or an alert wrote (titles, bodies, names, service
// names) is escaped for Slack's mrkdwn before it is sent: "&", "<" and ">"
// become entities, so "<!channel>", "<@U123>" or "<https://evil|ok>" in a
// title arrive as the text that was written, never as a mass ping or a
// disguised link. Text objects are also marked verbatim, which stops Slack
// from parsing bare "@here" or "#channel" on its own. The only markup in a
// message is what this package builds: bold labels, one link to the
// incident (an http or https URL only) and a date token.
//
// The webhook URL is the credential: errors and String name its host
// only. Mattermost and other Slack-compatible receivers accept the same
// payload, so the host is not checked to be Slack's.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/quenchhq/quench/internal/markdown"
	"github.com/quenchhq/quench/internal/notify"
)

// Slack's limits (https://docs.slack.dev/reference/block-kit/blocks),
// counted in UTF-16 code units as Slack's own clients count them.
const (
	maxSectionText = 3000
	maxLinkURL     = 2000 // so the title line's link is never cut
	maxFieldText   = 2000
	maxTitle       = 150 // a header block's limit, kept for the title line
	maxFallback    = 3000
	maxButtonText  = 75
	maxURL         = 3000
)

// Notifier posts to one incoming webhook.
type Notifier struct {
	url    string
	client *http.Client
}

// New returns a notifier for webhookURL. client should come from
// notify.Guard.Client, so that every connection is checked; nil uses a
// guard with no allowlist and a 10 second timeout.
func New(webhookURL string, client *http.Client) *Notifier {
	if client == nil {
		g, _ := notify.NewGuard(nil)
		client = g.Client(10 * time.Second)
	}
	return &Notifier{url: webhookURL, client: client}
}

// String names the channel without its secret path, so a notifier that
// ends up in a log line or an error leaks nothing.
func (n *Notifier) String() string   { return "slack " + notify.RedactURL(n.url) }
func (n *Notifier) GoString() string { return n.String() }

// Notify posts m. Slack answers 200 "ok"; 429 (with Retry-After) and 5xx
// are retried; 400 (our payload), 403 (invalid_token), 404 (no_service,
// channel_not_found) and 410 (channel_is_archived) fail at once, because
// no retry can fix them.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	// "<" stays "<" in the JSON (no \u003c): Slack reads both the same,
	// and people reading a captured payload see what Slack sees.
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(build(m)); err != nil {
		return false, fmt.Errorf("slack: encoding message: %w", err)
	}
	return notify.Post(ctx, n.client, n.url, "application/json", nil, bytes.TrimSuffix(body.Bytes(), []byte("\n")))
}

var _ notify.Notifier = (*Notifier)(nil)

// payload is an incoming-webhook message.
type payload struct {
	Text        string  `json:"text"`
	Blocks      []block `json:"blocks"`
	UnfurlLinks bool    `json:"unfurl_links"`
	UnfurlMedia bool    `json:"unfurl_media"`
}

type block struct {
	Type     string `json:"type"`
	Text     *text  `json:"text,omitempty"`
	Fields   []text `json:"fields,omitempty"`
	Elements []any  `json:"elements,omitempty"`
}

type text struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Verbatim bool   `json:"verbatim,omitempty"`
}

type button struct {
	Type string `json:"type"`
	Text text   `json:"text"`
	URL  string `json:"url"`
}

// mrkdwn is a text object holding escaped text; verbatim stops Slack's
// automatic parsing of names and mentions in it.
func mrkdwn(s string) text { return text{Type: "mrkdwn", Text: s, Verbatim: true} }

func build(m notify.Message) payload {
	inc := m.Incident
	title := "#" + strconv.FormatInt(inc.Number, 10) + " " + line(inc.Title)
	if inc.Number == 0 {
		title = line(inc.Title)
	}
	headline := line(m.Headline)
	if headline == "" {
		headline = m.Event.Label()
	}

	// The title line: bold, linked to the incident when its URL is one
	// we may link to.
	titleText := escapeCut(title, maxTitle)
	if href, ok := mrkdwnURL(inc.URL); ok {
		titleText = "<" + href + "|" + titleText + ">"
	}
	blocks := []block{{
		Type: "section",
		Text: ptr(mrkdwn(cutEscaped("*"+titleText+"*\n"+escape(headline), maxSectionText))),
	}}

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
	var fields []text
	for _, f := range [][2]string{{"Phase", phase}, {"Severity", inc.Severity}, {"Owner", owner}, {"Services", services}} {
		// A message about no incident (the review's agenda) has none of
		// these.
		if v := line(f[1]); v != "" && (inc.Number != 0 || inc.Phase != "") {
			fields = append(fields, mrkdwn(cutEscaped("*"+f[0]+"*\n"+escape(v), maxFieldText)))
		}
	}
	if len(fields) > 0 {
		blocks = append(blocks, block{Type: "section", Fields: fields})
	}

	if body := markdown.Text(m.Body); body != "" {
		blocks = append(blocks, block{Type: "section", Text: ptr(mrkdwn(escapeCut(body, maxSectionText)))})
	}

	// Small print: what happened, who did it, when, and whether the
	// incident is confidential.
	ctx := []string{escape(line(m.Event.Label()))}
	if m.Actor != "" {
		ctx = append(ctx, "by "+escape(line(m.Actor)))
	}
	if !m.At.IsZero() {
		ctx = append(ctx, date(m.At))
	}
	if inc.Visibility == "confidential" {
		ctx = append(ctx, "confidential")
	}
	blocks = append(blocks, block{Type: "context", Elements: []any{mrkdwn(cutEscaped(strings.Join(ctx, " · "), maxSectionText))}})

	if href, ok := plainURL(inc.URL); ok {
		blocks = append(blocks, block{Type: "actions", Elements: []any{button{
			Type: "button",
			Text: text{Type: "plain_text", Text: cut(buttonText(inc), maxButtonText)},
			URL:  href,
		}}})
	}

	fallback := headline
	if t := line(inc.Title); t != "" && !strings.Contains(headline, t) {
		fallback += ": " + t
	}
	return payload{Text: escapeCut(fallback, maxFallback), Blocks: blocks}
}

func ptr[T any](v T) *T { return &v }

func buttonText(inc notify.Incident) string {
	if inc.Number == 0 && inc.Phase == "" {
		return "Open in Quench"
	}
	return "Open incident"
}

// date is Slack's date token: readers see the time in their own zone;
// the fallback (UTC) is for clients that cannot render it.
func date(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.Format("2006-01-02 15:04 UTC"))
}

// clean makes s valid UTF-8 without control characters other than line
// breaks and tabs: they have no business in a chat message and some
// clients render them as boxes or act on them.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
}

// line is clean(s) on one line, runs of white space collapsed: titles and
// names go into bold labels and links, which a line break would end.
func line(s string) string {
	return strings.Join(strings.Fields(clean(s)), " ")
}

// escape makes s inert in mrkdwn: Slack reads "<" as the start of a
// link, mention or command, and "&" as the start of an entity.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// escapeCut escapes s and cuts the result to max units without splitting
// an entity.
func escapeCut(s string, max int) string {
	return cutEscaped(escape(clean(s)), max)
}

// cutEscaped cuts already escaped (or built) mrkdwn to max UTF-16 units,
// ending in "…", never inside an entity. Built markup is only ever at the
// start of the text (the title link), which the limits leave intact.
func cutEscaped(s string, max int) string {
	if units(s) <= max {
		return s
	}
	n, end := 0, 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		step := size
		if r == '&' {
			if j := strings.IndexByte(s[i:], ';'); j > 0 && j <= 5 {
				step = j + 1
			}
		}
		w := units(s[i : i+step])
		if n+w > max-1 {
			break
		}
		n += w
		i += step
		end = i
	}
	return strings.TrimRightFunc(s[:end], unicode.IsSpace) + "…"
}

// cut cuts plain text (no entities) to max UTF-16 units.
func cut(s string, max int) string {
	if units(s) <= max {
		return s
	}
	n := 0
	for i, r := range s {
		if n+utf16.RuneLen(r) > max-1 {
			return s[:i] + "…"
		}
		n += utf16.RuneLen(r)
	}
	return s
}

func units(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}

// plainURL returns raw if Quench may link to it: an absolute http or
// https URL with a host, no credentials and nothing a client could read
// two ways.
func plainURL(raw string) (string, bool) {
	if raw == "" || len(raw) > maxURL {
		return "", false
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f || r == '\\' || r > unicode.MaxASCII {
			return "", false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return "", false
	}
	return raw, true
}

// mrkdwnURL returns raw ready for "<url|text>": "&" escaped as Slack
// wants it, and the characters that would end the URL or the link
// percent-encoded.
func mrkdwnURL(raw string) (string, bool) {
	u, ok := plainURL(raw)
	if !ok {
		return "", false
	}
	u = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C").Replace(u)
	return u, len(u) <= maxLinkURL
}
