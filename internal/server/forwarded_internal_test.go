package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestForwardedClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.0.2.7/32")}
	cases := []struct {
		name string
		peer string
		xff  []string
		want string // "" keeps the peer
	}{
		{"untrusted peer", "203.0.113.5:4000", []string{"198.51.100.1"}, ""},
		{"trusted peer, no header", "10.0.0.2:4000", nil, ""},
		{"one hop", "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written entries left of the client are ignored", "10.0.0.2:4000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops skipped", "10.0.0.2:4000", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9, 192.0.2.7"}, "198.51.100.1"},
		{"several header lines are one list", "10.0.0.2:4000", []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"every hop trusted: the leftmost", "10.0.0.2:4000", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"malformed on the walk keeps the peer", "10.0.0.2:4000", []string{"198.51.100.1, bogus"}, ""},
		{"empty entry keeps the peer", "10.0.0.2:4000", []string{"198.51.100.1, "}, ""},
		{"malformed beyond the client is not read", "10.0.0.2:4000", []string{"bogus, 198.51.100.1"}, "198.51.100.1"},
		{"entry with a port", "10.0.0.2:4000", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"IPv6 entry with a port", "[fd00::1]:4000", []string{"[2001:db8::9]:5555"}, "2001:db8::9"},
		{"IPv6 peer and client", "[fd00::1]:4000", []string{"2001:db8::9, fd00::2"}, "2001:db8::9"},
		{"IPv4-mapped peer and entry", "[::ffff:10.0.0.2]:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"peer without a port", "10.0.0.2", []string{"198.51.100.1"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := forwardedClient(trusted, r)
			switch {
			case c.want == "" && ok:
				t.Fatalf("took %s, want the peer", got)
			case c.want != "" && (!ok || got.String() != c.want):
				t.Fatalf("got %v %v, want %s", got, ok, c.want)
			}
		})
	}
}
