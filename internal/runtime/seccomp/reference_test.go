package seccomp

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// reference decides one syscall for profile s on a goarch machine by reading
// the profile directly, the slow and obvious way, so tests can hold the
// compiled program against it. s must be valid (Compile accepted it).
func reference(s *specs.LinuxSeccomp, goarch string, d seccompData) uint32 {
	def, _ := actionRet(s.DefaultAction, s.DefaultErrnoRet)
	nr := uint32(d.nr)

	fam := families[goarch]
	var a *abi
	x32Listed := false
	for i, id := range fam {
		ab := &abis[id]
		if i > 0 && !slices.Contains(s.Architectures, ab.arch) {
			continue
		}
		if ab.nrBase != 0 {
			x32Listed = true
		}
		if ab.audit != d.arch {
			continue
		}
		// libseccomp tells x32 apart by nr >= __X32_SYSCALL_BIT.
		if ab.audit == unix.AUDIT_ARCH_X86_64 && (nr >= x32SyscallBit) != (ab.nrBase != 0) {
			continue
		}
		a = ab
	}
	if a == nil {
		if goarch == "amd64" && d.arch == unix.AUDIT_ARCH_X86_64 && !x32Listed && nr == 0xffffffff {
			return def
		}
		return unix.SECCOMP_RET_KILL_THREAD
	}

	arg := func(i uint) uint64 {
		if a.args32 {
			return d.args[i] & 0xffffffff
		}
		return d.args[i]
	}
	holds := func(c specs.LinuxSeccompArg) bool {
		v, v2 := c.Value, c.ValueTwo
		if a.args32 {
			v, v2 = v&0xffffffff, v2&0xffffffff
		}
		x := arg(c.Index)
		switch c.Op {
		case specs.OpEqualTo:
			return x == v
		case specs.OpNotEqual:
			return x != v
		case specs.OpLessThan:
			return x < v
		case specs.OpLessEqual:
			return x <= v
		case specs.OpGreaterThan:
			return x > v
		case specs.OpGreaterEqual:
			return x >= v
		case specs.OpMaskedEqual:
			return x&v == v2&v
		}
		panic("bad op")
	}
	// effective drops conditions that always hold (zero masks), as
	// libseccomp does before deciding whether a rule is conditional.
	effective := func(args []specs.LinuxSeccompArg) []specs.LinuxSeccompArg {
		var out []specs.LinuxSeccompArg
		for _, c := range args {
			m := c.Value
			if a.args32 {
				m &= 0xffffffff
			}
			if c.Op == specs.OpMaskedEqual && m == 0 {
				continue
			}
			out = append(out, c)
		}
		return out
	}
	// alternatives splits an entry the way runc does when an argument is
	// compared twice.
	alternatives := func(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
		seen := map[uint]bool{}
		for _, c := range args {
			if seen[c.Index] {
				var out [][]specs.LinuxSeccompArg
				for _, c := range args {
					out = append(out, []specs.LinuxSeccompArg{c})
				}
				return out
			}
			seen[c.Index] = true
		}
		return [][]specs.LinuxSeccompArg{args}
	}
	direct := func(name string) bool {
		n, ok := lookup(name, a)
		return ok && n+a.nrBase == nr
	}
	viaMux := func(name string) bool {
		mux, call, ok := muxFor(name, a)
		return ok && mux+a.nrBase == nr && arg(0) == call
	}

	type alt struct {
		ret  uint32
		name string
		args []specs.LinuxSeccompArg
	}
	var alts []alt
	for _, sc := range s.Syscalls {
		ret, _ := actionRet(sc.Action, sc.ErrnoRet)
		if ret == def {
			continue
		}
		for _, args := range alternatives(sc.Args) {
			for _, name := range sc.Names {
				alts = append(alts, alt{ret, name, effective(args)})
			}
		}
	}
	// An unconditional rule for the syscall decides it outright.
	for _, r := range alts {
		if len(r.args) == 0 && direct(r.name) {
			return r.ret
		}
	}
	// Otherwise the first alternative that matches.
	for _, r := range alts {
		match := direct(r.name)
		if !match && len(r.args) == 0 && viaMux(r.name) {
			match = true
		}
		for _, c := range r.args {
			match = match && holds(c)
		}
		if match {
			return r.ret
		}
	}
	// runc's ENOSYS stub.
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return def
	}
	var maxNr uint32
	found := false
	for _, sc := range s.Syscalls {
		for _, name := range sc.Names {
			if n, ok := lookup(name, a); ok {
				maxNr, found = max(maxNr, n+a.nrBase), true
			}
		}
	}
	// The multiplexer counts once an unconditional rule reaches it.
	for _, r := range alts {
		if mux, _, ok := muxFor(r.name, a); ok && len(r.args) == 0 {
			maxNr, found = max(maxNr, mux+a.nrBase), true
		}
	}
	if found && nr > maxNr {
		return retEnosys
	}
	return def
}
