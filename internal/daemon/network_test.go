package daemon

import (
	"net/netip"
	"testing"

	ctr "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	gnet "github.com/gorae/gorae/internal/network"
)

func TestPortRequests(t *testing.T) {
	cfg := &ctr.Config{ExposedPorts: network.PortSet{
		network.MustParsePort("80/tcp"): {}, network.MustParsePort("53/udp"): {}, network.MustParsePort("90/tcp"): {},
	}}
	hc := &ctr.HostConfig{PublishAllPorts: true, PortBindings: network.PortMap{
		network.MustParsePort("80/tcp"): {
			{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8080"},
			{HostPort: "9000-9010"},
			{HostIP: netip.MustParseAddr("::1"), HostPort: "8080"}, // IPv6: not yet, skipped
		},
	}}
	got := portRequests(cfg, hc)
	want := []gnet.PortRequest{
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPortStart: 8080, HostPortEnd: 8080, CtrPort: 80},
		{Proto: "tcp", HostPortStart: 9000, HostPortEnd: 9010, CtrPort: 80},
		{Proto: "udp", CtrPort: 53}, // -P: every exposed port without a binding
		{Proto: "tcp", CtrPort: 90},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseHostPorts(t *testing.T) {
	for in, want := range map[string][2]uint16{"": {0, 0}, "80": {80, 80}, "8000-8010": {8000, 8010}} {
		a, b, err := parseHostPorts(in)
		if err != nil || a != want[0] || b != want[1] {
			t.Errorf("parseHostPorts(%q) = %d, %d, %v", in, a, b, err)
		}
	}
	for _, bad := range []string{"x", "70000", "10-5", "1-x", "-"} {
		if _, _, err := parseHostPorts(bad); err == nil {
			t.Errorf("parseHostPorts(%q) accepted", bad)
		}
	}
}

func TestNormalizeNetworkMode(t *testing.T) {
	for in, want := range map[ctr.NetworkMode]ctr.NetworkMode{"": "bridge", "default": "bridge", "host": "host", "mynet": "mynet"} {
		hc := &ctr.HostConfig{NetworkMode: in}
		if normalizeNetworkMode(hc); hc.NetworkMode != want {
			t.Errorf("%q → %q, want %q", in, hc.NetworkMode, want)
		}
	}
}
