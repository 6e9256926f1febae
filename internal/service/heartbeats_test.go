package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// hbWorld is a service over a store with a fake clock.
type hbWorld struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	svc   *service.Service
	clock *testenv.Clock
}

func newHBWorld(t *testing.T, st *store.Store, clock *testenv.Clock) *hbWorld {
	return &hbWorld{t: t, ctx: context.Background(), st: st, clock: clock, svc: service.New(st, service.Options{Now: clock.Now})}
}

func (w *hbWorld) create(name, period, grace string, labels map[string]string) (string, *heartbeat.Heartbeat) {
	w.t.Helper()
	key, h, err := w.svc.CreateHeartbeat(w.ctx, service.System, service.NewHeartbeat{Name: name, Period: period, Grace: grace, Labels: labels})
	if err != nil {
		w.t.Fatal(err)
	}
	return key, h
}

func (w *hbWorld) ping(key string, k heartbeat.Kind, log string) {
	w.t.Helper()
	if _, err := w.svc.PingHeartbeat(w.ctx, key, k, log); err != nil {
		w.t.Fatal(err)
	}
}

func (w *hbWorld) check(want int) {
	w.t.Helper()
	n, err := w.svc.CheckHeartbeats(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if n != want {
		w.t.Fatalf("the check fired %d heartbeats, want %d", n, want)
	}
}

// alerts lists the heartbeat alerts.
func (w *hbWorld) alerts() []*alert.Record {
	w.t.Helper()
	list, err := w.svc.Alerts(w.ctx, service.System, service.AlertQuery{Integration: heartbeat.Integration})
	if err != nil {
		w.t.Fatal(err)
	}
	return list
}

// only is the one heartbeat alert, in status st.
func (w *hbWorld) only(st alert.Status) *alert.Record {
	w.t.Helper()
	list := w.alerts()
	if len(list) != 1 {
		w.t.Fatalf("%d heartbeat alerts, want 1", len(list))
	}
	if list[0].Status != st {
		w.t.Fatalf("heartbeat alert is %s, want %s", list[0].Status, st)
	}
	return list[0]
}

// A job that pings on time raises nothing, however long it runs: each
// ping moves the deadline a period (and the grace) on.
func TestHeartbeatPingOnTimeRaisesNothing(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		key, _ := w.create("nightly-backup", "1h", "10m", map[string]string{"service": "backup", "severity": "critical"})
		for range 5 {
			w.clock.Advance(65 * time.Minute) // late, but within the grace
			w.check(0)
			w.ping(key, heartbeat.Success, "")
			w.check(0)
		}
		if got := w.alerts(); len(got) != 0 {
			t.Fatalf("pings on time raised %d alerts", len(got))
		}
	})
}

