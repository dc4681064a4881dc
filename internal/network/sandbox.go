package network

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gorae/gorae/internal/errdefs"
)

// EndpointRequest asks to join one network.
type EndpointRequest struct {
	Network string     // ID or name
	Addr    netip.Addr // --ip; zero: IPAM picks
	Aliases []string   // --network-alias
}

// PortRequest is one -p (or -P) binding before the host port is chosen.
type PortRequest struct {
	Proto         string     // tcp, udp
	HostIP        netip.Addr // zero: all addresses
	HostPortStart uint16     // 0: any free port
	HostPortEnd   uint16     // a range when > HostPortStart
	CtrPort       uint16
}

// SandboxRequest is what a container's network stack is made from.
type SandboxRequest struct {
	ContainerID string
	Name        string // without "/"
	// Host: --network host: no namespace, the host's files.
	Host bool
	// EtcDir receives hosts, resolv.conf and hostname.
	EtcDir     string
	Etc        EtcConfig
	ExtraHosts []string // raw --add-host values
	Endpoints  []EndpointRequest
	Ports      []PortRequest
}

// NetnsPath is where a container's namespace file lives.
func (m *Manager) NetnsPath(ctrID string) string { return filepath.Join(m.cfg.NetnsDir, ctrID) }

// CreateSandbox makes a container's network stack: the namespace, one
// veth per network with an address from IPAM, published ports, the
// /etc files and the embedded DNS. On failure nothing of it remains.
func (m *Manager) CreateSandbox(req SandboxRequest) (_ *Sandbox, retErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sandboxes[req.ContainerID]; ok {
		// A stale one (the daemon died while the container stopped).
		m.deleteSandbox(req.ContainerID)
	}
	sb := &Sandbox{ContainerID: req.ContainerID, EtcDir: req.EtcDir, Etc: req.Etc}
	if !req.Host {
		sb.NetnsPath = m.NetnsPath(req.ContainerID)
	}
	// Resolve the networks before anything is made.
	var nets []*Network
	for _, er := range req.Endpoints {
		n, err := m.get(er.Network)
		if err != nil {
			return nil, err
		}
		if !n.IsBridge() {
			return nil, errdefs.InvalidParameter(fmt.Errorf("network %s (driver %s) cannot be combined with other networks", n.Name, n.Driver))
		}
		if er.Addr.IsValid() && n.Predefined {
			return nil, errdefs.InvalidParameter(errors.New("user specified IP address is supported on user defined networks only"))
		}
		nets = append(nets, n)
	}
	m.sandboxes[sb.ContainerID] = sb
	if err := m.saveSandbox(sb); err != nil {
		delete(m.sandboxes, sb.ContainerID)
		return nil, err
	}
	defer func() {
		if retErr != nil {
			m.deleteSandbox(sb.ContainerID)
		}
	}()
	if sb.NetnsPath != "" {
		if err := newNetns(sb.NetnsPath); err != nil {
			return nil, err
		}
	}
	for i, er := range req.Endpoints {
		if _, err := m.join(sb, nets[i], req.Name, er, fmt.Sprintf("eth%d", i)); err != nil {
			return nil, err
		}
	}
	var gw netip.Addr
	if len(nets) > 0 {
		gw = nets[0].Gateway
	}
	for _, h := range req.ExtraHosts {
		e, err := ParseExtraHost(h, gw)
		if err != nil {
			return nil, err
		}
		sb.Etc.ExtraHosts = append(sb.Etc.ExtraHosts, e)
	}
	if len(nets) > 0 && len(req.Ports) > 0 {
		ep := nets[0].Endpoints[sb.ContainerID]
		ports, err := m.choosePorts(req.Ports, ep.Addr)
		if err != nil {
			return nil, err
		}
		sb.Ports = ports
	}
	if err := m.saveSandbox(sb); err != nil {
		return nil, err
	}
	if len(sb.Ports) > 0 {
		if err := m.syncFirewall(); err != nil {
			return nil, err
		}
	}
	if err := m.writeEtc(sb, req.Host); err != nil {
		return nil, err
	}
	if err := m.startDNS(sb); err != nil {
		return nil, err
	}
	return m.copySandbox(sb), nil
}

func (m *Manager) copySandbox(sb *Sandbox) *Sandbox {
	c := *sb
	c.Networks = append([]string(nil), sb.Networks...)
	c.Ports = append([]PortMapping(nil), sb.Ports...)
	return &c
}

