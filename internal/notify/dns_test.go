package notify_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/quenchhq/quench/internal/notify"
)

// dnsServer is a tiny authoritative DNS server on 127.0.0.1 that answers
// A and AAAA questions from a table the test changes at will: enough to
// make a name resolve to a private address, or to a public one first and
// a private one next (rebinding). Unknown names get NXDOMAIN.
type dnsServer struct {
	conn net.PacketConn
	mu   sync.Mutex
	zone map[string][]netip.Addr
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: c, zone: map[string][]netip.Addr{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := s.answer(buf[:n]); resp != nil {
				c.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

// set makes name (no trailing dot) resolve to addrs.
func (s *dnsServer) set(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ips []netip.Addr
	for _, a := range addrs {
		ips = append(ips, netip.MustParseAddr(a))
	}
	s.zone[strings.ToLower(name)+"."] = ips
}

// guard returns a guard allowing allow whose names resolve through s.
func (s *dnsServer) guard(t *testing.T, allow ...string) *notify.Guard {
	t.Helper()
	g, err := notify.NewGuard(allow)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.conn.LocalAddr().String()
	notify.SetResolver(g, &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}})
	return g
}

func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels, then type and class.
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	question := q[12 : i+4]
	name := strings.ToLower(strings.Join(labels, ".")) + "."

	s.mu.Lock()
	addrs, known := s.zone[name]
	s.mu.Unlock()

	var answers [][]byte
	for _, a := range addrs {
		var rtype uint16
		switch {
		case qtype == 1 && a.Is4():
			rtype = 1
		case qtype == 28 && a.Is6():
			rtype = 28
		default:
			continue
		}
		rdata := a.AsSlice()
		rr := []byte{0xc0, 12} // pointer to the question's name
		rr = binary.BigEndian.AppendUint16(rr, rtype)
		rr = binary.BigEndian.AppendUint16(rr, 1) // IN
		rr = binary.BigEndian.AppendUint32(rr, 0) // TTL
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(rdata)))
		answers = append(answers, append(rr, rdata...))
	}
	flags := uint16(0x8400) // response, authoritative
	if q[2]&0x01 != 0 {
		flags |= 0x0100 // recursion desired, copied
	}
	flags |= 0x0080 // recursion available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp := append([]byte{}, q[0:2]...)
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = append(resp, question...)
	for _, a := range answers {
		resp = append(resp, a...)
	}
	return resp
}
