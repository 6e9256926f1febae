package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// eventHelp says in words what each event a channel may subscribe to is.
var eventHelp = map[notify.Event]string{
	notify.Opened:         "an incident is opened",
	notify.PhaseChanged:   "an incident moves to its next phase",
	notify.Reopened:       "an incident is reopened",
	notify.UpdatePublic:   "a public update is posted",
	notify.UpdateInternal: "an internal update is posted",
	notify.OwnerChanged:   "a phase gets a new owner",
	notify.AlertAttached:  "an alert joins an incident",
	notify.AlertsResolved: "every alert of an active incident has resolved",
	notify.ChecklistDone:  "a checklist item is ticked",
	notify.Merged:         "an incident is merged into another (a duplicate)",
	notify.Cancelled:      "an incident is cancelled (a false alarm)",
	notify.Unowned:        "an active incident still has no owner",
	notify.Stuck:          "an incident stays in a phase too long",
}

// eventChoice is one box of the events fieldset.
type eventChoice struct {
	Event    notify.Event
	Help     string
	TeamOnly bool
}

func eventChoices() []eventChoice {
	out := make([]eventChoice, 0, len(notify.Events))
	for _, e := range notify.Events {
		out = append(out, eventChoice{Event: e, Help: eventHelp[e], TeamOnly: !notify.Public.Allows(e)})
	}
	return out
}

// channelForm is what the channel form shows: a channel's settings, or
// what the admin typed when the service refused it.
type channelForm struct {
	Type       string
	Name       string
	Audience   string
	URL        string
	Recipients string
	AllEvents  bool
	Events     map[string]bool
	Severities map[string]bool
	Services   string
	Labels     string
	Disabled   bool
}

// newChannelForm is the empty form: every event the audience may see, no
// audience chosen (there is no default: a public channel must never be a
// team channel by accident).
func newChannelForm() channelForm {
	return channelForm{Type: string(notify.Webhook), AllEvents: true, Events: map[string]bool{}, Severities: map[string]bool{}}
}

func channelFormOf(c *notify.Channel) channelForm {
	f := channelForm{Type: string(c.Type), Name: c.Name, Audience: string(c.Audience), Recipients: strings.Join(c.Recipients, "\n"),
		Events: map[string]bool{}, Severities: map[string]bool{}, Services: strings.Join(c.Filter.Services, ", "),
		Labels: strings.Join(c.Filter.Labels, "\n"), Disabled: c.Disabled}
	for _, e := range c.Events {
		if e == "*" {
			f.AllEvents = true
		}
		f.Events[string(e)] = true
	}
	for _, s := range c.Filter.Severities {
		f.Severities[s] = true
	}
	return f
}

// postedChannelForm reads the form back as typed, to show it again.
func postedChannelForm(v url.Values) channelForm {
	f := channelForm{Type: v.Get("type"), Name: v.Get("name"), Audience: v.Get("audience"), URL: v.Get("url"),
		Recipients: v.Get("recipients"), AllEvents: v.Get("events") != "some", Events: map[string]bool{}, Severities: map[string]bool{},
		Services: v.Get("services"), Labels: v.Get("labels"), Disabled: v.Get("disabled") != ""}
	for _, e := range v["event"] {
		f.Events[e] = true
	}
	for _, s := range v["severity"] {
		f.Severities[s] = true
	}
	return f
}

// channelInput turns the posted form into the service's input. typ is the
// channel's type: only the field that type uses is passed on (the form
// shows both when scripts are off), and an empty URL on the edit form
// keeps the current one.
func channelInput(v url.Values, typ notify.ChannelType, creating bool) (service.ChannelInput, error) {
	var in service.ChannelInput
	name := v.Get("name")
	in.Name = &name
	if a := v.Get("audience"); a != "" {
		in.Audience = &a
	}
	if typ == notify.Email {
		list := splitLines(strings.ReplaceAll(v.Get("recipients"), ",", "\n"))
		in.Recipients = &list
	} else if u := strings.TrimSpace(v.Get("url")); u != "" || creating {
		in.URL = &u
	}
	events := []string{"*"}
	if v.Get("events") == "some" {
		events = v["event"]
		if len(events) == 0 {
			return in, problem.Unprocessablef("tick at least one event, or choose every event the audience may see")
		}
	}
	in.Events = &events
	in.Filter = &notify.Filter{Severities: v["severity"], Services: splitList(v.Get("services")), Labels: splitLines(v.Get("labels"))}
	if !creating {
		d := v.Get("disabled") != ""
		in.Disabled = &d
	}
	return in, nil
}

func splitLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// channelRow is a channel in the list.
type channelRow struct {
	*notify.Channel
	// Destination is where it sends: the URL up to its host (the rest
	// of a Slack or webhook URL is a credential), or the recipients.
	Destination string
	AllEvents   bool
	Filter      string
}

func channelRowOf(c *notify.Channel) channelRow {
	r := channelRow{Channel: c, AllEvents: slices.Contains(c.Events, "*"), Filter: filterWords(c.Filter)}
	if c.Type == notify.Email {
		r.Destination = strings.Join(c.Recipients, ", ")
	} else if c.URL != "" {
		r.Destination = notify.RedactURL(c.URL)
	}
	return r
}

// filterWords describes a filter in one line.
func filterWords(f notify.Filter) string {
	var parts []string
	if len(f.Severities) > 0 {
		parts = append(parts, "severity "+strings.Join(f.Severities, ", "))
	}
	if len(f.Services) > 0 {
		parts = append(parts, "services "+strings.Join(f.Services, ", "))
	}
	if len(f.Labels) > 0 {
		parts = append(parts, "labels "+strings.Join(f.Labels, "; "))
	}
	return strings.Join(parts, " · ")
}

type channelsData struct {
	Channels []channelRow
	Form     channelForm
	channelFormData
}

// channelFormData is what both channel forms need besides the values.
type channelFormData struct {
	Types        []notify.ChannelType
	Events       []eventChoice
	Severities   []incident.Severity
	EmailEnabled bool
	// Editing is set on an existing channel's form.
	Editing bool
}

func (w *Web) channelFormData() channelFormData {
	return channelFormData{Types: notify.ChannelTypes, Events: eventChoices(), Severities: incident.Severities, EmailEnabled: w.svc.EmailEnabled()}
}

// posted reports whether r is a refused submission of the form named name,
// whose input is to be shown again.
func posted(r *http.Request, name string) bool {
	return r.Method == http.MethodPost && r.PostForm.Get("form") == name
}

func (w *Web) adminChannels(r *http.Request, p auth.Principal) (string, string, any, error) {
	list, err := w.svc.Channels(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	d := channelsData{Form: newChannelForm(), channelFormData: w.channelFormData()}
	if posted(r, "new") {
		d.Form = postedChannelForm(r.PostForm)
	}
	for _, c := range list {
		d.Channels = append(d.Channels, channelRowOf(c))
	}
	return "Notification channels", "admin_channels", d, nil
}

func (w *Web) createChannelAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	typ := r.PostForm.Get("type")
	in, err := channelInput(r.PostForm, notify.ChannelType(typ), true)
	if err != nil {
		return "", w.adminChannels, nil, err
	}
	in.Type = &typ
	c, secret, err := w.svc.CreateChannel(r.Context(), p, in)
	if err != nil {
		return "", w.adminChannels, nil, err
	}
	if secret != "" {
		return "", nil, &shown{Title: "Channel added", Data: secretData{What: fmt.Sprintf("Signing secret of the %s channel %s", c.Type, c.Name),
			Secret: secret, Back: "/admin/channels",
			Hint: "Give it to the receiver: it checks the webhook-signature header with it (Standard Webhooks). It is shown only now."}}, nil
	}
	return notice("/admin/channels", "Channel "+c.Name+" added."), nil, nil, nil
}

type channelData struct {
	Channel channelRow
	Form    channelForm
	channelFormData
}

