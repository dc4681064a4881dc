package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxArgs is the number of syscall arguments in seccomp_data.
const maxArgs = 6

// retEnosys is what runc's stub returns for syscalls newer than the profile.
const retEnosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)

// retBadArch is libseccomp's default bad-architecture action, SCMP_ACT_KILL.
const retBadArch = unix.SECCOMP_RET_KILL_THREAD

// ErrNotifyUnsupported is returned for profiles using SCMP_ACT_NOTIFY: gorae
// does not yet hand a listener fd to listenerPath.
var ErrNotifyUnsupported = errors.New("SCMP_ACT_NOTIFY is not supported yet (no seccomp listener hand-off to listenerPath)")

// cond is one argument comparison. For SCMP_CMP_MASKED_EQ, mask is the mask
// and val the expected masked value.
type cond struct {
	arg  uint
	op   specs.LinuxSeccompOperator
	val  uint64
	mask uint64
}

// rule is one ORed alternative of a syscalls[] entry: its conditions are
// ANDed.
type rule struct {
	index int // position in syscalls[], for messages
	names []string
	ret   uint32
	conds []cond
}

// profile is a validated LinuxSeccomp, independent of the architecture.
type profile struct {
	def   uint32
	rules []rule
	// allNames are the names of every entry, including the ones dropped for
	// having the default action: runc's ENOSYS stub counts them too.
	allNames [][]string
	// stub is set when syscalls newer than any the profile names get
	// ENOSYS rather than the default action (runc's patchbpf): a libc then
	// falls back to older syscalls instead of failing on EPERM.
	stub bool
}

func actionRet(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		// The runtime-spec says a runtime must fail on errnoRet for actions
		// that carry no errno.
		if act != specs.ActErrno && act != specs.ActTrace {
			return 0, fmt.Errorf("errno %d given for action %s, which returns no errno", *errnoRet, act)
		}
		if *errnoRet > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errno %d does not fit in the 16 bits of SECCOMP_RET_DATA", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch act {
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, ErrNotifyUnsupported
	}
	return 0, fmt.Errorf("unknown action %q", act)
}

var knownOps = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true, specs.OpEqualTo: true,
	specs.OpGreaterEqual: true, specs.OpGreaterThan: true, specs.OpMaskedEqual: true,
}

// knownFlags are the filter flags runc accepts. TSYNC is accepted and
// ignored like runc does: the filter is for the thread that execs.
var knownFlags = map[specs.LinuxSeccompFlag]bool{
	"SECCOMP_FILTER_FLAG_TSYNC":            true,
	specs.LinuxSeccompFlagLog:              true,
	specs.LinuxSeccompFlagSpecAllow:        true,
	specs.LinuxSeccompFlagWaitKillableRecv: true,
}

