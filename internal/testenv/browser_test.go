package testenv

import (
	"bytes"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// harnessJS is /harness.js: the button, plus buttons that make each kind of
// problem the browser helpers must notice.
const harnessJS = `'use strict';
const status = document.getElementById('status');
document.getElementById('go').addEventListener('click', () => { status.textContent = 'clicked'; });
const on = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener('click', fn); };
on('console-error', () => console.error('deliberate console error'));
on('throw', () => setTimeout(() => { throw new Error('deliberate uncaught exception'); }));
on('fetch-missing', () => fetch('/no-such-thing').catch(() => {}));
on('fetch-abort', () => fetch('/harness-abort').catch(() => {}));
`

func harnessPage(extraHead, body string) string {
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Quench harness check</title>
<script src="/harness.js" defer></script>
` + extraHead + `
</head><body>
<h1>Harness</h1>
<p id="status">waiting</p>
<button id="go" type="button">Go</button>
<button id="console-error" type="button">console error</button>
<button id="throw" type="button">throw</button>
<button id="fetch-missing" type="button">fetch 404</button>
<button id="fetch-abort" type="button">fetch aborted</button>
<div id="out">` + body + `</div>
</body></html>
`
}

// harnessServer serves the pages tests/browser/smoke.test.mjs expects, on
// 127.0.0.1.
func harnessServer(t *testing.T) *httptest.Server {
	t.Helper()
	const csp = "default-src 'self'"
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, withCSP bool, doc string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if withCSP {
			w.Header().Set("Content-Security-Policy", csp)
		}
		fmt.Fprint(w, doc)
	}
	// The inline script violates the CSP; were it to run anyway, it would
	// trip the XSS canary.
	mux.HandleFunc("GET /harness-check", func(w http.ResponseWriter, r *http.Request) {
		page(w, true, harnessPage(`<script>window.__xss.push('inline script ran despite the CSP')</script>`, ""))
	})
	mux.HandleFunc("GET /harness-clean", func(w http.ResponseWriter, r *http.Request) {
		page(w, true, harnessPage("", ""))
	})
	// Deliberately vulnerable and without CSP: ?echo= goes into the page
	// through innerHTML, for the XSS detector's own test.
	mux.HandleFunc("GET /harness-open", func(w http.ResponseWriter, r *http.Request) {
		page(w, false, harnessPage(`<script src="/harness-echo.js" defer></script>`, ""))
	})
	mux.HandleFunc("GET /harness-echo.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.getElementById('out').innerHTML = new URLSearchParams(location.search).get('echo') || '';`)
	})
	mux.HandleFunc("GET /harness.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, harnessJS)
	})
	mux.HandleFunc("GET /harness-abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // drops the connection: a failed request
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: "+html.EscapeString(r.URL.Path), http.StatusNotFound)
	})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserHarness proves the browser-test harness: Chromium loads a
// page, a click works, and the problem detectors fire (including on a
// deliberate CSP violation), see tests/browser/smoke.test.mjs.
func TestBrowserHarness(t *testing.T) {
	srv := harnessServer(t)
	data := map[string]string{"user": "harness", "password": `p "w" \ ü ✓`, "token": "qt_harness"}
	RunBrowserTests(t, srv.URL, data, "smoke.test.mjs")
}

// TestBrowserHarnessReportsFailures runs tests that must fail and checks
// that the runner says so, saves screenshots, goes on after a hung test,
// and fails a test whose page has problems even if it never checked.
func TestBrowserHarnessReportsFailures(t *testing.T) {
	srv := harnessServer(t)
	dir := t.TempDir()
	lib := (&url.URL{Scheme: "file", Path: filepath.Join(repoRoot(t), "tests", "browser", "lib.mjs")}).String()
	file := filepath.Join(dir, "failing.test.mjs")
	src := `import { expect } from ` + fmt.Sprintf("%q", lib) + `;
export const tests = [
  { name: 'fails on purpose', async fn({ page, url }) { await page.goto(url('/harness-clean')); expect(1, 'one').toBe(2); } },
  { name: 'hangs', timeout: 1500, async fn({ page, url }) { await page.goto(url('/harness-clean')); await new Promise(() => {}); } },
  { name: 'unchecked CSP violation', async fn({ page, url }) { await page.goto(url('/harness-check')); } },
  { name: 'passes', async fn({ page, url }) { await page.goto(url('/harness-clean')); } },
];
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	res := runBrowser(t, browserRun{baseURL: srv.URL, files: []string{file}, env: []string{"QUENCH_TEST_RESULTS=" + results}})
	if res.err == nil {
		t.Fatal("run.mjs exited 0 with failing tests")
	}
	out := strings.Join(res.lines, "\n")
	for _, want := range []string{
		"› fails on purpose: expected one (1) to be 2",
		"› hangs: test timed out after 1500 ms",
		"› unchecked CSP violation: page " + srv.URL + "/harness-check is not clean",
		"ok   " + file + " › passes",
		"browser: 1 passed, 3 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	shots, _ := filepath.Glob(filepath.Join(results, "*.png"))
	if len(shots) != 3 {
		t.Errorf("want 3 failure screenshots in %s, got %v", results, shots)
	}
	for _, s := range shots {
		b, err := os.ReadFile(s)
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
			t.Errorf("%s is not a real PNG (%d bytes, %v)", s, len(b), err)
		}
	}
}

// TestBrowserHarnessStop stops runs in the middle of a test, as a timeout
// or the end of the Go test would, and checks that node and Chromium are
// gone afterwards: once when run.mjs can close Chromium itself (SIGTERM),
// once when node is stuck and everything must be killed.
func TestBrowserHarnessStop(t *testing.T) {
	srv := harnessServer(t)
	lib := (&url.URL{Scheme: "file", Path: filepath.Join(repoRoot(t), "tests", "browser", "lib.mjs")}).String()
	for _, tc := range []struct{ name, hang string }{
		{"SIGTERM", "await new Promise(() => {});"},
		{"SIGKILL", "for (;;) {} // node is stuck: its SIGTERM handler never runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "hang.test.mjs")
			src := `import { expectText } from ` + fmt.Sprintf("%q", lib) + `;
export default async function ({ page, url, log }) {
  await page.goto(url('/harness-clean'));
  await expectText(page.locator('#status'), 'waiting');
  log('READY-TO-STOP');
  ` + tc.hang + `
}
`
			if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res := runBrowser(t, browserRun{baseURL: srv.URL, files: []string{file}, stopOn: "READY-TO-STOP", grace: time.Second})
			if !res.stopped {
				t.Fatalf("the run ended by itself: %v", res.err)
			}
			if res.err == nil {
				t.Error("a stopped run reported success")
			}
			if len(res.leftovers) > 0 {
				t.Errorf("processes %v survived the stop", res.leftovers)
			}
			if _, err := os.Stat("/proc/self/stat"); err == nil && res.treeSize < 2 {
				t.Errorf("the stop saw %d processes under node; Chromium should have been among them", res.treeSize)
			}
			t.Logf("stopped in %s (%v); %d processes under node", time.Since(start).Round(10*time.Millisecond), res.err, res.treeSize)
		})
	}
}
