package seccomp

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func uptr(v uint) *uint { return &v }

// nrOf returns the number of a syscall on an ABI, nrBase included.
func nrOf(t testing.TB, name string, id int) int32 {
	t.Helper()
	n, ok := lookup(name, &abis[id])
	if !ok {
		t.Fatalf("no syscall %q on %s", name, abis[id].arch)
	}
	return int32(n + abis[id].nrBase)
}

func call(t testing.TB, id int, name string, args ...uint64) seccompData {
	t.Helper()
	d := seccompData{nr: nrOf(t, name, id), arch: abis[id].audit}
	copy(d.args[:], args)
	return d
}

// mustCompile compiles s for goarch and checks the program's shape.
func mustCompile(t testing.TB, s *specs.LinuxSeccomp, goarch string) []unix.SockFilter {
	t.Helper()
	prog, err := compileFor(s, goarch)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if err := allPathsReturn(prog); err != nil {
		t.Fatalf("compiled program: %v", err)
	}
	return prog
}

func run(t testing.TB, prog []unix.SockFilter, d seccompData) uint32 {
	t.Helper()
	ret, _, err := emulate(prog, d)
	if err != nil {
		t.Fatalf("emulate nr=%d arch=%#x: %v", d.nr, d.arch, err)
	}
	return ret
}

func TestActions(t *testing.T) {
	errno := func(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	tests := []struct {
		act      specs.LinuxSeccompAction
		errnoRet *uint
		want     uint32
	}{
		{specs.ActKill, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillThread, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillProcess, nil, unix.SECCOMP_RET_KILL_PROCESS},
		{specs.ActTrap, nil, unix.SECCOMP_RET_TRAP},
		{specs.ActErrno, nil, errno(unix.EPERM)},
		{specs.ActErrno, uptr(uint(unix.ENOSYS)), errno(unix.ENOSYS)},
		{specs.ActErrno, uptr(0), unix.SECCOMP_RET_ERRNO},
		{specs.ActTrace, nil, unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
		{specs.ActTrace, uptr(1234), unix.SECCOMP_RET_TRACE | 1234},
		{specs.ActAllow, nil, unix.SECCOMP_RET_ALLOW},
		{specs.ActLog, nil, unix.SECCOMP_RET_LOG},
	}
	for _, tt := range tests {
		name := string(tt.act)
		if tt.errnoRet != nil {
			name += fmt.Sprintf("/%d", *tt.errnoRet)
		}
		t.Run(name, func(t *testing.T) {
			// As a rule's action, under a default that differs from it.
			other := specs.ActAllow
			if tt.act == specs.ActAllow {
				other = specs.ActKillProcess
			}
			s := &specs.LinuxSeccomp{
				DefaultAction: other,
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: tt.act, ErrnoRet: tt.errnoRet}},
			}
			prog := mustCompile(t, s, "amd64")
			def, _ := actionRet(other, nil)
			if got := run(t, prog, call(t, abiX86_64, "getcwd")); got != tt.want {
				t.Errorf("rule: getcwd = %#x, want %#x", got, tt.want)
			}
			if got := run(t, prog, call(t, abiX86_64, "getpid")); got != def {
				t.Errorf("rule: getpid = %#x, want default %#x", got, def)
			}

			// As the default action, with defaultErrnoRet.
			s = &specs.LinuxSeccomp{
				DefaultAction:   tt.act,
				DefaultErrnoRet: tt.errnoRet,
				Syscalls:        []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: other}},
			}
			prog = mustCompile(t, s, "amd64")
			if got := run(t, prog, call(t, abiX86_64, "getpid")); got != tt.want {
				t.Errorf("default: getpid = %#x, want %#x", got, tt.want)
			}
			if got := run(t, prog, call(t, abiX86_64, "getcwd")); got != def {
				t.Errorf("default: getcwd = %#x, want %#x", got, def)
			}
		})
	}
}