// A missed deadline is one firing HeartbeatMissed alert with the
// heartbeat's labels, from the heartbeat source, routed by the rules: here
// a rule opens an incident for it. Checking again fires nothing more; the
// next ping resolves the alert, and the incident shows its alerts resolved.
func TestHeartbeatMissFiresOnceThroughTheRulesAndPingResolves(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		if _, err := w.svc.CreateRule(w.ctx, service.System, service.NewRule{Position: 1, Name: "backups page",
			Matchers: `alertname="HeartbeatMissed", service="backup"`, Action: alert.ActionOpen, Severity: "major"}); err != nil {
			t.Fatal(err)
		}
		key, h := w.create("nightly-backup", "1h", "10m", map[string]string{"service": "backup"})
		w.clock.Advance(30 * time.Minute)
		w.ping(key, heartbeat.Success, "")
		w.clock.Advance(70*time.Minute - time.Second)
		w.check(0)
		w.clock.Advance(time.Second)
		w.check(1)
		w.check(0)
		w.clock.Advance(time.Hour)
		w.check(0)

		a := w.only(alert.Firing)
		if a.Labels["alertname"] != heartbeat.AlertMissed || a.Labels["service"] != "backup" || a.Labels["heartbeat"] != "nightly-backup" {
			t.Fatalf("alert labels %v", a.Labels)
		}
		if a.IntegrationID != heartbeat.Integration || a.Fingerprint != h.Fingerprint() {
			t.Fatalf("alert from %q as %q", a.IntegrationID, a.Fingerprint)
		}
		if a.Incident == 0 {
			t.Fatal("the rule did not open an incident for the missed heartbeat")
		}
		inc, err := w.svc.Incident(w.ctx, service.System, a.Incident)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Severity != "major" || inc.Services[0] != "backup" || !strings.Contains(inc.Title, "nightly-backup") || inc.CreatedBy != "heartbeat" {
			t.Fatalf("incident %+v", inc)
		}

		w.ping(key, heartbeat.Success, "")
		a = w.only(alert.Resolved)
		inc, err = w.svc.Incident(w.ctx, service.System, a.Incident)
		if err != nil {
			t.Fatal(err)
		}
		if !inc.AlertsResolved || inc.Phase != "active" {
			t.Fatalf("after the ping: phase %s, alerts resolved %v", inc.Phase, inc.AlertsResolved)
		}
		// Up again: the next miss fires again, once, and rejoins the
		// open incident.
		w.clock.Advance(71 * time.Minute)
		w.check(1)
		if a = w.only(alert.Firing); a.Incident != inc.Number {
			t.Fatalf("the second miss went to #%d, want #%d", a.Incident, inc.Number)
		}
	})
}

// Without a rule that opens an incident, a missed heartbeat waits in the
// inbox like any other alert.
func TestHeartbeatMissWithoutRuleGoesToInbox(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		w.create("report-mailer", "1m", "0s", map[string]string{"service": "mail"})
		w.clock.Advance(time.Minute)
		w.check(1)
		if a := w.only(alert.Firing); a.Incident != 0 {
			t.Fatalf("went to incident #%d, want the inbox", a.Incident)
		}
	})
}

// A failure fires at once, with the end of the log, before any deadline;
// the next successful ping resolves it.
func TestHeartbeatFailFiresAtOnce(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		key, _ := w.create("nightly-backup", "1d", "1h", map[string]string{"service": "backup", "severity": "critical"})
		w.clock.Advance(time.Minute)
		log := strings.Repeat("x", 20000) + "\npg_dump: error: connection refused"
		w.ping(key, heartbeat.Fail, heartbeat.LogTail([]byte(log)))
		a := w.only(alert.Firing)
		if a.Labels["alertname"] != heartbeat.AlertFailed || !strings.HasSuffix(a.Annotations["log"], "connection refused") ||
			len(a.Annotations["log"]) > heartbeat.MaxLog {
			t.Fatalf("failure alert %v, log of %d bytes", a.Labels, len(a.Annotations["log"]))
		}
		if a.Incident == 0 {
			t.Fatal("a critical heartbeat failure opened no incident under the default rules")
		}
		w.check(0)
		w.ping(key, heartbeat.Success, "")
		if a = w.only(alert.Resolved); a.Labels["alertname"] != heartbeat.AlertFailed {
			t.Fatalf("the resolved alert is %v", a.Labels)
		}
	})
}

// A run that starts and never finishes is caught once the grace after
// its start has passed, even though its period has not.
func TestHeartbeatStartWithoutEndIsCaught(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		key, _ := w.create("etl", "1d", "30m", nil)
		w.clock.Advance(time.Hour)
		w.ping(key, heartbeat.Start, "")
		w.clock.Advance(29 * time.Minute)
		w.check(0)
		w.clock.Advance(time.Minute)
		w.check(1)
		if a := w.only(alert.Firing); !strings.Contains(a.Annotations["description"], "did not finish") {
			t.Fatalf("description %q", a.Annotations["description"])
		}
	})
}

