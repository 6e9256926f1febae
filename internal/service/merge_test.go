package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openDraft(t *testing.T, svc *service.Service, d incident.Draft) int64 {
	t.Helper()
	inc, err := svc.OpenIncident(context.Background(), service.System, d)
	mustDo(t, err)
	return inc.Number
}

func advance(t *testing.T, svc *service.Service, n int64, to incident.Phase) {
	t.Helper()
	_, err := svc.Transition(context.Background(), service.System, n, incident.TransitionRequest{To: to, Note: "done: " + string(to),
		DetectionImprovement: "alert on it"})
	mustDo(t, err)
}

// Merging and cancelling are refused where the rules say, with a clear
// code, and a refusal changes nothing; the phase rules still answer any
// jump with phase_skip.
func TestMergeAndCancelRefusals(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		svc := app.Svc
		tok := app.User(t, "ana", auth.RoleResponder)
		live := openDraft(t, svc, incident.Draft{Title: "checkout down"})
		other := openDraft(t, svc, incident.Draft{Title: "checkout down again"})
		secret := openDraft(t, svc, incident.Draft{Title: "key leak", Visibility: incident.Confidential})
		merged := openDraft(t, svc, incident.Draft{Title: "dup"})
		_, err := svc.MergeIncident(ctx, service.System, merged, other, "duplicate")
		mustDo(t, err)
		resolved := openDraft(t, svc, incident.Draft{Title: "resolved"})
		advance(t, svc, resolved, incident.Mitigated)
		advance(t, svc, resolved, incident.Resolved)
		closed := openDraft(t, svc, incident.Draft{Title: "closed"})
		for _, ph := range []incident.Phase{incident.Mitigated, incident.Resolved, incident.Closed} {
			advance(t, svc, closed, ph)
		}
		cancelled := openDraft(t, svc, incident.Draft{Title: "false alarm"})
		_, err = svc.CancelIncident(ctx, service.System, cancelled, "load test")
		mustDo(t, err)

		before := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d/timeline", live), tok, nil)
		u := func(n int64, what string) string { return fmt.Sprintf("/api/v1/incidents/%d/%s", n, what) }
		for _, c := range []struct {
			name   string
			path   string
			body   map[string]any
			status int
			code   string
		}{
			{"merge into itself", u(live, "merge"), map[string]any{"into": live, "reason": "x"}, 409, "merge_into_itself"},
			{"merge into a merged one", u(live, "merge"), map[string]any{"into": merged, "reason": "x"}, 409, "target_merged"},
			{"merge into a cancelled one", u(live, "merge"), map[string]any{"into": cancelled, "reason": "x"}, 409, "target_cancelled"},
			{"merge into a closed one", u(live, "merge"), map[string]any{"into": closed, "reason": "x"}, 409, "target_closed"},
			{"merge a merged one again", u(merged, "merge"), map[string]any{"into": live, "reason": "x"}, 409, "incident_merged"},
			{"confidential into public", u(secret, "merge"), map[string]any{"into": live, "reason": "x"}, 422, "confidential_into_public"},
			{"merge without a reason", u(live, "merge"), map[string]any{"into": other, "reason": " "}, 422, "reason_required"},
			{"merge without a target", u(live, "merge"), map[string]any{"reason": "x"}, 422, "validation_failed"},
			{"merge into a missing one", u(live, "merge"), map[string]any{"into": 999, "reason": "x"}, 404, "not_found"},
			{"cancel a resolved one", u(resolved, "cancel"), map[string]any{"reason": "x"}, 409, "cancel_not_allowed"},
			{"cancel a closed one", u(closed, "cancel"), map[string]any{"reason": "x"}, 409, "cancel_not_allowed"},
			{"cancel a merged one", u(merged, "cancel"), map[string]any{"reason": "x"}, 409, "incident_merged"},
			{"cancel twice", u(cancelled, "cancel"), map[string]any{"reason": "x"}, 409, "incident_cancelled"},
			{"cancel without a reason", u(live, "cancel"), map[string]any{"reason": ""}, 422, "reason_required"},
			{"move a merged one", u(merged, "transitions"), map[string]any{"to": "mitigated", "note": "x"}, 409, "incident_merged"},
			{"advance a cancelled one", u(cancelled, "transitions"), map[string]any{"to": "mitigated", "note": "x"}, 409, "incident_cancelled"},
			{"reopen a cancelled one without a reason", u(cancelled, "transitions"), map[string]any{"to": "active"}, 422, "reason_required"},
			{"a link on a merged one", u(merged, "links"), map[string]any{"url": "https://d.example/x"}, 409, "incident_merged"},
			{"a checklist item on a merged one", u(merged, "checklist"), map[string]any{"text": "x"}, 409, "incident_merged"},
			{"alerts on a merged one", u(merged, "alerts"), map[string]any{"alerts": []int{1}}, 409, "incident_merged"},
			{"skip to resolved", u(live, "transitions"), map[string]any{"to": "resolved", "note": "x"}, 409, "phase_skip"},
			{"skip to closed", u(live, "transitions"), map[string]any{"to": "closed", "note": "x", "detection_improvement": "y"}, 409, "phase_skip"},
			{"repeat active", u(live, "transitions"), map[string]any{"to": "active", "reason": "x"}, 409, "phase_skip"},
			{"skip from resolved back to mitigated", u(resolved, "transitions"), map[string]any{"to": "mitigated", "note": "x"}, 409, "phase_skip"},
		} {
			r := app.Request(t, "POST", c.path, tok, c.body)
			if r.Status != c.status || r.Code() != c.code {
				t.Errorf("%s: %d %s, want %d %s: %s", c.name, r.Status, r.Code(), c.status, c.code, r.Body)
			}
		}
		after := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d/timeline", live), tok, nil)
		if string(after.Body) != string(before.Body) {
			t.Errorf("refusals changed #%d's timeline", live)
		}
		for n, want := range map[int64]string{live: "<nil>", merged: "merged", cancelled: "cancelled", resolved: "<nil>", secret: "<nil>"} {
			if got := fmt.Sprint(app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d", n), tok, nil).JSON["end_state"]); got != want {
				t.Errorf("#%d end_state %s, want %s", n, got, want)
			}
		}
		// A cancelled incident that was real after all is reopened.
		r := app.Must(t, 200, "POST", u(cancelled, "transitions"), tok, map[string]any{"to": "active", "reason": "customers saw it"})
		if r.JSON["end_state"] != nil || r.JSON["phase"] != "active" {
			t.Errorf("reopened: %s", r.Body)
		}
		app.Must(t, 200, "POST", u(cancelled, "transitions"), tok, map[string]any{"to": "mitigated", "note": "restarted"})
		// A public incident may go into a confidential one.
		r = app.Must(t, 200, "POST", u(live, "merge"), tok, map[string]any{"into": secret, "reason": "the leak caused it"})
		if r.JSON["incident"].(map[string]any)["merged_into"] != float64(secret) {
			t.Errorf("merge into confidential: %s", r.Body)
		}
	})
}

