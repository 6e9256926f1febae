package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// phases in order; an incident's progress is an index into it.
var phases = []string{"active", "mitigated", "resolved", "closed"}

// ledger is the client side's record of what the server acknowledged:
// every intake request sent (acked or not) and every incident change. The
// checks compare the database against it.
type ledger struct {
	run string

	mu         sync.Mutex
	deliveries []*delivery
	incidents  map[int64]*tracked
	// updates maps the body of every acknowledged update to its incident.
	updates map[string]int64
	// statuses counts answers by status, 0 for no answer.
	statuses map[int]int
	// unexpected collects answers that no fault explains (a 500, a 400, a
	// 503 without Retry-After, …).
	unexpected []string
	// ackedAlerts counts alerts in acknowledged deliveries.
	ackedAlerts int
	// full counts 503 answers whose code is storage_full.
	full int
	seq  atomic.Int64
}

// delivery is one Alertmanager webhook: one group, ten new alerts.
type delivery struct {
	id     string
	group  string
	fps    []string
	body   []byte
	acked  bool
	status int
}

// tracked is an incident the changers opened through the API.
type tracked struct {
	// acked is the index of the last phase the API acknowledged.
	acked int
	// pending is 1 when a transition's outcome is unknown (no answer or a
	// 503): it may or may not have committed.
	pending int
}

func newLedger(run string) *ledger {
	return &ledger{run: run, incidents: map[int64]*tracked{}, updates: map[string]int64{}, statuses: map[int]int{}}
}

// groups is how many alert groups the senders share: few, so concurrent
// deliveries race to open the same group's incident.
const groups = 6

// newDelivery builds a webhook as Alertmanager sends it: the group's
// labels in groupKey, ten firing critical alerts (critical alerts open an
// incident by the default rules), each with a label set never sent before.
func (l *ledger) newDelivery(sender int) *delivery {
	n := l.seq.Add(1)
	d := &delivery{id: fmt.Sprintf("%s-%d-%d", l.run, sender, n), group: fmt.Sprintf("g%d", int(n)%groups)}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var alerts []map[string]any
	for i := range 10 {
		labels := map[string]string{
			"alertname": "FaultSuite", "group": d.group, "severity": "critical", "service": "fault",
			"run": l.run, "instance": fmt.Sprintf("%s-%d", d.id, i),
		}
		fp := alert.Fingerprint(labels)
		d.fps = append(d.fps, fp)
		alerts = append(alerts, map[string]any{
			"status": "firing", "labels": labels, "fingerprint": fp, "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
			"annotations":  map[string]string{"summary": "fault suite alert " + d.id},
			"generatorURL": "http://prometheus.example:9090/graph",
		})
	}
	d.body, _ = json.Marshal(map[string]any{
		"version": "4", "receiver": "quench", "status": "firing", "alerts": alerts,
		"groupKey":     `{}:{alertname="FaultSuite", group="` + d.group + `"}`,
		"groupLabels":  map[string]string{"alertname": "FaultSuite", "group": d.group},
		"commonLabels": map[string]string{"alertname": "FaultSuite"}, "externalURL": "http://alertmanager.example:9093",
	})
	return d
}

// record notes one answer. 2xx acknowledges; a 503 must carry
// Retry-After; no answer at all is what a crash looks like. Anything else
// is unexpected.
func (l *ledger) record(what string, r reply, ok int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[r.status]++
	switch {
	case r.status == 0, r.status == ok:
	case r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "":
		if strings.Contains(string(r.body), `"storage_full"`) {
			l.full++
		}
	default:
		if len(l.unexpected) < 20 {
			l.unexpected = append(l.unexpected, fmt.Sprintf("%s: %d %s", what, r.status, strings.TrimSpace(string(r.body))))
		}
	}
}

func (l *ledger) addDelivery(d *delivery, r reply) {
	l.record("intake", r, http.StatusOK)
	l.mu.Lock()
	defer l.mu.Unlock()
	d.status, d.acked = r.status, r.status == http.StatusOK
	if d.acked {
		l.ackedAlerts += len(d.fps)
	}
	l.deliveries = append(l.deliveries, d)
}

// resend posts an unacknowledged delivery again, as Alertmanager retries
// a 5xx, and records the new answer.
func (l *ledger) resend(ctx context.Context, c *http.Client, in *instance, s *server, d *delivery) reply {
	r := do(ctx, c, "POST", s.url+"/api/v1/intake/alertmanager/"+in.integration, in.intakeToken, d.body)
	l.record("intake (resent)", r, http.StatusOK)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.status == http.StatusOK && !d.acked {
		d.acked = true
		l.ackedAlerts += len(d.fps)
	}
	if r.status != 0 {
		d.status = r.status
	}
	return r
}

// unacked returns the deliveries that got an answer other than 200.
func (l *ledger) unacked() []*delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*delivery
	for _, d := range l.deliveries {
		if !d.acked {
			out = append(out, d)
		}
	}
	return out
}

