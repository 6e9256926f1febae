package markdown

import (
	"strings"
	"testing"
)

// realisticUpdate is a 2 KiB incident update as people write them: prose,
// a list, a pasted log excerpt, links, references and a small table.
func realisticUpdate() string {
	s := `**Mitigated.** The payment consumer stopped after the deploy of ` + "`4.2.1`" + ` at 09:12 UTC;
messages piled up in ` + "`payments.events`" + ` (peak 48k). Related to #12 and #7, see the
[dashboard](https://grafana.example/d/q8?var-env=prod&from=now-6h) and <https://sentry.example/issues/4711>.

What we did:

1. rolled back to ` + "`4.2.0`" + ` (@ana)
2. restarted the consumers: ` + "`kubectl -n payments rollout restart deploy/consumer`" + `
3. drained the queue; lag back to 0 at 09:58

- [x] rollback
- [x] drain the queue
- [ ] replay the 312 messages that went to the DLQ
- [ ] add an alert on consumer lag (we found out from a customer)

Log excerpt:

` + "```" + `
2026-11-24T09:12:03Z level=error msg="decode event" err="unexpected <nil> in field amount" offset=1182734
2026-11-24T09:12:03Z level=error msg="decode event" err="unexpected <nil> in field amount" offset=1182735
2026-11-24T09:12:04Z level=warn msg="consumer lag" lag=1204 partition=3
` + "```" + `

| partition | lag at 09:30 | lag at 09:58 |
|:----------|-------------:|-------------:|
| 0         | 11,204       | 0            |
| 3         | 48,311       | 0            |

> Customers saw "payment pending" for up to 40 minutes.
> Support has the list (ticket ~~#4410~~ SUP-4410).

Next: root cause is a schema change that made ` + "`amount`" + ` nullable upstream; fix in
[MR !912](https://gitlab.example/payments/consumer/-/merge_requests/912).
We will also ask the upstream team (*ledger*) to announce schema changes in #platform-changes
before they ship, and add a contract test to their pipeline; @bo owns that, due **Friday**.

Timeline (UTC):
09:12 deploy of 4.2.1 finished
09:14 first decode errors in Sentry, not alerting (error rate below threshold)
09:31 customer ticket SUP-4410: "payment pending for 20 minutes"
09:36 incident opened, ana on call
09:44 rollback started
09:58 lag back to 0, mitigated

Open question: why did the lag alert not fire? The rule uses ` + "`max_over_time(lag[5m]) > 50000`" + `,
and the peak was 48,311. See ![lag graph](https://grafana.example/render/d-solo/q8?panelId=4 "lag").
`
	return s
}

// Figures (go test -bench . ./internal/markdown/, 2 vCPU, Go 1.26):
//
//	BenchmarkRender        2 KiB update       49 µs   331 allocs  (before the rework: 58 µs, 640 allocs)
//	BenchmarkText          2 KiB update       40 µs
//	BenchmarkRender64K     64 KiB of updates  1.6 ms
//	BenchmarkPathological  worst of 24 hostile 64 KiB inputs: 23 ms (ref_defs);
//	                       nested lists were 1.2 s, "[a](" lines 0.6 s and a
//	                       padded table was killed for memory before limit.go.
func BenchmarkRender(b *testing.B) {
	src := realisticUpdate()
	r := Renderer{IncidentLink: func(n int64) (string, string, bool) { return "/incidents/12", "Queue backlog", true }}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		r.Render(src)
	}
}

func BenchmarkText(b *testing.B) {
	src := realisticUpdate()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Text(src)
	}
}

// BenchmarkPathological shows that hostile input up to MaxSource renders
// in bounded time; compare with BenchmarkRender64K (ordinary text).
func BenchmarkPathological(b *testing.B) {
	for name, in := range pathological() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				Render(in)
			}
		})
	}
}

func BenchmarkRender64K(b *testing.B) {
	src := strings.Repeat(realisticUpdate(), MaxSource/len(realisticUpdate()))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		Render(src)
	}
}

func TestRealisticUpdateSize(t *testing.T) {
	if n := len(realisticUpdate()); n < 1900 || n > 2300 {
		t.Errorf("realisticUpdate is %d bytes, want about 2 KiB", n)
	}
}
