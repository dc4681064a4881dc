package initproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The runtime and the init it spawns exchange syncMsgs in this binary
// form, not JSON: init is a fresh process on every container start, and
// there encoding/json's first decode of a spec (its reflection caches, the
// objects of ~40 types) cost ~90 page faults, 2–3 ms on this project's
// VMs, on the critical path of every start. This codec allocates little
// and touches no reflection.
//
// A message is a 4-byte little-endian length and that many bytes: the
// message's fields in order, strings and lists length-prefixed (uvarint),
// a list's or map's length stored +1 so nil and empty survive the trip,
// pointers as a presence byte.
//
// What crosses is what init uses: the spec without linux.resources,
// cgroupsPath, intelRdt, netDevices, memoryPolicy and the other
// platforms' sections (the parent applies those). wire_test.go fills
// every other field and checks it arrives.

// maxWireMessage bounds what a peer may make us allocate.
const maxWireMessage = 64 << 20

type wireWriter struct{ b []byte }

func (w *wireWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *wireWriter) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *wireWriter) str(s string)     { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }

func (w *wireWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// present writes whether a pointer is set and says so, for
// `if w.present(p != nil) { ... }`.
func (w *wireWriter) present(ok bool) bool { w.bool(ok); return ok }

// count writes a list's or map's length, +1 (0 is nil).
func (w *wireWriter) count(n int, isNil bool) bool {
	if isNil {
		w.uvarint(0)
		return false
	}
	w.uvarint(uint64(n) + 1)
	return true
}

func (w *wireWriter) strs(ss []string) {
	if w.count(len(ss), ss == nil) {
		for _, s := range ss {
			w.str(s)
		}
	}
}

// strMap writes a map's entries sorted, so a message is deterministic.
func (w *wireWriter) strMap(m map[string]string) {
	if !w.count(len(m), m == nil) {
		return
	}
	for _, k := range sortedKeys(m) {
		w.str(k)
		w.str(m[k])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("sync message: malformed %s", what)
	}
	r.b = nil
}

func (r *wireReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) u32() uint32 {
	v := r.uvarint()
	if v > math.MaxUint32 {
		r.fail("32-bit number")
		return 0
	}
	return uint32(v)
}

func (r *wireReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *wireReader) bool() bool {
	if len(r.b) == 0 {
		r.fail("flag")
		return false
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v != 0
}

// count reads a list's or map's length: -1 for nil. Every element takes
// at least a byte, so a count beyond the bytes left is malformed (and
// never becomes a huge allocation).
func (r *wireReader) count() int {
	n := r.uvarint()
	if n == 0 {
		return -1
	}
	if n-1 > uint64(len(r.b)) {
		r.fail("list length")
		return -1
	}
	return int(n - 1)
}

func (r *wireReader) strs() []string {
	n := r.count()
	if n < 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

func (r *wireReader) strMap() map[string]string {
	n := r.count()
	if n < 0 {
		return nil
	}
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k := r.str()
		m[k] = r.str()
	}
	return m
}

// readList reads a counted list of T, each by one.
func readList[T any](r *wireReader, one func(*T)) []T {
	n := r.count()
	if n < 0 {
		return nil
	}
	list := make([]T, n)
	for i := range list {
		one(&list[i])
	}
	return list
}

// writeList writes a counted list, each element by one.
func writeList[T any](w *wireWriter, list []T, one func(*T)) {
	if w.count(len(list), list == nil) {
		for i := range list {
			one(&list[i])
		}
	}
}

// --- Msg ---

func encodeSyncMsg(m *Msg) []byte {
	w := &wireWriter{b: make([]byte, 4, 1024)}
	w.str(m.Type)
	w.str(m.Error)
	w.strs(m.Phases)
	if w.present(m.Config != nil) {
		w.config(m.Config)
	}
	binary.LittleEndian.PutUint32(w.b, uint32(len(w.b)-4))
	return w.b
}

func decodeSyncMsg(b []byte) (Msg, error) {
	r := &wireReader{b: b}
	var m Msg
	m.Type = r.str()
	m.Error = r.str()
	m.Phases = r.strs()
	if r.bool() {
		m.Config = r.config()
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("message (trailing bytes)")
	}
	return m, r.err
}

// writeSyncMsg and readSyncMsg frame messages on the sync socket.
func writeSyncMsg(f io.Writer, m *Msg) error {
	_, err := f.Write(encodeSyncMsg(m))
	return err
}

func readSyncMsg(f io.Reader) (Msg, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return Msg{}, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxWireMessage {
		return Msg{}, fmt.Errorf("sync message of %d bytes: more than the %d allowed", n, maxWireMessage)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(f, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Msg{}, err
	}
	return decodeSyncMsg(b)
}

// --- Config ---

func (w *wireWriter) config(c *Config) {
	w.str(c.ID)
	w.str(c.Bundle)
	w.str(c.Rootfs)
	if w.present(c.Spec != nil) {
		w.spec(c.Spec)
	}
	if w.present(c.Process != nil) {
		w.process(c.Process)
	}
	if w.count(len(c.Join), c.Join == nil) {
		keys := make([]string, 0, len(c.Join))
		for k := range c.Join {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.str(k)
			w.str(c.Join[specs.LinuxNamespaceType(k)])
		}
	}
	w.bool(c.NewCgroupNS)
	w.bool(c.NewTimeNS)
	w.bool(c.NewNetNS)
	w.bool(c.NoPivot)
	w.bool(c.NoNewKeyring)
	w.strMap(c.CgroupPaths)
	if w.count(len(c.IDMapFDs), c.IDMapFDs == nil) {
		idx := make([]int, 0, len(c.IDMapFDs))
		for i := range c.IDMapFDs {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			w.varint(int64(i))
			w.varint(int64(c.IDMapFDs[i]))
		}
	}
}

func (r *wireReader) config() *Config {
	c := &Config{}
	c.ID = r.str()
	c.Bundle = r.str()
	c.Rootfs = r.str()
	if r.bool() {
		c.Spec = r.spec()
	}
	if r.bool() {
		c.Process = r.process()
	}
	if n := r.count(); n >= 0 {
		c.Join = make(map[specs.LinuxNamespaceType]string, n)
		for i := 0; i < n; i++ {
			k := specs.LinuxNamespaceType(r.str())
			c.Join[k] = r.str()
		}
	}
	c.NewCgroupNS = r.bool()
	c.NewTimeNS = r.bool()
	c.NewNetNS = r.bool()
	c.NoPivot = r.bool()
	c.NoNewKeyring = r.bool()
	c.CgroupPaths = r.strMap()
	if n := r.count(); n >= 0 {
		c.IDMapFDs = make(map[int]int, n)
		for i := 0; i < n; i++ {
			k := int(r.varint())
			c.IDMapFDs[k] = int(r.varint())
		}
	}
	return c
}

// --- the spec ---

func (w *wireWriter) spec(s *specs.Spec) {
	w.str(s.Version)
	if w.present(s.Process != nil) {
		w.process(s.Process)
	}
	if w.present(s.Root != nil) {
		w.str(s.Root.Path)
		w.bool(s.Root.Readonly)
	}
	w.str(s.Hostname)
	w.str(s.Domainname)
	writeList(w, s.Mounts, w.mount)
	if w.present(s.Hooks != nil) {
		h := s.Hooks
		for _, list := range [][]specs.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop} {
			writeList(w, list, w.hook)
		}
	}
	w.strMap(s.Annotations)
	if w.present(s.Linux != nil) {
		w.linux(s.Linux)
	}
}

func (r *wireReader) spec() *specs.Spec {
	s := &specs.Spec{}
	s.Version = r.str()
	if r.bool() {
		s.Process = r.process()
	}
	if r.bool() {
		s.Root = &specs.Root{Path: r.str(), Readonly: r.bool()}
	}
	s.Hostname = r.str()
	s.Domainname = r.str()
	s.Mounts = readList(r, r.mount)
	if r.bool() {
		h := &specs.Hooks{}
		for _, list := range []*[]specs.Hook{&h.Prestart, &h.CreateRuntime, &h.CreateContainer, &h.StartContainer, &h.Poststart, &h.Poststop} {
			*list = readList(r, r.hook)
		}
		s.Hooks = h
	}
	s.Annotations = r.strMap()
	if r.bool() {
		s.Linux = r.linux()
	}
	return s
}

func (w *wireWriter) process(p *specs.Process) {
	w.bool(p.Terminal)
	if w.present(p.ConsoleSize != nil) {
		w.uvarint(uint64(p.ConsoleSize.Height))
		w.uvarint(uint64(p.ConsoleSize.Width))
	}
	w.uvarint(uint64(p.User.UID))
	w.uvarint(uint64(p.User.GID))
	if w.present(p.User.Umask != nil) {
		w.uvarint(uint64(*p.User.Umask))
	}
	writeList(w, p.User.AdditionalGids, func(g *uint32) { w.uvarint(uint64(*g)) })
	w.str(p.User.Username)
	w.strs(p.Args)
	w.str(p.CommandLine)
	w.strs(p.Env)
	w.str(p.Cwd)
	if w.present(p.Capabilities != nil) {
		c := p.Capabilities
		for _, set := range [][]string{c.Bounding, c.Effective, c.Inheritable, c.Permitted, c.Ambient} {
			w.strs(set)
		}
	}
	writeList(w, p.Rlimits, func(rl *specs.POSIXRlimit) {
		w.str(rl.Type)
		w.uvarint(rl.Hard)
		w.uvarint(rl.Soft)
	})
	w.bool(p.NoNewPrivileges)
	w.str(p.ApparmorProfile)
	if w.present(p.OOMScoreAdj != nil) {
		w.varint(int64(*p.OOMScoreAdj))
	}
	if w.present(p.Scheduler != nil) {
		sc := p.Scheduler
		w.str(string(sc.Policy))
		w.varint(int64(sc.Nice))
		w.varint(int64(sc.Priority))
		writeList(w, sc.Flags, func(f *specs.LinuxSchedulerFlag) { w.str(string(*f)) })
		w.uvarint(sc.Runtime)
		w.uvarint(sc.Deadline)
		w.uvarint(sc.Period)
	}
	w.str(p.SelinuxLabel)
	if w.present(p.IOPriority != nil) {
		w.str(string(p.IOPriority.Class))
		w.varint(int64(p.IOPriority.Priority))
	}
	if w.present(p.ExecCPUAffinity != nil) {
		w.str(p.ExecCPUAffinity.Initial)
		w.str(p.ExecCPUAffinity.Final)
	}
}

func (r *wireReader) process() *specs.Process {
	p := &specs.Process{}
	p.Terminal = r.bool()
	if r.bool() {
		p.ConsoleSize = &specs.Box{Height: uint(r.uvarint()), Width: uint(r.uvarint())}
	}
	p.User.UID = r.u32()
	p.User.GID = r.u32()
	if r.bool() {
		u := r.u32()
		p.User.Umask = &u
	}
	p.User.AdditionalGids = readList(r, func(g *uint32) { *g = r.u32() })
	p.User.Username = r.str()
	p.Args = r.strs()
	p.CommandLine = r.str()
	p.Env = r.strs()
	p.Cwd = r.str()
	if r.bool() {
		c := &specs.LinuxCapabilities{}
		for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Inheritable, &c.Permitted, &c.Ambient} {
			*set = r.strs()
		}
		p.Capabilities = c
	}
	p.Rlimits = readList(r, func(rl *specs.POSIXRlimit) {
		rl.Type = r.str()
		rl.Hard = r.uvarint()
		rl.Soft = r.uvarint()
	})
	p.NoNewPrivileges = r.bool()
	p.ApparmorProfile = r.str()
	if r.bool() {
		v := int(r.varint())
		p.OOMScoreAdj = &v
	}
	if r.bool() {
		sc := &specs.Scheduler{}
		sc.Policy = specs.LinuxSchedulerPolicy(r.str())
		sc.Nice = int32(r.varint())
		sc.Priority = int32(r.varint())
		sc.Flags = readList(r, func(f *specs.LinuxSchedulerFlag) { *f = specs.LinuxSchedulerFlag(r.str()) })
		sc.Runtime = r.uvarint()
		sc.Deadline = r.uvarint()
		sc.Period = r.uvarint()
		p.Scheduler = sc
	}
	p.SelinuxLabel = r.str()
	if r.bool() {
		p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPriorityClass(r.str()), Priority: int(r.varint())}
	}
	if r.bool() {
		p.ExecCPUAffinity = &specs.CPUAffinity{Initial: r.str(), Final: r.str()}
	}
	return p
}

