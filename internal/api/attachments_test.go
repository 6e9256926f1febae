package api_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

func multipartBody(t testing.TB, filename string, data []byte, fields ...string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

func pngBytes(w, h int) []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h)))
	return buf.Bytes()
}

// bombPNG is a valid 1×1 PNG whose header claims huge dimensions.
func bombPNG() []byte {
	b := pngBytes(1, 1)
	binary.BigEndian.PutUint32(b[16:], 100000)
	binary.BigEndian.PutUint32(b[20:], 100000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func upload(t *testing.T, app *testenv.App, tok string, n int64, filename string, data []byte, fields ...string) *testenv.Response {
	body, ct := multipartBody(t, filename, data, fields...)
	return app.Request(t, "POST", fmt.Sprintf("/api/v1/incidents/%d/attachments", n), tok, body, "Content-Type", ct)
}

func TestAttachments(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		n := open(t, app, tok, map[string]any{"title": "screenshots"})
		app.Must(t, 201, "POST", path(n, "/updates"), tok, map[string]any{"body": "public words", "visibility": "public"})

		// A screenshot on a public update is shown inline to everyone.
		r := upload(t, app, tok, n, "graph.png", pngBytes(40, 20), "update", "1")
		if r.Status != 201 || r.JSON["content_type"] != "image/png" || r.JSON["width"] != 40.0 || r.JSON["visibility"] != "public" {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		url := r.JSON["url"].(string)
		got := app.Request(t, "GET", url, "", nil)
		if got.Status != 200 || got.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(got.Header.Get("Content-Disposition"), "inline") ||
			got.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(got.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("public image: %d %v", got.Status, got.Header)
		}

		// HTML claiming to be a PNG downloads as bytes, sandboxed, under a
		// cleaned name; the upload is internal by default.
		if r := upload(t, app, tok, n, "a\x00b.png", pngBytes(1, 1)); r.Status != 400 {
			t.Fatalf("NUL in the file name: %d", r.Status)
		}
		r = upload(t, app, tok, n, "../../etc/\u202Egnp.lmth.png", []byte("<html><script>alert(1)</script></html>"))
		if r.Status != 201 || r.JSON["visibility"] != "internal" || r.JSON["filename"] != "gnp.lmth.png" {
			t.Fatalf("html upload: %d %s", r.Status, r.Body)
		}
		html := r.JSON["url"].(string)
		got = app.Request(t, "GET", html, tok, nil)
		if got.Header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(got.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("html served as %v", got.Header)
		}
		// Viewers get 404 for internal files, exactly like for missing ones.
		anon, missing := app.Request(t, "GET", html, "", nil), app.Request(t, "GET", "/api/v1/attachments/nonexistent0000000000000000", "", nil)
		if anon.Status != 404 || string(anon.Body) != string(missing.Body) {
			t.Fatalf("anonymous internal file: %d %s vs %s", anon.Status, anon.Body, missing.Body)
		}
		list := app.Request(t, "GET", path(n, "/attachments"), "", nil).JSON["attachments"].([]any)
		if len(list) != 1 {
			t.Fatalf("viewers see %d attachments, want 1", len(list))
		}
		if n := len(app.Must(t, 200, "GET", path(n, "/attachments"), tok, nil).JSON["attachments"].([]any)); n != 2 {
			t.Fatalf("team sees %d attachments", n)
		}
		// Making the update internal hides its file at once.
		app.Must(t, 200, "PATCH", path(n, "/updates/1"), tok, map[string]any{"visibility": "internal"})
		if got := app.Request(t, "GET", url, "", nil); got.Status != 404 {
			t.Fatalf("file of an update made internal: %d", got.Status)
		}

		// Bad uploads.
		big := make([]byte, service.MaxAttachmentBytes+1)
		if r := upload(t, app, tok, n, "big.bin", big); r.Status != 413 {
			t.Fatalf("oversize: %d", r.Status)
		}
		if r := upload(t, app, tok, n, "bomb.png", bombPNG()); r.Status != 400 {
			t.Fatalf("decompression bomb: %d %s", r.Status, r.Body)
		}
		if r := app.Request(t, "POST", path(n, "/attachments"), tok, `{"file":"x"}`); r.Status != 415 {
			t.Fatalf("JSON upload: %d", r.Status)
		}
		if r := upload(t, app, tok, n, "x.png", pngBytes(1, 1), "update", "99"); r.Status != 404 {
			t.Fatalf("unknown update: %d", r.Status)
		}
		if r := upload(t, app, app.Token(t, "ana", auth.ScopeRead), n, "x.png", pngBytes(1, 1)); r.Status != 403 {
			t.Fatalf("read token upload: %d", r.Status)
		}
		if r := upload(t, app, "", n, "x.png", pngBytes(1, 1)); r.Status != 401 {
			t.Fatalf("anonymous upload: %d", r.Status)
		}
	})
}
