package network

import (
	"net/netip"
	"testing"

	"github.com/gorae/gorae/internal/errdefs"
)

func testNet(subnet string) *Network {
	p := netip.MustParsePrefix(subnet)
	return &Network{Name: "t", Subnet: p, Gateway: firstHost(p), Endpoints: map[string]*Endpoint{}}
}

func take(t *testing.T, n *Network, want string) netip.Addr {
	t.Helper()
	var w netip.Addr
	if want != "" {
		w = netip.MustParseAddr(want)
	}
	a, err := allocate(n, w)
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	n.Endpoints[a.String()] = &Endpoint{Addr: a}
	n.Last = a
	return a
}

func TestAllocateSkipsReservedAndUsed(t *testing.T) {
	n := testNet("10.0.0.0/29") // .1 gateway, .7 broadcast: .2-.6 usable
	var got []string
	for range 5 {
		got = append(got, take(t, n, "").String())
	}
	want := []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocations %v, want %v", got, want)
		}
	}
	if _, err := allocate(n, netip.Addr{}); errdefs.HTTPStatus(err) != 503 {
		t.Errorf("full network: %v, want unavailable", err)
	}
	// A released address is not handed out again at once: the cursor
	// moves on and wraps.
	delete(n.Endpoints, "10.0.0.3")
	if a := take(t, n, ""); a.String() != "10.0.0.3" {
		t.Errorf("after release: %s", a)
	}
}

func TestAllocateNoImmediateReuse(t *testing.T) {
	n := testNet("10.0.0.0/24")
	a := take(t, n, "")
	delete(n.Endpoints, a.String())
	if b := take(t, n, ""); b == a {
		t.Errorf("released %s handed out again at once", a)
	}
}

func TestAllocateStaticAndRange(t *testing.T) {
	n := testNet("10.0.0.0/24")
	n.IPRange = netip.MustParsePrefix("10.0.0.128/25")
	if a := take(t, n, ""); a.String() != "10.0.0.129" {
		t.Errorf("first in range: %s", a)
	}
	take(t, n, "10.0.0.5") // --ip may be outside the range, inside the subnet
	for _, bad := range []string{"10.0.0.5", "10.0.0.1", "10.0.0.0", "10.0.0.255", "10.0.1.5"} {
		if _, err := allocate(n, netip.MustParseAddr(bad)); err == nil {
			t.Errorf("allocate %s: accepted", bad)
		}
	}
}

func TestPoolSubnet(t *testing.T) {
	pools := []Pool{{Base: netip.MustParsePrefix("10.5.0.0/22"), Size: 24}}
	used := []netip.Prefix{netip.MustParsePrefix("10.5.0.0/24"), netip.MustParsePrefix("10.5.1.128/25")}
	p, err := poolSubnet(pools, used)
	if err != nil || p.String() != "10.5.2.0/24" {
		t.Errorf("poolSubnet = %s, %v; want 10.5.2.0/24", p, err)
	}
	used = append(used, netip.MustParsePrefix("10.5.0.0/16"))
	if _, err := poolSubnet(pools, used); err == nil {
		t.Error("exhausted pool: no error")
	}
}

func TestParsePoolAndSubnet(t *testing.T) {
	if p, err := ParsePool("base=10.201.128.0/17,size=24"); err != nil || p.Size != 24 || p.Base.String() != "10.201.128.0/17" {
		t.Errorf("ParsePool: %+v %v", p, err)
	}
	for _, bad := range []string{"", "base=10.0.0.0/8", "base=10.0.0.0/24,size=16", "base=x,size=24", "size=24", "base=::/64,size=80", "base=10.0.0.0/8,size=24,x=1"} {
		if _, err := ParsePool(bad); err == nil {
			t.Errorf("ParsePool(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"10.0.0.0", "10.0.0.0/31", "fd00::/64", "10.0.300.0/24", "x"} {
		if _, err := ParseSubnet(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("ParseSubnet(%q): %v, want invalid parameter", bad, err)
		}
	}
	if p, _ := ParseSubnet("10.1.2.3/24"); p.String() != "10.1.2.0/24" {
		t.Errorf("ParseSubnet masks: %s", p)
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{"base=10.0.0.0/8,size=24", "10.1.0.0/16", "db:10.0.0.1", "x=host-gateway", "nameserver 1.1.1.1\nsearch a b\noptions ndots:2"} {
		f.Add(s)
	}
	gw := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, s string) {
		ParsePool(s)
		if p, err := ParseSubnet(s); err == nil {
			n := &Network{Subnet: p, Gateway: firstHost(p), Endpoints: map[string]*Endpoint{}}
			if a, err := allocate(n, netip.Addr{}); err == nil && !usable(n, a) {
				t.Fatalf("allocated unusable %s in %s", a, p)
			}
		}
		if h, err := ParseExtraHost(s, gw); err == nil && (!h.Addr.IsValid() || h.Name == "") {
			t.Fatalf("ParseExtraHost(%q) = %+v", s, h)
		}
		parseResolv([]byte(s))
		ptrAddr(s)
	})
}
