package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// The key computed in place must stay the FNV-1a hash that alert_keys
// holds: keys merged before would no longer be found otherwise.
func TestNameKeyIsFNV1a(t *testing.T) {
	for _, name := range []string{"", "a", recentName("int-1", "0123456789abcdef"), recentName("ü", "\x00\xff")} {
		h := fnv.New64a()
		h.Write([]byte(name))
		if got, want := nameKey(name), int64(h.Sum64()); got != want {
			t.Errorf("nameKey(%q) = %d, want %d", name, got, want)
		}
	}
}

// A key computed ahead by EncodeFor is used only for the integration and
// fingerprint it was computed for.
func TestEncodeForKey(t *testing.T) {
	a := alert.Alert{Fingerprint: "fp1", Labels: map[string]string{"alertname": "A"}}
	e := EncodeFor("in1", &a)
	for _, c := range []struct{ integration, fingerprint string }{{"in1", "fp1"}, {"in2", "fp1"}, {"in1", "fp2"}} {
		r := AlertRow{Record: &alert.Record{Alert: alert.Alert{Fingerprint: c.fingerprint}, IntegrationID: c.integration}, Encoded: e}
		name, k := r.keyName()
		if name != recentName(c.integration, c.fingerprint) || k != alertKey(c.integration, c.fingerprint) {
			t.Errorf("%v: key of %q, want that of %q", c, name, recentName(c.integration, c.fingerprint))
		}
	}
}

// In a SQLite batch, deliveries read their integration once; a job of
// the same batch that retires the integration or sets its secret is seen
// by the jobs after it, and a job that rolls back leaves nothing behind.
func TestBatchIntegrationCacheSeesChanges(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"i1", "i2"} {
		if err := s.Write(ctx, func(tx *Tx) error {
			return tx.InsertIntegration(ctx, &alert.Integration{ID: id, Type: "alertmanager", Name: id, CreatedAt: time.Now()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	var secret string
	var deleted error
	var gone error
	at := time.UnixMicro(1_700_000_000_000_000)
	jobs := []func(*Tx) error{
		func(tx *Tx) error { _, err := tx.LockIntegration(ctx, "i1"); return err },
		func(tx *Tx) error { _, err := tx.LockIntegration(ctx, "i2"); return err },
		func(tx *Tx) error { return tx.SetIntegrationSecret(ctx, "i1", "s3cret") },
		func(tx *Tx) error {
			in, err := tx.LockIntegration(ctx, "i1")
			if in != nil {
				secret = in.Secret
			}
			return err
		},
		func(tx *Tx) error { return tx.DeleteIntegration(ctx, "i2", at) },
		func(tx *Tx) error { _, deleted = tx.LockIntegration(ctx, "i2"); return nil },
		// Rolled back: the note of its delivery must not stay cached.
		func(tx *Tx) error {
			if err := tx.NoteDelivery(ctx, "i1", 1, at); err != nil {
				return err
			}
			return errors.New("rolled back")
		},
		func(tx *Tx) error {
			in, err := tx.LockIntegration(ctx, "i1")
			if err == nil && !in.LastAlertAt.IsZero() {
				gone = errors.New("a rolled-back delivery's time stayed cached")
			}
			return err
		},
	}
	// Handed to the writer as one batch, the way queued jobs are.
	batch := make([]*job, len(jobs))
	for i, fn := range jobs {
		batch[i] = &job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	}
	// A job holds the writer while the others queue up behind it.
	started, release := make(chan struct{}), make(chan struct{})
	hold := &job{ctx: ctx, fn: func(*Tx) error { close(started); <-release; return nil }, done: make(chan error, 1)}
	s.jobs <- hold
	<-started
	for _, j := range batch {
		s.jobs <- j
	}
	close(release)
	if err := <-hold.done; err != nil {
		t.Fatal(err)
	}
	for i, j := range batch {
		if err := <-j.done; (err != nil) != (i == 6) {
			t.Errorf("job %d: %v", i, err)
		}
	}
	if secret != "s3cret" {
		t.Errorf("a secret set earlier in the batch read as %q", secret)
	}
	if !errors.Is(deleted, ErrNotFound) {
		t.Errorf("an integration retired earlier in the batch: %v", deleted)
	}
	if gone != nil {
		t.Error(gone)
	}
}

// The SQLite insert's values are alertValues, in its column order.
func TestAppendAlertValuesIsAlertValues(t *testing.T) {
	r := &alert.Record{Alert: alert.Alert{Fingerprint: "fp", Status: alert.Firing, Title: "t", GroupKey: "g",
		Labels: map[string]string{"a": "b"}, StartsAt: time.UnixMicro(5)}, IntegrationID: "in", FirstSeen: time.UnixMicro(7),
		LastSeen: time.UnixMicro(9), Received: 2, Incident: 4}
	r.Truncated = 3
	for _, e := range []Encoded{{}, EncodeFor("in", &r.Alert)} {
		got, want := appendAlertValues([]any{"x"}, r, e), append([]any{"x"}, alertValues(r, e)...)
		if len(got) != 1+alertWriteCount || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("appendAlertValues = %v, want %v", got, want)
		}
	}
}