func parseProfile(s *specs.LinuxSeccomp) (*profile, error) {
	if s == nil {
		return nil, errors.New("seccomp: no profile")
	}
	def, err := actionRet(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	for i, f := range s.Flags {
		if !knownFlags[f] {
			return nil, fmt.Errorf("seccomp: flags[%d]: unknown flag %q", i, f)
		}
	}
	p := &profile{def: def}
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		// runc leaves permissive profiles alone: a tracer handles new
		// syscalls itself, and allow needs no ENOSYS.
	default:
		p.stub = true
	}
	for i, sc := range s.Syscalls {
		ret, err := actionRet(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
		for _, n := range sc.Names {
			if n == "" {
				return nil, fmt.Errorf("seccomp: syscalls[%d]: empty syscall name", i)
			}
		}
		conds := make([]cond, 0, len(sc.Args))
		var perArg [maxArgs]int
		split := false
		for j, a := range sc.Args {
			if a.Index >= maxArgs {
				return nil, fmt.Errorf("seccomp: syscalls[%d] (%s): args[%d]: index %d out of range 0-%d", i, firstName(sc.Names), j, a.Index, maxArgs-1)
			}
			if !knownOps[a.Op] {
				return nil, fmt.Errorf("seccomp: syscalls[%d] (%s): args[%d]: unknown operator %q", i, firstName(sc.Names), j, a.Op)
			}
			c := cond{arg: a.Index, op: a.Op, val: a.Value}
			if a.Op == specs.OpMaskedEqual {
				// libseccomp compares (arg & mask) == (datum & mask).
				c.mask, c.val = a.Value, a.ValueTwo&a.Value
			}
			conds = append(conds, c)
			perArg[a.Index]++
			split = split || perArg[a.Index] > 1
		}
		p.allNames = append(p.allNames, sc.Names)
		if ret == def {
			// libseccomp refuses rules with the default action; runc skips
			// them, and so do we.
			continue
		}
		if split {
			// runc's historical reading: when an argument is compared twice
			// in one entry, each comparison becomes a rule of its own (ORed).
			for _, c := range conds {
				p.rules = append(p.rules, rule{index: i, names: sc.Names, ret: ret, conds: []cond{c}})
			}
			continue
		}
		slices.SortStableFunc(conds, func(a, b cond) int { return int(a.arg) - int(b.arg) })
		p.rules = append(p.rules, rule{index: i, names: sc.Names, ret: ret, conds: conds})
	}
	return p, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return "no names"
	}
	return names[0]
}

// sysRules are the rules for one syscall number on one ABI.
type sysRules struct {
	// uncond is set once an unconditional rule arrived: as in libseccomp,
	// the first one decides the syscall and conditional rules are dropped.
	uncond bool
	ret    uint32
	rules  []rule // conditional alternatives, first match wins
}

func (s *sysRules) add(ret uint32, conds []cond) {
	switch {
	case s.uncond:
	case len(conds) == 0:
		s.uncond, s.ret, s.rules = true, ret, nil
	default:
		s.rules = append(s.rules, rule{ret: ret, conds: conds})
	}
}

// forABI normalizes conditions the way libseccomp does for an ABI: 32-bit
// ABIs compare the low words only, and masked comparisons with a zero mask
// always hold and vanish.
func forABI(conds []cond, a *abi) []cond {
	out := make([]cond, 0, len(conds))
	for _, c := range conds {
		if a.args32 {
			c.val &= 0xffffffff
			c.mask &= 0xffffffff
		}
		if c.op == specs.OpMaskedEqual && c.mask == 0 {
			continue
		}
		out = append(out, c)
	}
	return out
}

// abiRules gathers the rules of p for ABI a, keyed by syscall number
// (nrBase included), and the highest number the profile names on a.
func abiRules(p *profile, a *abi) (map[uint32]*sysRules, uint32, bool) {
	m := make(map[uint32]*sysRules)
	get := func(nr uint32) *sysRules {
		r := m[nr]
		if r == nil {
			r = &sysRules{}
			m[nr] = r
		}
		return r
	}
	for _, r := range p.rules {
		conds := forABI(r.conds, a)
		for _, name := range r.names {
			if nr, ok := lookup(name, a); ok {
				get(nr+a.nrBase).add(r.ret, conds)
			}
			// The multiplexed form carries the real arguments behind a
			// pointer, so only unconditional rules can cover it.
			if mux, call, ok := muxFor(name, a); ok && len(conds) == 0 {
				get(mux+a.nrBase).add(r.ret, []cond{{arg: 0, op: specs.OpEqualTo, val: call}})
			}
		}
	}
	var maxNr uint32
	found := false
	for _, names := range p.allNames {
		for _, name := range names {
			if nr, ok := lookup(name, a); ok {
				maxNr, found = max(maxNr, nr+a.nrBase), true
			}
		}
	}
	for nr := range m {
		maxNr, found = max(maxNr, nr), true
	}
	return m, maxNr, found
}

// span is a range of syscall numbers with one outcome: a ret, or the rules
// of a single syscall.
type span struct {
	lo, hi uint32
	ret    uint32
	rules  *sysRules
	a      *abi
}

