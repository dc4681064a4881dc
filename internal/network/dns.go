package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// resolver answers one container's queries: names of containers on
// its networks from lookup, everything else from upstreams.
type resolver struct {
	lookup    func(name string) []netip.Addr
	reverse   func(a netip.Addr) string
	upstreams []string // host:port
}

const dnsTTL = 600

func (r *resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := r.answer(req, w.RemoteAddr().Network())
	if resp != nil {
		w.WriteMsg(resp)
	}
}

// answer builds the response to req (never nil for a well-formed query).
func (r *resolver) answer(req *dns.Msg, network string) *dns.Msg {
	resp := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		resp.SetRcode(req, dns.RcodeNotImplemented)
		return resp
	}
	q := req.Question[0]
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	switch q.Qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
		if addrs := r.lookup(name); len(addrs) > 0 {
			resp.SetReply(req)
			resp.Authoritative = true
			resp.RecursionAvailable = true
			if q.Qtype != dns.TypeAAAA {
				for _, a := range addrs {
					resp.Answer = append(resp.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: dnsTTL},
						A:   a.AsSlice(),
					})
				}
			}
			return resp
		}
	case dns.TypePTR:
		if a, ok := ptrAddr(name); ok && r.reverse != nil {
			if n := r.reverse(a); n != "" {
				resp.SetReply(req)
				resp.Authoritative = true
				resp.Answer = append(resp.Answer, &dns.PTR{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: dnsTTL},
					Ptr: dns.Fqdn(n),
				})
				return resp
			}
		}
	}
	return r.forward(req, network)
}

// forward asks the upstream servers in turn; with none (an internal
// network, or no resolvers) the name does not exist.
func (r *resolver) forward(req *dns.Msg, network string) *dns.Msg {
	if network != "tcp" {
		network = "udp"
	}
	c := &dns.Client{Net: network, Timeout: 4 * time.Second}
	for _, u := range r.upstreams {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		in, _, err := c.ExchangeContext(ctx, req, u)
		cancel()
		if err == nil && in != nil {
			if in.Truncated && network == "udp" {
				tc := &dns.Client{Net: "tcp", Timeout: 4 * time.Second}
				if in2, _, err := tc.Exchange(req, u); err == nil {
					return in2
				}
			}
			return in
		}
	}
	resp := new(dns.Msg)
	if len(r.upstreams) == 0 {
		resp.SetRcode(req, dns.RcodeNameError)
	} else {
		resp.SetRcode(req, dns.RcodeServerFailure)
	}
	return resp
}

// ptrAddr reads a.b.c.d.in-addr.arpa.
func ptrAddr(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	p := strings.Split(rest, ".")
	if len(p) != 4 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(p[3] + "." + p[2] + "." + p[1] + "." + p[0])
	return a, err == nil
}

// upstreamAddrs turns resolv.conf nameservers into host:port.
func upstreamAddrs(ns []string) []string {
	var out []string
	for _, n := range ns {
		if a, err := netip.ParseAddr(n); err == nil {
			out = append(out, netip.AddrPortFrom(a, 53).String())
		} else if _, _, err := net.SplitHostPort(n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// dnsServer is one container's embedded DNS: UDP and TCP on
// 127.0.0.11:53 inside its network namespace, served by the daemon.
type dnsServer struct {
	udp, tcp *dns.Server
	pc       net.PacketConn
	l        net.Listener
}

// startDNS opens the sockets inside the namespace at nsPath (they stay
// there) and serves them from this process.
func startDNS(nsPath string, h dns.Handler) (*dnsServer, error) {
	var pc net.PacketConn
	var l net.Listener
	addr := netip.AddrPortFrom(EmbeddedDNS, 53).String()
	err := inNetns(nsPath, func() error {
		var err error
		if pc, err = net.ListenPacket("udp4", addr); err != nil {
			return err
		}
		if l, err = net.Listen("tcp4", addr); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded DNS on %s in %s: %w", addr, nsPath, err)
	}
	s := &dnsServer{
		udp: &dns.Server{PacketConn: pc, Handler: h},
		tcp: &dns.Server{Listener: l, Handler: h},
		pc:  pc, l: l,
	}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	return s, nil
}

// stop closes the sockets too: Shutdown is a no-op for a server that
// has not begun serving yet.
func (s *dnsServer) stop() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
	s.pc.Close()
	s.l.Close()
}
