package initproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// phases records the child's timings (since process start) when the
// parent runs with --debug; they travel back in the ready message.
var (
	phases     []string
	debugInit  = os.Getenv(EnvLogLevel) == "debug"
	phaseStart = time.Now()
)

func phase(name string) {
	if debugInit {
		phases = append(phases, name+"="+time.Since(phaseStart).String())
	}
}

// inherited are the descriptors the parent passed, by role.
var inherited struct{ start, console int }

// IsInit tells main that this process is a container's init (or an exec'd
// process's), spawned by initCommand.
func IsInit() bool { return os.Getenv(EnvInit) != "" }

// Init is the child side of create and exec. It runs on one locked OS thread
// from start to execve, because namespaces, credentials, capabilities and
// seccomp filters are per thread and only the exec'ing thread's count.
// It returns only on failure, after reporting it to the parent.
func Init() int {
	goruntime.LockOSThread()
	phase("main")
	mode := os.Getenv(EnvInit)
	syncFD := fdFromEnv(EnvSyncFD)
	if syncFD < 0 {
		fmt.Fprintln(os.Stderr, "gorae runtime init: not started by gorae runtime (no sync fd)")
		return 1
	}
	unix.CloseOnExec(syncFD)
	sc := NewConn(os.NewFile(uintptr(syncFD), "sync"))
	// The entry point closes the user namespace's fd once it has joined
	// it: still open, this program was started without that entry point
	// (not gorae-init, or gorae-init built for another architecture).
	if os.Getenv(EnvUserNS) != "" {
		if _, err := unix.FcntlInt(userNSFD, unix.F_GETFD, 0); err == nil {
			const msg = "joining an existing user namespace needs gorae-init's entry point (bin/gorae from `make build`, on amd64); this init program has none"
			fmt.Fprintln(os.Stderr, "gorae runtime init:", msg)
			sc.Send(Msg{Type: MsgError, Error: msg})
			return 1
		}
	}
	m, err := sc.Recv()
	phase("config received")
	if err != nil || m.Type != MsgConfig || m.Config == nil {
		fmt.Fprintf(os.Stderr, "gorae runtime init: no configuration from parent: %v\n", err)
		return 1
	}
	// Clear our own environment (the container's is set at exec), once
	// the descriptors it names are noted.
	inherited.start = fdFromEnv(EnvStartFD)
	inherited.console = fdFromEnv(EnvConsoleFD)
	os.Clearenv()
	var ierr error
	if mode == "exec" {
		ierr = initExec(sc, m.Config)
	} else {
		ierr = initContainer(sc, m.Config)
	}
	// Reached only on failure.
	sc.Send(Msg{Type: MsgError, Error: ierr.Error()})
	return 1
}