// interesting are argument and rule values around the word boundaries that
// 64-bit comparisons built from 32-bit ones get wrong first.
var interesting = []uint64{
	0, 1, 2, 0x7f, 0xfffffffe, 0xffffffff, 0x1_0000_0000, 0x1_0000_0001, 0x1_ffff_ffff,
	0x2_0000_0000, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_0000_0000,
	0xffff_ffff_ffff_fffe, 0xffff_ffff_ffff_ffff, 0xdead_beef_cafe_f00d,
}

func TestOperators(t *testing.T) {
	ops := []specs.LinuxSeccompOperator{
		specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual,
	}
	masks := []uint64{0, 0xff, 0xffffffff, 0xffff_ffff_0000_0000, 0x7e02_0000, 0xffff_ffff_ffff_ffff, 0x1_0000_00f0}
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, op := range ops {
			t.Run(goarch+"/"+string(op), func(t *testing.T) {
				rules := interesting
				if op == specs.OpMaskedEqual {
					rules = masks
				}
				for _, v := range rules {
					for _, v2 := range []uint64{0, 0x7e02_0000, 0x1_0000_0000, 0xf0} {
						if op != specs.OpMaskedEqual && v2 != 0 {
							continue
						}
						for argIdx := uint(0); argIdx < maxArgs; argIdx += 5 {
							s := &specs.LinuxSeccomp{
								DefaultAction: specs.ActAllow,
								Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32, specs.ArchARM},
								Syscalls: []specs.LinuxSyscall{{
									Names:  []string{"personality"},
									Action: specs.ActErrno,
									Args:   []specs.LinuxSeccompArg{{Index: argIdx, Value: v, ValueTwo: v2, Op: op}},
								}},
							}
							prog := mustCompile(t, s, goarch)
							for _, id := range families[goarch] {
								for _, x := range interesting {
									d := call(t, id, "personality")
									d.args[argIdx] = x
									if got, want := run(t, prog, d), reference(s, goarch, d); got != want {
										t.Fatalf("%s: %s arg%d=%#x vs %#x/%#x: got %#x, want %#x", abis[id].arch, op, argIdx, x, v, v2, got, want)
									}
								}
							}
						}
					}
				}
			})
		}
	}
}

// TestOperatorSemantics pins a few answers by hand, so a shared mistake in
// the compiler and the reference cannot hide.
func TestOperatorSemantics(t *testing.T) {
	errno := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	tests := []struct {
		op        specs.LinuxSeccompOperator
		v, v2     uint64
		arg       uint64
		x86_64    uint32 // verdict on the 64-bit ABI
		x86Verdct uint32 // on i386, where only the low word counts
	}{
		{specs.OpEqualTo, 0x1_0000_0005, 0, 0x1_0000_0005, errno, errno},
		{specs.OpEqualTo, 0x1_0000_0005, 0, 5, allow, errno},
		{specs.OpNotEqual, 5, 0, 0x1_0000_0005, errno, allow},
		{specs.OpGreaterThan, 0xffffffff, 0, 0x1_0000_0000, errno, allow},
		{specs.OpGreaterEqual, 0x1_0000_0000, 0, 0xffffffff, allow, errno},
		{specs.OpLessThan, 0x1_0000_0000, 0, 0xffffffff, errno, allow},
		{specs.OpLessEqual, 0, 0, 0x1_0000_0000, allow, errno},
		{specs.OpMaskedEqual, 0x7e02_0000, 0, 0x1_0000_0011, errno, errno},
		{specs.OpMaskedEqual, 0x7e02_0000, 0, 0x1000_0000, allow, allow},
		{specs.OpMaskedEqual, 0xffff_0000_0000_0000, 0, 0x1234, errno, errno},
		{specs.OpMaskedEqual, 0xffff_0000_0000_0000, 0, 0x1_0000_0000_0000, allow, errno},
		// Bits of valueTwo outside the mask do not count (libseccomp masks it).
		{specs.OpMaskedEqual, 0xff, 0x1ff, 0xff, errno, errno},
	}
	for _, tt := range tests {
		s := &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86},
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"personality"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: tt.v, ValueTwo: tt.v2, Op: tt.op}},
			}},
		}
		prog := mustCompile(t, s, "amd64")
		if got := run(t, prog, call(t, abiX86_64, "personality", tt.arg)); got != tt.x86_64 {
			t.Errorf("x86_64 %s %#x (%#x) on %#x: got %#x, want %#x", tt.op, tt.v, tt.v2, tt.arg, got, tt.x86_64)
		}
		if got := run(t, prog, call(t, abiX86, "personality", tt.arg)); got != tt.x86Verdct {
			t.Errorf("x86 %s %#x (%#x) on %#x: got %#x, want %#x", tt.op, tt.v, tt.v2, tt.arg, got, tt.x86Verdct)
		}
	}
}

