package initproc

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/runtime/seccomp"
)

var RlimitByName = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

var capByName = func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}()

func CapFromName(name string) (capability.Cap, error) {
	c, ok := capByName[strings.ToUpper(name)]
	if !ok {
		return 0, fmt.Errorf("unknown capability %q", name)
	}
	return c, nil
}

// processSetup holds what is resolved before `start` (so errors show at
// create) and applied in exec, the last step.
type processSetup struct {
	spec *specs.Spec
	p    *specs.Process
	path string // resolved executable
}

func newProcessSetup(spec *specs.Spec, p *specs.Process) (*processSetup, error) {
	if len(p.Args) == 0 {
		return nil, errors.New("process.args is empty")
	}
	path, err := lookPath(p.Args[0], p.Env, p.Cwd)
	if err != nil {
		return nil, err
	}
	return &processSetup{spec: spec, p: p, path: path}, nil
}

// lookPath resolves the executable inside the container, with the
// container's PATH, as execvp would.
func lookPath(name string, env []string, cwd string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) && cwd != "" {
			p = filepath.Join(cwd, p)
		}
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("exec %q: %w", name, err)
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %q: executable file not found in $PATH", name)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file or directory")
		}
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return errors.New("permission denied")
	}
	return nil
}

// exec applies the process's credentials and limits on this thread and
// execs. The order matters: seccomp needs CAP_SYS_ADMIN unless
// no_new_privs is set, the bounding set can only shrink while we hold
// CAP_SETPCAP, and capabilities survive setuid only with keep-caps.
func (s *processSetup) exec() error {
	p := s.p
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.Cwd != "" {
		if err := unix.Chdir(p.Cwd); err != nil {
			return fmt.Errorf("chdir to process.cwd %s: %w", p.Cwd, err)
		}
	}
	if p.ApparmorProfile != "" {
		if err := applyApparmor(p.ApparmorProfile); err != nil {
			return err
		}
	}
	var sc *specs.LinuxSeccomp
	if s.spec != nil && s.spec.Linux != nil {
		sc = s.spec.Linux.Seccomp
	}
	if sc != nil && !p.NoNewPrivileges {
		if err := seccomp.Load(sc); err != nil {
			return fmt.Errorf("load seccomp profile: %w", err)
		}
	}
	caps, err := newCaps(p.Capabilities)
	if err != nil {
		return err
	}
	if caps != nil {
		if err := caps.Apply(capability.BOUNDS); err != nil {
			return fmt.Errorf("drop capabilities from the bounding set: %w", err)
		}
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl keep-caps: %w", err)
		}
	}
	if err := setUser(p.User); err != nil {
		return err
	}
	if caps != nil {
		unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
		if err := caps.Apply(capability.CAPS); err != nil {
			return fmt.Errorf("set capabilities: %w", err)
		}
		if err := raiseAmbient(p.Capabilities.Ambient); err != nil {
			return err
		}
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl no_new_privs: %w", err)
		}
		if sc != nil {
			if err := seccomp.Load(sc); err != nil {
				return fmt.Errorf("load seccomp profile: %w", err)
			}
		}
	}
	env := p.Env
	if env == nil {
		env = []string{}
	}
	err = unix.Exec(s.path, p.Args, env)
	return fmt.Errorf("exec %s: %w", p.Args[0], err)
}

// setRlimits applies process.rlimits. A hard limit above what the host
// allows us (no CAP_SYS_RESOURCE) is clamped to the current hard limit and
// logged rather than failing the container.
func setRlimits(rls []specs.POSIXRlimit) error {
	for _, rl := range rls {
		res := RlimitByName[rl.Type]
		lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		err := unix.Prlimit(0, res, &lim, nil)
		if errors.Is(err, unix.EPERM) {
			var cur unix.Rlimit
			if gerr := unix.Prlimit(0, res, nil, &cur); gerr == nil && rl.Hard > cur.Max {
				clamped := unix.Rlimit{Cur: min(rl.Soft, cur.Max), Max: cur.Max}
				if err = unix.Prlimit(0, res, &clamped, nil); err == nil {
					slog.Warn("rlimit clamped to the host's hard limit", "rlimit", rl.Type, "want", rl.Hard, "got", cur.Max)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("setrlimit %s soft=%d hard=%d: %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

// setUser switches this thread's credentials with raw syscalls: Go's
// syscall.Setuid would change every thread, but only the exec'ing one
// matters and the others die at exec.
func setUser(u specs.User) error {
	gids := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		gids = append(gids, int(g))
	}
	if err := setgroupsThread(gids); err != nil {
		// In a user namespace with setgroups denied only an empty list
		// could ever work; say which.
		return fmt.Errorf("setgroups %v: %w", gids, err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setresgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setresuid %d: %w", u.UID, e)
	}
	return nil
}

func setgroupsThread(gids []int) error {
	if len(gids) == 0 {
		_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0)
		if e != 0 && e != unix.EPERM {
			return e
		}
		return nil
	}
	g := make([]uint32, len(gids))
	for i, v := range gids {
		g[i] = uint32(v)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(g)), uintptrOf(g), 0); e != 0 {
		return e
	}
	return nil
}

// newCaps builds the five capability sets of process.capabilities for this
// thread. nil means the spec leaves capabilities alone.
func newCaps(pc *specs.LinuxCapabilities) (capability.Capabilities, error) {
	if pc == nil {
		return nil, nil
	}
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	last, _ := capability.LastCap()
	set := func(which capability.CapType, names []string) {
		for _, n := range names {
			cp, err := CapFromName(n)
			if err != nil || cp > last {
				// Validated earlier; a capability this kernel lacks is
				// skipped, as runc does.
				continue
			}
			c.Set(which, cp)
		}
	}
	set(capability.BOUNDING, pc.Bounding)
	set(capability.EFFECTIVE, pc.Effective)
	set(capability.PERMITTED, pc.Permitted)
	set(capability.INHERITABLE, pc.Inheritable)
	set(capability.AMBIENT, pc.Ambient)
	return c, nil
}

// raiseAmbient raises each ambient capability. The kernel refuses one
// that is not both permitted and inheritable (runc's default spec asks for
// exactly that): such a cap is skipped, as runc skips it with a warning.
func raiseAmbient(names []string) error {
	unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	for _, n := range names {
		c, err := CapFromName(n)
		if err != nil {
			continue
		}
		err = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0)
		if err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("raise ambient capability %s: %w", n, err)
		}
	}
	return nil
}

func applyApparmor(profile string) error {
	if _, err := os.Stat("/sys/kernel/security/apparmor"); err != nil {
		// No AppArmor on this host: runc ignores the profile too.
		return nil
	}
	for _, p := range []string{"/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"} {
		if err := os.WriteFile(p, []byte("exec "+profile), 0); err == nil {
			return nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("apparmor profile %s: %w", profile, err)
		}
	}
	return nil
}

func uintptrOf(g []uint32) uintptr { return uintptr(unsafe.Pointer(&g[0])) }