func (w *Web) adminChannel(r *http.Request, p auth.Principal) (string, string, any, error) {
	id, err := pathID(r)
	if err != nil {
		return "", "", nil, err
	}
	c, err := w.svc.Channel(r.Context(), p, id)
	if err != nil {
		return "", "", nil, err
	}
	d := channelData{Channel: channelRowOf(c), Form: channelFormOf(c), channelFormData: w.channelFormData()}
	d.Editing = true
	if posted(r, "edit") {
		d.Form = postedChannelForm(r.PostForm)
		d.Form.Type = string(c.Type)
	}
	return "Channel " + c.Name, "admin_channel", d, nil
}

// changeChannelAction saves the edit form, or enables or disables the
// channel from the list. A webhook given a new URL gets a new secret,
// shown once.
func (w *Web) changeChannelAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, nil, err
	}
	var in service.ChannelInput
	back := w.adminChannel
	switch do := r.PostForm.Get("do"); do {
	case "enable", "disable":
		d := do == "disable"
		in.Disabled = &d
		back = w.adminChannels
	case "save":
		c, err := w.svc.Channel(r.Context(), p, id)
		if err != nil {
			return "", nil, nil, err
		}
		if in, err = channelInput(r.PostForm, c.Type, false); err != nil {
			return "", back, nil, err
		}
	default:
		return "", back, nil, problem.Invalidf("unknown channel action")
	}
	c, secret, err := w.svc.UpdateChannel(r.Context(), p, id, in)
	if err != nil {
		return "", back, nil, err
	}
	if secret != "" {
		return "", nil, &shown{Title: "New signing secret", Data: secretData{What: "New signing secret of the webhook channel " + c.Name +
			" for its new URL", Secret: secret, Back: "/admin/channels",
			Hint: "The old secret no longer signs anything. Give this one to the new receiver; it is shown only now."}}, nil
	}
	msg := map[string]string{"save": "saved.", "enable": "enabled.", "disable": "disabled: it receives nothing until enabled."}[r.PostForm.Get("do")]
	return notice("/admin/channels", "Channel "+c.Name+" "+msg), nil, nil, nil
}

func (w *Web) testChannelAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, nil, err
	}
	if _, err := w.svc.TestChannel(r.Context(), p, id); err != nil {
		return "", w.adminChannels, nil, err
	}
	q := url.Values{"channel": {strconv.FormatInt(id, 10)}, "notice": {"Test message queued; its state shows below."}}
	return "/admin/deliveries?" + q.Encode(), nil, nil, nil
}

func (w *Web) removeChannelAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, nil, err
	}
	if r.PostForm.Get("confirm") == "" {
		return "", w.adminChannels, nil, problem.Unprocessablef("tick the box to confirm: the channel and its unsent messages go away")
	}
	return notice("/admin/channels", "Channel removed."), w.adminChannels, nil, w.svc.DeleteChannel(r.Context(), p, id)
}

// deliveryView is one outbox message with where it stands, in words.
type deliveryView struct {
	*notify.Delivery
	// At is the time that goes with the state: sent at, next attempt at.
	At     time.Time
	AtText string
	// Retry is the number of the retry a failing message waits for.
	Retry int
	// Reason says why a message failed or was suppressed, without the
	// request line.
	Reason    string
	Retryable bool
}

// requestLine is the "POST https://host/…: " the HTTP channels put before
// what went wrong.
var requestLine = regexp.MustCompile(`POST \S+: `)

func viewDelivery(d *notify.Delivery, now time.Time) deliveryView {
	v := deliveryView{Delivery: d, Reason: requestLine.ReplaceAllString(d.LastError, "")}
	switch d.State {
	case notify.Sent:
		v.At = d.SentAt
	case notify.Failing:
		v.At, v.Retry = d.NextAttemptAt, d.Attempts
	}
	if !v.At.IsZero() {
		v.AtText = clock(v.At, now)
	}
	v.Retryable = d.State == notify.Failing || d.State == notify.Failed || d.State == notify.Dead
	return v
}