// join allocates an address on n (recorded before the veth is made) and
// wires the veth into the sandbox.
func (m *Manager) join(sb *Sandbox, n *Network, name string, er EndpointRequest, ifName string) (*Endpoint, error) {
	if _, ok := n.Endpoints[sb.ContainerID]; ok {
		return nil, errdefs.Forbidden(fmt.Errorf("container %s is already attached to network %s", name, n.Name))
	}
	addr, err := allocate(n, er.Addr)
	if err != nil {
		return nil, err
	}
	ep := &Endpoint{ID: NewID(), ContainerID: sb.ContainerID, Name: name, Addr: addr, MAC: macFor(addr),
		Aliases: er.Aliases, HostVeth: vethName(), IfName: ifName}
	if !n.Predefined {
		ep.DNSNames = append([]string{name}, er.Aliases...)
		ep.DNSNames = append(ep.DNSNames, sb.ContainerID[:min(12, len(sb.ContainerID))])
	}
	if n.Endpoints == nil {
		n.Endpoints = map[string]*Endpoint{}
	}
	n.Endpoints[sb.ContainerID] = ep
	prevLast := n.Last
	n.Last = addr
	sb.Networks = append(sb.Networks, n.ID)
	undo := func() {
		delete(n.Endpoints, sb.ContainerID)
		n.Last = prevLast
		sb.Networks = sb.Networks[:len(sb.Networks)-1]
		m.save(n)
		m.saveSandbox(sb)
	}
	if err := m.save(n); err != nil {
		undo()
		return nil, err
	}
	if err := m.saveSandbox(sb); err != nil {
		undo()
		return nil, err
	}
	err = addVeth(veth{NetnsPath: sb.NetnsPath, Bridge: n.Bridge, HostName: ep.HostVeth, IfName: ifName, Addr: addr,
		Bits: n.Subnet.Bits(), Gateway: n.Gateway, MAC: ep.MAC, MTU: n.MTU, DefaultRoute: m.firstRoutable(sb, n)})
	if err != nil {
		undo()
		return nil, fmt.Errorf("attach to network %s: %w", n.Name, err)
	}
	return ep, nil
}

// firstRoutable says whether n gives the sandbox its default route: the
// first network joined that is not internal (internal networks reach
// only their own subnet, as Docker's).
func (m *Manager) firstRoutable(sb *Sandbox, n *Network) bool {
	if n.Internal {
		return false
	}
	for _, id := range sb.Networks {
		if id == n.ID {
			return true
		}
		if o, ok := m.nets[id]; ok && !o.Internal {
			return false
		}
	}
	return false
}

// leave undoes join.
func (m *Manager) leave(sb *Sandbox, n *Network) error {
	ep, ok := n.Endpoints[sb.ContainerID]
	if !ok {
		return nil
	}
	if err := deleteLink(ep.HostVeth); err != nil {
		return err
	}
	delete(n.Endpoints, sb.ContainerID)
	for i, id := range sb.Networks {
		if id == n.ID {
			sb.Networks = append(sb.Networks[:i], sb.Networks[i+1:]...)
			break
		}
	}
	if err := m.save(n); err != nil {
		return err
	}
	return m.saveSandbox(sb)
}

// DeleteSandbox tears a container's network stack down, in reverse
// order; what is already gone is skipped.
func (m *Manager) DeleteSandbox(ctrID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deleteSandbox(ctrID)
}

