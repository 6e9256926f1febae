package notify_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/notify"
)

// blockedURLs are the server-side request forgery targets of reliability
// catalogue B12, plus the neighbours an attacker tries next. Names end in
// .quench.test and resolve through the test's own DNS server.
var blockedURLs = []struct{ name, url string }{
	{"cloud metadata", "http://169.254.169.254/latest/meta-data/"},
	{"loopback", "http://127.0.0.1:8080/admin"},
	{"loopback /8", "http://127.4.5.6/"},
	{"IPv6 loopback", "http://[::1]/"},
	{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/"},
	{"IPv4-mapped loopback, hex", "http://[::ffff:7f00:1]/"},
	{"IPv4-compatible loopback", "http://[::127.0.0.1]/"},
	{"NAT64 loopback", "http://[64:ff9b::7f00:1]/"},
	{"unspecified", "http://0.0.0.0/"},
	{"unspecified IPv6", "http://[::]/"},
	{"this network", "http://0.1.2.3/"},
	{"10/8", "http://10.1.2.3/"},
	{"172.16/12 low", "http://172.16.0.1/"},
	{"172.16/12 high", "http://172.31.255.254/"},
	{"192.168/16", "http://192.168.1.1/"},
	{"carrier-grade NAT", "http://100.64.0.1/"},
	{"link-local IPv6", "http://[fe80::1]/"},
	{"link-local IPv6 with zone", "http://[fe80::1%25eth0]/"},
	{"unique local fd00::/8", "http://[fd00::1]/"},
	{"unique local fc00::/7", "http://[fc00::1]/"},
	{"multicast", "http://224.0.0.1/"},
	{"broadcast", "http://255.255.255.255/"},
	{"decimal", "http://2130706433/"},
	{"hex", "http://0x7f000001/"},
	{"octal", "http://0177.0.0.1/"},
	{"short", "http://127.1/"},
	{"localhost", "http://localhost:9000/"},
	{"name resolving to 10/8", "http://private.quench.test/hook"},
	{"name resolving to fd00::/8", "http://ula.quench.test/hook"},
	{"name resolving public and private", "http://mixed.quench.test/hook"},
	{"file", "file:///etc/passwd"},
	{"gopher", "gopher://127.0.0.1:70/_x"},
	{"ftp", "ftp://files.quench.test/"},
	{"javascript", "javascript:alert(1)"},
	{"user and password", "https://user:pass@hooks.quench.test/x"},
	{"user only", "https://user@hooks.quench.test/x"},
	{"relative", "/hooks/x"},
	{"protocol-relative", "//hooks.quench.test/x"},
	{"opaque", "http:hooks.quench.test"},
	{"no host", "http:///x"},
	{"empty host with port", "http://:80/x"},
	{"empty", ""},
}

func testDNS(t *testing.T) *dnsServer {
	dns := startDNS(t)
	dns.set("hooks.quench.test", "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
	dns.set("files.quench.test", "93.184.216.34")
	dns.set("private.quench.test", "10.0.0.5")
	dns.set("ula.quench.test", "fd00::5")
	dns.set("mixed.quench.test", "93.184.216.34", "192.168.0.7")
	return dns
}

func TestCheckURLRefusesPrivateTargets(t *testing.T) {
	g := testDNS(t).guard(t)
	for _, tt := range blockedURLs {
		err := g.CheckURL(context.Background(), tt.url)
		if !errors.Is(err, notify.ErrBlocked) {
			t.Errorf("%s: CheckURL(%q) = %v, want ErrBlocked", tt.name, tt.url, err)
		}
	}
}

func TestCheckURLAcceptsPublicTargets(t *testing.T) {
	g := testDNS(t).guard(t)
	for _, u := range []string{
		"https://hooks.quench.test/services/T0/B0/secret",
		"https://HOOKS.quench.test./x",
		"http://93.184.216.34:8080/x",
		"https://[2606:2800:220:1:248:1893:25c8:1946]/x",
	} {
		if err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
}

func TestCheckURLUnknownNameIsNotBlocked(t *testing.T) {
	// A name that does not resolve is an error, but not a refused
	// address: the admin mistyped, nobody attacked.
	g := testDNS(t).guard(t)
	err := g.CheckURL(context.Background(), "https://nowhere.quench.test/x")
	if err == nil || errors.Is(err, notify.ErrBlocked) {
		t.Fatalf("CheckURL = %v, want a resolution error", err)
	}
}

// dialTarget turns a blocked URL into the host:port the transport would
// dial, or "" for URLs that never get that far.
func dialTarget(raw string) string {
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	if host == "" || strings.Contains(host, "@") || strings.HasPrefix(host, ":") {
		return ""
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	return strings.Replace(host, "%25", "%", 1)
}

func TestDialRefusesPrivateTargets(t *testing.T) {
	// The check at connect time stands on its own: a URL saved before the
	// DNS answer changed, or a redirect, reaches DialContext directly.
	g := testDNS(t).guard(t)
	n := 0
	for _, tt := range blockedURLs {
		addr := dialTarget(tt.url)
		if addr == "" {
			continue
		}
		n++
		c, err := g.DialContext(context.Background(), "tcp", addr)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, notify.ErrBlocked) {
			t.Errorf("%s: DialContext(%q) = %v, want ErrBlocked", tt.name, addr, err)
		}
	}
	if n < 25 {
		t.Fatalf("only %d targets dialled", n)
	}
}

// acceptsNothing starts a listener on addr and returns a function that
// fails the test if any connection other than the test's own probe
// reached it: the probe is accepted first only if nothing came before.
func acceptsNothing(t *testing.T, network, addr string) (string, func()) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), func() {
		t.Helper()
		probe, err := net.Dial(network, l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer probe.Close()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.RemoteAddr().String() != probe.LocalAddr().String() {
			t.Errorf("listener %s accepted a connection from %s before the probe", addr, c.RemoteAddr())
		}
	}
}

func TestDialRefusesLoopbackBeforeConnecting(t *testing.T) {
	g := testDNS(t).guard(t)
	for _, tt := range []struct{ network, listen, dialHost string }{
		{"tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"tcp4", "127.0.0.1:0", "::ffff:127.0.0.1"},
		{"tcp4", "127.0.0.1:0", "localhost"},
		{"tcp6", "[::1]:0", "::1"},
	} {
		addr, check := acceptsNothing(t, tt.network, tt.listen)
		_, port, _ := net.SplitHostPort(addr)
		c, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort(tt.dialHost, port))
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, notify.ErrBlocked) {
			t.Errorf("DialContext(%s) = %v, want ErrBlocked", tt.dialHost, err)
		}
		check()
	}
}

func TestPostToLoopbackIsBlocked(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	g := testDNS(t).guard(t)
	target := srv.URL + "/services/T0/B0/s3cr3t-path"
	retryable, err := notify.Post(context.Background(), g.Client(5*time.Second), target, "application/json", nil, []byte("{}"))
	if retryable || !errors.Is(err, notify.ErrBlocked) {
		t.Fatalf("Post = %v, %v; want not retryable, ErrBlocked", retryable, err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error reveals the URL path: %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("server got %d requests", hits.Load())
	}
}

func TestAllowlistLetsLoopbackThrough(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	dns := testDNS(t)
	dns.set("sink.quench.test", "127.0.0.1")

	for _, tt := range []struct {
		allow []string
		url   string
	}{
		{[]string{"127.0.0.1"}, srv.URL},
		{[]string{"127.0.0.0/8"}, srv.URL},
		{[]string{"::ffff:127.0.0.0/104"}, srv.URL},
		{[]string{" localhost "}, "http://localhost:" + port},
		{[]string{"LOCALHOST."}, "http://localhost:" + port},
		{[]string{"127.0.0.1/32"}, "http://sink.quench.test:" + port},
		{[]string{"sink.quench.test"}, "http://sink.quench.test:" + port},
	} {
		g := dns.guard(t, tt.allow...)
		if err := g.CheckURL(context.Background(), tt.url); err != nil {
			t.Errorf("allow %q: CheckURL(%s) = %v", tt.allow, tt.url, err)
			continue
		}
		before := hits.Load()
		retryable, err := notify.Post(context.Background(), g.Client(5*time.Second), tt.url+"/x", "application/json", nil, []byte("{}"))
		if err != nil || retryable {
			t.Errorf("allow %q: Post(%s) = %v, %v", tt.allow, tt.url, retryable, err)
		}
		if hits.Load() != before+1 {
			t.Errorf("allow %q: the sink saw no request", tt.allow)
		}
	}
}

func TestAllowlistIsNarrow(t *testing.T) {
	// Naming one address or host allows that one only.
	dns := testDNS(t)
	dns.set("sink.quench.test", "127.0.0.1")
	dns.set("sub.sink.quench.test", "10.0.0.9")
	for _, tt := range []struct {
		allow []string
		url   string
	}{
		{[]string{"127.0.0.1"}, "http://127.0.0.2/"},
		{[]string{"127.0.0.1"}, "http://[::1]/"},
		{[]string{"127.0.0.1"}, "http://169.254.169.254/"},
		{[]string{"10.0.0.0/8"}, "http://192.168.0.1/"},
		{[]string{"localhost"}, "http://sink.quench.test/"},
		{[]string{"sink.quench.test"}, "http://localhost/"},
		{[]string{"sink.quench.test"}, "http://sub.sink.quench.test/"},
	} {
		g := dns.guard(t, tt.allow...)
		if err := g.CheckURL(context.Background(), tt.url); !errors.Is(err, notify.ErrBlocked) {
			t.Errorf("allow %q: CheckURL(%s) = %v, want ErrBlocked", tt.allow, tt.url, err)
		}
	}
}

func TestAllowlistRejectsGarbage(t *testing.T) {
	for _, a := range []string{"localhost:8080", "http://localhost", "user@host", "10.0.0.0/33", "a b"} {
		if _, err := notify.NewGuard([]string{a}); err == nil {
			t.Errorf("NewGuard(%q) accepted", a)
		}
	}
	if _, err := notify.NewGuard([]string{"", " ", "hooks.example.com", "10.0.0.0/8", "::1", "[::1]"}); err != nil {
		t.Errorf("NewGuard: %v", err)
	}
}

func TestRedirectToPrivateAddressIsNotFollowed(t *testing.T) {
	// The private target: 127.0.0.2, outside the allowlist.
	var privateHits atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	private := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { privateHits.Add(1) }))
	private.Listener.Close()
	private.Listener = l
	private.Start()
	defer private.Close()

	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, private.URL+"/internal", http.StatusFound)
	}))
	defer public.Close()

	g := testDNS(t).guard(t, "127.0.0.1/32")

	// Quench's own client follows no redirect at all: a 3xx fails the
	// message for good, telling the admin to configure the final URL.
	retryable, err := notify.Post(context.Background(), g.Client(5*time.Second), public.URL+"/hook", "application/json", nil, []byte("{}"))
	if retryable || err == nil || !strings.Contains(err.Error(), "HTTP 302") {
		t.Fatalf("Post = %v, %v; want a permanent 302 failure", retryable, err)
	}

	// A client that does follow redirects over the guard's transport is
	// still stopped when it connects to the private address.
	follows := &http.Client{Transport: g.Client(5 * time.Second).Transport}
	retryable, err = notify.Post(context.Background(), follows, public.URL+"/hook", "application/json", nil, []byte("{}"))
	if retryable || !errors.Is(err, notify.ErrBlocked) {
		t.Fatalf("Post following redirects = %v, %v; want ErrBlocked", retryable, err)
	}
	if privateHits.Load() != 0 {
		t.Errorf("private server got %d requests", privateHits.Load())
	}
}

func TestDNSRebindingIsCaughtAtConnect(t *testing.T) {
	// The name is public when the channel is saved, private when the
	// message goes out: the dialler checks the address it connects to.
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	dns := startDNS(t)
	g := dns.guard(t)
	target := "http://rebind.quench.test:" + port + "/hook"

	dns.set("rebind.quench.test", "93.184.216.34")
	if err := g.CheckURL(context.Background(), target); err != nil {
		t.Fatalf("CheckURL while public: %v", err)
	}
	dns.set("rebind.quench.test", "127.0.0.1")
	retryable, err := notify.Post(context.Background(), g.Client(5*time.Second), target, "application/json", nil, []byte("{}"))
	if retryable || !errors.Is(err, notify.ErrBlocked) {
		t.Fatalf("Post after rebinding = %v, %v; want ErrBlocked", retryable, err)
	}
	if hits.Load() != 0 {
		t.Errorf("server got %d requests", hits.Load())
	}
}
