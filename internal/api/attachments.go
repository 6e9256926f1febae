package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// AttachmentJSON describes a file; its content is at URL.
type AttachmentJSON struct {
	ID          string              `json:"id"`
	Incident    int64               `json:"incident"`
	Update      int64               `json:"update,omitempty"`
	Visibility  incident.Visibility `json:"visibility"`
	Filename    string              `json:"filename"`
	ContentType string              `json:"content_type"`
	Size        int64               `json:"size"`
	SHA256      string              `json:"sha256"`
	Width       int                 `json:"width,omitempty"`
	Height      int                 `json:"height,omitempty"`
	UploadedBy  string              `json:"uploaded_by"`
	CreatedAt   time.Time           `json:"created_at"`
	URL         string              `json:"url"`
}

func attachmentJSON(a *incident.Attachment) AttachmentJSON {
	return AttachmentJSON{ID: a.ID, Incident: a.Incident, Update: a.Update, Visibility: a.Visibility, Filename: a.Filename,
		ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, Width: a.Width, Height: a.Height, UploadedBy: a.UploadedBy,
		CreatedAt: a.CreatedAt.UTC(), URL: "/api/v1/attachments/" + a.ID}
}

// uploadAttachment takes multipart/form-data with a "file" part and
// optional "update" and "visibility" fields, streamed with a size cap.
func (a *API) uploadAttachment(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return 0, nil, problem.New(problem.Unsupported, "unsupported_media_type", "upload the file as multipart/form-data")
	}
	r.Body = http.MaxBytesReader(w, r.Body, service.MaxAttachmentBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return 0, nil, problem.Invalidf("malformed multipart body")
	}
	var up service.NewAttachment
	seenFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, bodyError(err)
		}
		switch part.FormName() {
		case "file":
			if seenFile {
				return 0, nil, problem.Invalidf("send one file per request")
			}
			seenFile = true
			up.Filename = part.FileName()
			if up.Data, err = io.ReadAll(io.LimitReader(part, service.MaxAttachmentBytes+1)); err != nil {
				return 0, nil, bodyError(err)
			}
			if len(up.Data) > service.MaxAttachmentBytes {
				return 0, nil, problem.New(problem.TooLarge, "too_large", "attachments are limited to %d MiB", service.MaxAttachmentBytes>>20)
			}
		case "update", "visibility":
			v, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return 0, nil, bodyError(err)
			}
			if part.FormName() == "visibility" {
				up.Visibility = incident.Visibility(v)
			} else if up.Update, err = strconv.ParseInt(string(v), 10, 64); err != nil || up.Update <= 0 {
				return 0, nil, problem.Invalidf("update must be an update id")
			}
		default:
			return 0, nil, problem.New(problem.Invalid, "unknown_field", "unknown form field %q", part.FormName())
		}
	}
	if !seenFile {
		return 0, nil, problem.Invalidf("no file part named \"file\"")
	}
	att, err := a.svc.AddAttachment(r.Context(), p, n, up)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", "/api/v1/attachments/"+att.ID)
	return http.StatusCreated, attachmentJSON(att), nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return problem.New(problem.TooLarge, "too_large", "attachments are limited to %d MiB", service.MaxAttachmentBytes>>20)
	}
	return problem.Wrap(problem.Invalid, "invalid_request", err, "could not read the upload")
}

func (a *API) listAttachments(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Attachments(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"attachments": mapAll(list, attachmentJSON)}, nil
}

// ServeAttachment sends a file to someone who may see it. Images sniffed as
// PNG, JPEG, GIF or WebP are shown inline; everything else downloads as
// application/octet-stream. Either way the response is sandboxed, never
// sniffed, and carries the original name only in Content-Disposition.
func (a *API) ServeAttachment(w http.ResponseWriter, r *http.Request) {
	att, data, err := a.svc.Attachment(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	h := w.Header()
	disposition, ct := "attachment", "application/octet-stream"
	if att.Inline() {
		disposition, ct = "inline", att.ContentType
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": att.Filename}))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", fmt.Sprintf("%q", att.SHA256))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if match := r.Header.Get("If-None-Match"); match != "" && match == h.Get("ETag") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(data)
}
