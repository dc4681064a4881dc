package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorae/gorae/internal/atomicfile"
	"github.com/gorae/gorae/internal/errdefs"
)

// Config configures a Manager.
type Config struct {
	// Root holds the networks' records: Root/networks/ID.json.
	Root string
	// SandboxDir holds the containers' sandbox records, ID.json: on the
	// exec root (tmpfs), because a sandbox (netns, veths) does not outlive
	// a reboot and its record need not either; they are written without
	// fsync, two disk flushes fewer per write on every start. Empty:
	// Root/sandboxes.
	SandboxDir string
	// NetnsDir holds the containers' namespace files (on the exec root).
	NetnsDir string
	// DefaultBridge is the default network's bridge (gorae0).
	DefaultBridge string
	// DefaultSubnet and DefaultGateway (daemon.json bip); zero: the first
	// subnet of Pools.
	DefaultSubnet  netip.Prefix
	DefaultGateway netip.Addr
	// Pools give subnets to networks created without one.
	Pools []Pool
	// BridgePrefix names user networks' bridges: PREFIX + the ID's start
	// (Docker's "br-").
	BridgePrefix string
	// Table is the nftables table (ip family).
	Table string
	MTU   int
	// ResolvConf is the host's resolv.conf (/etc/resolv.conf).
	ResolvConf string
}

// Manager owns networks, containers' sandboxes and the firewall table.
type Manager struct {
	cfg       Config
	mu        sync.Mutex
	nets      map[string]*Network   // by ID
	sandboxes map[string]*Sandbox   // by container ID
	dns       map[string]*dnsServer // by container ID
	fw        firewall
}

// Sandbox is a container's network stack, recorded in SandboxDir/ID.json.
// It is written before anything it names is made, so a daemon killed
// half-way finds what to undo.
type Sandbox struct {
	ContainerID string `json:"ContainerID"`
	// NetnsPath is empty for --network host.
	NetnsPath string `json:"NetnsPath,omitempty"`
	// EtcDir holds hosts, resolv.conf and hostname.
	EtcDir    string        `json:"EtcDir"`
	Etc       EtcConfig     `json:"Etc"`
	Networks  []string      `json:"Networks,omitempty"` // IDs, in join order
	Ports     []PortMapping `json:"Ports,omitempty"`
	Upstreams []string      `json:"Upstreams,omitempty"`
}

// Open loads the records, makes sure the predefined networks and the
// bridges exist, and writes the firewall table.
func Open(cfg Config) (*Manager, error) {
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = "gorae0"
	}
	if !cfg.DefaultSubnet.IsValid() {
		if len(cfg.Pools) > 0 {
			// Docker's rule: without bip, the first pool's first subnet.
			cfg.DefaultSubnet = netip.PrefixFrom(cfg.Pools[0].Base.Addr(), cfg.Pools[0].Size)
		} else {
			cfg.DefaultSubnet = DefaultBridgeSubnet
		}
	}
	if len(cfg.Pools) == 0 {
		cfg.Pools = DefaultPools
	}
	if cfg.BridgePrefix == "" {
		cfg.BridgePrefix = "br-"
	}
	// Interface names have 15 bytes; keep at least 6 for the ID.
	if len(cfg.BridgePrefix) > 9 || len(cfg.DefaultBridge) > 15 || strings.ContainsAny(cfg.BridgePrefix+cfg.DefaultBridge, "/ :\t\n") {
		return nil, fmt.Errorf("bridge name %q or bridge prefix %q: interface names have at most 15 characters (a prefix at most 9), no '/', ':' or spaces", cfg.DefaultBridge, cfg.BridgePrefix)
	}
	if cfg.Table == "" {
		cfg.Table = "gorae-" + cfg.DefaultBridge
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if !cfg.DefaultGateway.IsValid() {
		cfg.DefaultGateway = firstHost(cfg.DefaultSubnet)
	}
	oldSandboxes := filepath.Join(cfg.Root, "sandboxes")
	if cfg.SandboxDir == "" {
		cfg.SandboxDir = oldSandboxes
	}
	m := &Manager{cfg: cfg, nets: map[string]*Network{}, sandboxes: map[string]*Sandbox{}, dns: map[string]*dnsServer{}, fw: firewall{table: cfg.Table}}
	for _, d := range []string{filepath.Join(cfg.Root, "networks"), cfg.SandboxDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create network state dir: %w", err)
		}
	}
	if err := loadAll(filepath.Join(cfg.Root, "networks"), func(n *Network) { m.nets[n.ID] = n }); err != nil {
		return nil, err
	}
	if err := loadAll(cfg.SandboxDir, func(s *Sandbox) { m.sandboxes[s.ContainerID] = s }); err != nil {
		return nil, err
	}
	if oldSandboxes != cfg.SandboxDir {
		if err := m.moveSandboxes(oldSandboxes); err != nil {
			return nil, err
		}
	}
	if err := m.predefined(); err != nil {
		return nil, err
	}
	for _, n := range m.nets {
		if n.IsBridge() {
			if err := ensureBridge(n.Bridge, n.Gateway, n.Subnet.Bits(), n.MTU); err != nil {
				return nil, fmt.Errorf("network %s: %w", n.Name, err)
			}
		}
	}
	if err := m.syncFirewall(); err != nil {
		return nil, err
	}
	return m, nil
}