// spans covers [lo, hi] for ABI a.
func spans(p *profile, a *abi, lo, hi uint32) []span {
	m, maxNr, found := abiRules(p, a)
	nrs := make([]uint32, 0, len(m))
	for nr := range m {
		if nr >= lo && nr <= hi {
			nrs = append(nrs, nr)
		}
	}
	slices.Sort(nrs)
	var out []span
	add := func(s span) {
		if n := len(out); n > 0 && out[n-1].rules == nil && s.rules == nil && out[n-1].ret == s.ret && out[n-1].hi+1 == s.lo {
			out[n-1].hi = s.hi
			return
		}
		out = append(out, s)
	}
	cur := uint64(lo)
	for _, nr := range nrs {
		if cur < uint64(nr) {
			add(span{lo: uint32(cur), hi: nr - 1, ret: p.def})
		}
		r := m[nr]
		if r.uncond {
			add(span{lo: nr, hi: nr, ret: r.ret})
		} else {
			add(span{lo: nr, hi: nr, rules: r, a: a})
		}
		cur = uint64(nr) + 1
	}
	if p.stub && found && maxNr >= lo && maxNr < hi {
		if cur <= uint64(maxNr) {
			add(span{lo: uint32(cur), hi: maxNr, ret: p.def})
		}
		cur = uint64(maxNr) + 1
		add(span{lo: uint32(cur), hi: hi, ret: retEnosys})
		cur = uint64(hi) + 1
	}
	if cur <= uint64(hi) {
		add(span{lo: uint32(cur), hi: hi, ret: p.def})
	}
	return out
}

// archSpans covers all syscall numbers reported under one AUDIT_ARCH value.
func archSpans(p *profile, group []*abi) []span {
	if group[0].audit != unix.AUDIT_ARCH_X86_64 {
		return spans(p, group[0], 0, 0xffffffff)
	}
	// x86_64 and x32 share AUDIT_ARCH_X86_64 and split the number space.
	out := spans(p, group[0], 0, x32SyscallBit-1)
	if len(group) > 1 {
		return append(out, spans(p, group[1], x32SyscallBit, 0xffffffff)...)
	}
	// Without x32 in the filter, libseccomp sends x32 syscalls to the
	// bad-arch action, except -1, which tracers use to skip a syscall.
	return append(out,
		span{lo: x32SyscallBit, hi: 0xfffffffe, ret: retBadArch},
		span{lo: 0xffffffff, hi: 0xffffffff, ret: p.def})
}

type gen struct {
	asm *asm
	def uint32
}

// tree emits a binary search over sorted, contiguous spans. A is the syscall
// number throughout.
func (g *gen) tree(ss []span) target {
	if len(ss) == 1 {
		if ss[0].rules != nil {
			return g.sysRules(ss[0].rules, ss[0].a)
		}
		return retTo(ss[0].ret)
	}
	mid := len(ss) / 2
	right := g.tree(ss[mid:])
	left := g.tree(ss[:mid])
	return g.asm.jump(opJgeK, ss[mid].lo, right, left)
}

// sysRules emits the ORed rules of one syscall; none matching means the
// default action.
func (g *gen) sysRules(s *sysRules, a *abi) target {
	next := retTo(g.def)
	for i := len(s.rules) - 1; i >= 0; i-- {
		r := s.rules[i]
		t := retTo(r.ret)
		for j := len(r.conds) - 1; j >= 0; j-- {
			t = g.cond(r.conds[j], a, t, next)
		}
		next = t
	}
	return next
}

// test emits "A = word at off; if A <op> k goto t else f".
func (g *gen) test(off uint32, op uint16, k uint32, t, f target) target {
	if t.same(f) {
		return t
	}
	return g.asm.load(off, g.asm.jump(op, k, t, f))
}