// Alerts that fire later for a merged incident's group join the incident
// it was merged into; those of a cancelled incident's group open a new
// one, not the false alarm.
func TestLaterAlertsJoinMergeTarget(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		svc := app.Svc
		_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		mustDo(t, err)
		fire := func(fp, group string, st alert.Status) *service.IngestResult {
			t.Helper()
			res, err := svc.Ingest(ctx, in.ID, "", []alert.Alert{backendDown(app.Clock.Now(), fp, group, st)})
			mustDo(t, err)
			app.Clock.Advance(time.Minute)
			return res
		}
		if res := fire("a1", "g1", alert.Firing); fmt.Sprint(res.Opened) != "[1]" {
			t.Fatalf("first alert: %+v", res)
		}
		target := openDraft(t, svc, incident.Draft{Title: "backend outage"})
		_, err = svc.MergeIncident(ctx, service.System, 1, target, "opened by hand first")
		mustDo(t, err)
		if res := fire("a2", "g1", alert.Firing); fmt.Sprint(res.Attached) != fmt.Sprint([]int64{target}) || len(res.Opened) != 0 {
			t.Errorf("a new alert of the merged group: %+v, want attached to #%d", res, target)
		}
		fire("a1", "g1", alert.Resolved)
		if res := fire("a1", "g1", alert.Firing); fmt.Sprint(res.Attached) != fmt.Sprint([]int64{target}) {
			t.Errorf("the merged incident's own alert firing again: %+v, want attached to #%d", res, target)
		}
		alerts, err := svc.IncidentAlerts(ctx, service.System, target)
		mustDo(t, err)
		if len(alerts) != 2 {
			t.Errorf("#%d holds %d alerts, want 2", target, len(alerts))
		}
		sum, err := svc.IncidentAlertSummary(ctx, service.System, target)
		mustDo(t, err)
		if sum.Attached != 2 || sum.Firing != 2 {
			t.Errorf("#%d counts %+v, want 2 attached and firing", target, sum)
		}
		// A cancelled incident's group opens a new incident.
		res := fire("b1", "g2", alert.Firing)
		false_ := res.Opened[0]
		_, err = svc.CancelIncident(ctx, service.System, false_, "a deploy, not an outage")
		mustDo(t, err)
		if res := fire("b2", "g2", alert.Firing); len(res.Opened) != 1 || slices.Contains(res.Attached, false_) {
			t.Errorf("a new alert of a cancelled incident's group: %+v", res)
		}
	})
}