func (w *wireWriter) idMapping(m *specs.LinuxIDMapping) {
	w.uvarint(uint64(m.ContainerID))
	w.uvarint(uint64(m.HostID))
	w.uvarint(uint64(m.Size))
}

func (r *wireReader) idMapping(m *specs.LinuxIDMapping) {
	m.ContainerID = r.u32()
	m.HostID = r.u32()
	m.Size = r.u32()
}

func (w *wireWriter) mount(m *specs.Mount) {
	w.str(m.Destination)
	w.str(m.Type)
	w.str(m.Source)
	w.strs(m.Options)
	writeList(w, m.UIDMappings, w.idMapping)
	writeList(w, m.GIDMappings, w.idMapping)
}

func (r *wireReader) mount(m *specs.Mount) {
	m.Destination = r.str()
	m.Type = r.str()
	m.Source = r.str()
	m.Options = r.strs()
	m.UIDMappings = readList(r, r.idMapping)
	m.GIDMappings = readList(r, r.idMapping)
}

func (w *wireWriter) hook(h *specs.Hook) {
	w.str(h.Path)
	w.strs(h.Args)
	w.strs(h.Env)
	if w.present(h.Timeout != nil) {
		w.varint(int64(*h.Timeout))
	}
}

func (r *wireReader) hook(h *specs.Hook) {
	h.Path = r.str()
	h.Args = r.strs()
	h.Env = r.strs()
	if r.bool() {
		t := int(r.varint())
		h.Timeout = &t
	}
}

