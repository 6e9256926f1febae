package service

import (
	"strings"
	"testing"
	"time"
)

// Message keys made later sort later (the outbox's key index grows at its
// end), are unique, and are valid Standard Webhooks ids: "msg_" and 26
// characters, no "." (webhook.checkID), as before.
func TestMessageIDsSortByTime(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		if i == 1000 {
			// Into the next millisecond at least.
			time.Sleep(2 * time.Millisecond)
		}
		id := newMessageID()
		if len(id) != 30 || !strings.HasPrefix(id, "msg_") || strings.ContainsAny(id, "., ") {
			t.Fatalf("id %q", id)
		}
		for _, c := range id[4:] {
			if !strings.ContainsRune(sortableBase32, c) {
				t.Fatalf("id %q holds %q", id, c)
			}
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		// Within one millisecond the order is random; across them, by time.
		if prev != "" && id[:14] < prev[:14] {
			t.Fatalf("%q made after %q sorts before it", id, prev)
		}
		prev = id
	}
	first, last := "", ""
	for id := range seen {
		if first == "" || id < first {
			first = id
		}
		if id > last {
			last = id
		}
	}
	if first[:14] == last[:14] {
		t.Fatalf("no two milliseconds apart: %q, %q", first, last)
	}
}