// The insights, the review's figures and the stuck lists leave merged
// and cancelled incidents out: known incidents, known answers.
func TestFiguresExcludeMergedAndCancelled(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		svc := app.Svc
		since := app.Clock.Now()
		open := func(src incident.Source) int64 {
			return openDraft(t, svc, incident.Draft{Title: "x", Severity: incident.Critical, DetectionSource: src, Services: []string{"web"}})
		}
		// Counted: two incidents mitigated after 10 minutes, one found by
		// an alert and one by a customer.
		a, b := open(incident.SourceAlert), open(incident.SourceCustomer)
		// Not counted: a false alarm mitigated after a minute and then
		// cancelled, a duplicate, and a false alarm cancelled at once;
		// all three found by monitoring.
		c, d, e := open(incident.SourceAlert), open(incident.SourceAlert), open(incident.SourceAlert)
		app.Clock.Advance(time.Minute)
		advance(t, svc, c, incident.Mitigated)
		app.Clock.Advance(9 * time.Minute)
		advance(t, svc, a, incident.Mitigated)
		advance(t, svc, b, incident.Mitigated)
		_, err := svc.CancelIncident(ctx, service.System, c, "a load test")
		mustDo(t, err)
		_, err = svc.MergeIncident(ctx, service.System, d, a, "same outage")
		mustDo(t, err)
		_, err = svc.CancelIncident(ctx, service.System, e, "a deploy")
		mustDo(t, err)
		// Past every stuck threshold of the active phase and before the
		// mitigated one's: only live active incidents would be stuck.
		app.Clock.Advance(2 * 24 * time.Hour)

		in, err := svc.Insights(ctx, service.System, since, app.Clock.Now())
		mustDo(t, err)
		ag, err := svc.Agenda(ctx, service.System, since, app.Clock.Now())
		mustDo(t, err)
		m, err := svc.ReviewMetrics(ctx)
		mustDo(t, err)
		var sev review.SeverityTimes
		for _, s := range in.BySeverity {
			if s.Severity == incident.Critical {
				sev = s
			}
		}
		var ended []string
		for _, x := range ag.Ended {
			ended = append(ended, fmt.Sprintf("#%d %s", x.Incident.Number, x.Line()))
		}
		var opened []string
		for _, x := range ag.Opened {
			opened = append(opened, fmt.Sprintf("#%d%s", x.Number, x.EndState))
		}
		for _, c := range []struct {
			figure    string
			got, want any
		}{
			{"incidents", in.Incidents, 2},
			{"critical incidents", sev.Incidents, 2},
			{"to mitigate: count", sev.ToMitigate.Count, 2},
			{"to mitigate: median", sev.ToMitigate.Median, review.Seconds(600)},
			{"to mitigate: p90", sev.ToMitigate.P90, review.Seconds(600)},
			{"found by monitoring", in.Detection.Monitoring, 1},
			{"found by monitoring: share", in.Detection.MonitoringShare, 0.5},
			{"services", fmt.Sprint(in.Services), "[{web 2}]"},
			{"alerts: incidents", in.Alerts.Incidents, 2},
			{"review: stuck", len(ag.Stuck), 0},
			{"review: detection checks", len(ag.Detection), 1},
			{"review: opened, marked", fmt.Sprint(opened), fmt.Sprintf("[#%d #%d #%dcancelled #%dmerged #%dcancelled]", a, b, c, d, e)},
			{"review: merged and cancelled", fmt.Sprint(ended), fmt.Sprintf("[#%d cancelled (was mitigated): a load test #%d merged into #%d: same outage #%d cancelled (was active): a deploy]", c, d, a, e)},
			{"metrics: detection alert", m.Detection[incident.SourceAlert], 1},
			{"metrics: detection customer", m.Detection[incident.SourceCustomer], 1},
			{"metrics: active stints", m.PhaseDurations[incident.Active][incident.Critical].Count, uint64(2)},
			{"metrics: stuck active", m.Stuck[incident.Active], 0},
		} {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("%s: %v, want %v", c.figure, c.got, c.want)
			}
		}
		// The log's state filter finds them, and only them.
		page, err := svc.Incidents(ctx, service.System, service.IncidentQuery{State: "ended", Sort: "number"})
		mustDo(t, err)
		if page.Total != 3 {
			t.Errorf("state=ended: %d incidents, want 3", page.Total)
		}
		page, err = svc.Incidents(ctx, service.System, service.IncidentQuery{Phases: []incident.Phase{incident.Active, incident.Mitigated}})
		mustDo(t, err)
		if page.Total != 2 {
			t.Errorf("phase=active,mitigated: %d incidents, want the 2 live ones", page.Total)
		}
		board, err := svc.Board(ctx, service.System, service.IncidentQuery{})
		mustDo(t, err)
		n := 0
		for _, cards := range board.Columns {
			n += len(cards)
		}
		if n != 2 {
			t.Errorf("the board shows %d incidents, want the 2 live ones", n)
		}
	})
}