func loadAll[T any](dir string, add func(*T)) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			slog.Warn("network: skipping a damaged record", "path", p, "err", err)
			continue
		}
		add(v)
	}
	return nil
}

// predefined makes bridge, host and none, and keeps the default bridge's
// configuration in step with the daemon's.
func (m *Manager) predefined() error {
	byName := map[string]*Network{}
	for _, n := range m.nets {
		byName[n.Name] = n
	}
	want := []*Network{
		{Name: "bridge", Driver: DriverBridge, Bridge: m.cfg.DefaultBridge, Subnet: m.cfg.DefaultSubnet.Masked(), Gateway: m.cfg.DefaultGateway, MTU: m.cfg.MTU, Masquerade: true,
			Options: map[string]string{OptDefault: "true", OptBridgeName: m.cfg.DefaultBridge, OptMasquerade: "true", "com.docker.network.bridge.enable_icc": "true", "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0", OptMTU: strconv.Itoa(max(m.cfg.MTU, 1500))}},
		{Name: "host", Driver: DriverHost},
		{Name: "none", Driver: DriverNull},
	}
	for _, w := range want {
		old := byName[w.Name]
		if old != nil && (old.Bridge == w.Bridge && old.Subnet == w.Subnet && old.Gateway == w.Gateway || len(old.Endpoints) > 0) {
			continue
		}
		w.Predefined = true
		w.ID = NewID()
		w.Created = time.Now().UTC()
		if old != nil {
			w.ID, w.Created = old.ID, old.Created
			if old.Bridge != w.Bridge && old.Bridge != "" {
				deleteLink(old.Bridge)
			}
		}
		if err := m.save(w); err != nil {
			return err
		}
		m.nets[w.ID] = w
	}
	return nil
}

func (m *Manager) save(n *Network) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(m.cfg.Root, "networks", n.ID+".json"), b, 0o600); err != nil {
		return fmt.Errorf("save network %s: %w", n.Name, err)
	}
	return nil
}

func (m *Manager) saveSandbox(s *Sandbox) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteVolatile(m.sandboxPath(s.ContainerID), b, 0o600); err != nil {
		return fmt.Errorf("save network sandbox of %s: %w", s.ContainerID, err)
	}
	return nil
}

func (m *Manager) sandboxPath(ctrID string) string {
	return filepath.Join(m.cfg.SandboxDir, ctrID+".json")
}

// moveSandboxes brings the sandbox records an older gorae kept on the data
// root to SandboxDir, for the containers it left running.
func (m *Manager) moveSandboxes(old string) error {
	if _, err := os.Stat(old); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var moved []*Sandbox
	if err := loadAll(old, func(s *Sandbox) { moved = append(moved, s) }); err != nil {
		return err
	}
	for _, s := range moved {
		if _, ok := m.sandboxes[s.ContainerID]; ok {
			continue
		}
		if err := m.saveSandbox(s); err != nil {
			return err
		}
		m.sandboxes[s.ContainerID] = s
	}
	return os.RemoveAll(old)
}

