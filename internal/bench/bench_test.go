package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