// Deadlines are stored, not timers: a restart between a ping and its
// deadline changes nothing. The service and store are closed and opened
// again on the same database; the deadline still holds, to the second.
func TestHeartbeatDeadlineSurvivesRestart(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			opt := testenv.StoreOptions(t, d)
			open := func() *store.Store {
				st, err := store.Open(ctx, opt)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return st
			}
			clock := testenv.NewClock()
			st := open()
			w := newHBWorld(t, st, clock)
			key, _ := w.create("nightly-backup", "1h", "10m", map[string]string{"severity": "critical"})
			w.clock.Advance(50 * time.Minute)
			w.ping(key, heartbeat.Success, "")
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			st = open()
			t.Cleanup(func() { st.Close() })
			w = newHBWorld(t, st, clock)
			w.clock.Advance(70*time.Minute - time.Second)
			w.check(0)
			w.clock.Advance(time.Second)
			w.check(1)
			if a := w.only(alert.Firing); a.Incident == 0 {
				t.Fatal("the missed critical heartbeat opened no incident after the restart")
			}
			// The key still works after the restart, and resolves.
			w.ping(key, heartbeat.Success, "")
			w.only(alert.Resolved)
		})
	}
}

// Replicas check at once: each miss is claimed in the transaction that
// fires it, so it fires exactly once however many checks race.
func TestHeartbeatChecksOnReplicasFireOnce(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { replicasFireOnce(t, d) })
	}
}

func replicasFireOnce(t *testing.T, d store.Dialect) {
	ctx := context.Background()
	opt := testenv.StoreOptions(t, d)
	open := func() *store.Store {
		st, err := store.Open(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	clock := testenv.NewClock()
	w := newHBWorld(t, st, clock)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		w.create(name, "1m", "0s", map[string]string{"severity": "critical"})
	}
	clock.Advance(time.Minute)
	// Another replica: its own service and, on PostgreSQL, its own
	// store (SQLite has one writer per database file: one store).
	other := st
	if d == store.Postgres {
		other = open()
	}
	replicas := []*service.Service{w.svc, service.New(other, service.Options{Now: clock.Now})}
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := replicas[i%2].CheckHeartbeats(w.ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 5 {
		t.Fatalf("the checks fired %d misses in all, want 5", total)
	}
	list := w.alerts()
	if len(list) != 5 {
		t.Fatalf("%d alerts, want 5", len(list))
	}
	incidents := map[int64]bool{}
	for _, a := range list {
		if a.Received != 1 {
			t.Fatalf("alert %s received %d times", a.Fingerprint, a.Received)
		}
		incidents[a.Incident] = true
	}
	if len(incidents) != 5 {
		t.Fatalf("%d incidents for 5 misses", len(incidents))
	}
}

// A wrong key is "not found" and changes nothing.
func TestHeartbeatWrongKeyStoresNothing(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		key, h := w.create("nightly-backup", "1h", "10m", nil)
		for _, bad := range []string{"", "hb_", key + "x", strings.ToUpper(key), "hb_" + strings.Repeat("a", 52), h.ID, h.SecretHash} {
			for _, k := range []heartbeat.Kind{heartbeat.Success, heartbeat.Fail, heartbeat.Start} {
				if _, err := w.svc.PingHeartbeat(w.ctx, bad, k, "log"); !problem.Is(err, "not_found") {
					t.Fatalf("ping %q with %q: %v, want not_found", k, bad, err)
				}
			}
		}
		after, err := w.svc.Heartbeat(w.ctx, service.System, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.Pings != 0 || !after.LastPingAt.IsZero() || after.State != heartbeat.Up || after.LastLog != "" {
			t.Fatalf("wrong keys changed the heartbeat: %+v", after)
		}
		if len(w.alerts()) != 0 {
			t.Fatal("wrong keys raised an alert")
		}
	})
}

// Removing a heartbeat whose alert fires resolves the alert; its key
// stops working.
func TestHeartbeatRemoveResolves(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		key, _ := w.create("nightly-backup", "1m", "0s", nil)
		w.clock.Advance(time.Minute)
		w.check(1)
		if err := w.svc.DeleteHeartbeat(w.ctx, service.System, "nightly-backup"); err != nil {
			t.Fatal(err)
		}
		w.only(alert.Resolved)
		if _, err := w.svc.PingHeartbeat(w.ctx, key, heartbeat.Success, ""); !problem.Is(err, "not_found") {
			t.Fatalf("ping after removal: %v", err)
		}
		// The name is free again.
		w.create("nightly-backup", "1h", "", nil)
	})
}

