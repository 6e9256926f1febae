package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// assets serves the embedded static files under content-hashed paths
// (/static/<hash>/app.css), so browsers may cache them for a year and a new
// release is never served stale.
type assets struct {
	byName map[string]string // app.css → /static/3f2a…/app.css
	files  map[string][]byte // hashed path → content
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]string{}, files: map[string][]byte{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		hashed := "/static/" + hex.EncodeToString(sum[:6]) + "/" + name
		a.byName[name], a.files[hashed] = hashed, b
		return nil
	})
	return a, err
}

// path returns the hashed URL of an asset; templates fail at parse time
// (through the first render in tests) if the asset does not exist.
func (a *assets) path(name string) (string, error) {
	p, ok := a.byName[name]
	if !ok {
		return "", fmt.Errorf("no asset %q", name)
	}
	return p, nil
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	b, ok := a.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(r.URL.Path))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
}
