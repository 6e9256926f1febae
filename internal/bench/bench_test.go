package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/intake/alertmanager"
)

// The generated webhook bodies are valid for Quench's own parser, and every
// alert carries a label set of its own.
func TestPayloadParses(t *testing.T) {
	opt := Options{Format: FormatWebhook, Batch: 10, Run: "t"}
	seen := map[string]bool{}
	for seq := 0; seq < 3; seq++ {
		alerts, err := alertmanager.Parse(payload(opt, 1, seq))
		if err != nil || len(alerts) != 10 {
			t.Fatalf("parse: %d alerts, %v", len(alerts), err)
		}
		for _, a := range alerts {
			if seen[a.Fingerprint] {
				t.Fatalf("fingerprint %s repeated", a.Fingerprint)
			}
			seen[a.Fingerprint] = true
		}
	}
	var api []map[string]any
	if err := json.Unmarshal(payload(Options{Format: FormatAlertmanagerAPI, Batch: 2}, 0, 0), &api); err != nil || len(api) != 2 {
		t.Fatalf("API payload: %v", err)
	}
}

func TestRunCounts(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Format: FormatWebhook, Senders: 4, Batch: 10, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Alerts != (res.Requests-res.Failed)*10 || res.Failed == 0 || res.Statuses[503] != res.Failed {
		t.Fatalf("result %+v", res)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Fatalf("percentiles %v %v %v", res.P50, res.P99, res.Max)
	}
}

// A run bounded by a request count sends exactly that many.
func TestRunRequests(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Format: FormatWebhook, Senders: 3, Batch: 10, Requests: 25})
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 25 || res.Requests != 25 || res.Alerts != 250 {
		t.Fatalf("server saw %d requests; result %d requests, %d alerts; want 25, 25, 250", n.Load(), res.Requests, res.Alerts)
	}
}

// An open-loop run times each alert from its request to its notification
// at the receiver, matched by ID, and counts what never arrived.
func TestLatencyMatchesArrivals(t *testing.T) {
	r, err := NewReceiver("127.0.0.1:0", QuenchIDs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	client := LatencyClient()
	var n atomic.Int64
	// A system that notifies the receiver of every alert but the fifth,
	// as Quench would, once the alert's request has been answered.
	system := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		alerts, err := alertmanager.Parse(mustRead(t, req))
		if err != nil || len(alerts) != 1 {
			http.Error(w, "bad alert", 400)
			return
		}
		if n.Add(1) == 5 {
			return
		}
		go func() {
			m := notifyMessage(alerts[0].Title)
			resp, err := client.Post(r.URL, "application/json", strings.NewReader(m))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}))
	defer system.Close()
	res, err := Latency(context.Background(), r, LatencyOptions{Rate: 200, Duration: 100 * time.Millisecond,
		Send: QuenchSender(client, system.URL, "t"), Run: "t", Settle: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 20 || res.Refused != 0 || res.Delivered != 19 || res.Duplicates != 0 || res.Unknown != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || res.AckP50 <= 0 {
		t.Fatalf("percentiles %v %v %v, ack %v", res.P50, res.P99, res.Max, res.AckP50)
	}
}

func mustRead(t *testing.T, r *http.Request) []byte {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	return b
}

// notifyMessage is a Quench webhook body about an incident titled title.
func notifyMessage(title string) string {
	b, _ := json.Marshal(map[string]any{"type": "incident.opened", "data": map[string]any{"incident": map[string]any{"title": title}}})
	return string(b)
}

// The storm scenario sends critical alerts of one group, each new: every
// request joins the incident the first one opened.
func TestStormPayload(t *testing.T) {
	opt := Options{Format: FormatWebhook, Batch: 10, Run: "t", Scenario: ScenarioStorm}
	seen := map[string]bool{}
	var group string
	for s := -1; s < 2; s++ {
		for seq := 0; seq < 3; seq++ {
			alerts, err := alertmanager.Parse(payload(opt, s, seq))
			if err != nil || len(alerts) != 10 {
				t.Fatalf("parse: %d alerts, %v", len(alerts), err)
			}
			for _, a := range alerts {
				if seen[a.Fingerprint] || a.Labels["severity"] != "critical" || (group != "" && a.GroupKey != group) {
					t.Fatalf("alert %v (group %q)", a, group)
				}
				seen[a.Fingerprint], group = true, a.GroupKey
			}
		}
	}
}
