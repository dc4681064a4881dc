package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// newNetns makes a network namespace kept alive by a bind mount on path
// (no process needs to be in it), with lo up. The container's runtime
// joins it by path (the OCI spec's network namespace), so our runtime
// and runc alike get an interface that is already wired.
func newNetns(path string) (retErr error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return fmt.Errorf("create netns dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %s: %w", path, err)
	}
	f.Close()
	defer func() {
		if retErr != nil {
			deleteNetns(path)
		}
	}()
	errc := make(chan error, 1)
	go func() {
		// unshare changes this thread only: lock it, and let it die
		// (no UnlockOSThread) if it cannot go back to our namespace.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			errc <- fmt.Errorf("unshare netns: %w", err)
			if netns.Set(orig) == nil {
				runtime.UnlockOSThread()
			}
			return
		}
		defer ns.Close()
		err = unix.Mount(fmt.Sprintf("/proc/self/fd/%d", int(ns)), path, "", unix.MS_BIND, "")
		if err != nil {
			err = fmt.Errorf("bind mount netns on %s: %w", path, err)
		}
		if serr := netns.Set(orig); serr == nil {
			runtime.UnlockOSThread()
		} else if err == nil {
			err = fmt.Errorf("return to the daemon's netns: %w", serr)
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return err
	}
	h, err := nsHandle(path)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bring lo up in %s: %w", path, err)
	}
	return nil
}

// deleteNetns undoes newNetns; a missing path is no error.
func deleteNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns file %s: %w", path, err)
	}
	return nil
}

// nsHandle is a netlink handle inside the namespace at path.
type nsH struct {
	*netlink.Handle
	ns netns.NsHandle
}

func (h nsH) Close() { h.Handle.Close(); h.ns.Close() }

func nsHandle(path string) (nsH, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nsH{}, fmt.Errorf("open netns %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nsH{}, fmt.Errorf("netlink in netns %s: %w", path, err)
	}
	return nsH{h, ns}, nil
}

// inNetns runs f on a thread inside the namespace at path: sockets f
// opens stay in that namespace.
func inNetns(path string, f func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// ensureBridge makes the bridge (or adopts it), gives it the gateway
// address and brings it up. route_localnet lets DNAT send packets from
// 127.0.0.1 to containers (ports published on loopback).
func ensureBridge(name string, gw netip.Addr, bits, mtu int) error {
	l, err := netlink.LinkByName(name)
	if _, ok := err.(netlink.LinkNotFoundError); ok {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		if mtu > 0 {
			attrs.MTU = mtu
		}
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		l, err = netlink.LinkByName(name)
	}
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", name, err)
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return fmt.Errorf("interface %s exists and is a %s, not a bridge: pick another bridge name", name, l.Type())
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(bits, 32)}}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("address %s on bridge %s: %w", gw, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring bridge %s up: %w", name, err)
	}
	os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/route_localnet", []byte("1"), 0o644)
	return nil
}

func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if _, ok := err.(netlink.LinkNotFoundError); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func vethName() string {
	var b [4]byte
	rand.Read(b[:])
	return "veth" + hex.EncodeToString(b[:])[:7]
}

// veth describes one endpoint's wiring.
type veth struct {
	NetnsPath string
	Bridge    string
	HostName  string
	IfName    string
	Addr      netip.Addr
	Bits      int
	Gateway   netip.Addr
	MAC       string
	MTU       int
	// DefaultRoute: only the first network gives the container its
	// default route.
	DefaultRoute bool
}

// addVeth makes the pair with its peer born inside the container's
// namespace, puts the host side on the bridge, and gives the peer its
// address, MAC and route. On failure the pair is deleted (the peer goes
// with it).
func addVeth(v veth) (retErr error) {
	br, err := netlink.LinkByName(v.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", v.Bridge, err)
	}
	h, err := nsHandle(v.NetnsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = v.HostName
	attrs.MasterIndex = br.Attrs().Index
	if v.MTU > 0 {
		attrs.MTU = v.MTU
	}
	pair := &netlink.Veth{LinkAttrs: attrs, PeerName: v.IfName, PeerNamespace: netlink.NsFd(int(h.ns))}
	if mac, err := net.ParseMAC(v.MAC); err == nil {
		pair.PeerHardwareAddr = mac
	}
	if err := netlink.LinkAdd(pair); err != nil {
		return fmt.Errorf("create veth %s: %w", v.HostName, err)
	}
	defer func() {
		if retErr != nil {
			deleteLink(v.HostName)
		}
	}()
	host, err := netlink.LinkByName(v.HostName)
	if err != nil {
		return fmt.Errorf("find veth %s: %w", v.HostName, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring %s up: %w", v.HostName, err)
	}
	peer, err := h.LinkByName(v.IfName)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", v.IfName, v.NetnsPath, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: v.Addr.AsSlice(), Mask: net.CIDRMask(v.Bits, 32)}}
	if err := h.AddrAdd(peer, addr); err != nil {
		return fmt.Errorf("address %s on %s: %w", v.Addr, v.IfName, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("bring %s up in the container: %w", v.IfName, err)
	}
	if v.DefaultRoute {
		r := &netlink.Route{LinkIndex: peer.Attrs().Index, Gw: v.Gateway.AsSlice()}
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("default route via %s: %w", v.Gateway, err)
		}
	}
	return nil
}

// nextIfName is the first ethN not in the namespace.
func nextIfName(nsPath string) (string, error) {
	h, err := nsHandle(nsPath)
	if err != nil {
		return "", err
	}
	defer h.Close()
	for i := 0; ; i++ {
		n := "eth" + strconv.Itoa(i)
		if _, err := h.LinkByName(n); err != nil {
			return n, nil
		}
	}
}
