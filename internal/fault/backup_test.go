package fault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"maps"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// quench backup while webhooks arrive and incidents change: the backup,
// restored into a fresh folder with quench restore, passes SQLite's
// integrity check and holds every alert, incident, transition, update and
// attachment acknowledged before the backup started; a server starts on
// it and serves the attachment byte for byte.
func TestBackupUnderLoad(t *testing.T) {
	in := setup(t, sqliteAt(filepath.Join(t.TempDir(), "data")))
	s := in.start(t)
	l := newLedger(fmt.Sprintf("backup%d", time.Now().UnixNano()%1e6))

	// An attachment (a screenshot) on an incident, acknowledged before
	// the backup.
	c := newClient(4)
	ctx := context.Background()
	r := do(ctx, c, "POST", s.url+"/api/v1/incidents", in.apiToken, []byte(`{"title": "backup: screenshot", "severity": "minor"}`))
	l.trackIncident(t, r)
	var inc struct {
		Number int64 `json:"number"`
	}
	json.Unmarshal(r.body, &inc)
	shot := screenshot(t)
	att := uploadFile(t, c, s.url, in.apiToken, inc.Number, "graph.png", shot)

	ld := in.startLoad(l, s, 4, 2)
	// Let the load get going: the backup must start behind acknowledged
	// work of every kind. The bound only catches a hang.
	// 200s are intake and transitions, 201s incidents and updates.
	for deadline := time.Now().Add(readyDeadline); l.count(http.StatusOK) < 20 || l.count(http.StatusCreated) < 20; {
		if time.Now().After(deadline) {
			ld.stop()
			t.Fatalf("the load got too few acknowledgements: %s", l.summary())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What was acknowledged up to here must be in the backup; what is
	// acknowledged while it runs may be.
	before := l.snapshot()
	dest := filepath.Join(t.TempDir(), "quench-backup.db")
	out := in.cli(t, nil, "backup", dest)
	during := l.acks() - before.acks()
	ld.stop()
	s.kill(t)
	s.checkLog(t)
	l.checkUnexpected(t)
	t.Logf("backup: %s(%d requests acknowledged while it ran)\n%s", out, during, before.summary())

	restored := &instance{db: sqliteAt(filepath.Join(t.TempDir(), "restored")), dir: t.TempDir(),
		integration: in.integration, intakeToken: in.intakeToken, apiToken: in.apiToken}
	restored.env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + restored.dir, "TZ=UTC", "QUENCH_LOG_FORMAT=json"},
		restored.db.env()...)
	if out := restored.cli(t, nil, "restore", dest); !strings.Contains(out, "restored:") {
		t.Fatalf("quench restore: %s", out)
	}
	// verify runs PRAGMA integrity_check and foreign_key_check first.
	restored.verify(t, before)

	rs := restored.start(t)
	got := do(ctx, c, "GET", rs.url+"/api/v1/attachments/"+att, in.apiToken, nil)
	if got.status != http.StatusOK || !bytes.Equal(got.body, shot) {
		t.Errorf("restored attachment: %d, %d bytes (want %d)", got.status, len(got.body), len(shot))
	}
	rs.kill(t)
	rs.checkLog(t)
}

// snapshot copies what has been acknowledged so far. A restored backup
// may hold more (what was acknowledged while the backup ran), so its
// incidents may be in any later phase.
func (l *ledger) snapshot() *ledger {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := newLedger(l.run)
	for _, d := range l.deliveries {
		if d.acked {
			c := *d
			s.deliveries = append(s.deliveries, &c)
			s.ackedAlerts += len(d.fps)
		}
	}
	for n, tr := range l.incidents {
		s.incidents[n] = &tracked{acked: tr.acked, pending: len(phases) - 1 - tr.acked}
	}
	maps.Copy(s.updates, l.updates)
	maps.Copy(s.statuses, l.statuses)
	return s
}

// screenshot is a small PNG with random pixels, so its bytes are unique.
func screenshot(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	rand.Read(img.Pix)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadFile attaches data to incident n and returns the attachment's id.
func uploadFile(t testing.TB, c *http.Client, base, token string, n int64, name string, data []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/incidents/%d/attachments", base, n), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusCreated || a.ID == "" {
		t.Fatalf("upload: %d %v", resp.StatusCode, err)
	}
	if sum := sha256.Sum256(data); a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("upload: sha256 %s", a.SHA256)
	}
	return a.ID
}