func (m *Manager) deleteSandbox(ctrID string) error {
	sb, ok := m.sandboxes[ctrID]
	if !ok {
		return nil
	}
	if s, ok := m.dns[ctrID]; ok {
		s.stop()
		delete(m.dns, ctrID)
	}
	var errs []error
	if len(sb.Ports) > 0 {
		sb.Ports = nil
		errs = append(errs, m.syncFirewall())
	}
	// Every network, not only sb.Networks: a daemon killed between
	// saving the network and the sandbox leaves an endpoint only there.
	for _, n := range m.nets {
		if _, ok := n.Endpoints[ctrID]; ok {
			errs = append(errs, m.leave(sb, n))
		}
	}
	if sb.NetnsPath != "" {
		errs = append(errs, deleteNetns(sb.NetnsPath))
	}
	if err := errors.Join(errs...); err != nil {
		m.saveSandbox(sb)
		return fmt.Errorf("tear down network of %s: %w", ctrID, err)
	}
	delete(m.sandboxes, ctrID)
	if err := os.Remove(m.sandboxPath(ctrID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Sandbox returns a copy of the container's sandbox.
func (m *Manager) Sandbox(ctrID string) (*Sandbox, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[ctrID]
	if !ok {
		return nil, false
	}
	return m.copySandbox(sb), true
}

// Sandboxes lists the containers that have one.
func (m *Manager) Sandboxes() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id := range m.sandboxes {
		out = append(out, id)
	}
	return out
}

// Connect attaches a running container's sandbox to one more network.
func (m *Manager) Connect(ctrID, name string, er EndpointRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[ctrID]
	if !ok || sb.NetnsPath == "" {
		return errdefs.Forbidden(fmt.Errorf("container %s has no network namespace of its own to connect", name))
	}
	n, err := m.get(er.Network)
	if err != nil {
		return err
	}
	if !n.IsBridge() {
		return errdefs.Forbidden(fmt.Errorf("container cannot be connected to network %s (driver %s) while on others", n.Name, n.Driver))
	}
	ifName, err := nextIfName(sb.NetnsPath)
	if err != nil {
		return err
	}
	if _, err := m.join(sb, n, name, er, ifName); err != nil {
		return err
	}
	if err := m.writeEtc(sb, false); err != nil {
		return err
	}
	return m.startDNS(sb)
}

// Disconnect detaches a running container from a network.
func (m *Manager) Disconnect(ctrID, netRef string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.get(netRef)
	if err != nil {
		return err
	}
	sb, ok := m.sandboxes[ctrID]
	if !ok {
		return errdefs.NotFound(fmt.Errorf("container %s is not connected to network %s", ctrID, n.Name))
	}
	if _, ok := n.Endpoints[ctrID]; !ok {
		return errdefs.NotFound(fmt.Errorf("container %s is not connected to network %s", ctrID, n.Name))
	}
	if err := m.leave(sb, n); err != nil {
		return err
	}
	return m.writeEtc(sb, false)
}

// Endpoint returns a copy of the container's endpoint on network netID.
func (m *Manager) Endpoint(ctrID, netID string) (*Endpoint, *Network, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nets[netID]
	if !ok {
		return nil, nil, false
	}
	ep, ok := n.Endpoints[ctrID]
	if !ok {
		return nil, nil, false
	}
	e := *ep
	return &e, n.clone(), true
}

// writeEtc (re)writes the container's hosts, resolv.conf and hostname.
func (m *Manager) writeEtc(sb *Sandbox, host bool) error {
	if sb.EtcDir == "" {
		return nil
	}
	if err := os.MkdirAll(sb.EtcDir, 0o711); err != nil {
		return err
	}
	hostResolv, _ := os.ReadFile(m.cfg.ResolvConf)
	cfg := sb.Etc
	cfg.HostResolv = hostResolv
	cfg.Addrs = nil
	cfg.Embedded = false
	external := false
	for _, id := range sb.Networks {
		if n, ok := m.nets[id]; ok {
			if ep, ok := n.Endpoints[sb.ContainerID]; ok {
				cfg.Addrs = append(cfg.Addrs, ep.Addr)
			}
			cfg.Embedded = cfg.Embedded || n.DNS
			external = external || !n.Internal
		}
	}
	hosts := renderHosts(cfg)
	if host {
		hosts, _ = os.ReadFile("/etc/hosts")
	}
	resolv, up := renderResolv(cfg)
	if host {
		resolv = hostResolv
	}
	if !external {
		up = nil
	}
	sb.Upstreams = upstreamAddrs(up)
	for name, data := range map[string][]byte{"hosts": hosts, "resolv.conf": resolv, "hostname": []byte(cfg.Hostname + "\n")} {
		if err := writeInPlace(filepath.Join(sb.EtcDir, name), data); err != nil {
			return fmt.Errorf("write %s of %s: %w", name, sb.ContainerID, err)
		}
	}
	return m.saveSandbox(sb)
}

// startDNS serves the embedded DNS in the sandbox if one of its networks
// has it (and it is not served yet).
func (m *Manager) startDNS(sb *Sandbox) error {
	if _, ok := m.dns[sb.ContainerID]; ok || sb.NetnsPath == "" {
		return nil
	}
	need := false
	for _, id := range sb.Networks {
		if n, ok := m.nets[id]; ok && n.DNS {
			need = true
		}
	}
	if !need {
		return nil
	}
	id := sb.ContainerID
	s, err := startDNS(sb.NetnsPath, &resolver{
		lookup:    func(name string) []netip.Addr { return m.resolve(id, name) },
		reverse:   func(a netip.Addr) string { return m.reverse(id, a) },
		upstreams: sb.Upstreams,
	})
	if err != nil {
		return err
	}
	m.dns[id] = s
	return nil
}

// RestoreDNS serves the embedded DNS again for a container that kept
// running while no daemon was there.
func (m *Manager) RestoreDNS(ctrID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[ctrID]
	if !ok {
		return nil
	}
	return m.startDNS(sb)
}

// resolve answers a name for a container: the addresses of endpoints on
// the container's DNS-enabled networks that carry that name.
func (m *Manager) resolve(ctrID, name string) []netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[ctrID]
	if !ok {
		return nil
	}
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, id := range sb.Networks {
		n, ok := m.nets[id]
		if !ok || !n.DNS {
			continue
		}
		for _, ep := range n.Endpoints {
			for _, dn := range ep.DNSNames {
				if strings.EqualFold(dn, name) && !seen[ep.Addr] {
					seen[ep.Addr] = true
					out = append(out, ep.Addr)
				}
			}
		}
	}
	return out
}

func (m *Manager) reverse(ctrID string, a netip.Addr) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[ctrID]
	if !ok {
		return ""
	}
	for _, id := range sb.Networks {
		if n, ok := m.nets[id]; ok && n.DNS {
			for _, ep := range n.Endpoints {
				if ep.Addr == a {
					return ep.Name + "." + n.Name
				}
			}
		}
	}
	return ""
}

