package store_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func newAttachment(t *testing.T, s *store.Store, id string, number, update int64, vis incident.Visibility, at time.Time, data []byte) *incident.Attachment {
	t.Helper()
	a := &incident.Attachment{ID: id, Incident: number, Update: update, Visibility: vis, Filename: id + ".png", ContentType: "image/png",
		Size: int64(len(data)), SHA256: "sha-" + id, Width: 640, Height: 480, UploadedBy: "ana", CreatedAt: at}
	must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAttachment(ctx, a, data) }))
	return a
}

func attachmentIDs(list []*incident.Attachment) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.ID)
	}
	return out
}

func TestAttachments(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		inc := newIncident(t, s, nil)
		other := newIncident(t, s, nil)
		png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 255}, 1000)...)
		a := newAttachment(t, s, "a", inc.Number, 0, incident.Public, t0, png)
		got := read(t, s, func(tx *store.Tx) (*incident.Attachment, error) { return tx.Attachment(ctx, "a") })
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, a)
		}
		if data := read(t, s, func(tx *store.Tx) ([]byte, error) { return tx.AttachmentData(ctx, "a") }); !bytes.Equal(data, png) {
			t.Fatalf("content: %d bytes, want %d", len(data), len(png))
		}
		if _, err := readErr(s, func(tx *store.Tx) (*incident.Attachment, error) { return tx.Attachment(ctx, "nope") }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown attachment: %v", err)
		}
		if _, err := readErr(s, func(tx *store.Tx) ([]byte, error) { return tx.AttachmentData(ctx, "nope") }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown attachment's content: %v", err)
		}
		dup := *a
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAttachment(ctx, &dup, png) }); !store.IsUnique(err) {
			t.Fatalf("same id twice: %v", err)
		}
		for name, bad := range map[string]incident.Attachment{
			"unknown incident": {ID: "x1", Incident: 99, Visibility: incident.Public},
			"unknown update":   {ID: "x2", Incident: inc.Number, Update: 99, Visibility: incident.Public},
			"bad visibility":   {ID: "x3", Incident: inc.Number, Visibility: "secret"},
		} {
			bad.Filename, bad.ContentType, bad.SHA256, bad.UploadedBy, bad.CreatedAt = "f", "image/png", "s", "ana", t0
			if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAttachment(ctx, &bad, png) }); err == nil {
				t.Errorf("%s: stored", name)
			}
		}
		empty := newAttachment(t, s, "empty", other.Number, 0, incident.Internal, t0, []byte{})
		if data := read(t, s, func(tx *store.Tx) ([]byte, error) { return tx.AttachmentData(ctx, empty.ID) }); len(data) != 0 {
			t.Fatalf("empty file: %q", data)
		}
	})
}

// An attachment of an update follows the update's visibility, now, on
// every read; one without an update keeps its own.
func TestAttachmentVisibility(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		inc := newIncident(t, s, nil)
		other := newIncident(t, s, nil)
		u := &incident.Update{Incident: inc.Number, Author: "ana", Body: "see screenshot", Visibility: incident.Public, CreatedAt: t0, UpdatedAt: t0}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertUpdate(ctx, u) }))
		// Listed by creation time, then id.
		newAttachment(t, s, "c-internal", inc.Number, 0, incident.Internal, t0.Add(2*time.Minute), []byte("c"))
		newAttachment(t, s, "b-update", inc.Number, u.ID, incident.Internal, t0.Add(time.Minute), []byte("b"))
		newAttachment(t, s, "a-public", inc.Number, 0, incident.Public, t0.Add(2*time.Minute), []byte("a"))
		newAttachment(t, s, "d-other", other.Number, 0, incident.Public, t0, []byte("d"))

		list := func(publicOnly bool) []string {
			return attachmentIDs(read(t, s, func(tx *store.Tx) ([]*incident.Attachment, error) {
				return tx.Attachments(ctx, inc.Number, publicOnly)
			}))
		}
		if got := list(false); !slices.Equal(got, []string{"b-update", "a-public", "c-internal"}) {
			t.Fatalf("all: %v", got)
		}
		if got := list(true); !slices.Equal(got, []string{"b-update", "a-public"}) {
			t.Fatalf("public while the update is public: %v", got)
		}
		b := read(t, s, func(tx *store.Tx) (*incident.Attachment, error) { return tx.Attachment(ctx, "b-update") })
		if b.Visibility != incident.Public || b.Update != u.ID {
			t.Fatalf("attachment of a public update: %+v", b)
		}

		u.Visibility, u.UpdatedAt = incident.Internal, t0.Add(time.Hour)
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.SetUpdateVisibility(ctx, u) }))
		if got := list(true); !slices.Equal(got, []string{"a-public"}) {
			t.Fatalf("public after the update was withdrawn: %v", got)
		}
		if b := read(t, s, func(tx *store.Tx) (*incident.Attachment, error) { return tx.Attachment(ctx, "b-update") }); b.Visibility != incident.Internal {
			t.Fatalf("attachment of a withdrawn update: %+v", b)
		}
		if got := read(t, s, func(tx *store.Tx) ([]*incident.Attachment, error) { return tx.Attachments(ctx, 99, false) }); len(got) != 0 {
			t.Fatalf("attachments of an unknown incident: %v", got)
		}
	})
}
