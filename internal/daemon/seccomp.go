package daemon

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gorae/gorae/internal/errdefs"
	rtseccomp "github.com/gorae/gorae/internal/runtime/seccomp"
)

// loadSeccompProfile reads daemon.json's seccomp-profile and checks it
// compiles, so a bad file stops the daemon at start rather than every
// container at its start.
func loadSeccompProfile(path string) (string, error) {
	switch path {
	case "", "builtin", "unconfined":
		return path, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("seccomp-profile: %w", err)
	}
	probe := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: defaultCaps}}, Linux: &specs.Linux{}}
	if _, err := seccompFor(string(b), probe); err != nil {
		return "", fmt.Errorf("seccomp-profile %s: %w", path, err)
	}
	return string(b), nil
}

// seccompFor compiles the profile a container runs with: "" or "builtin"
// is gorae's default, "unconfined" none, anything else a profile in
// Docker's JSON format. Its includes/excludes are judged against the
// capabilities s already holds.
func seccompFor(profile string, s *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch strings.TrimSpace(profile) {
	case "", "builtin":
		return defaultSeccomp(s.Process.Capabilities.Bounding), nil
	case "unconfined":
		return nil, nil
	}
	sc, err := seccomp.LoadProfile(profile, s)
	if err == nil {
		// Unknown actions and syscalls are found by compiling, as our
		// runtime would at start.
		_, err = rtseccomp.Compile(sc)
	}
	if err != nil {
		return nil, errdefs.InvalidParameter(fmt.Errorf("seccomp profile: %w (want Docker's profile format: defaultAction, syscalls …)", err))
	}
	return sc, nil
}

// gorae's default seccomp profile. Docker's default is an allowlist of
// ~350 syscalls; this one is the converse, written from the kernel's
// documentation of what each call can do: everything is allowed except
// the calls that reach outside a container (kernel modules, kexec, the
// clock, swap, mounts and namespaces, keyrings, tracing other processes,
// raw I/O ports …). Each is allowed again when the container holds the
// capability that makes it legitimate, as Docker's profile does.
// Unknown and future syscalls are allowed here where Docker's allowlist
// refuses them; io_uring, which bypasses syscall filtering altogether, is
// refused as Docker 25+ refuses it.
var seccompDenied = []struct {
	names []string
	// unlessCap: the calls are allowed when the container has this
	// capability ("" = never).
	unlessCap []string
}{
	{[]string{"kexec_load", "kexec_file_load", "create_module", "get_kernel_syms", "query_module", "nfsservctl",
		"uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old", "io_uring_setup", "io_uring_enter", "io_uring_register",
		"keyctl", "add_key", "request_key"}, nil},
	{[]string{"init_module", "finit_module", "delete_module"}, []string{"CAP_SYS_MODULE"}},
	{[]string{"settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex"}, []string{"CAP_SYS_TIME"}},
	{[]string{"reboot"}, []string{"CAP_SYS_BOOT"}},
	{[]string{"acct"}, []string{"CAP_SYS_PACCT"}},
	{[]string{"iopl", "ioperm"}, []string{"CAP_SYS_RAWIO"}},
	{[]string{"swapon", "swapoff"}, []string{"CAP_SYS_ADMIN"}},
	{[]string{"ptrace", "process_vm_readv", "process_vm_writev", "kcmp"}, []string{"CAP_SYS_PTRACE"}},
	{[]string{"mbind", "set_mempolicy", "get_mempolicy", "move_pages"}, []string{"CAP_SYS_NICE"}},
	{[]string{"open_by_handle_at"}, []string{"CAP_DAC_READ_SEARCH"}},
	{[]string{"mount", "umount", "umount2", "pivot_root", "unshare", "setns", "name_to_handle_at", "quotactl",
		"lookup_dcookie", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr"}, []string{"CAP_SYS_ADMIN"}},
	{[]string{"bpf"}, []string{"CAP_SYS_ADMIN", "CAP_BPF"}},
	{[]string{"perf_event_open"}, []string{"CAP_SYS_ADMIN", "CAP_PERFMON"}},
	{[]string{"userfaultfd"}, []string{"CAP_SYS_PTRACE"}},
}

// defaultSeccomp is the profile for a container holding caps.
func defaultSeccomp(caps []string) *specs.LinuxSeccomp {
	has := map[string]bool{}
	for _, c := range caps {
		has[c] = true
	}
	eperm := uint(1)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	}
	var denied []string
	for _, d := range seccompDenied {
		allowed := false
		for _, c := range d.unlessCap {
			allowed = allowed || has[c]
		}
		if !allowed {
			denied = append(denied, d.names...)
		}
	}
	if len(denied) > 0 {
		p.Syscalls = []specs.LinuxSyscall{{Names: denied, Action: specs.ActErrno, ErrnoRet: &eperm}}
	}
	return p
}