// choosePorts picks the host side of each binding: the one asked for,
// the first free one of a range, or any free one; a port taken (by our
// rules or by a socket on the host) is a clear error.
func (m *Manager) choosePorts(reqs []PortRequest, ctrIP netip.Addr) ([]PortMapping, error) {
	var out []PortMapping
	taken := func(p PortMapping) bool {
		for _, s := range m.sandboxes {
			for _, q := range append(s.Ports, out...) {
				if q.Proto == p.Proto && q.HostPort == p.HostPort && (!q.HostIP.IsValid() || !p.HostIP.IsValid() || q.HostIP == p.HostIP) {
					return true
				}
			}
		}
		return !portFree(p.Proto, p.HostIP, p.HostPort)
	}
	for _, r := range reqs {
		p := PortMapping{Proto: r.Proto, HostIP: r.HostIP, CtrIP: ctrIP, CtrPort: r.CtrPort}
		if p.Proto == "" {
			p.Proto = "tcp"
		}
		if p.Proto != "tcp" && p.Proto != "udp" {
			return nil, errdefs.InvalidParameter(fmt.Errorf("port %d/%s: only tcp and udp can be published", r.CtrPort, r.Proto))
		}
		switch {
		case r.HostPortStart == 0:
			for i := 0; ; i++ {
				port, err := freePort(p.Proto, p.HostIP)
				if err != nil {
					return nil, err
				}
				p.HostPort = port
				if !taken(p) {
					break
				}
				if i > 20 {
					return nil, errdefs.Unavailable(fmt.Errorf("no free host port for %d/%s", r.CtrPort, p.Proto))
				}
			}
		case r.HostPortEnd > r.HostPortStart:
			ok := false
			for port := int(r.HostPortStart); port <= int(r.HostPortEnd); port++ {
				p.HostPort = uint16(port)
				if !taken(p) {
					ok = true
					break
				}
			}
			if !ok {
				return nil, errdefs.Conflict(fmt.Errorf("Bind for %s:%d-%d failed: all ports of the range are already allocated", hostIPString(p.HostIP), r.HostPortStart, r.HostPortEnd))
			}
		default:
			p.HostPort = r.HostPortStart
			if taken(p) {
				return nil, errdefs.Conflict(fmt.Errorf("Bind for %s:%d failed: port is already allocated (another container or a process on the host holds %d/%s)", hostIPString(p.HostIP), p.HostPort, p.HostPort, p.Proto))
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func hostIPString(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// portFree binds the port for a moment: a process on the host holding
// it would never see the traffic our DNAT takes from it.
func portFree(proto string, ip netip.Addr, port uint16) bool {
	addr := net.JoinHostPort(hostIPString(ip), strconv.Itoa(int(port)))
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// freePort asks the kernel for an unused port.
func freePort(proto string, ip netip.Addr) (uint16, error) {
	addr := net.JoinHostPort(hostIPString(ip), "0")
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return 0, fmt.Errorf("find a free udp port: %w", err)
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return 0, fmt.Errorf("find a free tcp port: %w", err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// Prune removes the sandboxes of containers for which alive is false
// (the daemon's state after a reboot or a crash).
func (m *Manager) Prune(alive func(ctrID string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.sandboxes {
		if !alive(id) {
			if err := m.deleteSandbox(id); err != nil {
				slog.Warn("network: remove a stale sandbox", "container", id, "err", err)
			}
		}
	}
	// Addresses whose sandbox record is gone (a damaged record).
	for _, n := range m.nets {
		for id, ep := range n.Endpoints {
			if _, ok := m.sandboxes[id]; !ok {
				deleteLink(ep.HostVeth)
				delete(n.Endpoints, id)
				m.save(n)
			}
		}
	}
}
