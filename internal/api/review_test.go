package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify/email"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// history runs steps in time order on the app's fake clock: each waits
// for its moment, then acts.
type history struct {
	t     *testing.T
	app   *testenv.App
	steps []step
}

type step struct {
	at time.Time
	do func()
}

func (h *history) at(when time.Time, do func()) { h.steps = append(h.steps, step{when, do}) }

func (h *history) run() {
	h.t.Helper()
	sort.SliceStable(h.steps, func(i, j int) bool { return h.steps[i].at.Before(h.steps[j].at) })
	for _, s := range h.steps {
		if d := s.at.Sub(h.app.Clock.Now()); d > 0 {
			h.app.Clock.Advance(d)
		} else if d < 0 {
			h.t.Fatalf("step at %v is before the clock's %v", s.at, h.app.Clock.Now())
		}
		s.do()
	}
	h.steps = nil
}

func decodeJSON[T any](t *testing.T, r *testenv.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}

// generic posts one alert through a generic integration and returns
// nothing: alert ids count up from 1 in a fresh database.
func genericAlert(t *testing.T, app *testenv.App, title, host string) {
	t.Helper()
	ctx := context.Background()
	list, err := app.Svc.Integrations(ctx, service.System)
	if err != nil {
		t.Fatal(err)
	}
	var id, token string
	if len(list) == 0 {
		tok, in, err := app.Svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "generic", Name: "scripts"})
		if err != nil {
			t.Fatal(err)
		}
		id, token = in.ID, tok
		intakeTokens[app] = token
	} else {
		id, token = list[0].ID, intakeTokens[app]
	}
	app.Must(t, 200, "POST", "/api/v1/intake/generic/"+id, token, map[string]any{"title": title, "severity": "warning",
		"labels": map[string]string{"host": host}})
}

var intakeTokens = map[*testenv.App]string{}

// alertID finds the first alert titled title.
func alertID(t *testing.T, app *testenv.App, tok, title string) any {
	t.Helper()
	for _, a := range app.Must(t, 200, "GET", "/api/v1/alerts?limit=500", tok, nil).JSON["alerts"].([]any) {
		if a := a.(map[string]any); a["title"] == title {
			return a["id"]
		}
	}
	t.Fatalf("no alert %s", title)
	return nil
}

