package api_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/api"
)

// openAPIFile is the API description, relative to this package.
var openAPIFile = filepath.Join("..", "..", "docs", "openapi.yaml")

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// documentedOperations reads the operations of an OpenAPI document as
// "METHOD /path" strings, without a YAML library (the module has no YAML
// dependency and should not get one for a test). It relies on the layout
// docs/openapi.yaml keeps, which its header comment states:
//
//   - the top-level key `paths:` starts a line on its own;
//   - each path key is indented by exactly two spaces ("  /api/v1/me:");
//   - each operation key is indented by exactly four spaces ("    get:");
//   - the paths section ends at the next line that starts without
//     indentation (the next top-level key).
//
// Other keys at four spaces (parameters, summary, …) are not methods and are
// skipped. A duplicated operation is reported as an error.
func documentedOperations(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open the API description: %v", err)
	}
	defer f.Close()
	var ops []string
	inPaths, path := false, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(trimmed)
		if indent == 0 {
			inPaths, path = line == "paths:", ""
			continue
		}
		if !inPaths || !strings.HasSuffix(trimmed, ":") {
			continue
		}
		key := strings.TrimSuffix(trimmed, ":")
		switch indent {
		case 2:
			key = strings.Trim(key, `"'`)
			if !strings.HasPrefix(key, "/") {
				t.Errorf("%s:%d: path key %q does not start with /", file, n, key)
			}
			path = key
		case 4:
			if !slices.Contains(httpMethods, key) {
				continue
			}
			if path == "" {
				t.Errorf("%s:%d: operation %q outside a path", file, n, key)
				continue
			}
			op := strings.ToUpper(key) + " " + path
			if slices.Contains(ops, op) {
				t.Errorf("%s:%d: %s documented twice", file, n, op)
			}
			ops = append(ops, op)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read the API description: %v", err)
	}
	return ops
}

// routeOperation turns a ServeMux pattern ("GET /api/v1/incidents/{number}")
// into the "METHOD /path" form of documentedOperations; "{rest...}"
// wildcards become "{rest}" as OpenAPI spells them.
func routeOperation(t *testing.T, pattern string) string {
	t.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		t.Errorf("route %q has no method and path; the API description needs both", pattern)
		return pattern
	}
	return method + " " + strings.ReplaceAll(path, "...}", "}")
}

// TestOpenAPICoversRoutes keeps docs/openapi.yaml and the route table in
// step: every route is documented with the same method and path, and every
// documented /api/v1 operation is served. (/healthz, /readyz and /metrics
// are documented too but served by package server, not by Routes.)
func TestOpenAPICoversRoutes(t *testing.T) {
	documented := documentedOperations(t, openAPIFile)
	if len(documented) == 0 {
		t.Fatalf("%s: no operations found under paths: (is the layout still two spaces per path, four per method?)", openAPIFile)
	}
	var served []string
	for _, rt := range api.New(nil, nil, "").Routes() {
		served = append(served, routeOperation(t, rt.Pattern))
	}
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("route %s is missing from %s", op, openAPIFile)
		}
	}
	for _, op := range documented {
		_, path, _ := strings.Cut(op, " ")
		if strings.HasPrefix(path, "/api/v1/") && !slices.Contains(served, op) {
			t.Errorf("%s documents %s, which Routes() does not serve", openAPIFile, op)
		}
	}
}