func TestRuleCombination(t *testing.T) {
	errno := func(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	tests := []struct {
		name     string
		syscalls []specs.LinuxSyscall
		args     []uint64
		want     uint32
	}{
		{"and: both hold", []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{eq(0, 1), eq(2, 3)}}}, []uint64{1, 0, 3}, allow},
		{"and: one fails", []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{eq(0, 1), eq(2, 3)}}}, []uint64{1, 0, 4}, errno(unix.EPERM)},
		{"or: second entry", []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{eq(0, 1)}},
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{eq(0, 2)}},
		}, []uint64{2}, allow},
		{"or: first match wins", []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uptr(5), Args: []specs.LinuxSeccompArg{eq(0, 1)}},
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpGreaterEqual}}},
		}, []uint64{1}, errno(5)},
		{"same arg twice is OR (runc)", []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{eq(0, 1), eq(0, 2)}}}, []uint64{2}, allow},
		{"unconditional overrides conditional", []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uptr(5), Args: []specs.LinuxSeccompArg{eq(0, 1)}},
			{Names: []string{"read"}, Action: specs.ActAllow},
		}, []uint64{1}, allow},
		{"first unconditional wins", []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uptr(5)},
			{Names: []string{"read"}, Action: specs.ActAllow},
		}, nil, errno(5)},
		{"default-action rule is dropped", []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{eq(0, 1)}},
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpGreaterEqual}}},
		}, []uint64{1}, allow},
		{"zero mask always holds", []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0, ValueTwo: 7, Op: specs.OpMaskedEqual}}}}, []uint64{0, 9}, allow},
		{"unknown names skipped", []specs.LinuxSyscall{{Names: []string{"no_such_syscall", "_llseek", "read"}, Action: specs.ActAllow}}, nil, allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: tt.syscalls}
			prog := mustCompile(t, s, "amd64")
			d := call(t, abiX86_64, "read", tt.args...)
			if got := run(t, prog, d); got != tt.want {
				t.Errorf("got %#x, want %#x", got, tt.want)
			}
			if ref := reference(s, "amd64", d); ref != tt.want {
				t.Errorf("reference disagrees: %#x", ref)
			}
		})
	}
}