// The insights of a history whose answers were worked out by hand:
// nearest-rank medians and p90s per month and severity, shares and the
// alert figures, for the team and for an anonymous viewer, on both
// databases.
func TestInsightsFromAKnownHistory(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		day := func(month time.Month, d int) time.Time { return time.Date(2026, month, d, 10, 0, 0, 0, time.UTC) }
		h := &history{t: t, app: app}
		type inc struct {
			opened                   time.Time
			severity, source         string
			services                 []string
			confidential             bool
			mitigate, resolve, close time.Duration
		}
		m, hr, d := time.Minute, time.Hour, 24*time.Hour
		incidents := []inc{
			{day(11, 24), "critical", "alert", []string{"api"}, false, 10 * m, 1 * hr, 1 * d},
			{day(11, 25), "major", "alert", []string{"api", "db"}, false, 20 * m, 2 * hr, 0},
			{day(11, 26), "major", "customer", []string{"db"}, false, 30 * m, 0, 0},
			{day(11, 27), "minor", "team", []string{"web"}, false, 40 * m, 4 * hr, 3 * d},
			{day(11, 28), "minor", "exception", []string{"api"}, false, 50 * m, 0, 0},
			{day(11, 29), "critical", "customer", []string{"secret-svc"}, true, 60 * m, 0, 0},
			{day(12, 2), "major", "alert", []string{"api"}, false, 1 * hr, 1 * d, 0},
			{day(12, 3), "minor", "customer", []string{"web"}, false, 3 * hr, 0, 0},
			{day(12, 4), "critical", "other", nil, false, 0, 0, 0},
		}
		for i, x := range incidents {
			n := int64(i + 1)
			x := x
			h.at(x.opened, func() {
				vis := "public"
				if x.confidential {
					vis = "confidential"
				}
				if got := open(t, app, tok, map[string]any{"title": fmt.Sprintf("incident %d", n), "severity": x.severity,
					"detection_source": x.source, "services": x.services, "visibility": vis}); got != n {
					t.Fatalf("opened #%d, want #%d", got, n)
				}
			})
			for _, p := range []struct {
				to    string
				after time.Duration
			}{{"mitigated", x.mitigate}, {"resolved", x.resolve}, {"closed", x.close}} {
				if p.after == 0 {
					break
				}
				h.at(x.opened.Add(p.after), func() {
					app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": p.to, "note": "done",
						"detection_improvement": "probe it"})
				})
			}
		}
		// Alerts: five DiskFull and one HighLatency (attached to #1) in
		// the period, one DiskFull before it.
		h.at(day(11, 24).Add(-30*m), func() { genericAlert(t, app, "DiskFull", "early") })
		for i, when := range []time.Time{day(11, 24).Add(5 * m), day(11, 25).Add(5 * m), day(11, 26).Add(5 * m), day(12, 2).Add(5 * m), day(12, 3).Add(5 * m)} {
			h.at(when, func() { genericAlert(t, app, "DiskFull", fmt.Sprint("h", i)) })
		}
		h.at(day(11, 24).Add(6*m), func() {
			genericAlert(t, app, "HighLatency", "web-1")
			app.Must(t, 200, "POST", path(1, "/alerts"), tok, map[string]any{"alerts": []any{alertID(t, app, tok, "HighLatency")}})
		})
		h.run()
		if r := app.Must(t, 200, "GET", "/api/v1/alerts", tok, nil); !strings.Contains(string(r.Body), `"incident":1`) {
			t.Fatalf("the HighLatency alert is not #1's: %s", r.Body)
		}

		q := "/api/v1/insights?since=2026-11-24T09:45:00Z&until=2026-12-31"
		team := decodeJSON[review.Insights](t, app.Must(t, 200, "GET", q, tok, nil))
		viewer := decodeJSON[review.Insights](t, app.Must(t, 200, "GET", q, "", nil))

		type sum struct {
			n        int
			med, p90 time.Duration
		}
		s := func(x review.Summary) sum { return sum{x.Count, x.Median.Duration(), x.P90.Duration()} }
		month := func(in review.Insights, mo string) review.Times {
			for _, x := range in.ByMonth {
				if x.Month == mo {
					return x.Times
				}
			}
			t.Fatalf("no month %s in %+v", mo, in.ByMonth)
			return review.Times{}
		}
		sev := func(in review.Insights, v string) review.Times {
			for _, x := range in.BySeverity {
				if string(x.Severity) == v {
					return x.Times
				}
			}
			t.Fatalf("no severity %s", v)
			return review.Times{}
		}
		for _, c := range []struct {
			name string
			got  sum
			want sum
		}{
			// November, the team: to mitigate 10…60 min; rank ⌈3⌉ and ⌈5.4⌉.
			{"team Nov to mitigate", s(month(team, "2026-11").ToMitigate), sum{6, 30 * m, 60 * m}},
			{"team Nov to resolve", s(month(team, "2026-11").ToResolve), sum{3, 2 * hr, 4 * hr}},
			{"team Nov to close", s(month(team, "2026-11").ToClose), sum{2, 1 * d, 3 * d}},
			{"team Dec to mitigate", s(month(team, "2026-12").ToMitigate), sum{2, 1 * hr, 3 * hr}},
			{"team Dec to resolve", s(month(team, "2026-12").ToResolve), sum{1, 1 * d, 1 * d}},
			{"team Dec to close", s(month(team, "2026-12").ToClose), sum{0, 0, 0}},
			{"team critical to mitigate", s(sev(team, "critical").ToMitigate), sum{2, 10 * m, 60 * m}},
			{"team major to mitigate", s(sev(team, "major").ToMitigate), sum{3, 30 * m, 60 * m}},
			{"team major to resolve", s(sev(team, "major").ToResolve), sum{2, 2 * hr, 1 * d}},
			{"team minor to mitigate", s(sev(team, "minor").ToMitigate), sum{3, 50 * m, 3 * hr}},
			{"team minor to close", s(sev(team, "minor").ToClose), sum{1, 3 * d, 3 * d}},
			// The viewer does not count the confidential #6: 10…50 min,
			// rank ⌈2.5⌉ and ⌈4.5⌉.
			{"viewer Nov to mitigate", s(month(viewer, "2026-11").ToMitigate), sum{5, 30 * m, 50 * m}},
			{"viewer critical to mitigate", s(sev(viewer, "critical").ToMitigate), sum{1, 10 * m, 10 * m}},
		} {
			if c.got != c.want {
				t.Errorf("%s: got %+v, want %+v", c.name, c.got, c.want)
			}
		}
		if n := month(team, "2026-11").Incidents; n != 6 || team.Incidents != 9 || viewer.Incidents != 8 {
			t.Errorf("incidents: Nov %d, team %d, viewer %d; want 6, 9, 8", n, team.Incidents, viewer.Incidents)
		}
		// Shares: alert 3, exception 1 (monitoring 4 of 9), customer 3,
		// team 1, other 1; by month 3 of 6 and 1 of 3.
		shares := map[string][2]float64{}
		for _, x := range team.Detection.Sources {
			shares[string(x.Source)] = [2]float64{float64(x.Incidents), x.Share}
		}
		wantShares := map[string][2]float64{"alert": {3, 3.0 / 9}, "exception": {1, 1.0 / 9}, "customer": {3, 3.0 / 9}, "team": {1, 1.0 / 9}, "other": {1, 1.0 / 9}}
		for k, v := range wantShares {
			if shares[k] != v {
				t.Errorf("share of %s: %v, want %v", k, shares[k], v)
			}
		}
		if team.Detection.Monitoring != 4 || team.Detection.MonitoringShare != 4.0/9 || review.Percent(team.Detection.MonitoringShare) != 44 {
			t.Errorf("found by monitoring: %d, %v", team.Detection.Monitoring, team.Detection.MonitoringShare)
		}
		if got := team.Detection.ByMonth; len(got) != 2 || got[0].Monitoring != 3 || got[0].Share != 0.5 || got[1].Monitoring != 1 || got[1].Share != 1.0/3 {
			t.Errorf("monitoring by month: %+v", got)
		}
		if viewer.Detection.MonitoringShare != 0.5 {
			t.Errorf("viewer's monitoring share %v, want 4 of 8", viewer.Detection.MonitoringShare)
		}
		// Services: most first, ties by name; the viewer never learns of
		// the confidential incident's service.
		if got, want := fmt.Sprint(team.Services), "[{api 4} {db 2} {web 2} {secret-svc 1}]"; got != want {
			t.Errorf("team services %s, want %s", got, want)
		}
		if got, want := fmt.Sprint(viewer.Services), "[{api 4} {db 2} {web 2}]"; got != want {
			t.Errorf("viewer services %s, want %s", got, want)
		}
		// Alerts: six first seen in the period, one attached; 6/9 per
		// incident. The viewer gets none of it.
		a := team.Alerts
		if a == nil || a.Alerts != 6 || a.Attached != 1 || a.Incidents != 9 || a.PerIncident != 6.0/9 {
			t.Fatalf("alert figures %+v", a)
		}
		if got, want := fmt.Sprint(a.Noisiest), "[{DiskFull 5 5} {HighLatency 1 0}]"; got != want {
			t.Errorf("noisiest %s, want %s", got, want)
		}
		if viewer.Alerts != nil || !viewer.PublicOnly || team.PublicOnly {
			t.Errorf("viewer alerts %+v, public_only %v/%v", viewer.Alerts, viewer.PublicOnly, team.PublicOnly)
		}
		// The default period is the last twelve calendar months up to now.
		app.Clock.Advance(time.Minute)
		def := decodeJSON[review.Insights](t, app.Must(t, 200, "GET", "/api/v1/insights", tok, nil))
		if len(def.ByMonth) != 12 || def.ByMonth[11].Month != "2026-12" || def.ByMonth[0].Month != "2026-01" || def.Incidents != 9 {
			t.Errorf("default period: %d months from %s, %d incidents", len(def.ByMonth), def.ByMonth[0].Month, def.Incidents)
		}
		for _, bad := range []string{"?since=yesterday", "?since=2026-12-01&until=2026-11-01", "?colour=red"} {
			if r := app.Request(t, "GET", "/api/v1/insights"+bad, tok, nil); r.Status != 400 {
				t.Errorf("insights%s: %d, want 400", bad, r.Status)
			}
		}
	})
}

