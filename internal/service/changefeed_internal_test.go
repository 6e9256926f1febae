package service

import (
	"fmt"
	"testing"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
)

// A batch of changes becomes notifications under PostgreSQL's size limit,
// without repeats, and another node reads back exactly what was sent;
// the node that sent them does not hear them again.
func TestFeedPayloads(t *testing.T) {
	a, b := newFeed(), newFeed()
	var sent []Change
	for i := range 3000 {
		c := Change{Incident: int64(i%1500 + 1), Kind: incident.EventAlertAttached, Public: i%3 == 0}
		sent = append(sent, c)
	}
	payloads := a.payloads(sent)
	if len(payloads) < 2 {
		t.Fatalf("%d changes in %d notification(s): want several", len(sent), len(payloads))
	}
	seen := map[Change]bool{}
	var got []Change
	for _, p := range payloads {
		if len(p) > store.MaxNotifyPayload {
			t.Errorf("notification of %d bytes, limit %d", len(p), store.MaxNotifyPayload)
		}
		if _, ok := a.decode(p); ok {
			t.Error("the sending node hears its own notification")
		}
		cs, ok := b.decode(p)
		if !ok {
			t.Fatalf("unreadable notification %q", p)
		}
		got = append(got, cs...)
	}
	var want []Change
	for _, c := range sent {
		if !seen[c] {
			seen[c] = true
			want = append(want, c)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decoded %d changes, want the %d distinct ones in order", len(got), len(want))
	}
	if _, ok := b.decode(`{"n":`); ok {
		t.Error("a malformed notification was read")
	}
}
