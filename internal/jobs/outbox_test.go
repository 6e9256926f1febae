package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/jobs"
	"github.com/quenchhq/quench/internal/notify/email"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func ptr[T any](v T) *T { return &v }

// The outbox metrics count outcomes by channel type and show the depth
// and age of what is waiting.
func TestOutboxMetrics(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	ctx := context.Background()
	ok, failing := testenv.NewSink(t), testenv.NewSink(t)
	failing.Answer(func(int) int { return 503 })
	for _, c := range []service.ChannelInput{
		{Type: ptr("webhook"), Name: ptr("ok"), URL: ptr(ok.URL), Audience: ptr("team")},
		{Type: ptr("slack"), Name: ptr("failing"), URL: ptr(failing.URL), Audience: ptr("team")},
	} {
		if _, _, err := app.Svc.CreateChannel(ctx, service.System, c); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	m := jobs.NewOutboxMetrics(reg, app.Svc)
	outbox := jobs.NewOutbox(app.Svc, slog.New(app.Log), jobs.ChannelNotifiers(testenv.LoopbackGuard().Client(5*time.Second), email.Config{}), m)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "x"})
	app.Clock.Advance(time.Minute)
	outbox.Drain(ctx)
	ok.Take()
	failing.Take()
	want := `
# HELP quench_notifications_total Notification attempts by channel type and outcome (sent, retry, failed, dead, suppressed).
# TYPE quench_notifications_total counter
quench_notifications_total{channel_type="slack",outcome="retry"} 1
quench_notifications_total{channel_type="webhook",outcome="sent"} 1
# HELP quench_outbox_messages Unfinished messages in the outbox by state.
# TYPE quench_outbox_messages gauge
quench_outbox_messages{state="failing"} 1
quench_outbox_messages{state="pending"} 0
# HELP quench_outbox_oldest_age_seconds Age of the oldest unfinished message in the outbox.
# TYPE quench_outbox_oldest_age_seconds gauge
quench_outbox_oldest_age_seconds 60
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// A backlog larger than the sends one channel may have at once is sent
// without waiting for the poll: a finished send frees its slot and looks
// for the next message. (The worker used to wait for the next poll, so a
// channel got PerChannel messages per Poll: 4 a second.)
func TestOutboxSendsBacklogWithoutPolling(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := testenv.NewSink(t)
	if _, _, err := app.Svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: ptr("webhook"), Name: ptr("ops"),
		URL: ptr(sink.URL), Audience: ptr("team"), Events: ptr([]string{"incident.opened"})}); err != nil {
		t.Fatal(err)
	}
	tok := app.User(t, "ana", auth.RoleResponder)
	const n = 13
	for range n {
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "backlog"})
	}
	outbox := app.Outbox(email.Config{})
	outbox.Poll = time.Hour // never: only wake-ups and finished sends drive it
	// Room for fewer than the backlog: the rest waits for sends to end.
	outbox.PerChannel, outbox.Prefetch = 2, 3
	done := make(chan struct{})
	go func() { defer close(done); outbox.Run(ctx) }()
	// A bound that only catches the stall.
	for deadline := time.Now().Add(time.Minute); sink.Count() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages sent; the worker waits for its poll", sink.Count(), n)
		}
	}
	cancel()
	<-done
	if got := len(sink.Take()); got != n {
		t.Fatalf("sink got %d messages, want %d", got, n)
	}
}

// Messages queued while the worker runs reach their channel without a
// poll, in order per incident: on SQLite the writer hands each commit's
// messages to the worker, and one behind another of its lane is found
// once the one before it is recorded. On PostgreSQL the commit's wake-up
// makes the worker look.
func TestOutboxSendsNewMessagesInOrderWithoutPolling(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			app := testenv.StartApp(t, d)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sink := testenv.NewSink(t)
			if _, _, err := app.Svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: ptr("webhook"), Name: ptr("ops"),
				URL: ptr(sink.URL), Audience: ptr("team"), Events: ptr([]string{"incident.opened", "incident.phase_changed"})}); err != nil {
				t.Fatal(err)
			}
			outbox := app.Outbox(email.Config{})
			outbox.Poll = time.Hour // never: only what commits hand over and finished sends drive it
			done := make(chan struct{})
			go func() { defer close(done); outbox.Run(ctx) }()
			tok := app.User(t, "ana", auth.RoleResponder)
			const n = 6
			for i := range n {
				app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "new"})
				app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/transitions", i+1), tok, map[string]any{"to": "mitigated", "note": "rolled back"})
				app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/transitions", i+1), tok, map[string]any{"to": "resolved", "note": "fixed"})
			}
			// A bound that only catches the stall.
			for deadline := time.Now().Add(time.Minute); sink.Count() < 3*n; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d messages sent; the worker waits for its poll", sink.Count(), 3*n)
				}
			}
			cancel()
			<-done
			seen := map[float64][]string{}
			for _, r := range sink.Take() {
				var p struct {
					Type string `json:"type"`
					Data struct {
						Incident struct {
							Number float64 `json:"number"`
							Phase  string  `json:"phase"`
						} `json:"incident"`
					} `json:"data"`
				}
				if err := json.Unmarshal(r.Body, &p); err != nil {
					t.Fatal(err)
				}
				seen[p.Data.Incident.Number] = append(seen[p.Data.Incident.Number], p.Type+":"+p.Data.Incident.Phase)
			}
			want := "incident.opened:active incident.phase_changed:mitigated incident.phase_changed:resolved"
			for i := range n {
				if got := strings.Join(seen[float64(i+1)], " "); got != want {
					t.Errorf("#%d got %s, want %s", i+1, got, want)
				}
			}
		})
	}
}
