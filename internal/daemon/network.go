package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	gnet "github.com/gorae/gorae/internal/network"
)

// NetworkConfig is daemon.json's networking part (and its flags).
type NetworkConfig struct {
	// Bridge names the default network's bridge (default gorae0). Each
	// daemon on a host needs its own; its nftables table is gorae-BRIDGE.
	Bridge string `json:"bridge,omitempty"`
	// BIP is the default bridge's address and subnet, as 10.1.0.1/24.
	BIP                 string      `json:"bip,omitempty"`
	DefaultAddressPools []gnet.Pool `json:"default-address-pools,omitempty"`
	MTU                 int         `json:"mtu,omitempty"`
	// BridgePrefix starts user networks' bridge names (default "br-").
	BridgePrefix string `json:"bridge-prefix,omitempty"`
}

// openNetwork opens the network manager: networks' records on the data
// root, namespace files and sandbox records on the exec root.
func (d *Daemon) openNetwork() error {
	nc := d.cfg.NetworkConfig
	cfg := gnet.Config{
		Root:          filepath.Join(d.cfg.DataRoot, "network"),
		NetnsDir:      filepath.Join(d.cfg.ExecRoot, "netns"),
		SandboxDir:    filepath.Join(d.cfg.ExecRoot, "network", "sandboxes"),
		DefaultBridge: nc.Bridge,
		Pools:         nc.DefaultAddressPools,
		BridgePrefix:  nc.BridgePrefix,
		MTU:           nc.MTU,
	}
	if nc.BIP != "" {
		p, err := netip.ParsePrefix(nc.BIP)
		if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
			return fmt.Errorf("bip %q: want the bridge's IPv4 address with its prefix, as 10.1.0.1/24", nc.BIP)
		}
		cfg.DefaultSubnet, cfg.DefaultGateway = p.Masked(), p.Addr()
		if cfg.DefaultGateway == p.Masked().Addr() {
			cfg.DefaultGateway = p.Masked().Addr().Next()
		}
	}
	m, err := gnet.Open(cfg)
	if err != nil {
		return fmt.Errorf("networking: %w (set another bridge name or bip in daemon.json)", err)
	}
	d.net = m
	d.pruneNetwork()
	return nil
}

// pruneNetwork runs before the containers are restored: sandboxes of
// containers not recorded as running go (a crash between a stop and its
// teardown, a reboot). Running ones stay; if their monitor is gone,
// restore's exit handling tears them down.
func (d *Daemon) pruneNetwork() {
	d.net.Prune(func(id string) bool {
		c, err := d.containers.Get(id)
		return err == nil && c.Snapshot().IsRunning()
	})
}

// restoreNetwork runs after the containers are restored: the running
// ones get their embedded DNS server back (the old daemon's sockets
// died with it).
func (d *Daemon) restoreNetwork() {
	for _, id := range d.net.Sandboxes() {
		if err := d.net.RestoreDNS(id); err != nil {
			slog.Warn("restore embedded DNS", "container", id, "err", err)
		}
	}
}

// normalizeNetworkMode applies Docker's default: the bridge network.
func normalizeNetworkMode(hc *container.HostConfig) {
	if hc.NetworkMode == "" || hc.NetworkMode.IsDefault() {
		hc.NetworkMode = network.NetworkBridge
	}
}

// validateNetworking checks the networking part of a create.
func validateNetworking(hc *container.HostConfig) error {
	for p, bs := range hc.PortBindings {
		for _, b := range bs {
			if _, _, err := parseHostPorts(b.HostPort); err != nil {
				return errdefs.InvalidParameter(fmt.Errorf("port %s: %w", p, err))
			}
		}
	}
	return nil
}