// trackIncident records an incident opened outside the changers.
func (l *ledger) trackIncident(t testing.TB, r reply) {
	t.Helper()
	l.record("open incident", r, http.StatusCreated)
	if r.status != http.StatusCreated {
		return
	}
	var inc struct {
		Number int64 `json:"number"`
	}
	if err := json.Unmarshal(r.body, &inc); err != nil || inc.Number == 0 {
		t.Fatalf("open incident: 201 with %s", r.body)
	}
	l.mu.Lock()
	l.incidents[inc.Number] = &tracked{}
	l.mu.Unlock()
}

// acks counts acknowledged requests of any kind.
func (l *ledger) acks() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.statuses[http.StatusOK] + l.statuses[http.StatusCreated]
}

// count is how many answers had status (0: no answer).
func (l *ledger) count(status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.statuses[status]
}

func (l *ledger) fullCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.full
}

// summary is one line for the test log.
func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	acked := 0
	for _, d := range l.deliveries {
		if d.acked {
			acked++
		}
	}
	codes := make([]int, 0, len(l.statuses))
	for c := range l.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, l.statuses[c]))
	}
	return fmt.Sprintf("%d deliveries sent, %d acknowledged (%d alerts); %d incidents and %d updates acknowledged; answers {%s}",
		len(l.deliveries), acked, l.ackedAlerts, len(l.incidents), len(l.updates), strings.Join(parts, ", "))
}

func (l *ledger) checkUnexpected(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.unexpected {
		t.Errorf("unexpected answer: %s", u)
	}
}

// load drives one server: senders post webhooks, changers open incidents
// through the API and move them along with updates and transitions.
type load struct {
	l      *ledger
	in     *instance
	url    string
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (in *instance) startLoad(l *ledger, s *server, senders, changers int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	ld := &load{l: l, in: in, url: s.url, client: newClient(senders + changers), cancel: cancel}
	for i := range senders {
		ld.wg.Go(func() { ld.send(ctx, i) })
	}
	for i := range changers {
		ld.wg.Go(func() { ld.change(ctx, i) })
	}
	return ld
}

// stop ends the load and waits for every request to have its outcome.
func (ld *load) stop() {
	ld.cancel()
	ld.wg.Wait()
	ld.client.CloseIdleConnections()
}

func (ld *load) send(ctx context.Context, sender int) {
	url := ld.url + "/api/v1/intake/alertmanager/" + ld.in.integration
	for ctx.Err() == nil {
		d := ld.l.newDelivery(sender)
		r := do(ctx, ld.client, "POST", url, ld.in.intakeToken, d.body)
		ld.l.addDelivery(d, r)
		if r.status != http.StatusOK && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond) // a sender backs off, Alertmanager-like
		}
	}
}

// change opens incidents and walks each through every phase, with two
// updates per phase. An unclear outcome abandons the incident: the check
// then allows either state.
func (ld *load) change(ctx context.Context, changer int) {
	api := ld.url + "/api/v1/incidents"
	tok := ld.in.apiToken
	for k := 0; ctx.Err() == nil; k++ {
		body, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("fault %s changer %d #%d", ld.l.run, changer, k), "severity": "minor"})
		r := do(ctx, ld.client, "POST", api, tok, body)
		ld.l.record("open incident", r, http.StatusCreated)
		if r.status != http.StatusCreated {
			pause(ctx)
			continue
		}
		var inc struct {
			Number int64 `json:"number"`
		}
		if json.Unmarshal(r.body, &inc) != nil || inc.Number == 0 {
			ld.l.record("open incident", reply{status: -1, body: r.body}, http.StatusCreated)
			continue
		}
		tr := &tracked{}
		ld.l.mu.Lock()
		ld.l.incidents[inc.Number] = tr
		ld.l.mu.Unlock()
		base := fmt.Sprintf("%s/%d", api, inc.Number)
	walk:
		for next := 1; next < len(phases) && ctx.Err() == nil; next++ {
			for u := range 2 {
				marker := fmt.Sprintf("update %s-%d-%d-%d", ld.l.run, inc.Number, next, u)
				body, _ := json.Marshal(map[string]any{"body": marker, "visibility": "internal"})
				r := do(ctx, ld.client, "POST", base+"/updates", tok, body)
				ld.l.record("post update", r, http.StatusCreated)
				if r.status != http.StatusCreated {
					break walk
				}
				ld.l.mu.Lock()
				ld.l.updates[marker] = inc.Number
				ld.l.mu.Unlock()
			}
			body, _ := json.Marshal(map[string]any{"to": phases[next], "note": "fault suite: " + phases[next],
				"override": true, "detection_improvement": "a probe for it"})
			r := do(ctx, ld.client, "POST", base+"/transitions", tok, body)
			ld.l.record("transition", r, http.StatusOK)
			ld.l.mu.Lock()
			if r.status == http.StatusOK {
				tr.acked = next
			} else {
				tr.pending = 1
			}
			ld.l.mu.Unlock()
			if r.status != http.StatusOK {
				break
			}
		}
		pause(ctx)
	}
}

func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
}
