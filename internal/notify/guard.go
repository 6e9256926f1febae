package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Guard keeps outbound requests (webhooks, Slack) away from the machine
// Quench runs on and its private network: an admin who may add a channel
// must not be able to make Quench fetch http://169.254.169.254/ or an
// internal admin port for them (server-side request forgery). It checks a
// URL when a channel is saved and again on every connection, on the
// address actually dialled, so DNS answers that change between the two
// (rebinding) and redirects to private addresses are caught too.
type Guard struct {
	hosts    []string
	prefixes []netip.Prefix
	resolver *net.Resolver
}

// ErrBlocked is the cause of every refused address.
var ErrBlocked = errors.New("blocked address")

// NewGuard returns a guard that refuses loopback, link-local, private,
// unique-local, multicast and unspecified addresses unless allow (host
// names or CIDRs/IPs, as in QUENCH_OUTBOUND_ALLOW) names them.
func NewGuard(allow []string) (*Guard, error) {
	g := &Guard{resolver: net.DefaultResolver}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if p, err := netip.ParsePrefix(a); err == nil {
			// Addresses are compared unmapped, so an IPv4-mapped prefix
			// (::ffff:10.0.0.0/104) must become its IPv4 form to match.
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			g.prefixes = append(g.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
			g.prefixes = append(g.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if strings.ContainsAny(a, "/:@ ") {
			return nil, fmt.Errorf("outbound allowlist entry %q is neither a host name nor a CIDR", a)
		}
		g.hosts = append(g.hosts, strings.ToLower(strings.TrimSuffix(a, ".")))
	}
	return g, nil
}

func (g *Guard) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range g.hosts {
		if h == host {
			return true
		}
	}
	return false
}

// addrAllowed reports whether ip may be dialled.
func (g *Guard) addrAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return public(ip)
}

// public reports whether ip is a globally routable unicast address.
func public(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublic adds the special-purpose ranges the netip predicates leave out.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 can reach IPv4 private space
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4 embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated): ::127.0.0.1
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
}

// CheckURL is the check at save time: an absolute http(s) URL without
// credentials whose host resolves only to allowed addresses.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: want an absolute http or https URL", ErrBlocked)
	}
	if u.User != nil {
		return fmt.Errorf("%w: the URL must not carry a user name or password", ErrBlocked)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: want an absolute http or https URL", ErrBlocked)
	}
	if g.hostAllowed(host) {
		return nil
	}
	_, err = g.resolve(ctx, host)
	return err
}

// resolve returns host's addresses, refusing the lot if any is not allowed:
// a name that answers with one public and one private address would let a
// later connection pick the private one.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if ip.Zone() != "" {
			// A zone names a local interface: only link-local
			// addresses need one, and those are refused anyway.
			return nil, fmt.Errorf("%w: %s (addresses with a zone are not allowed)", ErrBlocked, ip)
		}
		if !g.addrAllowed(ip) {
			return nil, fmt.Errorf("%w: %s", ErrBlocked, ip.Unmap())
		}
		return []netip.Addr{ip}, nil
	}
	if numericHost(host) {
		return nil, fmt.Errorf("%w: %s is a number, not a host name; write an address as a dotted quad", ErrBlocked, host)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("cannot resolve %s: no addresses", host)
	}
	for _, ip := range ips {
		if !g.addrAllowed(ip) {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrBlocked, host, ip.Unmap())
		}
	}
	return ips, nil
}

// numericHost reports whether host is an IPv4 address in one of the
// legacy forms that browsers and C resolvers (inet_aton) accept but
// netip does not: "2130706433", "0x7f.1", "0177.0.0.1", "127.1". A host
// whose last label is a number is never a DNS name (WHATWG URL "ends in a
// number"), so such a host is refused rather than resolved: whoever reads
// it next (a resolver library, a proxy) might take it for 127.0.0.1.
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if l := strings.ToLower(last); strings.HasPrefix(l, "0x") {
		return strings.Trim(l[2:], "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// DialContext dials only checked addresses. It resolves the name itself
// and connects to the address it checked, so nothing can swap the answer
// in between.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Resolver: g.resolver}
	if g.hostAllowed(host) {
		// The admin named this host: any address it resolves to will do.
		return d.DialContext(ctx, network, addr)
	}
	ips, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// Client returns an HTTP client whose every connection goes through the
// guard, with a timeout per request. It follows no redirects: a receiver
// that moved says so with a 3xx, which fails the message visibly instead
// of sending it somewhere nobody configured.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	t := &http.Transport{
		DialContext:       g.DialContext,
		Proxy:             nil, // a proxy would dial on our behalf, unchecked
		ForceAttemptHTTP2: true,
		MaxIdleConns:      256,
		// As many as the outbox sends to one channel at once
		// (jobs.Outbox.PerChannel): fewer closes the rest after each
		// message, and a busy channel dials for every one.
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: t, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