// createNetworks decides the networks a new container joins: its
// network mode's, plus any other the request names (API ≥ 1.44).
func (d *Daemon) createNetworks(hc *container.HostConfig, nc *network.NetworkingConfig) (map[string]*network.EndpointSettings, error) {
	mode := hc.NetworkMode
	if mode.IsContainer() {
		if _, err := d.get(mode.ConnectedContainer()); err != nil {
			return nil, err
		}
		if len(hc.PortBindings) > 0 || hc.PublishAllPorts {
			return nil, errdefs.InvalidParameter(errors.New("conflicting options: port publishing and the container type network mode"))
		}
		return nil, nil
	}
	want := map[string]*network.EndpointSettings{}
	if nc != nil {
		for k, v := range nc.EndpointsConfig {
			if v == nil {
				v = &network.EndpointSettings{}
			}
			if k == network.NetworkDefault {
				k = string(mode) // the CLI's name for "the network mode's"
			}
			want[k] = v
		}
	}
	if _, ok := want[string(mode)]; !ok {
		want[string(mode)] = &network.EndpointSettings{}
	}
	out := map[string]*network.EndpointSettings{}
	for ref, es := range want {
		n, err := d.net.Get(ref)
		if err != nil {
			return nil, err
		}
		if !n.IsBridge() && len(want) > 1 {
			return nil, errdefs.InvalidParameter(fmt.Errorf("container cannot be connected to network %s (driver %s) and to others", n.Name, n.Driver))
		}
		if err := checkEndpoint(n, es); err != nil {
			return nil, err
		}
		c := *es
		c.NetworkID = n.ID
		out[n.Name] = &c
	}
	return out, nil
}

// checkEndpoint validates --ip and --network-alias against the network.
func checkEndpoint(n *gnet.Network, es *network.EndpointSettings) error {
	if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid() {
		if n.Predefined {
			return errdefs.InvalidParameter(errors.New("user specified IP address is supported on user defined networks only"))
		}
		if !n.Subnet.Contains(es.IPAMConfig.IPv4Address) {
			return errdefs.InvalidParameter(fmt.Errorf("invalid IPv4 address %s: it does not belong to network %s's subnet %s", es.IPAMConfig.IPv4Address, n.Name, n.Subnet))
		}
	}
	if len(es.Aliases) > 0 && n.Predefined {
		return errdefs.InvalidParameter(errors.New("network-scoped alias is supported only for containers in user defined networks"))
	}
	return nil
}

// parseHostPorts reads a binding's HostPort: "", "8080" or "8000-8010".
func parseHostPorts(s string) (uint16, uint16, error) {
	if s == "" {
		return 0, 0, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid host port %q", s)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return 0, 0, fmt.Errorf("invalid host port range %q", s)
		}
	}
	return uint16(a), uint16(b), nil
}

// portRequests are the container's -p bindings, plus with -P every
// exposed port that has none.
func portRequests(cfg *container.Config, hc *container.HostConfig) []gnet.PortRequest {
	var out []gnet.PortRequest
	seen := map[network.Port]bool{}
	var ports []network.Port
	for p := range hc.PortBindings {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].String() < ports[j].String() })
	for _, p := range ports {
		seen[p] = true
		for _, b := range hc.PortBindings[p] {
			lo, hi, _ := parseHostPorts(b.HostPort)
			r := gnet.PortRequest{Proto: string(p.Proto()), HostPortStart: lo, HostPortEnd: hi, CtrPort: p.Num()}
			if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
				r.HostIP = b.HostIP.Unmap()
			}
			if r.HostIP.IsValid() && !r.HostIP.Is4() {
				continue // IPv6 publishing: not yet
			}
			out = append(out, r)
		}
	}
	if hc.PublishAllPorts && cfg != nil {
		var exposed []network.Port
		for p := range cfg.ExposedPorts {
			if !seen[p] {
				exposed = append(exposed, p)
			}
		}
		sort.Slice(exposed, func(i, j int) bool { return exposed[i].String() < exposed[j].String() })
		for _, p := range exposed {
			out = append(out, gnet.PortRequest{Proto: string(p.Proto()), CtrPort: p.Num()})
		}
	}
	return out
}

