// Package notifytest holds what the channel packages' tests share: one
// realistic message per event, and the hostile text every channel must
// deliver inert. Only tests import it.
package notifytest

import (
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/notify"
)

// At is when the sample events happened.
var At = time.Date(2026, 11, 23, 20, 11, 18, 0, time.UTC)

// Hostile is text that would ping a whole Slack channel, link somewhere
// else, run a script in an HTML mail or add a mail header if any channel
// passed it through as markup.
const Hostile = "<!channel> <!here> <!everyone> <@U123> <#C123> <!subteam^S123> <https://evil.example|ok> & &amp; &lt;b&gt; <script>alert(1)</script> <img src=x onerror=alert(1)> {{.}}"

// Incident is the incident of the samples.
func Incident() notify.Incident {
	return notify.Incident{
		Number:     12,
		Title:      "Checkout p99 latency high",
		Phase:      "active",
		Severity:   "major",
		Services:   []string{"checkout", "payments"},
		Visibility: "public",
		Owner:      "alice",
		URL:        "https://quench.example.com/incidents/12",
		CreatedAt:  At.Add(-time.Hour),
	}
}

// Events are the events with a sample: every channel event and the test
// message.
func Events() []notify.Event { return append(append([]notify.Event{}, notify.Events...), notify.Test) }

// Messages returns one message per event of Events, as the service would
// build it, plus the personal ones.
func Messages() map[notify.Event]notify.Message {
	base := func(e notify.Event, headline string) notify.Message {
		return notify.Message{
			ID:       "msg_" + strings.NewReplacer(".", "_").Replace(string(e)),
			Event:    e,
			At:       At,
			Incident: Incident(),
			Headline: headline,
		}
	}
	out := map[notify.Event]notify.Message{}

	m := base(notify.Opened, "#12 opened")
	m.Actor = "alice"
	m.Incident.Owner = ""
	m.Body = "p99 of `POST /checkout` above **2 s** since 20:05.\n\nSee [the dashboard](https://grafana.example.com/d/checkout)."
	out[m.Event] = m

	m = base(notify.PhaseChanged, "#12 moved to mitigated")
	m.Actor, m.From, m.To = "alice", "active", "mitigated"
	m.Incident.Phase, m.Incident.Owner = "mitigated", "bob"
	m.Body = "Rolled back to **v1.41** ([MR 812](https://git.example.com/shop/-/merge_requests/812)).\n\n- error rate back to 0.1 %\n- p99 at 300 ms"
	out[m.Event] = m

	m = base(notify.Reopened, "#12 reopened")
	m.Actor, m.From, m.To = "bob", "resolved", "active"
	m.Body = "Latency is back after the 21:00 deploy."
	out[m.Event] = m

	m = base(notify.UpdatePublic, "#12: public update")
	m.Actor = "alice"
	m.Body = "We are seeing slow checkouts and are working on a fix."
	out[m.Event] = m

	m = base(notify.UpdateInternal, "#12: internal update")
	m.Actor = "bob"
	m.Incident.Visibility = "confidential"
	m.Body = "The pool size is 10, **too small** for Black Friday traffic."
	out[m.Event] = m

	m = base(notify.OwnerChanged, "#12: bob now owns the active phase")
	m.Actor = "alice"
	m.Incident.Owner = "bob"
	out[m.Event] = m

	m = base(notify.AlertAttached, "#12: alert HighLatency attached")
	m.Body = "HighLatency firing on web-1:8080 (p99 2.05 s)"
	out[m.Event] = m

	m = base(notify.AlertsResolved, "#12: all alerts resolved — mitigated?")
	out[m.Event] = m

	m = base(notify.ChecklistDone, "#12: checklist item done")
	m.Actor = "carol"
	m.Body = "Send the missing confirmation e-mails"
	out[m.Event] = m

	m = base(notify.Merged, "#12 merged into #11")
	m.Actor = "alice"
	m.From, m.To = "active", "merged into #11"
	m.Body = "Same checkout outage as #11"
	out[m.Event] = m

	m = base(notify.Cancelled, "#12 cancelled (was active)")
	m.Actor = "alice"
	m.From, m.To = "active", "cancelled"
	m.Body = "The load test, not customers"
	out[m.Event] = m

	m = base(notify.Unowned, "#12 has had no owner for 10 minutes")
	m.Incident.Owner = ""
	out[m.Event] = m

	m = base(notify.Stuck, "#12 has been active for 1 day")
	out[m.Event] = m

	m = base(notify.ReviewAgenda, "Agenda of the weekly review, Tue 1 Dec 10:00 UTC")
	m.Incident = notify.Incident{Title: "Weekly review", URL: "https://quench.example.com/review", CreatedAt: At}
	m.Body = "# Weekly review\n\nPeriod: 2026-11-17 09:00 UTC – 2026-11-24 09:00 UTC\n\n## Stuck (1)\n\n" +
		"- [#12](https://quench.example.com/incidents/12) Checkout p99 latency high (major, mitigated, owner bob): mitigated for 8 d (more than 7 d)\n"
	out[m.Event] = m

	m = base(notify.Test, "Test message from Quench")
	m.Actor = "admin"
	m.Incident = notify.Incident{Title: "Sample incident", Phase: "active", Severity: "minor", URL: "https://quench.example.com/"}
	m.Body = "If you can read this, the channel works."
	out[m.Event] = m

	m = base(notify.YouOwnPhase, "You now own phase mitigated of #12")
	m.Actor = "alice"
	m.Incident.Owner = "bob"
	m.Recipients = []string{"bob@example.com"}
	out[m.Event] = m

	m = base(notify.YourPhaseEntered, "#12 moved to your phase: mitigated")
	m.Actor, m.From, m.To = "alice", "active", "mitigated"
	m.Incident.Phase, m.Incident.Owner = "mitigated", "bob"
	m.Recipients = []string{"bob@example.com"}
	out[m.Event] = m

	m = base(notify.YourChecklistAssigned, "#12: a checklist item is yours")
	m.Actor = "alice"
	m.Body = "Document the recovery procedure"
	m.Recipients = []string{"carol@example.com"}
	out[m.Event] = m
	return out
}
