package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The systemd unit and its credentials drop-in pass systemd-analyze
// verify without a word (a misspelt or misplaced setting is a warning
// there, not an error, so any output fails the test), and its exposure
// score from systemd-analyze security stays at 2.0 or below ("OK"). It
// runs on copies whose ExecStart is the static binary the image ships:
// verify checks that the program exists and is executable.
func TestSystemdUnit(t *testing.T) {
	_, err := exec.LookPath("systemd-analyze")
	need(t, err == nil, "systemd-analyze is not installed")
	src := filepath.Join(repoRoot(t), "deploy", "systemd")
	bin := filepath.Join(imageRoot(t), "rootfs", "quench")
	dir := t.TempDir()
	unit, err := os.ReadFile(filepath.Join(src, "quench.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/quench serve")) {
		t.Fatal("quench.service no longer starts /usr/local/bin/quench serve: update this test")
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=quench", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"PrivateTmp=yes", "ProtectHome=yes", "RestrictAddressFamilies=", "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n",
		"EnvironmentFile=", "QUENCH_DATA_DIR=%S/quench"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("quench.service lacks %q", strings.TrimSpace(want))
		}
	}
	unit = bytes.ReplaceAll(unit, []byte("/usr/local/bin/quench"), []byte(bin))
	write(t, filepath.Join(dir, "quench.service"), unit)

	verify := func(what string) {
		t.Helper()
		out, err := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "quench.service")).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", what, err, out)
		}
		out, err = exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", filepath.Join(dir, "quench.service")).CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Errorf("systemd-analyze security %s: exposure above 2.0: %v\n%s", what, err, lines[len(lines)-1])
		}
	}
	verify("quench.service")

	// With the credentials drop-in: each secret a LoadCredential and a
	// _FILE setting pointing into the credentials directory.
	dropin, err := os.ReadFile(filepath.Join(src, "quench.service.d", "credentials.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(dropin), "\n") {
		if id, ok := strings.CutPrefix(line, "LoadCredential="); ok {
			id, _, _ = strings.Cut(id, ":")
			if !strings.Contains(string(dropin), "_FILE=%d/"+id+"\n") {
				t.Errorf("credential %s is loaded but no _FILE setting reads %%d/%s", id, id)
			}
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "quench.service.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "quench.service.d", "credentials.conf"), dropin)
	verify("quench.service with credentials.conf")

	// The check can fail: a misspelt setting is reported.
	write(t, filepath.Join(dir, "quench.service.d", "typo.conf"), []byte("[Service]\nProtectSytem=strict\n"))
	if out, _ := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "quench.service")).CombinedOutput(); !bytes.Contains(out, []byte("ProtectSytem")) {
		t.Errorf("systemd-analyze verify did not report a misspelt setting: %s", out)
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