// clock is a short time: the time of day for today, the date too before.
func clock(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// deliveryStates are the filter links of the deliveries page; "" is all.
var deliveryStates = []notify.State{"", notify.Failing, notify.Failed, notify.Dead, notify.Suppressed}

type stateLink struct {
	Name    string
	URL     string
	Current bool
}

type deliveriesData struct {
	Deliveries []deliveryView
	States     []stateLink
	State      notify.State
	Channels   []*notify.Channel
	Channel    int64
	Incident   int64
	// Older links to the next page when this one is full.
	Older string
}

const deliveriesPage = 100

func (w *Web) adminDeliveries(r *http.Request, p auth.Principal) (string, string, any, error) {
	q := r.URL.Query()
	d := deliveriesData{State: notify.State(q.Get("state"))}
	var before int64
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"channel", &d.Channel}, {"incident", &d.Incident}, {"before", &before}} {
		if v := q.Get(f.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return "", "", nil, problem.Invalidf("%s must be a positive number", f.name)
			}
			*f.dst = n
		}
	}
	dq := service.DeliveryQuery{Incident: d.Incident, ChannelID: d.Channel, BeforeID: before, Limit: deliveriesPage}
	if d.State != "" {
		dq.States = []notify.State{d.State}
	}
	list, err := w.svc.Deliveries(r.Context(), p, dq)
	if err != nil {
		return "", "", nil, err
	}
	if d.Channels, err = w.svc.Channels(r.Context(), p); err != nil {
		return "", "", nil, err
	}
	now := w.svc.Now()
	for _, x := range list {
		d.Deliveries = append(d.Deliveries, viewDelivery(x, now))
	}
	for _, st := range deliveryStates {
		name := string(st)
		if st == "" {
			name = "all"
		}
		d.States = append(d.States, stateLink{Name: name, URL: d.link(st, 0), Current: st == d.State})
	}
	if len(list) == deliveriesPage {
		d.Older = d.link(d.State, list[len(list)-1].ID)
	}
	return "Deliveries", "admin_deliveries", d, nil
}

// link is this page's URL with another state and page.
func (d *deliveriesData) link(st notify.State, before int64) string {
	q := url.Values{}
	if st != "" {
		q.Set("state", string(st))
	}
	if d.Channel != 0 {
		q.Set("channel", strconv.FormatInt(d.Channel, 10))
	}
	if d.Incident != 0 {
		q.Set("incident", strconv.FormatInt(d.Incident, 10))
	}
	if before != 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if len(q) == 0 {
		return "/admin/deliveries"
	}
	return "/admin/deliveries?" + q.Encode()
}

// retryDeliveryAction sends a message again now, and goes back to the
// list the button was on.
func (w *Web) retryDeliveryAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, nil, err
	}
	d, err := w.svc.RetryDelivery(r.Context(), p, id)
	if err != nil {
		return "", w.adminDeliveries, nil, err
	}
	back := deliveriesData{State: notify.State(r.PostForm.Get("state"))}
	back.Channel, _ = strconv.ParseInt(r.PostForm.Get("channel"), 10, 64)
	back.Incident, _ = strconv.ParseInt(r.PostForm.Get("incident"), 10, 64)
	if !slices.Contains([]notify.State{notify.Pending, notify.Failing, notify.Sent, notify.Failed, notify.Dead, notify.Suppressed}, back.State) {
		back.State = ""
	}
	next := back.link(back.State, 0)
	sep := "?"
	if strings.Contains(next, "?") {
		sep = "&"
	}
	return next + sep + "notice=" + url.QueryEscape(fmt.Sprintf("Message %d to %s is due again now.", d.ID, d.Channel)), nil, nil, nil
}

// incidentDeliveries is the incident page's Notifications section: the
// team sees what went out about the incident and how it went.
func (w *Web) incidentDeliveries(r *http.Request, p auth.Principal, n int64) ([]deliveryView, error) {
	list, err := w.svc.Deliveries(r.Context(), p, service.DeliveryQuery{Incident: n})
	if err != nil {
		return nil, err
	}
	now := w.svc.Now()
	out := make([]deliveryView, 0, len(list))
	for _, d := range list {
		out = append(out, viewDelivery(d, now))
	}
	return out, nil
}