// CreateRequest is `docker network create`.
type CreateRequest struct {
	Name, Driver             string
	Subnet, IPRange, Gateway string
	Internal, Attachable     bool
	Labels, Options          map[string]string
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Create makes a bridge network: its record, then its bridge.
func (m *Manager) Create(req CreateRequest) (*Network, error) {
	if req.Driver == "" {
		req.Driver = DriverBridge
	}
	if req.Driver != DriverBridge {
		return nil, errdefs.NotFound(fmt.Errorf("plugin %q not found: gorae has only the bridge driver", req.Driver))
	}
	if !validName.MatchString(req.Name) {
		return nil, errdefs.InvalidParameter(fmt.Errorf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.nets {
		if n.Name == req.Name {
			return nil, errdefs.Conflict(fmt.Errorf("network with name %s already exists", req.Name))
		}
	}
	n := &Network{ID: NewID(), Name: req.Name, Driver: DriverBridge, Created: time.Now().UTC(), Internal: req.Internal,
		Attachable: req.Attachable, Labels: req.Labels, Options: req.Options, DNS: true, Masquerade: !req.Internal, MTU: m.cfg.MTU}
	if v := req.Options[OptMasquerade]; v == "false" {
		n.Masquerade = false
	}
	if v := req.Options[OptMTU]; v != "" {
		mtu, err := strconv.Atoi(v)
		if err != nil || mtu < 68 || mtu > 65535 {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid %s %q: want a number between 68 and 65535", OptMTU, v))
		}
		n.MTU = mtu
	}
	var used []netip.Prefix
	for _, o := range m.nets {
		if o.Subnet.IsValid() {
			used = append(used, o.Subnet)
		}
	}
	var err error
	if req.Subnet != "" {
		if n.Subnet, err = ParseSubnet(req.Subnet); err != nil {
			return nil, err
		}
		for _, o := range m.nets {
			if o.Subnet.IsValid() && o.Subnet.Overlaps(n.Subnet) {
				return nil, errdefs.InvalidParameter(fmt.Errorf("invalid pool request: Pool overlaps with other one on this address space (%s overlaps network %s's %s)", n.Subnet, o.Name, o.Subnet))
			}
		}
	} else {
		if req.IPRange != "" || req.Gateway != "" {
			return nil, errdefs.InvalidParameter(errors.New("--ip-range and --gateway need --subnet"))
		}
		if n.Subnet, err = poolSubnet(m.cfg.Pools, used); err != nil {
			return nil, err
		}
	}
	if req.IPRange != "" {
		r, err := netip.ParsePrefix(req.IPRange)
		if err != nil || !r.Addr().Is4() {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid ip-range %q: not an IPv4 CIDR", req.IPRange))
		}
		r = r.Masked()
		if r.Bits() < n.Subnet.Bits() || !n.Subnet.Contains(r.Addr()) {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid ip-range %s: not inside the subnet %s", r, n.Subnet))
		}
		n.IPRange = r
	}
	n.Gateway = firstHost(n.Subnet)
	if req.Gateway != "" {
		g, err := netip.ParseAddr(req.Gateway)
		if err != nil || !n.Subnet.Contains(g) || g == n.Subnet.Addr() || g == broadcast(n.Subnet) {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid gateway %q: not a host address of the subnet %s", req.Gateway, n.Subnet))
		}
		n.Gateway = g
	}
	n.Bridge = req.Options[OptBridgeName]
	if n.Bridge == "" {
		n.Bridge = m.cfg.BridgePrefix + n.ID[:15-len(m.cfg.BridgePrefix)]
	}
	if len(n.Bridge) > 15 || strings.ContainsAny(n.Bridge, "/ \t\n:") {
		return nil, errdefs.InvalidParameter(fmt.Errorf("invalid bridge name %q: at most 15 characters, no '/', ':' or spaces", n.Bridge))
	}
	for _, o := range m.nets {
		if o.Bridge == n.Bridge {
			return nil, errdefs.Conflict(fmt.Errorf("bridge %s is already used by network %s", n.Bridge, o.Name))
		}
	}
	if linkExists(n.Bridge) {
		return nil, errdefs.Conflict(fmt.Errorf("an interface named %s already exists on the host: choose another %s", n.Bridge, OptBridgeName))
	}
	if err := ensureBridge(n.Bridge, n.Gateway, n.Subnet.Bits(), n.MTU); err != nil {
		deleteLink(n.Bridge)
		return nil, err
	}
	m.nets[n.ID] = n
	if err := m.save(n); err == nil {
		err = m.syncFirewall()
		if err == nil {
			return n.clone(), nil
		}
	}
	delete(m.nets, n.ID)
	os.Remove(filepath.Join(m.cfg.Root, "networks", n.ID+".json"))
	deleteLink(n.Bridge)
	m.syncFirewall()
	return nil, err
}

// Get finds a network by ID, name or unique ID prefix.
func (m *Manager) Get(ref string) (*Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.get(ref)
	if err != nil {
		return nil, err
	}
	return n.clone(), nil
}

func (m *Manager) get(ref string) (*Network, error) {
	if n, ok := m.nets[ref]; ok {
		return n, nil
	}
	for _, n := range m.nets {
		if n.Name == ref {
			return n, nil
		}
	}
	var found *Network
	if ref != "" {
		for _, n := range m.nets {
			if strings.HasPrefix(n.ID, ref) {
				if found != nil {
					return nil, errdefs.InvalidParameter(fmt.Errorf("network %s is ambiguous (%s and %s)", ref, found.ID[:12], n.ID[:12]))
				}
				found = n
			}
		}
	}
	if found == nil {
		return nil, errdefs.NotFound(fmt.Errorf("network %s not found", ref))
	}
	return found, nil
}

// List returns copies of all networks, by name.
func (m *Manager) List() []*Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Network, 0, len(m.nets))
	for _, n := range m.nets {
		out = append(out, n.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Remove deletes a user-defined network without endpoints.
func (m *Manager) Remove(ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.get(ref)
	if err != nil {
		return err
	}
	if n.Predefined {
		return errdefs.Forbidden(fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	if len(n.Endpoints) > 0 {
		var names []string
		for _, e := range n.Endpoints {
			names = append(names, e.Name)
		}
		sort.Strings(names)
		return errdefs.Conflict(fmt.Errorf("error while removing network: network %s has active endpoints (%s): stop or disconnect them first", n.Name, strings.Join(names, ", ")))
	}
	if err := deleteLink(n.Bridge); err != nil {
		return err
	}
	delete(m.nets, n.ID)
	if err := os.Remove(filepath.Join(m.cfg.Root, "networks", n.ID+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	atomicfile.SyncDir(filepath.Join(m.cfg.Root, "networks"))
	return m.syncFirewall()
}

// syncFirewall renders the whole table from the records.
func (m *Manager) syncFirewall() error {
	var st fwState
	for _, n := range m.nets {
		if n.IsBridge() {
			st.Bridges = append(st.Bridges, fwBridge{Name: n.Bridge, Subnet: n.Subnet, Internal: n.Internal, Masquerade: n.Masquerade})
		}
	}
	sort.Slice(st.Bridges, func(i, j int) bool { return st.Bridges[i].Name < st.Bridges[j].Name })
	for _, s := range m.sandboxes {
		st.Ports = append(st.Ports, s.Ports...)
	}
	return m.fw.apply(st)
}

// RemoveFirewall deletes the daemon's nftables table (tests; a host
// giving up gorae).
func (m *Manager) RemoveFirewall() error { return m.fw.remove() }

// Table is the nftables table's name.
func (m *Manager) Table() string { return m.cfg.Table }

// Close stops the embedded DNS servers; everything else stays in the
// kernel for the next daemon (live-restore).
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.dns {
		s.stop()
		delete(m.dns, id)
	}
}
