// Package seccomp compiles the seccomp section of an OCI runtime spec into a
// classic BPF program and installs it, in pure Go: gorae stays a static
// binary without libseccomp.
//
// The program means what runc (through libseccomp) makes of the same
// profile:
//   - SCMP_ACT_KILL is SECCOMP_RET_KILL_THREAD; ERRNO and TRACE carry errnoRet
//     (EPERM when absent), the default action defaultErrnoRet.
//   - Entries whose action equals the default action are dropped; names the
//     architecture does not know are skipped.
//   - The conditions of an entry are ANDed and the entries for a syscall
//     ORed, the first matching one deciding. An unconditional entry
//     decides the syscall alone (the first such entry, as in libseccomp).
//     When an entry compares one argument twice, each comparison becomes an
//     alternative of its own (runc's historical reading).
//   - 64-bit arguments are compared a 32-bit word at a time; on 32-bit ABIs
//     (x86, x32, arm) only the low word is, as libseccomp does.
//   - Syscall numbers above the highest one the profile names return ENOSYS
//     instead of a non-permissive default action (runc's patchbpf stub), so
//     a libc falls back from syscalls newer than the profile.
//   - Other architectures get SECCOMP_RET_KILL_THREAD, libseccomp's default
//     bad-arch action. On x86_64, x32 syscalls (bit 30 set) are told apart
//     and, if x32 is not listed, killed as a wrong arch.
//   - On x86 and ppc64le an unconditional rule for a socket or SysV IPC
//     syscall also covers the same call through socketcall(2) or ipc(2).
//
// Dispatch is a binary search over ranges of syscall numbers with the same
// outcome: with a Docker-sized profile a syscall without argument rules is
// decided in about a dozen instructions on x86_64 (about seven on arm64),
// and the program stays around 400 instructions.
package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Compile renders s into a seccomp BPF program for the machine's native
// architecture (and the compat architectures listed in s.Architectures that
// the kernel can run, e.g. x86 and x32 on x86_64).
func Compile(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	return compileFor(s, nativeGOARCH())
}

func compileFor(s *specs.LinuxSeccomp, goarch string) ([]unix.SockFilter, error) {
	p, err := parseProfile(s)
	if err != nil {
		return nil, err
	}
	list, err := selectABIs(goarch, s.Architectures)
	if err != nil {
		return nil, err
	}
	return compile(p, list)
}

// Load compiles s and installs the filter on the calling OS thread (the
// caller has runtime.LockOSThread'd and will execve from it). It does not
// set no_new_privs: the caller has CAP_SYS_ADMIN or set it already.
//
// Like runc, it does nothing for a nil profile or one with neither a default
// action nor syscalls, and with s.Flags nil it asks for
// SECCOMP_FILTER_FLAG_SPEC_ALLOW when the kernel has it. Flags listed
// explicitly must be supported by the kernel. SECCOMP_FILTER_FLAG_TSYNC is
// accepted and ignored, as runc does: syncing the filter onto the Go
// runtime's other threads would break them, and the thread execs anyway.
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is checked but only matters with a
// listener, which gorae does not create yet.
func Load(s *specs.LinuxSeccomp) error {
	if s == nil || (s.DefaultAction == "" && len(s.Syscalls) == 0) {
		return nil
	}
	prog, err := Compile(s)
	if err != nil {
		return err
	}
	flags, err := filterFlags(s.Flags)
	if err != nil {
		return err
	}
	if err := checkActions(prog); err != nil {
		return err
	}
	if err := install(prog, flags); err != nil {
		return fmt.Errorf("seccomp: load filter of %d instructions: %w", len(prog), err)
	}
	return nil
}

// filterFlags turns the profile's flags into seccomp(2) flags.
func filterFlags(list []specs.LinuxSeccompFlag) (uintptr, error) {
	if list == nil {
		// runc's default: skip the speculative store bypass mitigation the
		// kernel would otherwise force on every filtered process.
		if FlagSupported(specs.LinuxSeccompFlagSpecAllow) == nil {
			return unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, nil
		}
		return 0, nil
	}
	var flags uintptr
	for i, f := range list {
		if err := FlagSupported(f); err != nil {
			return 0, fmt.Errorf("seccomp: flags[%d]: %w", i, err)
		}
		switch f {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		}
	}
	return flags, nil
}

// FlagSupported reports whether flag is known and the running kernel
// supports it (nil), or why not.
func FlagSupported(flag specs.LinuxSeccompFlag) error {
	var bits uintptr
	switch flag {
	case "SECCOMP_FILTER_FLAG_TSYNC":
		return nil // ignored, see Load
	case specs.LinuxSeccompFlagLog:
		bits = unix.SECCOMP_FILTER_FLAG_LOG
	case specs.LinuxSeccompFlagSpecAllow:
		bits = unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
	case specs.LinuxSeccompFlagWaitKillableRecv:
		// The kernel only takes it together with NEW_LISTENER.
		bits = unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	default:
		return fmt.Errorf("unknown seccomp flag %q", flag)
	}
	// Installing a NULL program fails with EFAULT once the flags passed the
	// kernel's check, and with EINVAL if it does not know them (the probe
	// libseccomp uses).
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, bits, 0)
	if errno == unix.EFAULT {
		return nil
	}
	return fmt.Errorf("seccomp flag %s not supported by the running kernel: %w", flag, errno)
}

// SupportedFlags lists the flags FlagSupported accepts on this kernel, for
// the runtime's features report.
func SupportedFlags() []specs.LinuxSeccompFlag {
	var out []specs.LinuxSeccompFlag
	for _, f := range []specs.LinuxSeccompFlag{
		"SECCOMP_FILTER_FLAG_TSYNC",
		specs.LinuxSeccompFlagLog,
		specs.LinuxSeccompFlagSpecAllow,
		specs.LinuxSeccompFlagWaitKillableRecv,
	} {
		if FlagSupported(f) == nil {
			out = append(out, f)
		}
	}
	return out
}

// checkActions fails for actions the kernel would not recognize, which it
// would otherwise treat as SECCOMP_RET_KILL_PROCESS.
func checkActions(prog []unix.SockFilter) error {
	seen := map[uint32]bool{}
	for _, ins := range prog {
		if ins.Code != opRetK {
			continue
		}
		act := ins.K & unix.SECCOMP_RET_ACTION_FULL
		if seen[act] {
			continue
		}
		seen[act] = true
		switch act {
		case unix.SECCOMP_RET_KILL_PROCESS, unix.SECCOMP_RET_LOG:
			// Both arrived in Linux 4.14 with SECCOMP_GET_ACTION_AVAIL.
			_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&act)))
			if errno != 0 {
				return fmt.Errorf("seccomp: action %#x not supported by the running kernel: %w", act, errno)
			}
		}
	}
	return nil
}

func install(prog []unix.SockFilter, flags uintptr) error {
	if len(prog) == 0 {
		return errors.New("empty program")
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	if errno == unix.ENOSYS && flags == 0 {
		// Kernels before 3.17 only have the prctl interface.
		errno = 0
		if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
			if !errors.As(err, &errno) {
				return err
			}
		}
	}
	runtime.KeepAlive(prog)
	switch errno {
	case 0:
		return nil
	case unix.EACCES:
		return fmt.Errorf("%w (the thread needs CAP_SYS_ADMIN or no_new_privs)", errno)
	}
	return errno
}