func TestArchitectures(t *testing.T) {
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	kill := uint32(unix.SECCOMP_RET_KILL_THREAD)
	base := func(archs ...specs.Arch) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: archs,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"getcwd", "getpid", "readv", "set_tls"}, Action: specs.ActAllow}},
		}
	}
	x32 := func(name string) seccompData { return call(t, abiX32, name) }
	tests := []struct {
		name   string
		goarch string
		s      *specs.LinuxSeccomp
		d      seccompData
		want   uint32
	}{
		{"native", "amd64", base(), call(t, abiX86_64, "getcwd"), allow},
		{"native not allowed", "amd64", base(), call(t, abiX86_64, "write"), eperm},
		{"native above the profile", "amd64", base(), call(t, abiX86_64, "mkdir"), unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"x86 not listed", "amd64", base(), call(t, abiX86, "getcwd"), kill},
		{"x86 listed", "amd64", base(specs.ArchX86), call(t, abiX86, "getcwd"), allow},
		{"x86 listed, other nr", "amd64", base(specs.ArchX86), call(t, abiX86, "mkdir"), eperm},
		{"x86_64 number above bit 30", "amd64", base(specs.ArchX86), seccompData{nr: -0x7fffff00, arch: unix.AUDIT_ARCH_X86_64}, kill},
		{"x32 listed", "amd64", base(specs.ArchX86_64, specs.ArchX32), x32("readv"), allow},
		{"x32 listed, x86_64 number with x32 bit", "amd64", base(specs.ArchX32), seccompData{nr: x32SyscallBit | 19, arch: unix.AUDIT_ARCH_X86_64}, eperm},
		{"x32 not listed", "amd64", base(), x32("getcwd"), kill},
		{"x32 not listed, -1", "amd64", base(), seccompData{nr: -1, arch: unix.AUDIT_ARCH_X86_64}, eperm},
		{"x32 listed, -1 is above every x32 syscall", "amd64", base(specs.ArchX32), seccompData{nr: -1, arch: unix.AUDIT_ARCH_X86_64}, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"foreign arch", "amd64", base(specs.ArchX86, specs.ArchX32, specs.ArchAARCH64), call(t, abiAARCH64, "getcwd"), kill},
		{"arm64 native", "arm64", base(), call(t, abiAARCH64, "getcwd"), allow},
		{"arm64 arm listed", "arm64", base(specs.ArchARM), call(t, abiARM, "set_tls"), allow},
		{"arm64 arm not listed", "arm64", base(), call(t, abiARM, "getcwd"), kill},
		{"arm64 ignores x86", "arm64", base(specs.ArchX86), call(t, abiX86, "getcwd"), kill},
		{"riscv64", "riscv64", base(), call(t, abiRISCV64, "getpid"), allow},
		{"ppc64le", "ppc64le", base(), call(t, abiPPC64, "getpid"), allow},
		{"loong64", "loong64", base(), call(t, abiLOONGARCH64, "getpid"), allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := mustCompile(t, tt.s, tt.goarch)
			if got := run(t, prog, tt.d); got != tt.want {
				t.Errorf("got %#x, want %#x", got, tt.want)
			}
			if ref := reference(tt.s, tt.goarch, tt.d); ref != tt.want {
				t.Errorf("reference disagrees: %#x", ref)
			}
		})
	}
}

func TestEnosysStub(t *testing.T) {
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow},
			// Counts for the highest syscall even though it is dropped.
			{Names: []string{"openat"}, Action: specs.ActErrno},
		},
	}
	openat := nrOf(t, "openat", abiX86_64)
	prog := mustCompile(t, s, "amd64")
	for _, tt := range []struct {
		nr   int32
		want uint32
	}{
		{0, unix.SECCOMP_RET_ALLOW},
		{1, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{openat, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{openat + 1, enosys},
		{1000, enosys},
		{x32SyscallBit - 1, enosys},
	} {
		if got := run(t, prog, seccompData{nr: tt.nr, arch: unix.AUDIT_ARCH_X86_64}); got != tt.want {
			t.Errorf("nr %d: got %#x, want %#x", tt.nr, got, tt.want)
		}
	}
	// Permissive defaults get no stub.
	s.DefaultAction = specs.ActLog
	prog = mustCompile(t, s, "amd64")
	if got := run(t, prog, seccompData{nr: 1000, arch: unix.AUDIT_ARCH_X86_64}); got != unix.SECCOMP_RET_LOG {
		t.Errorf("log default: nr 1000 got %#x", got)
	}
}

func TestMultiplexedSyscalls(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"connect", "accept", "shmat"}, Action: specs.ActErrno, ErrnoRet: uptr(13)},
			// Conditional rules cannot see through socketcall's pointer.
			{Names: []string{"bind"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, Op: specs.OpEqualTo}}},
		},
	}
	prog := mustCompile(t, s, "amd64")
	eacces := unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)
	for _, tt := range []struct {
		d    seccompData
		want uint32
	}{
		{call(t, abiX86, "connect"), eacces},
		{call(t, abiX86, "socketcall", 3), eacces}, // SYS_CONNECT
		{call(t, abiX86, "socketcall", 5), eacces}, // SYS_ACCEPT, no direct syscall on x86
		{call(t, abiX86, "socketcall", 1), unix.SECCOMP_RET_ALLOW},
		{call(t, abiX86, "ipc", 21), eacces}, // SHMAT
		{call(t, abiX86, "ipc", 22), unix.SECCOMP_RET_ALLOW},
		{call(t, abiX86, "socketcall", 2), unix.SECCOMP_RET_ALLOW},
		{call(t, abiX86, "bind", 3), unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{call(t, abiX86_64, "connect"), eacces},
	} {
		if got := run(t, prog, tt.d); got != tt.want {
			t.Errorf("nr %d args %v: got %#x, want %#x", tt.d.nr, tt.d.args[:2], got, tt.want)
		}
	}
}

