package network

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The firewall is one nftables table per daemon (ip gorae-BRIDGE), its
// whole content rendered from the daemon's state and replaced in one
// netlink transaction at each change: flush the table, add the chains
// and rules. The kernel keeps it while no daemon runs, so published
// ports keep working across `kill -9` of the daemon; the next daemon
// renders the same state again.
//
//	chain prerouting  { type nat hook prerouting priority dstnat;  fib daddr type local jump ports }
//	chain output      { type nat hook output priority dstnat;      fib daddr type local jump ports }
//	chain ports       { [ip daddr HOSTIP] meta l4proto P th dport HP dnat to CIP:CP … }
//	chain postrouting { type nat hook postrouting priority srcnat;
//	                    ip saddr SUBNET oifname != BR masquerade        (outbound, not internal)
//	                    ip saddr 127.0.0.0/8 oifname BR masquerade      (published on loopback)
//	                    ip saddr CIP ip daddr CIP th dport CP masquerade (hairpin) }
//	chain forward     { type filter hook forward priority filter;
//	                    iifname BR oifname != BR drop; oifname BR iifname != BR drop (internal)
//	                    ct status dnat accept; iifname BR1 oifname BR2 drop … (isolation) }
//
// 127.0.0.1 works because the output chain DNATs locally made packets
// too and the bridge has route_localnet=1, as Docker does without its
// userland proxy. We chose this over a userland proxy because rules
// live in the kernel: a proxy would die with the daemon and take the
// published ports with it until the daemon came back.

// PortMapping is one published port, resolved: the host side chosen.
type PortMapping struct {
	Proto    string     `json:"Proto"` // tcp, udp
	HostIP   netip.Addr `json:"HostIP,omitzero"`
	HostPort uint16     `json:"HostPort"`
	CtrIP    netip.Addr `json:"CtrIP"`
	CtrPort  uint16     `json:"CtrPort"`
}

func (p PortMapping) String() string {
	h := "0.0.0.0"
	if p.HostIP.IsValid() {
		h = p.HostIP.String()
	}
	return fmt.Sprintf("%s:%d->%s:%d/%s", h, p.HostPort, p.CtrIP, p.CtrPort, p.Proto)
}

// fwBridge is what the firewall needs of a bridge network.
type fwBridge struct {
	Name       string
	Subnet     netip.Prefix
	Internal   bool
	Masquerade bool
}

// fwState is the whole input of the firewall.
type fwState struct {
	Bridges []fwBridge
	Ports   []PortMapping
}

// fwRule is one rule of the rendered table.
type fwRule struct {
	Chain string
	Exprs []expr.Any
}

// ipsDstNAT is the conntrack status bit of a DNATed connection.
const ipsDstNAT = 1 << 5

const (
	chPrerouting  = "prerouting"
	chOutput      = "output"
	chPorts       = "ports"
	chPostrouting = "postrouting"
	chForward     = "forward"
)