// Bad schedules and labels are refused and store nothing.
func TestHeartbeatRefusesBadInput(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		for _, n := range []service.NewHeartbeat{
			{Name: "", Period: "1h"},
			{Name: "x", Period: "59s"},
			{Name: "x", Period: "soon"},
			{Name: "x", Period: "1h", Grace: "-1m"},
			{Name: "x", Period: "1h", Grace: "30d"},
			{Name: "x", Period: "1h", Labels: map[string]string{"alertname": "Mine"}},
			{Name: "x", Period: "1h", Labels: map[string]string{"bad name": "v"}},
			{Name: "x", Period: "1h", Labels: map[string]string{"k": ""}},
		} {
			if _, _, err := w.svc.CreateHeartbeat(w.ctx, service.System, n); !problem.Is(err, "validation_failed") {
				t.Errorf("%+v: %v, want unprocessable", n, err)
			}
		}
		w.create("x", "1m", "", nil)
		if _, _, err := w.svc.CreateHeartbeat(w.ctx, service.System, service.NewHeartbeat{Name: "x", Period: "1h"}); !problem.Is(err, "heartbeat_exists") {
			t.Fatalf("same name: %v", err)
		}
		list, err := w.svc.Heartbeats(w.ctx, service.System)
		if err != nil || len(list) != 1 {
			t.Fatalf("%d heartbeats, %v", len(list), err)
		}
	})
}

// A test alert goes through the intake path and the rules, marked as a
// test: critical opens an incident titled and labelled as a test, warning
// waits in the inbox; both carry quench_test="true".
func TestIntegrationTestAlertGoesThroughRules(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newHBWorld(t, st, testenv.NewClock())
		_, in, err := w.svc.CreateIntegration(w.ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		res, a, err := w.svc.TestIntegration(w.ctx, service.System, in.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Opened) != 1 || a.Labels[service.TestLabel] != "true" {
			t.Fatalf("critical test alert: %+v %v", res, a.Labels)
		}
		inc, err := w.svc.Incident(w.ctx, service.System, res.Opened[0])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(inc.Title, "[test] ") || !service.IsTest(inc.Labels) {
			t.Fatalf("test incident %q %v", inc.Title, inc.Labels)
		}
		// A rule for warnings to the inbox holds for test alerts too.
		res, _, err = w.svc.TestIntegration(w.ctx, service.System, in.ID, "warning")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Opened)+len(res.Attached) != 0 || res.New != 1 {
			t.Fatalf("warning test alert: %+v", res)
		}
		list, err := w.svc.Alerts(w.ctx, service.System, service.AlertQuery{Integration: in.ID})
		if err != nil || len(list) != 2 {
			t.Fatalf("%d alerts, %v", len(list), err)
		}
		for _, r := range list {
			if !service.IsTest(r.Labels) || r.IntegrationID != in.ID {
				t.Fatalf("alert %v from %s", r.Labels, r.IntegrationID)
			}
		}
		if _, _, err := w.svc.TestIntegration(w.ctx, service.System, "nosuch", ""); !problem.Is(err, "not_found") {
			t.Fatalf("unknown integration: %v", err)
		}
		if _, _, err := w.svc.TestIntegration(w.ctx, service.System, heartbeat.Integration, ""); !problem.Is(err, "not_found") {
			t.Fatalf("heartbeat integration: %v", err)
		}
	})
}