func loadProfile(t testing.TB, path string) *specs.LinuxSeccomp {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &s
}

func TestDockerDefaultProfile(t *testing.T) {
	s := loadProfile(t, "testdata/docker-default.json")
	prog := mustCompile(t, s, "amd64")
	t.Logf("docker-default.json: %d instructions", len(prog))

	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	const (
		cloneNewns   = unix.CLONE_NEWNS
		cloneNewuser = unix.CLONE_NEWUSER
		cloneThread  = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID
	)
	tests := []struct {
		name string
		d    seccompData
		want uint32
	}{
		{"read", call(t, abiX86_64, "read"), allow},
		{"write", call(t, abiX86_64, "write"), allow},
		{"getcwd", call(t, abiX86_64, "getcwd"), allow},
		{"arch_prctl", call(t, abiX86_64, "arch_prctl"), allow},
		{"mount", call(t, abiX86_64, "mount"), eperm},
		{"unshare", call(t, abiX86_64, "unshare"), eperm},
		{"ptrace (rule equal to default)", call(t, abiX86_64, "ptrace"), eperm},
		{"personality(0)", call(t, abiX86_64, "personality", 0), allow},
		{"personality(PER_LINUX32)", call(t, abiX86_64, "personality", 8), allow},
		{"personality(query)", call(t, abiX86_64, "personality", 0xffffffff), allow},
		{"personality(query, 64-bit)", call(t, abiX86_64, "personality", 0xffff_ffff_ffff_ffff), eperm},
		{"personality(READ_IMPLIES_EXEC)", call(t, abiX86_64, "personality", 0x0400000), eperm},
		{"clone thread", call(t, abiX86_64, "clone", cloneThread), allow},
		{"clone newns", call(t, abiX86_64, "clone", cloneThread|cloneNewns), eperm},
		{"clone newuser", call(t, abiX86_64, "clone", uint64(unix.SIGCHLD)|cloneNewuser), eperm},
		{"clone3", call(t, abiX86_64, "clone3"), enosys},
		{"socket(AF_INET)", call(t, abiX86_64, "socket", unix.AF_INET), allow},
		{"socket(AF_NETLINK)", call(t, abiX86_64, "socket", unix.AF_NETLINK), allow},
		{"socket(AF_VSOCK)", call(t, abiX86_64, "socket", unix.AF_VSOCK), eperm},
		{"socket(AF_INET | 1<<32)", call(t, abiX86_64, "socket", 1<<32|unix.AF_INET), eperm},
		{"x86 getcwd", call(t, abiX86, "getcwd"), allow},
		{"x86 _llseek", call(t, abiX86, "_llseek"), allow},
		{"x86 mount", call(t, abiX86, "mount"), eperm},
		{"x86 socketcall", call(t, abiX86, "socketcall", 1), allow},
		{"x86 personality(query) low word", call(t, abiX86, "personality", 0xffffffff), allow},
		{"x32 read", call(t, abiX32, "read"), allow},
		{"x32 readv", call(t, abiX32, "readv"), eperm},
		{"x32 new syscall", seccompData{nr: x32SyscallBit | 600, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"x32 mount", call(t, abiX32, "mount"), eperm},
		{"new syscall", seccompData{nr: 600, arch: unix.AUDIT_ARCH_X86_64}, enosys},
		{"aarch64", call(t, abiAARCH64, "read"), unix.SECCOMP_RET_KILL_THREAD},
	}
	worst := 0
	for _, tt := range tests {
		got, steps, err := emulate(prog, tt.d)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: got %#x, want %#x", tt.name, got, tt.want)
		}
		if ref := reference(s, "amd64", tt.d); ref != tt.want {
			t.Errorf("%s: reference disagrees: %#x", tt.name, ref)
		}
		worst = max(worst, steps)
	}
	t.Logf("longest path among the cases: %d instructions", worst)

	// Compiles for arm64 too, where the x86 names are foreign.
	prog = mustCompile(t, s, "arm64")
	if got := run(t, prog, call(t, abiAARCH64, "getcwd")); got != allow {
		t.Errorf("arm64 getcwd: %#x", got)
	}
}

