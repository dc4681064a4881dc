package seccomp

import (
	"fmt"
	"runtime"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The syscall tables come from libseccomp's src/syscalls.csv rather than
// from a Go module or the kernel headers: it is the table runc resolves names
// with (through libseccomp), so a profile means the same thing here as under
// runc; it covers every ABI in one maintained file (the headers of
// linux-libc-dev only describe the host's ABIs, and arm64's come as
// asm-generic macros); and it knows the pseudo-syscalls that some ABIs lack.
// Go modules with tables (e.g. elastic/go-seccomp-bpf) lack x32 and lag
// the kernel. The file is not vendored: fetch libseccomp and point
// LIBSECCOMP_SRC at it to regenerate. TestSyscallTableMatchesHeaders checks
// the x86 ABIs against the installed kernel headers.
//
//go:generate go run mksyscalls.go -csv ${LIBSECCOMP_SRC}/src/syscalls.csv -o zsyscalls.go

// x32SyscallBit is __X32_SYSCALL_BIT: x32 processes report AUDIT_ARCH_X86_64
// and set this bit in the syscall number.
const x32SyscallBit = 0x40000000

// abi describes one syscall ABI as seccomp sees it.
type abi struct {
	id    int        // column in syscallNums
	arch  specs.Arch // its SCMP_ARCH_* name
	audit uint32     // AUDIT_ARCH_* value reported in seccomp_data.arch
	// nrBase is added to the table's numbers (x32's syscall bit).
	nrBase uint32
	// args32 marks ABIs libseccomp treats as 32-bit (ARCH_SIZE_32): only the
	// low word of an argument is compared, the high word is ignored.
	args32 bool
	// socketcall and ipc are the multiplexer syscalls of ABIs that have them
	// (0 if none): a rule for "connect" also covers socketcall(SYS_CONNECT),
	// as libseccomp does.
	socketcall, ipc int32
}

var abis = [numABIs]abi{
	abiX86:         {id: abiX86, arch: specs.ArchX86, audit: unix.AUDIT_ARCH_I386, args32: true, socketcall: 102, ipc: 117},
	abiX86_64:      {id: abiX86_64, arch: specs.ArchX86_64, audit: unix.AUDIT_ARCH_X86_64},
	abiX32:         {id: abiX32, arch: specs.ArchX32, audit: unix.AUDIT_ARCH_X86_64, nrBase: x32SyscallBit, args32: true},
	abiARM:         {id: abiARM, arch: specs.ArchARM, audit: unix.AUDIT_ARCH_ARM, args32: true},
	abiAARCH64:     {id: abiAARCH64, arch: specs.ArchAARCH64, audit: unix.AUDIT_ARCH_AARCH64},
	abiRISCV64:     {id: abiRISCV64, arch: specs.ArchRISCV64, audit: unix.AUDIT_ARCH_RISCV64},
	abiPPC64:       {id: abiPPC64, arch: specs.ArchPPC64LE, audit: unix.AUDIT_ARCH_PPC64LE, socketcall: 102, ipc: 117},
	abiLOONGARCH64: {id: abiLOONGARCH64, arch: specs.ArchLOONGARCH64, audit: unix.AUDIT_ARCH_LOONGARCH64},
}

// families lists, per GOARCH, the native ABI first and then the compat ABIs
// its kernel can run. Only little-endian machines are listed: the argument
// offsets in compile.go assume it.
var families = map[string][]int{
	"amd64":   {abiX86_64, abiX86, abiX32},
	"arm64":   {abiAARCH64, abiARM},
	"riscv64": {abiRISCV64},
	"ppc64le": {abiPPC64},
	"loong64": {abiLOONGARCH64},
	"386":     {abiX86},
	"arm":     {abiARM},
}

// knownArchs are the architecture names of the runtime-spec. Listing one we
// cannot run is not an error (Docker lists every arch of a family); a name
// outside this set is.
var knownArchs = map[specs.Arch]bool{
	specs.ArchX86: true, specs.ArchX86_64: true, specs.ArchX32: true,
	specs.ArchARM: true, specs.ArchAARCH64: true,
	specs.ArchMIPS: true, specs.ArchMIPS64: true, specs.ArchMIPS64N32: true,
	specs.ArchMIPSEL: true, specs.ArchMIPSEL64: true, specs.ArchMIPSEL64N32: true,
	specs.ArchPPC: true, specs.ArchPPC64: true, specs.ArchPPC64LE: true,
	specs.ArchS390: true, specs.ArchS390X: true,
	specs.ArchPARISC: true, specs.ArchPARISC64: true,
	specs.ArchRISCV64: true, specs.ArchLOONGARCH64: true,
	specs.ArchM68K: true, specs.ArchSH: true, specs.ArchSHEB: true,
}

// selectABIs returns the ABIs the filter covers on a goarch machine: the
// native one always (as libseccomp's filters always contain it) and each
// compat ABI the profile lists.
func selectABIs(goarch string, archs []specs.Arch) ([]*abi, error) {
	fam, ok := families[goarch]
	if !ok {
		return nil, fmt.Errorf("seccomp: no syscall table for architecture %s", goarch)
	}
	listed := make(map[specs.Arch]bool, len(archs))
	for i, a := range archs {
		if !knownArchs[a] {
			return nil, fmt.Errorf("seccomp: architectures[%d]: unknown architecture %q", i, a)
		}
		listed[a] = true
	}
	out := []*abi{&abis[fam[0]]}
	for _, id := range fam[1:] {
		if listed[abis[id].arch] {
			out = append(out, &abis[id])
		}
	}
	return out, nil
}

func nativeGOARCH() string { return runtime.GOARCH }

// lookup returns the number of syscall name on ABI a, without nrBase.
func lookup(name string, a *abi) (uint32, bool) {
	i := sort.SearchStrings(syscallNames[:], name)
	if i == len(syscallNames) || syscallNames[i] != name {
		return 0, false
	}
	n := syscallNums[i][a.id]
	if n < 0 {
		return 0, false
	}
	return uint32(n), true
}

// muxCalls maps the socket and SysV IPC syscalls to their call numbers under
// socketcall(2) and ipc(2) (libseccomp's __PNR_* values modulo 100).
var muxCalls = map[string]struct {
	ipc  bool
	call uint64
}{
	"socket": {false, 1}, "bind": {false, 2}, "connect": {false, 3}, "listen": {false, 4},
	"accept": {false, 5}, "getsockname": {false, 6}, "getpeername": {false, 7},
	"socketpair": {false, 8}, "send": {false, 9}, "recv": {false, 10}, "sendto": {false, 11},
	"recvfrom": {false, 12}, "shutdown": {false, 13}, "setsockopt": {false, 14},
	"getsockopt": {false, 15}, "sendmsg": {false, 16}, "recvmsg": {false, 17},
	"accept4": {false, 18}, "recvmmsg": {false, 19}, "sendmmsg": {false, 20},
	"semop": {true, 1}, "semget": {true, 2}, "semctl": {true, 3}, "semtimedop": {true, 4},
	"msgsnd": {true, 11}, "msgrcv": {true, 12}, "msgget": {true, 13}, "msgctl": {true, 14},
	"shmat": {true, 21}, "shmdt": {true, 22}, "shmget": {true, 23}, "shmctl": {true, 24},
}

// muxFor returns the multiplexer syscall and call number that also reach
// name on ABI a, if a has one.
func muxFor(name string, a *abi) (nr uint32, call uint64, ok bool) {
	m, found := muxCalls[name]
	if !found {
		return 0, 0, false
	}
	mux := a.socketcall
	if m.ipc {
		mux = a.ipc
	}
	if mux == 0 {
		return 0, 0, false
	}
	return uint32(mux), m.call, true
}