// The agenda of a week whose answers are known, a review recorded from it,
// and what that review leaves behind: its decisions in the incidents'
// timelines (the team's only) and under "last time we decided" in the
// next agenda, which starts where this one ended.
func TestAgendaAndRecordedReview(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		app.User(t, "bo", auth.RoleResponder)
		t0 := app.Clock.Now()
		h := &history{t: t, app: app}
		move := func(n int64, body map[string]any) {
			app.Must(t, 200, "POST", path(n, "/transitions"), tok, body)
		}
		// Before the first review: #1 mitigated (nobody owns that phase),
		// #2 found by a customer.
		h.at(t0, func() {
			open(t, app, tok, map[string]any{"title": "Old mitigated", "detection_source": "alert", "owners": map[string]string{"active": "ana"}})
		})
		h.at(t0.Add(time.Hour), func() { move(1, map[string]any{"to": "mitigated", "note": "rolled back"}) })
		h.at(t0.Add(2*time.Hour), func() {
			open(t, app, tok, map[string]any{"title": "Customer found", "detection_source": "customer", "severity": "minor",
				"owners": map[string]string{"active": "bo", "resolved": "bo"}})
		})
		var first review.Review
		h.at(t0.Add(3*time.Hour), func() {
			first = decodeJSON[review.Review](t, app.Must(t, 201, "POST", "/api/v1/reviews", tok, map[string]any{
				"attendees": []string{"ana", "bo", "ana"}, "minutes": "First review.",
				"decisions": []map[string]any{{"incident": 1, "text": "follow up: add CA monitoring"}}}))
		})
		// The week after it.
		d := 24 * time.Hour
		h.at(t0.Add(d), func() {
			open(t, app, tok, map[string]any{"title": "New outage", "severity": "critical", "detection_source": "alert",
				"owners": map[string]string{"active": ""}}) // opened for nobody: unowned
			app.Must(t, 201, "POST", path(3, "/checklist"), tok, map[string]any{"text": "fix config", "phase": "active", "owner": "ana"})
			app.Must(t, 201, "POST", path(3, "/checklist"), tok, map[string]any{"text": "send missing messages", "phase": "mitigated"})
		})
		h.at(t0.Add(d+time.Hour), func() { move(3, map[string]any{"to": "mitigated", "note": "restarted", "override": true}) })
		h.at(t0.Add(d+2*time.Hour), func() { move(3, map[string]any{"to": "active", "reason": "errors are back"}) })
		h.at(t0.Add(d+3*time.Hour), func() { move(2, map[string]any{"to": "mitigated", "note": "restored\nthe cert"}) })
		h.at(t0.Add(2*d), func() { move(2, map[string]any{"to": "resolved", "note": "fixed renewal"}) })
		h.at(t0.Add(2*d+time.Hour), func() {
			open(t, app, tok, map[string]any{"title": "Team noticed", "detection_source": "team", "severity": "minor"})
			for _, to := range []string{"mitigated", "resolved", "closed"} {
				move(4, map[string]any{"to": to, "note": "done", "detection_improvement": "probe the CA"})
			}
		})
		h.at(t0.Add(2*d+2*time.Hour), func() {
			genericAlert(t, app, "DiskFull", "a")
			genericAlert(t, app, "DiskFull", "b")
			genericAlert(t, app, "CPUHigh", "c")
			app.Must(t, 200, "POST", path(3, "/alerts"), tok, map[string]any{"alerts": []any{alertID(t, app, tok, "CPUHigh")}})
		})
		h.run()
		now := t0.Add(9 * d)
		app.Clock.Advance(now.Sub(app.Clock.Now()))

		if first.ID == 0 || fmt.Sprint(first.Attendees) != "[ana bo]" || len(first.Decisions) != 1 || first.Decisions[0].Title != "Old mitigated" ||
			!first.HeldAt.Equal(t0.Add(3*time.Hour)) || !first.Until.Equal(first.HeldAt) || !first.Since.Equal(first.HeldAt.Add(-7*d)) {
			t.Fatalf("first review: %+v", first)
		}
		a := decodeJSON[review.Agenda](t, app.Must(t, 200, "GET", "/api/v1/review", tok, nil))
		if !a.Since.Equal(first.Until) || !a.Until.Equal(now) {
			t.Errorf("period %v – %v, want from the first review's end %v to now %v", a.Since, a.Until, first.Until, now)
		}
		numbers := func(items []review.Item) (out []int64) {
			for _, it := range items {
				out = append(out, it.Number)
			}
			return out
		}
		if a.LastReview == nil || a.LastReview.ID != first.ID || fmt.Sprint(a.LastReview.Decisions) != "[{1 Old mitigated follow up: add CA monitoring}]" {
			t.Errorf("last time we decided: %+v", a.LastReview)
		}
		if got := numbers(a.Opened); fmt.Sprint(got) != "[3 4]" {
			t.Errorf("opened %v, want [3 4]", got)
		}
		var changes []string
		for _, c := range a.PhaseChanges {
			changes = append(changes, fmt.Sprintf("#%d %s>%s %v %s", c.Incident.Number, c.From, c.To, c.Reopen, c.Note))
		}
		wantChanges := []string{"#3 active>mitigated false restarted", "#3 mitigated>active true errors are back",
			"#2 active>mitigated false restored\nthe cert", "#2 mitigated>resolved false fixed renewal",
			"#4 active>mitigated false done", "#4 mitigated>resolved false done", "#4 resolved>closed false done"}
		if fmt.Sprint(changes) != fmt.Sprint(wantChanges) {
			t.Errorf("phase changes:\n%q\nwant\n%q", changes, wantChanges)
		}
		// Stuck at nine days: #1 mitigated for 9 d − 1 h (over 7 d); #3
		// active again for 8 d − 2 h (over 1 d); #2 resolved for 7 d
		// (under 14 d) is not.
		var stuck []string
		for _, s := range a.Stuck {
			stuck = append(stuck, fmt.Sprintf("#%d %s %s/%s", s.Incident.Number, s.Incident.Phase, s.For.Words(), s.Threshold.Words()))
		}
		if want := "[#1 mitigated 8 d 23 h/7 d #3 active 7 d 22 h/1 d]"; fmt.Sprint(stuck) != want {
			t.Errorf("stuck %v, want %s", stuck, want)
		}
		if got := numbers(a.Unowned); fmt.Sprint(got) != "[1 3]" {
			t.Errorf("unowned %v, want [1 3] (#2's resolved phase is bo's)", got)
		}
		var items []string
		for _, o := range a.Checklist {
			for _, e := range o.Items {
				items = append(items, fmt.Sprintf("%q:#%d %s", o.Owner, e.Incident.Number, e.Text))
			}
		}
		if want := `["":#3 send missing messages "ana":#3 fix config]`; fmt.Sprint(items) != want {
			t.Errorf("open checklist %s, want %s", items, want)
		}
		var det []string
		for _, x := range a.Detection {
			det = append(det, fmt.Sprintf("#%d %s %q", x.Incident.Number, x.Source, x.Improvement))
		}
		if want := `[#2 customer "" #4 team "probe the CA"]`; fmt.Sprint(det) != want {
			t.Errorf("detection %s, want %s", det, want)
		}
		if fmt.Sprint(a.Noise) != "[{DiskFull 2 2}]" {
			t.Errorf("noise %+v, want DiskFull twice", a.Noise)
		}

		md := string(app.Must(t, 200, "GET", "/api/v1/review?format=md", tok, nil).Body)
		for _, want := range []string{"## Last time we decided (review #1", "Old mitigated: follow up: add CA monitoring",
			"## Stuck (2)", "restored the cert", "**no detection improvement yet**", "- DiskFull: 2 alert(s)", "### nobody"} {
			if !strings.Contains(md, want) {
				t.Errorf("Markdown agenda lacks %q:\n%s", want, md)
			}
		}
		for _, u := range []string{"/api/v1/review", "/api/v1/review?format=md", "/api/v1/reviews", fmt.Sprintf("/api/v1/reviews/%d", first.ID)} {
			if r := app.Request(t, "GET", u, "", nil); r.Status != 404 {
				t.Errorf("anonymous %s: %d, want 404", u, r.Status)
			}
		}

		// The meeting decides about #3 and #2.
		second := decodeJSON[review.Review](t, app.Must(t, 201, "POST", "/api/v1/reviews", tok, map[string]any{
			"attendees": []string{"ana"}, "minutes": "## Second\n\nWent through the stuck ones.", "since": a.Since, "until": a.Until,
			"decisions": []map[string]any{{"incident": 3, "text": "find the root cause before Friday"}, {"incident": 2, "text": "keep"}}}))
		tl := app.Must(t, 200, "GET", path(3, "/timeline"), tok, nil).JSON["events"].([]any)
		last := tl[len(tl)-1].(map[string]any)
		if last["kind"] != "reviewed" || last["data"].(map[string]any)["decision"] != "find the root cause before Friday" || last["actor"] != "ana" {
			t.Errorf("#3's timeline ends with %v", last)
		}
		if page := string(app.Must(t, 200, "GET", "/incidents/3", tok, nil).Body); !strings.Contains(page, fmt.Sprintf("weekly review #%d decided: find the root cause before Friday", second.ID)) {
			t.Error("the incident page does not show the decision")
		}
		for _, e := range app.Must(t, 200, "GET", path(2, "/timeline"), "", nil).JSON["events"].([]any) {
			if e.(map[string]any)["kind"] == "reviewed" {
				t.Error("a viewer sees a review's decision in a public incident's timeline")
			}
		}
		app.Clock.Advance(time.Hour)
		next := decodeJSON[review.Agenda](t, app.Must(t, 200, "GET", "/api/v1/review", tok, nil))
		if !next.Since.Equal(a.Until) || next.LastReview == nil || next.LastReview.ID != second.ID ||
			fmt.Sprint(next.LastReview.Decisions) != "[{3 New outage find the root cause before Friday} {2 Customer found keep}]" {
			t.Errorf("next agenda: since %v, last review %+v", next.Since, next.LastReview)
		}
		if len(next.Opened)+len(next.PhaseChanges)+len(next.Noise) != 0 || len(next.Stuck) != 2 {
			t.Errorf("next agenda holds the last week again: %+v", next)
		}
		list := app.Must(t, 200, "GET", "/api/v1/reviews", tok, nil).JSON["reviews"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["id"] != float64(second.ID) {
			t.Errorf("reviews list %v", list)
		}

		for _, bad := range []struct {
			body map[string]any
			code int
		}{
			{map[string]any{"attendees": []string{"ana"}}, 422},
			{map[string]any{"decisions": []map[string]any{{"incident": 99, "text": "x"}}}, 422},
			{map[string]any{"decisions": []map[string]any{{"incident": 1, "text": " "}}}, 422},
			{map[string]any{"decisions": []map[string]any{{"incident": 1, "text": "a"}, {"incident": 1, "text": "b"}}}, 422},
			{map[string]any{"minutes": "x", "colour": "red"}, 400},
		} {
			if r := app.Request(t, "POST", "/api/v1/reviews", tok, bad.body); r.Status != bad.code {
				t.Errorf("review %v: %d, want %d", bad.body, r.Status, bad.code)
			}
		}
		if n := len(app.Must(t, 200, "GET", "/api/v1/reviews", tok, nil).JSON["reviews"].([]any)); n != 2 {
			t.Errorf("refused reviews were saved: %d", n)
		}
	})
}

