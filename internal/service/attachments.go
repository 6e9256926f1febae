package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	_ "image/gif"  // decode dimensions of uploaded screenshots
	_ "image/jpeg" // "
	_ "image/png"  // "
	"net/http"
	"path"
	"strings"
	"unicode"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// Attachment limits.
const (
	MaxAttachmentBytes = 10 << 20
	// maxPixels refuses decompression bombs: a tiny PNG can claim to be
	// 100 000 × 100 000 pixels.
	maxPixels    = 40_000_000
	maxDimension = 20_000
)

// NewAttachment is an upload.
type NewAttachment struct {
	Filename string
	Data     []byte
	// Update ties the file to an update, whose visibility it then follows.
	Update int64
	// Visibility of a file without an update; internal unless said.
	Visibility incident.Visibility
}

// AddAttachment stores a file on an incident. The name the browser gave is
// kept only for Content-Disposition; the file is stored and served under a
// random id, and its type is sniffed from its content, never trusted.
func (s *Service) AddAttachment(ctx context.Context, p auth.Principal, number int64, n NewAttachment) (*incident.Attachment, error) {
	if len(n.Data) == 0 {
		return nil, problem.Unprocessablef("the file is empty")
	}
	if len(n.Data) > MaxAttachmentBytes {
		return nil, problem.New(problem.TooLarge, "too_large", "attachments are limited to %d MiB", MaxAttachmentBytes>>20)
	}
	vis, err := incident.CheckUpdateVisibility(n.Visibility)
	if err != nil {
		return nil, err
	}
	ct := http.DetectContentType(n.Data)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	var width, height int
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(n.Data)); err == nil {
		width, height = cfg.Width, cfg.Height
		if width > maxDimension || height > maxDimension || width*height > maxPixels {
			return nil, problem.Invalidf("the image is %d×%d pixels; at most %d pixels in all and %d per side", width, height, maxPixels, maxDimension)
		}
	}
	sum := sha256.Sum256(n.Data)
	a := &incident.Attachment{ID: strings.ToLower(auth.NewSecret("")[:26]), Incident: number, Update: n.Update, Visibility: vis,
		Filename: CleanFilename(n.Filename), ContentType: ct, Size: int64(len(n.Data)), SHA256: hex.EncodeToString(sum[:]),
		Width: width, Height: height, UploadedBy: p.Name()}
	_, err = s.mutate(ctx, p, number, "add attachments", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
		if a.Update == 0 {
			if err := notMerged(inc, "files"); err != nil {
				return err
			}
		}
		if a.Update != 0 {
			u, err := tx.Update(ctx, number, a.Update)
			if err != nil {
				return missing(err, "update %d not found on incident #%d", a.Update, number)
			}
			a.Visibility = u.Visibility
			ev.UpdateID = u.ID
		} else {
			ev.Internal = vis == incident.Internal
		}
		a.CreatedAt = ev.At
		if err := tx.InsertAttachment(ctx, a, n.Data); err != nil {
			return err
		}
		ev.Kind = incident.EventAttachmentAdded
		ev.Data["attachment"], ev.Data["filename"], ev.Data["size"] = a.ID, a.Filename, a.Size
		// Announced to viewers only when they may see the file.
		ev.Data["visibility"] = a.Visibility
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Attachment returns a file p may see, with its content. Anything else is
// "not found", whether it exists or not.
func (s *Service) Attachment(ctx context.Context, p auth.Principal, id string) (*incident.Attachment, []byte, error) {
	publicOnly, err := s.audience(p)
	if err != nil {
		return nil, nil, err
	}
	missing := problem.New(problem.NotFound, "not_found", "attachment not found")
	var a *incident.Attachment
	var data []byte
	err = s.store.Read(ctx, func(tx *store.Tx) (err error) {
		if a, err = tx.Attachment(ctx, id); err != nil {
			return err
		}
		if err := mayRead(ctx, tx, a.Incident, publicOnly); err != nil {
			return err
		}
		if publicOnly && a.Visibility != incident.Public {
			return missing
		}
		data, err = tx.AttachmentData(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || problem.Is(err, "not_found") {
		return nil, nil, missing
	}
	return a, data, err
}

// Attachments lists an incident's files p may see.
func (s *Service) Attachments(ctx context.Context, p auth.Principal, number int64) ([]*incident.Attachment, error) {
	return readChild(s, ctx, p, number, func(tx *store.Tx, publicOnly bool) ([]*incident.Attachment, error) {
		return tx.Attachments(ctx, number, publicOnly)
	})
}

// CleanFilename keeps a readable name for downloads: no directories, no
// control or bidirectional-override characters, at most 200 bytes.
func CleanFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F:
			return -1
		}
		return r
	}, text.Clean(name, 0))
	name = strings.Trim(strings.TrimSpace(name), ".")
	name = text.Cut(name, 200)
	if name == "" || name == "/" {
		return "attachment"
	}
	return name
}