// incident.merged and incident.cancelled go out through the outbox, in
// the change's transaction; a public channel gets them only for public
// incidents, and a merge only when the target is public too.
func TestMergeAndCancelNotify(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		svc := app.Svc
		str := func(s string) *string { return &s }
		channels := map[string]int64{}
		for _, aud := range []string{"team", "public"} {
			c, _, err := svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: str("webhook"), Name: str(aud),
				URL: str("http://127.0.0.1:9/" + aud), Audience: str(aud), Events: &[]string{"incident.merged", "incident.cancelled"}})
			mustDo(t, err)
			channels[aud] = c.ID
		}
		pubA := openDraft(t, svc, incident.Draft{Title: "a"})
		pubB := openDraft(t, svc, incident.Draft{Title: "b"})
		secret := openDraft(t, svc, incident.Draft{Title: "s", Visibility: incident.Confidential})
		secretDup := openDraft(t, svc, incident.Draft{Title: "s2", Visibility: incident.Confidential})
		pubC := openDraft(t, svc, incident.Draft{Title: "c"})
		pubD := openDraft(t, svc, incident.Draft{Title: "d"})
		_, err := svc.MergeIncident(ctx, service.System, pubB, pubA, "same") // public into public
		mustDo(t, err)
		_, err = svc.MergeIncident(ctx, service.System, pubC, secret, "caused by it") // public into confidential
		mustDo(t, err)
		_, err = svc.MergeIncident(ctx, service.System, secretDup, secret, "same leak") // confidential into confidential
		mustDo(t, err)
		_, err = svc.CancelIncident(ctx, service.System, pubD, "load test")
		mustDo(t, err)
		_, err = svc.CancelIncident(ctx, service.System, pubA, "it was the load test too")
		mustDo(t, err)
		got := map[string][]string{}
		for aud, id := range channels {
			ds, err := svc.Deliveries(ctx, service.System, service.DeliveryQuery{ChannelID: id, Limit: 100})
			mustDo(t, err)
			for _, d := range ds {
				got[aud] = append(got[aud], fmt.Sprintf("#%d %s %q", d.Incident, d.Event, d.Message.Headline))
			}
			slices.Sort(got[aud])
		}
		want := map[string][]string{
			"team": {
				fmt.Sprintf("#%d incident.cancelled %q", pubA, fmt.Sprintf("#%d cancelled (was active)", pubA)),
				fmt.Sprintf("#%d incident.merged %q", pubB, fmt.Sprintf("#%d merged into #%d", pubB, pubA)),
				fmt.Sprintf("#%d incident.merged %q", pubC, fmt.Sprintf("#%d merged into #%d", pubC, secret)),
				fmt.Sprintf("#%d incident.cancelled %q", pubD, fmt.Sprintf("#%d cancelled (was active)", pubD)),
				fmt.Sprintf("#%d incident.merged %q", secretDup, fmt.Sprintf("#%d merged into #%d", secretDup, secret)),
			},
			"public": {
				fmt.Sprintf("#%d incident.cancelled %q", pubA, fmt.Sprintf("#%d cancelled (was active)", pubA)),
				fmt.Sprintf("#%d incident.merged %q", pubB, fmt.Sprintf("#%d merged into #%d", pubB, pubA)),
				fmt.Sprintf("#%d incident.cancelled %q", pubD, fmt.Sprintf("#%d cancelled (was active)", pubD)),
			},
		}
		for aud := range want {
			slices.Sort(want[aud])
			if fmt.Sprint(got[aud]) != fmt.Sprint(want[aud]) {
				t.Errorf("%s channel got\n%s\nwant\n%s", aud, got[aud], want[aud])
			}
		}
	})
}

// backendDown is a critical alert of fingerprint fp in group, with status
// st at now: the default rules open an incident for its group.
func backendDown(now time.Time, fp, group string, st alert.Status) alert.Alert {
	a := alert.Alert{Fingerprint: fp, Status: st, Title: "backend down " + fp, GroupKey: group,
		Labels: map[string]string{"alertname": "BackendDown", "severity": "critical", "fp": fp}, StartsAt: now}
	if st == alert.Resolved {
		a.EndsAt = now
	}
	return a
}
