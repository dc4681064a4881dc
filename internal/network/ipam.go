package network

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gorae/gorae/internal/errdefs"
)

// Pool is one of daemon.json's default-address-pools: subnets of Size
// bits are carved from Base for networks created without a subnet.
type Pool struct {
	Base netip.Prefix `json:"base"`
	Size int          `json:"size"`
}

// DefaultPools keep clear of Docker's 172.17.0.0/16 (and its pools in
// 172.16/12 and 192.168/16), so gorae and dockerd can run side by side.
var DefaultPools = []Pool{{Base: netip.MustParsePrefix("10.211.0.0/16"), Size: 24}}

// DefaultBridgeSubnet is the default network's subnet without bip or
// default-address-pools: a /16 as Docker's, beside DefaultPools.
var DefaultBridgeSubnet = netip.MustParsePrefix("10.210.0.0/16")

// ParsePool reads the --default-address-pool flag: base=CIDR,size=N.
func ParsePool(s string) (Pool, error) {
	var p Pool
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "base":
			b, err := netip.ParsePrefix(v)
			if err != nil || !b.Addr().Is4() {
				return p, fmt.Errorf("default address pool %q: base %q is not an IPv4 CIDR", s, v)
			}
			p.Base = b.Masked()
		case "size":
			n, err := strconv.Atoi(v)
			if err != nil {
				return p, fmt.Errorf("default address pool %q: size %q is not a number", s, v)
			}
			p.Size = n
		default:
			return p, fmt.Errorf("default address pool %q: unknown key %q (base=CIDR,size=N)", s, k)
		}
	}
	if !p.Base.IsValid() || p.Size < p.Base.Bits() || p.Size > 30 {
		return p, fmt.Errorf("default address pool %q: want base=CIDR,size=N with N between the base's length and 30", s)
	}
	return p, nil
}

// ParseSubnet reads a user's subnet: IPv4 only, at most /30 (a network,
// a gateway, one container, a broadcast).
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return p, errdefs.InvalidParameter(fmt.Errorf("invalid subnet %q: not a CIDR such as 10.1.2.0/24", s))
	}
	if !p.Addr().Is4() {
		return p, errdefs.InvalidParameter(fmt.Errorf("invalid subnet %q: only IPv4 subnets are supported by gorae", s))
	}
	if p.Bits() > 30 {
		return p, errdefs.InvalidParameter(fmt.Errorf("invalid subnet %q: too small, use /30 or larger", s))
	}
	return p.Masked(), nil
}

// firstHost is the subnet's first usable address (the default gateway).
func firstHost(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// broadcast is the subnet's last address.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= ^uint32(0) >> p.Bits()
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// usable says whether a may be handed to a container on n.
func usable(n *Network, a netip.Addr) bool {
	return n.Subnet.Contains(a) && a != n.Subnet.Masked().Addr() && a != broadcast(n.Subnet) && a != n.Gateway
}

func inUse(n *Network, a netip.Addr) bool {
	for _, e := range n.Endpoints {
		if e.Addr == a {
			return true
		}
	}
	return false
}

// ErrNoAddress is returned when a network has no free address left.
var ErrNoAddress = errors.New("no available IPv4 addresses on this network's address pools")

// allocate picks an address for a new endpoint on n: want if given
// (--ip), otherwise the next free one after n.Last, within IPRange when
// the network has one. The caller records it in n.Endpoints and saves n
// before using it.
func allocate(n *Network, want netip.Addr) (netip.Addr, error) {
	if want.IsValid() {
		want = want.Unmap()
		if !usable(n, want) {
			return netip.Addr{}, errdefs.InvalidParameter(fmt.Errorf("invalid address %s: it does not belong to any of network %s's subnets (%s) or is reserved", want, n.Name, n.Subnet))
		}
		if inUse(n, want) {
			return netip.Addr{}, errdefs.Conflict(fmt.Errorf("address %s is already in use on network %s", want, n.Name))
		}
		return want, nil
	}
	r := n.Subnet
	if n.IPRange.IsValid() {
		r = n.IPRange
	}
	start := n.Last
	if !start.IsValid() || !r.Contains(start) {
		start = r.Masked().Addr()
	}
	a := start
	for {
		a = a.Next()
		if !r.Contains(a) {
			a = r.Masked().Addr()
		}
		if usable(n, a) && !inUse(n, a) {
			return a, nil
		}
		if a == start {
			return netip.Addr{}, errdefs.Unavailable(fmt.Errorf("network %s: %w", n.Name, ErrNoAddress))
		}
	}
}

// poolSubnet carves the first subnet from pools that overlaps none of
// used, for a network created without a subnet.
func poolSubnet(pools []Pool, used []netip.Prefix) (netip.Prefix, error) {
	for _, p := range pools {
		step := uint32(1) << (32 - p.Size)
		base := p.Base.Masked().Addr().As4()
		b := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
		count := uint32(1) << (p.Size - p.Base.Bits())
	next:
		for i := uint32(0); i < count; i++ {
			n := b + i*step
			cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), p.Size)
			for _, u := range used {
				if u.Overlaps(cand) {
					continue next
				}
			}
			return cand, nil
		}
	}
	return netip.Prefix{}, errdefs.Forbidden(errors.New("all predefined address pools have been fully subnetted: remove unused networks (docker network prune) or give --subnet"))
}

// macFor derives the container's MAC from its address, as Docker did:
// 02:42 (locally administered) then the four address bytes.
func macFor(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}
