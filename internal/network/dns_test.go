package network

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// upstream is a fake resolver on loopback answering every A query
// with 192.0.2.7.
func upstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 7)})
		w.WriteMsg(m)
	})}
	go s.ActivateAndServe()
	t.Cleanup(func() { s.Shutdown() })
	return pc.LocalAddr().String()
}

func query(name string, t uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	return m
}

func TestResolver(t *testing.T) {
	web := netip.MustParseAddr("10.201.0.2")
	r := &resolver{
		lookup: func(name string) []netip.Addr {
			if name == "web" || name == "www" {
				return []netip.Addr{web}
			}
			return nil
		},
		reverse:   func(a netip.Addr) string { return map[netip.Addr]string{web: "web.net1"}[a] },
		upstreams: []string{upstream(t)},
	}
	resp := r.answer(query("WWW", dns.TypeA), "udp")
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "10.201.0.2" || !resp.Authoritative {
		t.Errorf("A www: %v", resp)
	}
	if resp := r.answer(query("web", dns.TypeAAAA), "udp"); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Errorf("AAAA of a container: want an empty answer, got %v", resp)
	}
	if resp := r.answer(query("2.0.201.10.in-addr.arpa", dns.TypePTR), "udp"); len(resp.Answer) != 1 || resp.Answer[0].(*dns.PTR).Ptr != "web.net1." {
		t.Errorf("PTR: %v", resp)
	}
	resp = r.answer(query("example.test", dns.TypeA), "udp")
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
		t.Errorf("forwarded: %v", resp)
	}
	r.upstreams = nil // an internal network
	if resp := r.answer(query("example.test", dns.TypeA), "udp"); resp.Rcode != dns.RcodeNameError {
		t.Errorf("no upstream: rcode %d, want NXDOMAIN", resp.Rcode)
	}
	bad := new(dns.Msg)
	bad.Question = []dns.Question{{Name: "a.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "b.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	if resp := r.answer(bad, "udp"); resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("two questions: rcode %d", resp.Rcode)
	}
}

// FuzzResolver feeds untrusted wire messages (what a container sends)
// to the resolver: it must not panic.
func FuzzResolver(f *testing.F) {
	for _, m := range []*dns.Msg{query("web", dns.TypeA), query("1.0.0.10.in-addr.arpa", dns.TypePTR), query("x", dns.TypeANY)} {
		b, _ := m.Pack()
		f.Add(b)
	}
	r := &resolver{lookup: func(string) []netip.Addr { return []netip.Addr{netip.MustParseAddr("10.0.0.2")} }, reverse: func(netip.Addr) string { return "x.y" }}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil {
			return
		}
		if resp := r.answer(m, "udp"); resp != nil {
			resp.Pack()
		}
	})
}