func (w *wireWriter) linux(l *specs.Linux) {
	writeList(w, l.UIDMappings, w.idMapping)
	writeList(w, l.GIDMappings, w.idMapping)
	w.strMap(l.Sysctl)
	writeList(w, l.Namespaces, func(ns *specs.LinuxNamespace) {
		w.str(string(ns.Type))
		w.str(ns.Path)
	})
	writeList(w, l.Devices, func(d *specs.LinuxDevice) {
		w.str(d.Path)
		w.str(d.Type)
		w.varint(d.Major)
		w.varint(d.Minor)
		if w.present(d.FileMode != nil) {
			w.uvarint(uint64(*d.FileMode))
		}
		if w.present(d.UID != nil) {
			w.uvarint(uint64(*d.UID))
		}
		if w.present(d.GID != nil) {
			w.uvarint(uint64(*d.GID))
		}
	})
	if w.present(l.Seccomp != nil) {
		w.seccomp(l.Seccomp)
	}
	w.str(l.RootfsPropagation)
	w.strs(l.MaskedPaths)
	w.strs(l.ReadonlyPaths)
	w.str(l.MountLabel)
	if w.present(l.Personality != nil) {
		w.str(string(l.Personality.Domain))
		writeList(w, l.Personality.Flags, func(f *specs.LinuxPersonalityFlag) { w.str(string(*f)) })
	}
	if w.count(len(l.TimeOffsets), l.TimeOffsets == nil) {
		for _, k := range sortedKeys(l.TimeOffsets) {
			w.str(k)
			w.varint(l.TimeOffsets[k].Secs)
			w.uvarint(uint64(l.TimeOffsets[k].Nanosecs))
		}
	}
}