func containerHostname(c *ctrstore.Container) string {
	if c.Config.Hostname != "" {
		return c.Config.Hostname
	}
	if c.HostConfig.NetworkMode.IsHost() {
		h, _ := os.Hostname()
		return h
	}
	return c.ID[:12]
}

func etcMounts(dir string, names ...string) []specs.Mount {
	var out []specs.Mount
	for _, n := range names {
		out = append(out, specs.Mount{Destination: "/etc/" + n, Type: "bind", Source: filepath.Join(dir, n), Options: []string{"rbind", "rprivate"}})
	}
	return out
}

// setupNetwork makes the container's network stack before its start:
// the namespace file it joins and the /etc files it mounts.
func (d *Daemon) setupNetwork(c *ctrstore.Container) (nsPath string, mounts []specs.Mount, err error) {
	hc := c.HostConfig
	dir := d.containers.Dir(c.ID)
	if hc.NetworkMode.IsContainer() {
		other, err := d.get(hc.NetworkMode.ConnectedContainer())
		if err != nil {
			return "", nil, err
		}
		st := other.Snapshot()
		if !st.IsRunning() || st.Pid == 0 {
			return "", nil, errdefs.Conflict(fmt.Errorf("cannot join network of a non running container: %s", other.ID))
		}
		if err := os.WriteFile(filepath.Join(dir, "hostname"), []byte(containerHostname(c)+"\n"), 0o644); err != nil {
			return "", nil, err
		}
		odir := d.containers.Dir(other.ID)
		m := append(etcMounts(odir, "hosts", "resolv.conf"), etcMounts(dir, "hostname")...)
		if sb, ok := d.net.Sandbox(other.ID); ok && sb.NetnsPath != "" {
			return sb.NetnsPath, m, nil
		}
		return fmt.Sprintf("/proc/%d/ns/net", st.Pid), m, nil
	}
	req := gnet.SandboxRequest{
		ContainerID: c.ID,
		Name:        strings.TrimPrefix(c.Name, "/"),
		Host:        hc.NetworkMode.IsHost(),
		EtcDir:      dir,
		Etc: gnet.EtcConfig{Hostname: containerHostname(c), Domainname: c.Config.Domainname,
			DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions},
		ExtraHosts: hc.ExtraHosts,
	}
	for _, a := range hc.DNS {
		req.Etc.DNS = append(req.Etc.DNS, a.String())
	}
	names := make([]string, 0, len(c.Networks))
	for name := range c.Networks {
		names = append(names, name)
	}
	// The network mode's network first: it gives the default route and
	// carries the published ports.
	mode := string(hc.NetworkMode)
	primary := func(name string) bool {
		id := c.Networks[name].NetworkID
		return name == mode || id != "" && strings.HasPrefix(id, mode)
	}
	sort.Slice(names, func(i, j int) bool {
		if primary(names[i]) != primary(names[j]) {
			return primary(names[i])
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		es := c.Networks[name]
		ref := es.NetworkID
		if ref == "" {
			ref = name
		}
		n, err := d.net.Get(ref)
		if err != nil {
			if n, err = d.net.Get(name); err != nil {
				return "", nil, err
			}
		}
		if !n.IsBridge() {
			continue
		}
		er := gnet.EndpointRequest{Network: n.ID, Aliases: es.Aliases}
		if es.IPAMConfig != nil {
			er.Addr = es.IPAMConfig.IPv4Address
		}
		req.Endpoints = append(req.Endpoints, er)
	}
	if len(req.Endpoints) > 0 {
		req.Ports = portRequests(c.Config, hc)
	}
	sb, err := d.net.CreateSandbox(req)
	if err != nil {
		return "", nil, err
	}
	return sb.NetnsPath, etcMounts(dir, "hosts", "resolv.conf", "hostname"), nil
}

// teardownNetwork undoes setupNetwork (idempotent).
func (d *Daemon) teardownNetwork(c *ctrstore.Container) {
	if err := d.net.DeleteSandbox(c.ID); err != nil {
		slog.Error("tear down network", "container", c.ID, "err", err)
	}
}

// setNetNSPath points the spec's network namespace at path.
func setNetNSPath(s *specs.Spec, path string) {
	if path == "" || s.Linux == nil {
		return
	}
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = path
		}
	}
}