// render turns the state into rules, in a stable order.
func render(st fwState) []fwRule {
	var out []fwRule
	localJump := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: chPorts},
	}
	out = append(out, fwRule{chPrerouting, localJump}, fwRule{chOutput, localJump})
	ports := append([]PortMapping(nil), st.Ports...)
	sort.Slice(ports, func(i, j int) bool { return ports[i].String() < ports[j].String() })
	for _, p := range ports {
		var e []expr.Any
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			e = append(e, matchAddr(16, netip.PrefixFrom(p.HostIP, 32))...)
		}
		e = append(e, matchPort(p.Proto, p.HostPort)...)
		e = append(e,
			&expr.Immediate{Register: 1, Data: p.CtrIP.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.CtrPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
		out = append(out, fwRule{chPorts, e})
	}
	for _, b := range st.Bridges {
		if b.Masquerade && !b.Internal {
			e := matchAddr(12, b.Subnet)
			e = append(e, matchIfname(expr.MetaKeyOIFNAME, b.Name, expr.CmpOpNeq)...)
			out = append(out, fwRule{chPostrouting, append(e, &expr.Masq{})})
		}
		e := matchAddr(12, netip.MustParsePrefix("127.0.0.0/8"))
		e = append(e, matchIfname(expr.MetaKeyOIFNAME, b.Name, expr.CmpOpEq)...)
		out = append(out, fwRule{chPostrouting, append(e, &expr.Masq{})})
		if b.Internal {
			in := matchIfname(expr.MetaKeyIIFNAME, b.Name, expr.CmpOpEq)
			in = append(in, matchIfname(expr.MetaKeyOIFNAME, b.Name, expr.CmpOpNeq)...)
			outb := matchIfname(expr.MetaKeyOIFNAME, b.Name, expr.CmpOpEq)
			outb = append(outb, matchIfname(expr.MetaKeyIIFNAME, b.Name, expr.CmpOpNeq)...)
			drop := &expr.Verdict{Kind: expr.VerdictDrop}
			out = append(out, fwRule{chForward, append(in, drop)}, fwRule{chForward, append(outb, drop)})
		}
	}
	// Isolation between bridge networks, as Docker's: nothing is
	// forwarded from one bridge to another, except what our DNAT sent
	// (a published port reached through the host's address).
	if len(st.Bridges) > 1 {
		out = append(out, fwRule{chForward, []expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
	}
	for _, a := range st.Bridges {
		for _, b := range st.Bridges {
			if a.Name != b.Name {
				e := matchIfname(expr.MetaKeyIIFNAME, a.Name, expr.CmpOpEq)
				e = append(e, matchIfname(expr.MetaKeyOIFNAME, b.Name, expr.CmpOpEq)...)
				out = append(out, fwRule{chForward, append(e, &expr.Verdict{Kind: expr.VerdictDrop})})
			}
		}
	}
	for _, p := range ports {
		e := matchAddr(12, netip.PrefixFrom(p.CtrIP, 32))
		e = append(e, matchAddr(16, netip.PrefixFrom(p.CtrIP, 32))...)
		e = append(e, matchPort(p.Proto, p.CtrPort)...)
		out = append(out, fwRule{chPostrouting, append(e, &expr.Masq{})})
	}
	return out
}

// matchAddr matches the IPv4 source (offset 12) or destination (16)
// against a prefix.
func matchAddr(offset uint32, p netip.Prefix) []expr.Any {
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}}
	if p.Bits() < 32 {
		m := ^uint32(0) << (32 - p.Bits())
		mask := [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()})
}

func matchPort(proto string, port uint16) []expr.Any {
	pn := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		pn = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{pn}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func matchIfname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// firewall applies rendered rules to the table.
type firewall struct {
	table string
}

func (f *firewall) chains(t *nftables.Table) map[string]*nftables.Chain {
	accept := nftables.ChainPolicyAccept
	return map[string]*nftables.Chain{
		chPrerouting:  {Name: chPrerouting, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest},
		chOutput:      {Name: chOutput, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest},
		chPorts:       {Name: chPorts, Table: t},
		chPostrouting: {Name: chPostrouting, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
		chForward:     {Name: chForward, Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept},
	}
}

// apply replaces the table's rules with st's, in one transaction.
func (f *firewall) apply(st fwState) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: open netlink: %w", err)
	}
	defer c.CloseLasting()
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: f.table})
	c.FlushTable(t)
	chains := f.chains(t)
	// Regular chains first: the base chains' rules jump to them.
	c.AddChain(chains[chPorts])
	for _, n := range []string{chPrerouting, chOutput, chPostrouting, chForward} {
		c.AddChain(chains[n])
	}
	for _, r := range render(st) {
		c.AddRule(&nftables.Rule{Table: t, Chain: chains[r.Chain], Exprs: r.Exprs})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: write table ip %s: %w", f.table, err)
	}
	return nil
}

// remove deletes the table (tests, and a daemon giving up networking).
func (f *firewall) remove() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: f.table})
	return c.Flush()
}