// TestFullSizeProfile checks a profile as large as Docker's real one (every
// syscall of the table named, a few hundred per ABI) stays small and fast.
func TestFullSizeProfile(t *testing.T) {
	var names []string
	for i, n := range syscallNames {
		// Leave out every seventh syscall so the allow list has holes.
		if i%7 != 3 {
			names = append(names, n)
		}
	}
	s := loadProfile(t, "testdata/docker-default.json")
	s.Syscalls[0].Names = names
	for _, goarch := range []string{"amd64", "arm64"} {
		prog := mustCompile(t, s, goarch)
		// Syscalls with argument rules walk their rules one by one (as
		// libseccomp's do); the rest should only pay for the search.
		withArgs := map[uint32]bool{}
		for _, id := range families[goarch] {
			for _, name := range []string{"socketcall", "ipc", "socket", "personality", "clone"} {
				if nr, ok := lookup(name, &abis[id]); ok {
					withArgs[nr+abis[id].nrBase] = true
				}
			}
		}
		worst, worstArgs, total, n := 0, 0, 0, 0
		for _, id := range families[goarch] {
			a := &abis[id]
			for nr := uint32(0); nr < 1100; nr++ {
				d := seccompData{nr: int32(nr + a.nrBase), arch: a.audit}
				got, steps, err := emulate(prog, d)
				if err != nil {
					t.Fatal(err)
				}
				if want := reference(s, goarch, d); got != want {
					t.Fatalf("%s %s nr %d: got %#x, want %#x", goarch, a.arch, nr, got, want)
				}
				if withArgs[uint32(d.nr)] {
					worstArgs = max(worstArgs, steps)
					continue
				}
				worst, total, n = max(worst, steps), total+steps, n+1
			}
		}
		t.Logf("%s: %d names, %d instructions, path length avg %.1f max %d (%d with argument rules)",
			goarch, len(names), len(prog), float64(total)/float64(n), worst, worstArgs)
		if len(prog) > 1200 {
			t.Errorf("%s: %d instructions; the tree should keep this far below the 4096 limit", goarch, len(prog))
		}
		if worst > 16 {
			t.Errorf("%s: a syscall without argument rules took %d instructions to decide", goarch, worst)
		}
	}
}

