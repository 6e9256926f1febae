package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddress puts the client's address in r.RemoteAddr when Quench sits
// behind trusted proxies: otherwise every request would come from the load
// balancer, and the sign-in throttle would lock everyone out at once while
// the audit log and the sessions list named nobody. It is the one place
// the address is decided; the throttle, the audit log, sessions and the
// access log all read r.RemoteAddr after it.
//
// X-Forwarded-For counts only when the TCP peer is a trusted proxy, since
// anyone else can send any header. Its list is read from the right, the
// end our own proxies appended to, skipping trusted hops; the first
// address that is not a trusted proxy is the client. Entries further left
// were written by the client itself and are ignored. A malformed entry on
// that walk leaves the peer as the client: a proxy that garbles the header
// is not to be believed about the rest of it.
func clientAddress(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := forwardedClient(trusted, r); ok {
			r = r.WithContext(r.Context()) // a copy: handlers do not change their request
			r.RemoteAddr = c.String()
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedClient returns the client named by a trusted peer's
// X-Forwarded-For, or false to keep the peer.
func forwardedClient(trusted []netip.Prefix, r *http.Request) (netip.Addr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !isTrusted(trusted, peer.Addr().Unmap()) {
		return netip.Addr{}, false
	}
	values := r.Header.Values("X-Forwarded-For")
	if len(values) == 0 {
		return netip.Addr{}, false
	}
	// Several header lines form one list, in order.
	hops := strings.Split(strings.Join(values, ","), ",")
	var client netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return netip.Addr{}, false
		}
		client = a
		if !isTrusted(trusted, a) {
			break
		}
	}
	// When every hop is a trusted proxy, the leftmost one is where the
	// request began.
	return client, true
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711") as some proxies write it.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap(), true
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
