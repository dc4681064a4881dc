package network

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables/expr"
)

// natOf finds the DNAT's address and port immediates in a rule.
func natOf(r fwRule) (addr []byte, port []byte, ok bool) {
	var imm []*expr.Immediate
	for _, e := range r.Exprs {
		switch v := e.(type) {
		case *expr.Immediate:
			imm = append(imm, v)
		case *expr.NAT:
			if v.Type == expr.NATTypeDestNAT && len(imm) == 2 {
				return imm[0].Data, imm[1].Data, true
			}
		}
	}
	return nil, nil, false
}

func hasCmp(r fwRule, data []byte) bool {
	for _, e := range r.Exprs {
		if c, ok := e.(*expr.Cmp); ok && bytes.Equal(c.Data, data) {
			return true
		}
	}
	return false
}

func count(rules []fwRule, chain string) int {
	n := 0
	for _, r := range rules {
		if r.Chain == chain {
			n++
		}
	}
	return n
}

func TestRenderPorts(t *testing.T) {
	ctr := netip.MustParseAddr("10.201.0.2")
	st := fwState{
		Bridges: []fwBridge{{Name: "gn0", Subnet: netip.MustParsePrefix("10.201.0.0/24"), Masquerade: true}},
		Ports: []PortMapping{
			{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18080, CtrIP: ctr, CtrPort: 80},
			{Proto: "udp", HostPort: 5353, CtrIP: ctr, CtrPort: 53},
		},
	}
	rules := render(st)
	if count(rules, chPrerouting) != 1 || count(rules, chOutput) != 1 {
		t.Errorf("want one jump in prerouting and in output")
	}
	if count(rules, chPorts) != 2 {
		t.Fatalf("ports chain: %d rules, want 2", count(rules, chPorts))
	}
	var sawLoopback, sawUDP bool
	for _, r := range rules {
		if r.Chain != chPorts {
			continue
		}
		addr, port, ok := natOf(r)
		if !ok || !bytes.Equal(addr, ctr.AsSlice()) {
			t.Errorf("rule without dnat to %s: %#v", ctr, r.Exprs)
		}
		switch {
		case bytes.Equal(port, []byte{0, 80}):
			// -p 127.0.0.1:18080:80 matches daddr 127.0.0.1 and tcp dport 18080.
			sawLoopback = hasCmp(r, []byte{127, 0, 0, 1}) && hasCmp(r, []byte{18080 >> 8, 18080 & 0xff}) && hasCmp(r, []byte{6})
		case bytes.Equal(port, []byte{0, 53}):
			sawUDP = hasCmp(r, []byte{17}) && !hasCmp(r, []byte{127, 0, 0, 1})
		}
	}
	if !sawLoopback || !sawUDP {
		t.Errorf("loopback tcp rule %v, any-address udp rule %v", sawLoopback, sawUDP)
	}
	// masquerade out, loopback masquerade, and one hairpin per port.
	if n := count(rules, chPostrouting); n != 4 {
		t.Errorf("postrouting: %d rules, want 4", n)
	}
	if count(rules, chForward) != 0 {
		t.Error("forward rules for a non-internal network")
	}
}

func TestRenderInternal(t *testing.T) {
	rules := render(fwState{Bridges: []fwBridge{{Name: "gn1", Subnet: netip.MustParsePrefix("10.201.1.0/24"), Internal: true, Masquerade: true}}})
	if count(rules, chForward) != 2 {
		t.Errorf("internal network: %d forward rules, want 2 drops", count(rules, chForward))
	}
	if count(rules, chPostrouting) != 1 {
		t.Errorf("internal network: %d postrouting rules, want only the loopback one", count(rules, chPostrouting))
	}
	if count(rules, chPorts) != 0 {
		t.Error("port rules without ports")
	}
}

func TestMatchAddrMask(t *testing.T) {
	e := matchAddr(12, netip.MustParsePrefix("10.201.0.0/20"))
	b, ok := e[1].(*expr.Bitwise)
	if !ok || !bytes.Equal(b.Mask, []byte{255, 255, 240, 0}) {
		t.Errorf("mask: %#v", e[1])
	}
	if len(matchAddr(16, netip.MustParsePrefix("127.0.0.1/32"))) != 2 {
		t.Error("a /32 needs no mask")
	}
}

func TestRenderIsolation(t *testing.T) {
	rules := render(fwState{Bridges: []fwBridge{
		{Name: "gn1", Subnet: netip.MustParsePrefix("10.201.1.0/24"), Masquerade: true},
		{Name: "gn2", Subnet: netip.MustParsePrefix("10.201.2.0/24"), Masquerade: true},
	}})
	// ct status dnat accept, then gn1→gn2 and gn2→gn1 dropped.
	if n := count(rules, chForward); n != 3 {
		t.Errorf("two bridges: %d forward rules, want 3", n)
	}
}