// TestLongJumps forces offsets beyond the 255 reach of conditional jumps:
// one syscall with hundreds of alternatives, in the middle of many others.
func TestLongJumps(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32}}
	for i := 0; i < 300; i++ {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names:  []string{"ioctl"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 1, Value: uint64(i) * 0x1_0000_0001, Op: specs.OpEqualTo}},
		})
	}
	for i, n := range syscallNames {
		if i%3 == 0 {
			act := specs.ActAllow
			if i%2 == 0 {
				act = specs.ActTrap
			}
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{n}, Action: act})
		}
	}
	prog := mustCompile(t, s, "amd64")
	t.Logf("%d instructions", len(prog))
	rng := rand.New(rand.NewPCG(1, 2))
	for _, id := range families["amd64"] {
		for nr := uint32(0); nr < 600; nr++ {
			d := seccompData{nr: int32(nr + abis[id].nrBase), arch: abis[id].audit}
			d.args[1] = uint64(rng.IntN(310)) * 0x1_0000_0001
			if got, want := run(t, prog, d), reference(s, "amd64", d); got != want {
				t.Fatalf("%s nr %d arg %#x: got %#x, want %#x", abis[id].arch, nr, d.args[1], got, want)
			}
		}
	}
}

func TestTooLarge(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for i := 0; i < 1000; i++ {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names:  []string{"ioctl"},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 1, Value: uint64(i) << 33, Op: specs.OpGreaterThan}},
		})
	}
	_, err := compileFor(s, "amd64")
	if err == nil || !strings.Contains(err.Error(), "limit of 4096") {
		t.Fatalf("got %v, want an error about the 4096-instruction limit", err)
	}
}

// TestRandomProfiles holds compiled programs against the reference on
// random profiles and syscalls.
func TestRandomProfiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := 0; i < n; i++ {
		s := randomProfile(rng)
		for _, goarch := range []string{"amd64", "arm64"} {
			prog, err := compileFor(s, goarch)
			if err != nil {
				t.Fatalf("profile %d: %v", i, err)
			}
			if err := allPathsReturn(prog); err != nil {
				t.Fatalf("profile %d: %v", i, err)
			}
			for j := 0; j < 200; j++ {
				d := randomCall(rng, goarch)
				if got, want := run(t, prog, d), reference(s, goarch, d); got != want {
					b, _ := json.Marshal(s)
					t.Fatalf("profile %s\n%s nr=%d arch=%#x args=%#x: got %#x, want %#x", b, goarch, d.nr, d.arch, d.args, got, want)
				}
			}
		}
	}
}

var randomNames = []string{
	"read", "write", "openat", "getcwd", "personality", "clone", "socket", "connect", "accept",
	"socketcall", "ipc", "shmat", "readv", "set_tls", "mkdir", "_llseek", "no_such_syscall", "ioctl",
}

func randomProfile(rng *rand.Rand) *specs.LinuxSeccomp {
	acts := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActTrap, specs.ActLog, specs.ActTrace, specs.ActKill}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	pick := func() uint64 { return interesting[rng.IntN(len(interesting))] }
	s := &specs.LinuxSeccomp{DefaultAction: acts[rng.IntN(len(acts))]}
	for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX32, specs.ArchARM} {
		if rng.IntN(2) == 0 {
			s.Architectures = append(s.Architectures, a)
		}
	}
	for range rng.IntN(12) {
		sc := specs.LinuxSyscall{Action: acts[rng.IntN(len(acts))]}
		if sc.Action == specs.ActErrno && rng.IntN(2) == 0 {
			sc.ErrnoRet = uptr(uint(rng.IntN(40)))
		}
		for range 1 + rng.IntN(3) {
			sc.Names = append(sc.Names, randomNames[rng.IntN(len(randomNames))])
		}
		for range rng.IntN(4) {
			sc.Args = append(sc.Args, specs.LinuxSeccompArg{
				Index: uint(rng.IntN(3)), Value: pick(), ValueTwo: pick(), Op: ops[rng.IntN(len(ops))],
			})
		}
		s.Syscalls = append(s.Syscalls, sc)
	}
	return s
}

