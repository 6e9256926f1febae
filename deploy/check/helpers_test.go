package check

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the Quench repository, two folders up.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "deploy", "kubernetes")); err != nil {
		t.Fatalf("no deploy/kubernetes in %s", dir)
	}
	return dir
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
