package notify

import "net"

// SetResolver points g at a test resolver (a DNS server the test runs on
// loopback), so tests can make names resolve to any address.
func SetResolver(g *Guard, r *net.Resolver) { g.resolver = r }