// seedIncidents writes n incidents straight into the store, one an hour
// back from now, every tenth confidential, with their phase notes.
func seedIncidents(t *testing.T, app *testenv.App, n int) {
	now := app.Clock.Now()
	testenv.Seed(t, app.Store, n, func(i int) *incident.Incident {
		created := now.Add(-time.Duration(n-i) * time.Hour)
		inc := &incident.Incident{Title: fmt.Sprintf("incident %d", i+1), Severity: incident.Severities[i%3],
			Services: []string{fmt.Sprintf("svc-%d", i%7)}, Labels: map[string]string{}, DetectionSource: incident.Sources[i%5],
			Visibility: incident.Public, Phase: incident.Mitigated, CreatedBy: "ana", CreatedAt: created, UpdatedAt: created,
			EnteredAt: map[incident.Phase]time.Time{incident.Active: created, incident.Mitigated: created.Add(time.Minute)},
			Notes:     map[incident.Phase]string{incident.Mitigated: "restarted it"}}
		if i%10 == 9 {
			inc.Visibility = incident.Confidential
		}
		return inc
	}, nil)
}

// An export holds every matching incident: 1,200 of them, where lists
// stop at a page of 500; a viewer's holds the public ones only.
// The wall clock set back between transitions (NTP stepping a fast
// clock, catalogue F9) never stamps a phase before the one it follows:
// phase times stay in order, on the incident, in its timeline and in the
// log, and no time to mitigate, resolve or close is negative. A jump
// forward is TestNudges's (internal/e2e): one nudge per phase entry.
func TestPhaseTimesSurviveClockSetBack(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		n := open(t, app, tok, map[string]any{"title": "clock stepped back", "detection_source": "alert"})
		move := func(to incident.Phase) {
			t.Helper()
			app.Must(t, 200, "POST", path(n, "/transitions"), tok, map[string]any{"to": to, "note": "did " + string(to), "reason": "regressed"})
		}
		stamp := func(v any) time.Time {
			t.Helper()
			at, err := time.Parse(time.RFC3339Nano, v.(string))
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
		// inOrder checks that inc entered its phases in order, none before
		// it was opened, and returns the last entry.
		inOrder := func(where string, inc map[string]any) time.Time {
			t.Helper()
			last := stamp(inc["created_at"])
			entered := inc["phase_entered_at"].(map[string]any)
			for _, p := range incident.Phases {
				if v, ok := entered[string(p)]; ok {
					if at := stamp(v); at.Before(last) {
						t.Errorf("%s: %s entered %v, before %v", where, p, at, last)
					} else {
						last = at
					}
				}
			}
			return last
		}
		// The timeline's events are in time order, and a move's event is
		// stamped with its phase's entry.
		timeline := func(inc map[string]any) {
			t.Helper()
			var last time.Time
			for _, e := range app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any) {
				e := e.(map[string]any)
				at := stamp(e["at"])
				if at.Before(last) {
					t.Errorf("timeline: %s event at %v, before %v", e["kind"], at, last)
				}
				last = at
			}
			to := incident.Phase(inc["phase"].(string))
			if entered := stamp(inc["phase_entered_at"].(map[string]any)[string(to)]); !last.Equal(entered) {
				t.Errorf("timeline: last event at %v, %s entered %v", last, to, entered)
			}
		}

		app.Clock.Advance(30 * time.Minute)
		move(incident.Mitigated)
		app.Clock.SetBack(time.Hour)
		move(incident.Resolved)
		app.Clock.SetBack(time.Hour)
		move(incident.Closed)
		inc := app.Must(t, 200, "GET", path(n, ""), tok, nil).JSON
		closed := inOrder("incident", inc)
		timeline(inc)

		in := app.Must(t, 200, "GET", "/api/v1/insights?since=2026-11-01&until=2026-11-30", tok, nil)
		if in.JSON["incidents"] != 1.0 {
			t.Fatalf("insights count %v incidents", in.JSON["incidents"])
		}
		for _, group := range []string{"by_month", "by_severity"} {
			for _, g := range in.JSON[group].([]any) {
				g := g.(map[string]any)
				if g["incidents"] == 0.0 {
					continue
				}
				for _, k := range []string{"to_mitigate", "to_resolve", "to_close"} {
					sum := g[k].(map[string]any)
					if sum["count"] != 1.0 || sum["median_seconds"].(float64) < 0 || sum["p90_seconds"].(float64) < 0 {
						t.Errorf("insights %s %s: %v", group, k, sum)
					}
				}
			}
		}
		logged := app.Must(t, 200, "GET", "/api/v1/log?format=json", tok, nil).JSON["incidents"].([]any)
		inOrder("JSON log", logged[0].(map[string]any))
		rows, err := csv.NewReader(bytes.NewReader(app.Must(t, 200, "GET", "/api/v1/log?format=csv", tok, nil).Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// opened_at, mitigated_at, resolved_at, closed_at: RFC 3339 in UTC
		// to the second, in order as text.
		if times := rows[1][7:11]; !sort.StringsAreSorted(times) {
			t.Errorf("CSV log: %v", times)
		}
		if md := string(app.Must(t, 200, "GET", "/api/v1/log?format=md", tok, nil).Body); strings.Contains(md, "after -") {
			t.Errorf("Markdown log has a negative time:\n%s", md)
		}

		// A reopen and the moves after it are no earlier either.
		app.Clock.SetBack(time.Hour)
		move(incident.Active)
		inc = app.Must(t, 200, "GET", path(n, ""), tok, nil).JSON
		if active := inOrder("reopened", inc); active.Before(closed) {
			t.Errorf("reopened at %v, before it was closed at %v", active, closed)
		}
		timeline(inc)
		app.Clock.SetBack(time.Hour)
		move(incident.Mitigated)
		inc = app.Must(t, 200, "GET", path(n, ""), tok, nil).JSON
		mitigated := inOrder("mitigated again", inc)
		timeline(inc)

		// A cancel after the clock is set back again ends it no earlier.
		app.Clock.SetBack(time.Hour)
		app.Must(t, 200, "POST", path(n, "/cancel"), tok, map[string]any{"reason": "false alarm after all"})
		events := app.Must(t, 200, "GET", path(n, "/timeline"), tok, nil).JSON["events"].([]any)
		last := events[len(events)-1].(map[string]any)
		if at := stamp(last["at"]); last["kind"] != "cancelled" || at.Before(mitigated) {
			t.Errorf("timeline ends with %s at %v, want cancelled no earlier than the mitigation at %v", last["kind"], at, mitigated)
		}
		logged = app.Must(t, 200, "GET", "/api/v1/log?format=json", tok, nil).JSON["incidents"].([]any)
		if v, _ := logged[0].(map[string]any)["ended_at"].(string); v == "" || stamp(v).Before(mitigated) {
			t.Errorf("JSON log: ended_at %q, want no earlier than the mitigation at %v", v, mitigated)
		}
	})
}