// cond emits one argument comparison, going to t when it holds and to f
// otherwise. 64-bit values are compared a 32-bit word at a time, high word
// first, as libseccomp does.
func (g *gen) cond(c cond, a *abi, t, f target) target {
	lo := uint32(offArgs + 8*c.arg) // little-endian: low word first
	hi := lo + 4
	vlo, vhi := uint32(c.val), uint32(c.val>>32)
	switch c.op {
	case specs.OpEqualTo, specs.OpNotEqual:
		if c.op == specs.OpNotEqual {
			t, f = f, t
		}
		low := g.test(lo, opJeqK, vlo, t, f)
		if a.args32 {
			return low
		}
		return g.test(hi, opJeqK, vhi, low, f)

	case specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual:
		// a < v is !(a >= v) and a <= v is !(a > v).
		op := uint16(opJgtK)
		if c.op == specs.OpGreaterEqual || c.op == specs.OpLessThan {
			op = opJgeK
		}
		if c.op == specs.OpLessThan || c.op == specs.OpLessEqual {
			t, f = f, t
		}
		low := g.test(lo, op, vlo, t, f)
		if a.args32 {
			return low
		}
		// High word greater: holds; equal: the low word decides; less: fails.
		var hiTest target
		switch vhi {
		case 0: // nothing is below 0
			hiTest = g.asm.jump(opJeqK, 0, low, t)
		case 0xffffffff: // nothing is above it
			hiTest = g.asm.jump(opJeqK, vhi, low, f)
		default:
			hiTest = g.asm.jump(opJgtK, vhi, t, g.asm.jump(opJeqK, vhi, low, f))
		}
		return g.asm.load(hi, hiTest)

	case specs.OpMaskedEqual:
		mlo, mhi := uint32(c.mask), uint32(c.mask>>32)
		t = g.masked(lo, mlo, vlo, t, f)
		if a.args32 {
			return t
		}
		return g.masked(hi, mhi, vhi, t, f)
	}
	panic("seccomp: unvalidated operator " + string(c.op)) // parseProfile rejects these
}

// masked emits "(word at off) & m == v ? t : f" for one word; v is already
// masked.
func (g *gen) masked(off, m, v uint32, t, f target) target {
	switch {
	case m == 0: // always holds
		return t
	case m == 0xffffffff:
		return g.test(off, opJeqK, v, t, f)
	case v == 0: // no masked bit set
		return g.test(off, opJsetK, m, f, t)
	}
	if t.same(f) {
		return t
	}
	j := g.asm.jump(opJeqK, v, t, f)
	return g.asm.load(off, g.asm.seq(unix.SockFilter{Code: opAndK, K: m}, j))
}

// compile renders p for the given ABIs, the native one first.
func compile(p *profile, list []*abi) ([]unix.SockFilter, error) {
	// Group the ABIs by the AUDIT_ARCH value the kernel reports.
	var groups [][]*abi
	for _, a := range list {
		i := slices.IndexFunc(groups, func(g []*abi) bool { return g[0].audit == a.audit })
		if i < 0 {
			groups = append(groups, []*abi{a})
			continue
		}
		groups[i] = append(groups[i], a)
		// Keep x86_64 before x32: archSpans relies on it.
		slices.SortFunc(groups[i], func(x, y *abi) int { return int(x.nrBase) - int(y.nrBase) })
	}

	g := &gen{asm: newAsm(), def: p.def}
	// Emit the native tree last so it sits right after the dispatch.
	roots := make([]target, len(groups))
	for i := len(groups) - 1; i >= 0; i-- {
		roots[i] = g.asm.load(offNr, g.tree(archSpans(p, groups[i])))
	}
	next := retTo(retBadArch)
	for i := len(groups) - 1; i >= 0; i-- {
		next = g.asm.jump(opJeqK, groups[i][0].audit, roots[i], next)
	}
	prog := g.asm.program(g.asm.load(offArch, next))
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: profile needs %d BPF instructions, more than the kernel's limit of %d", len(prog), unix.BPF_MAXINSNS)
	}
	if err := verify(prog); err != nil {
		return nil, fmt.Errorf("seccomp: generated program: %w", err)
	}
	return prog, nil
}
