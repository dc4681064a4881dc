package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/gorae/gorae/internal/testenv"
)

func rootManager(t *testing.T, root, bridge string) *Manager {
	t.Helper()
	m, err := Open(Config{
		Root: filepath.Join(root, "state"), NetnsDir: filepath.Join(root, "netns"), DefaultBridge: bridge,
		DefaultSubnet: netip.MustParsePrefix("10.201.10.0/24"),
		Pools:         []Pool{{Base: netip.MustParsePrefix("10.201.64.0/20"), Size: 24}},
		BridgePrefix:  "gnu",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func vethCount(t *testing.T) int {
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range links {
		if l.Type() == "veth" {
			n++
		}
	}
	return n
}

func portRules(t *testing.T, table string) int {
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}
	rules, err := c.GetRules(tb, &nftables.Chain{Name: chPorts, Table: tb})
	if err != nil {
		t.Fatal(err)
	}
	return len(rules)
}

func TestManagerRoot(t *testing.T) {
	if ok, err := testenv.RequireRoot("network"); !ok {
		if err != nil {
			t.Fatal(err)
		}
		t.Skip("needs root")
	}
	root := t.TempDir()
	bridge := fmt.Sprintf("gnu%d", os.Getpid()%100000)
	userBridge := bridge + "u"
	m := rootManager(t, root, bridge)
	t.Cleanup(func() {
		m.Close()
		m.RemoveFirewall()
		deleteLink(bridge)
		deleteLink(userBridge)
	})
	n, err := m.Create(CreateRequest{Name: "u1", Subnet: "10.201.11.0/24", Options: map[string]string{OptBridgeName: userBridge}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(CreateRequest{Name: "u2", Subnet: "10.201.11.128/25"}); err == nil {
		t.Error("overlapping subnet accepted")
	}
	vethsBefore := vethCount(t)
	a, err := m.CreateSandbox(SandboxRequest{
		ContainerID: strings.Repeat("a", 64), Name: "alpha", EtcDir: filepath.Join(root, "etc-a"),
		Etc:       EtcConfig{Hostname: "alpha"},
		Endpoints: []EndpointRequest{{Network: "u1", Aliases: []string{"first"}}},
		Ports:     []PortRequest{{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), CtrPort: 80}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.NetnsPath); err != nil {
		t.Fatal(err)
	}
	if vethCount(t) != vethsBefore+1 || portRules(t, m.Table()) != 1 {
		t.Fatalf("after create: %d veths (was %d), %d port rules", vethCount(t), vethsBefore, portRules(t, m.Table()))
	}
	epA, _, _ := m.Endpoint(a.ContainerID, n.ID)
	hosts, _ := os.ReadFile(filepath.Join(root, "etc-a", "hosts"))
	if !strings.Contains(string(hosts), epA.Addr.String()+"\talpha\n") {
		t.Errorf("hosts:\n%s", hosts)
	}

	// The embedded DNS answers inside the container's namespace.
	err = inNetns(a.NetnsPath, func() error {
		c := &dns.Client{}
		q := new(dns.Msg)
		q.SetQuestion("first.", dns.TypeA)
		r, _, err := c.Exchange(q, "127.0.0.11:53")
		if err != nil {
			return err
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != epA.Addr.String() {
			return fmt.Errorf("answer %v", r)
		}
		return nil
	})
	if err != nil {
		t.Errorf("embedded DNS: %v", err)
	}

	// A host port already published: clear error, nothing half-made.
	bID := strings.Repeat("b", 64)
	_, err = m.CreateSandbox(SandboxRequest{
		ContainerID: bID, Name: "beta", EtcDir: filepath.Join(root, "etc-b"),
		Endpoints: []EndpointRequest{{Network: "u1"}},
		Ports:     []PortRequest{{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPortStart: a.Ports[0].HostPort, CtrPort: 80}},
	})
	if err == nil || !strings.Contains(err.Error(), "already allocated") {
		t.Fatalf("port conflict: %v", err)
	}
	if _, err := os.Stat(m.NetnsPath(bID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed create left its netns: %v", err)
	}
	if _, ok := m.Sandbox(bID); ok || vethCount(t) != vethsBefore+1 || portRules(t, m.Table()) != 1 {
		t.Errorf("failed create left: sandbox %v, %d veths, %d port rules", ok, vethCount(t), portRules(t, m.Table()))
	}
	if got, _ := m.Get("u1"); len(got.Endpoints) != 1 {
		t.Errorf("failed create left an address allocated: %d endpoints", len(got.Endpoints))
	}
	// A host socket holding a port is found too.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = m.CreateSandbox(SandboxRequest{ContainerID: bID, Name: "beta", Endpoints: []EndpointRequest{{Network: "u1"}},
		Ports: []PortRequest{{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPortStart: uint16(l.Addr().(*net.TCPAddr).Port), CtrPort: 80}}})
	if err == nil {
		t.Error("a port held by a host socket was published")
	}
	if m.Remove("u1") == nil {
		t.Error("network with an endpoint removed")
	}

	// A new manager on the same state (the daemon restarted): the
	// address stays, and a new one is another.
	m.Close()
	m2 := rootManager(t, root, bridge)
	m = m2
	if ep, _, ok := m2.Endpoint(a.ContainerID, n.ID); !ok || ep.Addr != epA.Addr {
		t.Fatalf("after reopen: endpoint %v", ep)
	}
	if portRules(t, m2.Table()) != 1 {
		t.Error("reopen lost the published port")
	}
	if err := m2.RestoreDNS(a.ContainerID); err != nil {
		t.Errorf("restore DNS: %v", err)
	}
	c, err := m2.CreateSandbox(SandboxRequest{ContainerID: strings.Repeat("c", 64), Name: "gamma", Endpoints: []EndpointRequest{{Network: "u1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if epC, _, _ := m2.Endpoint(c.ContainerID, n.ID); epC.Addr == epA.Addr {
		t.Errorf("address %s handed out twice", epC.Addr)
	}

	for _, id := range []string{a.ContainerID, c.ContainerID} {
		if err := m2.DeleteSandbox(id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(a.NetnsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns left: %v", err)
	}
	if vethCount(t) != vethsBefore || portRules(t, m2.Table()) != 0 {
		t.Errorf("after delete: %d veths (want %d), %d port rules", vethCount(t), vethsBefore, portRules(t, m2.Table()))
	}
	if err := m2.Remove("u1"); err != nil {
		t.Fatal(err)
	}
	if linkExists(userBridge) {
		t.Error("bridge of a removed network left")
	}
}
