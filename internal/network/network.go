// Package network is gorae's container networking: persisted IPAM,
// the bridge driver (netlink: bridge, veth, addresses, routes), port
// publishing and masquerade in an nftables table of our own, an
// embedded DNS server per container on user-defined networks, and the
// /etc/hosts, /etc/resolv.conf and /etc/hostname files the engine
// writes for a container. It knows nothing of HTTP; Docker's semantics
// of which container joins which network live in internal/daemon.
package network

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"time"
)

// Drivers.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"
)

// Options Docker's bridge driver reads; we honour these.
const (
	OptBridgeName = "com.docker.network.bridge.name"
	OptMTU        = "com.docker.network.driver.mtu"
	OptMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
	OptDefault    = "com.docker.network.bridge.default_bridge"
)

// Network is one network's record: DATA/network/networks/ID.json. Its
// Endpoints are the IPAM's allocations: an address is handed out by
// writing it here, so no address is handed out twice, also across a
// restart of the daemon.
type Network struct {
	ID         string            `json:"ID"`
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Created    time.Time         `json:"Created"`
	Subnet     netip.Prefix      `json:"Subnet,omitzero"`
	Gateway    netip.Addr        `json:"Gateway,omitzero"`
	IPRange    netip.Prefix      `json:"IPRange,omitzero"`
	Internal   bool              `json:"Internal,omitempty"`
	Attachable bool              `json:"Attachable,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
	Options    map[string]string `json:"Options,omitempty"`
	// Bridge is the Linux bridge's name (bridge driver only).
	Bridge string `json:"Bridge,omitempty"`
	MTU    int    `json:"MTU,omitempty"`
	// Predefined networks (bridge, host, none) cannot be removed.
	Predefined bool `json:"Predefined,omitempty"`
	// DNS says containers on it get the embedded DNS server: user-defined
	// bridge networks only, as in Docker.
	DNS bool `json:"DNS,omitempty"`
	// Masquerade: outbound NAT for the subnet (off for internal networks).
	Masquerade bool `json:"Masquerade,omitempty"`
	// Endpoints by container ID.
	Endpoints map[string]*Endpoint `json:"Endpoints,omitempty"`
	// Last is the last address handed out: the next one starts after it,
	// so a released address is not reused at once.
	Last netip.Addr `json:"Last,omitzero"`
}

// Endpoint is a container's attachment to a network.
type Endpoint struct {
	ID          string     `json:"ID"`
	ContainerID string     `json:"ContainerID"`
	Name        string     `json:"Name"` // the container's name, without "/"
	Addr        netip.Addr `json:"Addr"`
	MAC         string     `json:"MAC"`
	// DNSNames are what the embedded DNS answers with Addr: the
	// container's name, its short ID and its aliases on this network.
	DNSNames []string `json:"DNSNames,omitempty"`
	Aliases  []string `json:"Aliases,omitempty"`
	// HostVeth is the host side of the veth pair.
	HostVeth string `json:"HostVeth,omitempty"`
	// IfName is the interface in the container (eth0, eth1 …).
	IfName string `json:"IfName,omitempty"`
}

// PrefixLen is the network's prefix length (for inspect's IPPrefixLen).
func (n *Network) PrefixLen() int { return n.Subnet.Bits() }

// IsBridge says whether containers get an address on it.
func (n *Network) IsBridge() bool { return n.Driver == DriverBridge }

// NewID returns a random 64-hex ID, as Docker's network IDs.
func NewID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (n *Network) clone() *Network {
	c := *n
	c.Endpoints = make(map[string]*Endpoint, len(n.Endpoints))
	for k, e := range n.Endpoints {
		ec := *e
		c.Endpoints[k] = &ec
	}
	return &c
}