func (r *wireReader) linux() *specs.Linux {
	l := &specs.Linux{}
	l.UIDMappings = readList(r, r.idMapping)
	l.GIDMappings = readList(r, r.idMapping)
	l.Sysctl = r.strMap()
	l.Namespaces = readList(r, func(ns *specs.LinuxNamespace) {
		ns.Type = specs.LinuxNamespaceType(r.str())
		ns.Path = r.str()
	})
	l.Devices = readList(r, func(d *specs.LinuxDevice) {
		d.Path = r.str()
		d.Type = r.str()
		d.Major = r.varint()
		d.Minor = r.varint()
		if r.bool() {
			m := os.FileMode(r.u32())
			d.FileMode = &m
		}
		if r.bool() {
			u := r.u32()
			d.UID = &u
		}
		if r.bool() {
			g := r.u32()
			d.GID = &g
		}
	})
	if r.bool() {
		l.Seccomp = r.seccomp()
	}
	l.RootfsPropagation = r.str()
	l.MaskedPaths = r.strs()
	l.ReadonlyPaths = r.strs()
	l.MountLabel = r.str()
	if r.bool() {
		p := &specs.LinuxPersonality{Domain: specs.LinuxPersonalityDomain(r.str())}
		p.Flags = readList(r, func(f *specs.LinuxPersonalityFlag) { *f = specs.LinuxPersonalityFlag(r.str()) })
		l.Personality = p
	}
	if n := r.count(); n >= 0 {
		l.TimeOffsets = make(map[string]specs.LinuxTimeOffset, n)
		for i := 0; i < n; i++ {
			k := r.str()
			l.TimeOffsets[k] = specs.LinuxTimeOffset{Secs: r.varint(), Nanosecs: r.u32()}
		}
	}
	return l
}