func randomCall(rng *rand.Rand, goarch string) seccompData {
	fam := families[goarch]
	a := &abis[fam[rng.IntN(len(fam))]]
	var d seccompData
	d.arch = a.audit
	if rng.IntN(20) == 0 {
		d.arch = unix.AUDIT_ARCH_AARCH64 ^ unix.AUDIT_ARCH_X86_64 ^ a.audit // some other arch
	}
	switch rng.IntN(10) {
	case 0:
		d.nr = int32(rng.Uint32())
	case 1:
		d.nr = -1
	default:
		if n, ok := lookup(randomNames[rng.IntN(len(randomNames))], a); ok {
			d.nr = int32(n + a.nrBase)
		} else {
			d.nr = int32(uint32(rng.IntN(500)) + a.nrBase)
		}
	}
	for i := range d.args {
		switch rng.IntN(3) {
		case 0:
			d.args[i] = interesting[rng.IntN(len(interesting))]
		case 1:
			d.args[i] = uint64(rng.IntN(25))
		default:
			d.args[i] = rng.Uint64()
		}
	}
	return d
}

func TestCompileErrors(t *testing.T) {
	ok := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow}
	tests := []struct {
		name string
		s    *specs.LinuxSeccomp
		want string
	}{
		{"nil", nil, "no profile"},
		{"no default action", &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{ok}}, `defaultAction: unknown action ""`},
		{"bad default action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, `defaultAction: unknown action "SCMP_ACT_MAYBE"`},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{ok, ok, ok, {Names: []string{"read"}, Action: "X"}}}, `syscalls[3]: unknown action "X"`},
		{"bad arg index", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "syscalls[0] (read): args[0]: index 6 out of range 0-5"},
		{"bad operator", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{ok, {Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo}, {Index: 1, Op: "SCMP_CMP_ISH"}}}}}, `syscalls[1] (read): args[1]: unknown operator "SCMP_CMP_ISH"`},
		{"empty name", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read", ""}, Action: specs.ActAllow}}}, "syscalls[0]: empty syscall name"},
		{"errnoRet with allow", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: uptr(1)}}}, "syscalls[0]: errno 1 given for action SCMP_ACT_ALLOW"},
		{"defaultErrnoRet with kill", &specs.LinuxSeccomp{DefaultAction: specs.ActKill, DefaultErrnoRet: uptr(1)}, "defaultAction: errno 1 given for action SCMP_ACT_KILL"},
		{"errno too large", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(70000)}, "errno 70000 does not fit"},
		{"notify rule", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, "syscalls[0]: SCMP_ACT_NOTIFY is not supported yet"},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "SCMP_ACT_NOTIFY is not supported yet"},
		{"unknown arch", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, "SCMP_ARCH_Z80"}}, `architectures[1]: unknown architecture "SCMP_ARCH_Z80"`},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, `flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileFor(tt.s, "amd64")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := compileFor(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, "mips64"); err == nil {
		t.Error("mips64: want an error for a machine without a table")
	}
}

func TestVerifyRejects(t *testing.T) {
	ret := unix.SockFilter{Code: opRetK}
	tests := map[string][]unix.SockFilter{
		"empty":           nil,
		"no final ret":    {{Code: opLdAbsW, K: 0}},
		"jump past end":   {{Code: opJeqK, Jt: 1}, ret},
		"ja past end":     {{Code: opJa, K: 5}, ret},
		"load outside":    {{Code: opLdAbsW, K: 64}, ret},
		"unaligned load":  {{Code: opLdAbsW, K: 2}, ret},
		"unknown opcode":  {{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_IND}, ret},
		"too many insns":  make([]unix.SockFilter, unix.BPF_MAXINSNS+1),
		"ret not at end ": {ret, {Code: opAndK}},
	}
	for name, prog := range tests {
		if err := verify(prog); err == nil {
			t.Errorf("%s: verify accepted it", name)
		}
	}
}
