package service

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// Customers report problems from the status page, without signing in. A
// report lands in the alert inbox as an alert of the built-in source
// "report", never opens an incident by itself (no routing rule applies:
// an anonymous form must not page anyone), and is bounded: its text is
// capped and plain (shown escaped, never as Markdown or links), and the
// form takes FormPerAddress reports per client address and FormPerHour in
// all per hour.

// MaxReportBytes caps a report's text.
const MaxReportBytes = 2000

// NewReport is what the report form sends.
type NewReport struct {
	Text string
	// Component is the component it is about (0: not said).
	Component int64
	// Contact is an optional e-mail address for one message when the
	// problem is resolved.
	Contact string
	// Remote is the client's address, for the form's limits.
	Remote string
}

// ReportProblem stores a customer's report as an inbox alert.
func (s *Service) ReportProblem(ctx context.Context, r NewReport) error {
	body := text.Clean(strings.TrimSpace(r.Text), MaxReportBytes)
	if body == "" {
		return problem.Unprocessablef("Say what is wrong.")
	}
	contact := ""
	if strings.TrimSpace(r.Contact) != "" {
		var err error
		if contact, err = parseEmail(r.Contact); err != nil {
			return err
		}
	}
	return s.anonymousWrite(ctx, "report", r.Remote, func(tx *store.Tx, now time.Time) error {
		labels := map[string]string{"source": alert.TypeReport}
		if r.Component != 0 {
			c, err := tx.Component(ctx, r.Component)
			if err != nil {
				return missing(err, "There is no such component.")
			}
			labels["component"] = c.Name
		}
		annotations := map[string]string{"description": body}
		if contact != "" {
			annotations["contact"] = contact
		}
		rec := &alert.Record{IntegrationID: reportSource, FirstSeen: now, LastSeen: now, Received: 1, Alert: alert.Alert{
			Fingerprint: "report-" + strings.ToLower(rand.Text()), Status: alert.Firing, Labels: labels, Annotations: annotations,
			StartsAt: now, Title: text.Line("Customer report: "+firstLineOf(body), incident.MaxTitleBytes)}}
		if err := tx.InsertAlert(ctx, rec); err != nil {
			return err
		}
		return tx.InsertReport(ctx, &store.Report{AlertID: rec.ID, Component: r.Component, Contact: contact, CreatedAt: now})
	})
}

// reportSource is the id of the built-in integration of reports.
const reportSource = "report"

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return text.Cut(strings.TrimSpace(s), 120)
}

// isReport reports whether an alert is a customer's report.
func isReport(rec *alert.Record) bool { return rec.IntegrationID == reportSource }

// customersFirst presets the detection source of an incident that
// customer reports joined: they found out before monitoring did when a
// report came in before the incident was opened. It records the change
// like any other; a responder may set it back.
func (s *Service) customersFirst(ctx context.Context, tx *store.Tx, inc *incident.Incident, recs []*alert.Record, actor string, now time.Time) error {
	if inc.DetectionSource == incident.SourceCustomer {
		return nil
	}
	first := false
	for _, rec := range recs {
		first = first || (isReport(rec) && !rec.FirstSeen.After(inc.CreatedAt))
	}
	if !first {
		return nil
	}
	from := inc.DetectionSource
	inc.DetectionSource, inc.UpdatedAt = incident.SourceCustomer, now
	if err := tx.SaveIncident(ctx, inc, inc.Phase, false); err != nil {
		return err
	}
	return s.record(ctx, tx, inc, &incident.Event{Incident: inc.Number, At: now, Actor: actor, Kind: incident.EventChanged,
		Data: map[string]any{"detection_source": incident.Change{From: from, To: incident.SourceCustomer}}})
}