// networkSettings is inspect's NetworkSettings: what was asked, with
// the live addresses and ports of a running container.
func (d *Daemon) networkSettings(c *ctrstore.Container) *container.NetworkSettings {
	ns := &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}, Ports: network.PortMap{}}
	sb, running := d.net.Sandbox(c.ID)
	if running {
		ns.SandboxID = c.ID
		ns.SandboxKey = sb.NetnsPath
	}
	for name, es := range c.Networks {
		e := *es
		if n, err := d.net.Get(e.NetworkID); err == nil {
			name = n.Name
			if ep, n, ok := d.net.Endpoint(c.ID, n.ID); ok {
				e.EndpointID = ep.ID
				e.IPAddress = ep.Addr
				e.IPPrefixLen = n.PrefixLen()
				e.Gateway = n.Gateway
				if mac, err := net.ParseMAC(ep.MAC); err == nil {
					e.MacAddress = network.HardwareAddr(mac)
				}
				e.DNSNames = ep.DNSNames
			}
		}
		ns.Networks[name] = &e
	}
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			ns.Ports[p] = nil
		}
	}
	if running {
		for _, p := range sb.Ports {
			port, ok := network.PortFrom(p.CtrPort, network.IPProtocol(p.Proto))
			if !ok {
				continue
			}
			hip := p.HostIP
			if !hip.IsValid() {
				hip = netip.IPv4Unspecified()
			}
			ns.Ports[port] = append(ns.Ports[port], network.PortBinding{HostIP: hip, HostPort: strconv.Itoa(int(p.HostPort))})
		}
	}
	return ns
}

// portSummaries are ps's PORTS.
func (d *Daemon) portSummaries(c *ctrstore.Container) []container.PortSummary {
	out := []container.PortSummary{}
	published := map[string]bool{}
	if sb, ok := d.net.Sandbox(c.ID); ok {
		for _, p := range sb.Ports {
			hip := p.HostIP
			if !hip.IsValid() {
				hip = netip.IPv4Unspecified()
			}
			out = append(out, container.PortSummary{IP: hip, PrivatePort: p.CtrPort, PublicPort: p.HostPort, Type: p.Proto})
			published[fmt.Sprintf("%d/%s", p.CtrPort, p.Proto)] = true
		}
	}
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			if !published[p.String()] {
				out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
			}
		}
	}
	return out
}

// matchNetworkFilters applies ps's network=, publish= and expose=.
func (d *Daemon) matchNetworkFilters(c *ctrstore.Container, s container.Summary, f map[string][]string) bool {
	anyOf := func(key string, match func(string) bool) bool {
		if len(f[key]) == 0 {
			return true
		}
		for _, v := range f[key] {
			if match(v) {
				return true
			}
		}
		return false
	}
	portMatch := func(v string, ports func(container.PortSummary) uint16) bool {
		num, proto, _ := strings.Cut(v, "/")
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, err := parseHostPorts(num)
		if err != nil {
			return false
		}
		for _, p := range s.Ports {
			if n := ports(p); n != 0 && n >= lo && n <= hi && p.Type == proto {
				return true
			}
		}
		return false
	}
	return anyOf("network", func(v string) bool {
		for name, es := range c.Networks {
			if name == v || es.NetworkID == v || (len(v) >= 3 && strings.HasPrefix(es.NetworkID, v)) {
				return true
			}
		}
		return false
	}) &&
		anyOf("publish", func(v string) bool { return portMatch(v, func(p container.PortSummary) uint16 { return p.PublicPort }) }) &&
		anyOf("expose", func(v string) bool {
			return portMatch(v, func(p container.PortSummary) uint16 { return p.PrivatePort })
		})
}