func (w *wireWriter) seccomp(s *specs.LinuxSeccomp) {
	w.str(string(s.DefaultAction))
	if w.present(s.DefaultErrnoRet != nil) {
		w.uvarint(uint64(*s.DefaultErrnoRet))
	}
	writeList(w, s.Architectures, func(a *specs.Arch) { w.str(string(*a)) })
	writeList(w, s.Flags, func(f *specs.LinuxSeccompFlag) { w.str(string(*f)) })
	w.str(s.ListenerPath)
	w.str(s.ListenerMetadata)
	writeList(w, s.Syscalls, func(sc *specs.LinuxSyscall) {
		w.strs(sc.Names)
		w.str(string(sc.Action))
		if w.present(sc.ErrnoRet != nil) {
			w.uvarint(uint64(*sc.ErrnoRet))
		}
		writeList(w, sc.Args, func(a *specs.LinuxSeccompArg) {
			w.uvarint(uint64(a.Index))
			w.uvarint(a.Value)
			w.uvarint(a.ValueTwo)
			w.str(string(a.Op))
		})
	})
}

func (r *wireReader) seccomp() *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{}
	s.DefaultAction = specs.LinuxSeccompAction(r.str())
	if r.bool() {
		e := uint(r.uvarint())
		s.DefaultErrnoRet = &e
	}
	s.Architectures = readList(r, func(a *specs.Arch) { *a = specs.Arch(r.str()) })
	s.Flags = readList(r, func(f *specs.LinuxSeccompFlag) { *f = specs.LinuxSeccompFlag(r.str()) })
	s.ListenerPath = r.str()
	s.ListenerMetadata = r.str()
	s.Syscalls = readList(r, func(sc *specs.LinuxSyscall) {
		sc.Names = r.strs()
		sc.Action = specs.LinuxSeccompAction(r.str())
		if r.bool() {
			e := uint(r.uvarint())
			sc.ErrnoRet = &e
		}
		sc.Args = readList(r, func(a *specs.LinuxSeccompArg) {
			a.Index = uint(r.uvarint())
			a.Value = r.uvarint()
			a.ValueTwo = r.uvarint()
			a.Op = specs.LinuxSeccompOperator(r.str())
		})
	})
	return s
}