func initContainer(sc *Conn, ic *Config) error {
	spec := ic.Spec
	// ID-mapped trees are attached and closed while mounts are made; no
	// hook or container process may inherit one meanwhile.
	for _, fd := range ic.IDMapFDs {
		unix.CloseOnExec(fd)
	}
	// Nothing is made before we are in the container's cgroup, so it is
	// all accounted, and a cgroup namespace is rooted there.
	if m, err := sc.Recv(); err != nil || m.Type != MsgCgrouped {
		return fmt.Errorf("wait to be placed in the cgroup: %v %s", err, m.Error)
	}
	phase("in cgroup")
	if err := joinNamespaces(ic.Join); err != nil {
		return err
	}
	if ic.NewCgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if ic.NewTimeNS {
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			return fmt.Errorf("unshare time namespace: %w", err)
		}
		if err := writeTimeOffsets(spec); err != nil {
			return err
		}
	}
	if !ic.NoNewKeyring {
		// A session keyring of our own, so the container cannot read the
		// host's keys. Kernels without keyrings just say ENOSYS.
		name := "_ses." + ic.ID
		if _, err := unix.KeyctlJoinSessionKeyring(name); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring %s: %w", name, err)
		}
	}
	if ic.NewNetNS {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if HasNS(spec, specs.UTSNamespace) {
		if spec.Hostname != "" {
			if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
				return fmt.Errorf("sethostname %q: %w", spec.Hostname, err)
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("setdomainname %q: %w", spec.Domainname, err)
			}
		}
	}
	rfs := newRootfs(ic)
	if err := rfs.prepare(); err != nil {
		return err
	}
	phase("rootfs prepared")
	hooks := HooksOf(spec)
	if len(hooks.Prestart)+len(hooks.CreateRuntime) > 0 {
		if err := sc.Send(Msg{Type: MsgHooks}); err != nil {
			return err
		}
		m, err := sc.Recv()
		if err != nil {
			return fmt.Errorf("wait for createRuntime hooks: %w", err)
		}
		if m.Type != MsgHooksDone {
			return fmt.Errorf("createRuntime hooks: %s", m.Error)
		}
	}
	st := specs.State{Version: specs.Version, ID: ic.ID, Status: specs.StateCreating, Pid: os.Getpid(), Bundle: ic.Bundle, Annotations: spec.Annotations}
	// createContainer hooks run in the container's namespaces but before
	// pivot_root, so their paths are the host's.
	if err := RunHooks(context.Background(), "createContainer", hooks.CreateContainer, st); err != nil {
		return err
	}
	if err := rfs.enter(); err != nil {
		return err
	}
	phase("pivoted")
	var consoleErr error
	if ic.Process.Terminal {
		consoleErr = setupConsole(ic.Process, true)
	}
	if consoleErr != nil {
		return consoleErr
	}
	if err := writeSysctls(spec); err != nil {
		return err
	}
	if err := rfs.finish(); err != nil {
		return err
	}
	proc, err := newProcessSetup(spec, ic.Process)
	if err != nil {
		return err
	}
	startFD := inherited.start
	if startFD < 0 {
		return errors.New("no start socket from parent")
	}
	unix.CloseOnExec(startFD)
	phase("ready")
	if err := sc.Send(Msg{Type: MsgReady, Phases: phases}); err != nil {
		return err
	}
	sc.Close()

	// Wait for `start`: it connects and sends one byte.
	conn, _, err := unix.Accept4(startFD, unix.SOCK_CLOEXEC)
	unix.Close(startFD)
	if err != nil {
		os.Exit(1)
	}
	var b [1]byte
	unix.Read(conn, b[:])
	fail := func(err error) {
		unix.Write(conn, []byte(err.Error()))
		os.Exit(1)
	}
	st.Status = specs.StateCreated
	if err := RunHooks(context.Background(), "startContainer", hooks.StartContainer, st); err != nil {
		fail(err)
	}
	// The connection is close-on-exec: `start` sees EOF once exec worked.
	fail(proc.exec())
	return nil
}

// initExec starts a process inside a running container: the parent put us
// in its pid namespace and cgroup; we enter the rest.
func initExec(sc *Conn, ic *Config) error {
	if err := joinNamespaces(ic.Join); err != nil {
		return err
	}
	if ic.Process.Terminal {
		if err := setupConsole(ic.Process, false); err != nil {
			return err
		}
	}
	proc, err := newProcessSetup(ic.Spec, ic.Process)
	if err != nil {
		return err
	}
	// The sync socket is close-on-exec: the parent reads EOF on success.
	return proc.exec()
}

// joinNamespaces enters existing namespaces on this thread. The mount
// namespace goes last and needs a private fs_struct first, since a thread
// sharing its root and cwd with others may not change mount namespace.
var joinOrder = []specs.LinuxNamespaceType{specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace, specs.CgroupNamespace, specs.TimeNamespace, specs.MountNamespace}

func joinNamespaces(join map[specs.LinuxNamespaceType]string) error {
	for _, t := range joinOrder {
		p, ok := join[t]
		if !ok {
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s namespace %s: %w", t, p, err)
		}
		if t == specs.MountNamespace {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				unix.Close(fd)
				return fmt.Errorf("unshare fs before joining mount namespace: %w", err)
			}
		}
		err = unix.Setns(fd, int(NSFlags[t]))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("setns %s namespace %s: %w", t, p, err)
		}
	}
	return nil
}

func writeSysctls(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	for k, v := range spec.Linux.Sysctl {
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

func writeTimeOffsets(spec *specs.Spec) error {
	if spec.Linux == nil || len(spec.Linux.TimeOffsets) == 0 {
		return nil
	}
	var b strings.Builder
	for clock, off := range spec.Linux.TimeOffsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
		return fmt.Errorf("write time namespace offsets: %w", err)
	}
	return nil
}

// loopbackUp sets IFF_UP on lo with two ioctls: no netlink needed for
// the one interface a fresh network namespace has.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}
