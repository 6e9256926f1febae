package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkIntakeHTTP posts 10-alert Alertmanager webhooks of new alerts
// through a real loopback listener into SQLite (synchronous=FULL). The
// command-line equivalent with a separate server process is
// `quench bench intake`; figures are in docs/benchmarks.md.
func BenchmarkIntakeHTTP(b *testing.B) {
	app := testenv.StartApp(b, store.SQLite)
	url, tok := integrationB(b, app)
	var seq atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			var buf bytes.Buffer
			fmt.Fprintf(&buf, `{"version":"4","status":"firing","receiver":"q","groupKey":"g%d","alerts":[`, n)
			for i := 0; i < 10; i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				fmt.Fprintf(&buf, `{"status":"firing","labels":{"alertname":"Bench","severity":"warning","n":"%d","i":"%d"},"annotations":{"summary":"bench alert"},"startsAt":"2026-11-24T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph"}`, n, i)
			}
			buf.WriteString(`]}`)
			req, _ := http.NewRequest("POST", app.URL+url, &buf)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Errorf("post: %v %v", err, resp)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "alerts/s")
}

func integrationB(b *testing.B, app *testenv.App) (string, string) {
	b.Helper()
	return integration(b, app, "alertmanager", "")
}