func TestLogExportHasEveryIncident(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		seedIncidents(t, app, 1200)
		if r := app.Must(t, 200, "GET", "/api/v1/incidents?limit=500", tok, nil); len(r.JSON["incidents"].([]any)) != 500 {
			t.Fatalf("a list page holds %d", len(r.JSON["incidents"].([]any)))
		}
		for _, c := range []struct {
			who, token string
			want       int
		}{{"team", tok, 1200}, {"viewer", "", 1080}} {
			j := app.Must(t, 200, "GET", "/api/v1/log?format=json&sort=number", c.token, nil)
			list := j.JSON["incidents"].([]any)
			if len(list) != c.want || j.JSON["count"] != float64(c.want) {
				t.Errorf("%s JSON: %d incidents, count %v, want %d", c.who, len(list), j.JSON["count"], c.want)
			}
			if first := list[0].(map[string]any); first["number"] != 1.0 || first["phase_notes"].(map[string]any)["mitigated"] != "restarted it" {
				t.Errorf("%s JSON starts with %v", c.who, first)
			}
			r := app.Must(t, 200, "GET", "/api/v1/log?format=csv", c.token, nil)
			rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
			if err != nil || len(rows) != c.want+1 || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
				!strings.Contains(r.Header.Get("Content-Disposition"), "incident-log.csv") {
				t.Errorf("%s CSV: %d rows (%v), %s", c.who, len(rows), err, r.Header)
			}
			md := string(app.Must(t, 200, "GET", "/api/v1/log?format=md", c.token, nil).Body)
			if n := strings.Count(md, "\n## [#"); n != c.want {
				t.Errorf("%s Markdown: %d incidents, want %d", c.who, n, c.want)
			}
			if c.who == "viewer" && strings.Contains(md, "incident 10\n") {
				t.Error("the viewer's Markdown holds confidential #10")
			}
		}
		// Filters apply to exports as to lists: the last 100 hours (#1101
		// to #1200) and one severity (every third from #1102): 33.
		from := app.Clock.Now().Add(-100 * time.Hour).Format(time.RFC3339)
		r := app.Must(t, 200, "GET", "/api/v1/log?format=json&severity=critical&from="+from, tok, nil)
		if r.JSON["count"] != 33.0 {
			t.Errorf("filtered export: %v incidents, want 33", r.JSON["count"])
		}
		for _, bad := range []string{"format=pdf", "limit=5", "from=soon"} {
			if r := app.Request(t, "GET", "/api/v1/log?"+bad, tok, nil); r.Status != 400 || r.Header.Get("Content-Disposition") != "" {
				t.Errorf("log?%s: %d %v", bad, r.Status, r.Header)
			}
		}
	})
}

// The review day sends the agenda an hour before the meeting, once, to
// the team's channels that want it and to no public channel; a channel
// made public before it went out never gets it.
func TestReviewDaySendsTheAgenda(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		tok := app.User(t, "ana", auth.RoleResponder)
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		open(t, app, tok, map[string]any{"title": "Stuck somewhere", "visibility": "confidential"})
		team, other, public, turned := testenv.NewSink(t), testenv.NewSink(t), testenv.NewSink(t), testenv.NewSink(t)
		channel := func(name, audience string, sink *testenv.Sink, events ...string) float64 {
			body := map[string]any{"type": "webhook", "name": name, "url": sink.URL, "audience": audience}
			if len(events) > 0 {
				body["events"] = events
			}
			return app.Must(t, 201, "POST", "/api/v1/channels", admin, body).JSON["id"].(float64)
		}
		channel("team", "team", team, "review.agenda")
		channel("other", "team", other, "incident.opened")
		channel("public", "public", public)
		turnedID := channel("turned", "team", turned)
		outbox := app.Outbox(email.Config{})

		// Tuesday 09:00: the meeting at 11:00 is two hours away.
		sched := app.Must(t, 200, "PUT", "/api/v1/review/schedule", admin, map[string]any{"weekday": "Tuesday", "time": "11:00"}).JSON
		if sched["next_meeting"] != "2026-11-24T11:00:00Z" || sched["agenda_at"] != "2026-11-24T10:00:00Z" {
			t.Fatalf("schedule %v", sched)
		}
		due := func() bool {
			sent, err := app.Svc.SendDueAgenda(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return sent
		}
		if due() {
			t.Fatal("agenda sent two hours before the meeting")
		}
		app.Clock.Advance(time.Hour)
		if !due() || due() {
			t.Fatal("the agenda is not sent exactly once an hour before")
		}
		// The channel turned public before the worker sent: suppressed.
		app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", int64(turnedID)), admin, map[string]any{"audience": "public"})
		outbox.Drain(ctx)
		got := team.Take()
		if len(got) != 1 {
			t.Fatalf("the team channel got %d messages", len(got))
		}
		var p struct {
			Type string
			Data struct{ Headline, Body string }
		}
		if err := json.Unmarshal(got[0].Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Type != "review.agenda" || p.Data.Headline != "Agenda of the weekly review, Tue 24 Nov 11:00 UTC" ||
			!strings.Contains(p.Data.Body, "# Weekly review") || !strings.Contains(p.Data.Body, "Stuck somewhere") ||
			!strings.Contains(p.Data.Body, "Meeting: 2026-11-24 11:00 UTC") {
			t.Errorf("agenda message %+v", p)
		}
		ds, err := app.Svc.Deliveries(ctx, service.System, service.DeliveryQuery{ChannelID: int64(turnedID)})
		if err != nil || len(ds) != 1 || ds[0].State != "suppressed" {
			t.Errorf("the channel made public: %v %+v", err, ds)
		}
		app.Clock.Advance(30 * time.Minute)
		if due() {
			t.Error("sent again within the hour")
		}
		// A week later, the next one; then the review day is removed.
		app.Clock.Advance(7*24*time.Hour - 30*time.Minute)
		if !due() {
			t.Error("no agenda for the next week's meeting")
		}
		outbox.Drain(ctx)
		if n := len(team.Take()); n != 1 {
			t.Errorf("second week: %d messages", n)
		}
		app.Must(t, 204, "DELETE", "/api/v1/review/schedule", admin, nil)
		app.Clock.Advance(7 * 24 * time.Hour)
		if due() {
			t.Error("an agenda without a review day")
		}
		if s := app.Must(t, 200, "GET", "/api/v1/review/schedule", tok, nil).JSON; s["set"] != false {
			t.Errorf("schedule after removal: %v", s)
		}
		if r := app.Request(t, "PUT", "/api/v1/review/schedule", admin, map[string]any{"weekday": "someday", "time": "11:00"}); r.Status != 422 {
			t.Errorf("bad weekday: %d", r.Status)
		}
		// other, public and turned got nothing: their sinks fail the test
		// at cleanup otherwise.
	})
}
