package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorae/gorae/internal/runtime/initproc"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/runtime/cgroups"
	"github.com/gorae/gorae/internal/unixsock"
)

// CreateOptions are `create`'s flags.
type CreateOptions struct {
	Root          string
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	// PreserveFDs passes fds 3 .. 3+N-1 on to the container process.
	PreserveFDs int
	// Stdio of the container process; nil means the runtime's own.
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	// consoleConn, when set, receives the pty master instead of
	// ConsoleSocket (used by `run` to drive the terminal itself).
	consoleConn *os.File
	// spec, when set, was already loaded from Bundle by the caller.
	spec *specs.Spec
}

// Created is a container whose init waits for `start`.
type Created struct {
	*Container
	// Process is init, for the caller that spawned it (run) and may wait.
	Process *os.Process
}

// Create builds the container up to the point where only exec'ing the user
// process remains, as runtime-spec's create requires.
func Create(ctx context.Context, o CreateOptions) (_ *Created, retErr error) {
	trace("create")
	if err := ValidateID(o.ID); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", o.Bundle, err)
	}
	spec := o.spec
	if spec == nil {
		if spec, err = LoadSpec(bundle); err != nil {
			return nil, err
		}
	}
	if spec.Process == nil {
		return nil, fmt.Errorf("%s: process is missing: create needs a process to run", filepath.Join(bundle, "config.json"))
	}
	trace("spec loaded")
	if err := os.MkdirAll(o.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", o.Root, err)
	}
	dir := containerDir(o.Root, o.ID)
	if err := os.Mkdir(dir, stateDirMode); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %s already exists (in %s)", o.ID, o.Root)
		}
		return nil, fmt.Errorf("create state directory %s: %w", dir, err)
	}
	var undo []func()
	defer func() {
		if retErr != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	undo = append(undo, func() { os.RemoveAll(dir) })

	c := &Container{
		ID:          o.ID,
		Bundle:      bundle,
		Rootfs:      RootfsPath(spec, bundle),
		Created:     time.Now().UTC(),
		Owner:       "",
		Annotations: spec.Annotations,
		Config:      spec,
		dir:         dir,
	}

	parentSync, childSync, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer parentSync.Close()
	defer childSync.Close()

	listener, err := listenStart(dir)
	if err != nil {
		return nil, err
	}
	defer listener.Close()

	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket given but process.terminal is false")
	}
	console, closeConsole, err := consoleFor(spec.Process.Terminal, o.consoleConn, o.ConsoleSocket)
	if err != nil {
		return nil, err
	}
	defer closeConsole()

	trees, err := openIDMappedTrees(spec)
	if err != nil {
		return nil, err
	}
	defer trees.Close()

	exe, releaseExe, err := protectedExe(initBinary(), dir)
	if err != nil {
		return nil, err
	}
	defer releaseExe()
	cmd := initCommand(exe, "create", o.Stdin, o.Stdout, o.Stderr)
	addFD := passFDs(cmd, o.PreserveFDs)
	addFD(initproc.EnvSyncFD, childSync)
	addFD(initproc.EnvStartFD, listener)
	if console != nil {
		addFD(initproc.EnvConsoleFD, console)
	}

	ic := &initproc.Config{
		ID:           o.ID,
		Bundle:       bundle,
		Rootfs:       c.Rootfs,
		Spec:         spec,
		Process:      spec.Process,
		Join:         map[specs.LinuxNamespaceType]string{},
		NoPivot:      o.NoPivot,
		NoNewKeyring: o.NoNewKeyring,
		IDMapFDs:     trees.pass(cmd),
	}
	var cloneFlags uintptr
	pidPath, userNSPath := "", ""
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			switch {
			case ns.Type == specs.PIDNamespace && ns.Path != "":
				pidPath = ns.Path
			case ns.Type == specs.UserNamespace && ns.Path != "":
				userNSPath = ns.Path
			case ns.Path != "":
				ic.Join[ns.Type] = ns.Path
			case ns.Type == specs.CgroupNamespace:
				ic.NewCgroupNS = true
			case ns.Type == specs.TimeNamespace:
				ic.NewTimeNS = true
			case ns.Type == specs.NetworkNamespace:
				ic.NewNetNS = true
				cloneFlags |= initproc.NSFlags[ns.Type]
			default:
				cloneFlags |= initproc.NSFlags[ns.Type]
			}
		}
	}
	var join *userNSJoin
	if userNSPath != "" {
		// The namespaces to make are made inside the joined one, by
		// init's entry point (userns_linux.go), not by clone.
		if join, err = joinUserNS(cmd, userNSPath, cloneFlags); err != nil {
			return nil, err
		}
		defer join.Close()
		cloneFlags = 0
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneFlags, Setsid: true}
	if cloneFlags&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = idMaps(spec.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(spec.Linux.GIDMappings)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Become the namespace's root once the maps are written: a
		// process whose ids are unmapped loses every capability at exec.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}

	// The cgroup exists before init runs anything, so every byte it
	// allocates is accounted.
	cg, err := cgroups.New(cgroupsPath(spec, o.ID))
	if err != nil {
		return nil, fmt.Errorf("cgroup for %s: %w", o.ID, err)
	}
	trace("spawning init")
	if err := startCommand(cmd, pidPath); err != nil {
		return nil, err
	}
	trace("init spawned")
	childSync.Close()
	listener.Close()
	initProc := cmd.Process
	if join != nil {
		if initProc, err = join.started(cmd); err != nil {
			return nil, err
		}
	}
	// waitInit reaps init: through cmd (which also closes its pipes)
	// unless init is the child of the entry point cmd started.
	waitInit := func() error {
		if initProc != cmd.Process {
			st, err := initProc.Wait()
			if err == nil && !st.Success() {
				err = &exec.ExitError{ProcessState: st}
			}
			return err
		}
		return cmd.Wait()
	}
	undo = append(undo, func() {
		initProc.Kill()
		waitInit()
	})
	c.Pid = initProc.Pid
	// Init decodes its configuration while we place it in its cgroup; it
	// does nothing else until told it is there.
	c.Cgroups = cg.Paths()
	ic.CgroupPaths = c.Cgroups
	sc := initproc.NewConn(parentSync)
	if err := sc.Send(initproc.Msg{Type: initproc.MsgConfig, Config: ic}); err != nil {
		return nil, err
	}
	if err := cg.Apply(c.Pid); err != nil {
		return nil, fmt.Errorf("put init (pid %d) in its cgroup: %w", c.Pid, err)
	}
	undo = append(undo, func() { cg.Destroy() })
	if spec.Linux != nil && spec.Linux.Resources != nil {
		if err := cg.Set(withDefaultDevices(spec.Linux.Resources)); err != nil {
			return nil, fmt.Errorf("set cgroup limits: %w", err)
		}
	}
	if spec.Process.OOMScoreAdj != nil {
		setOOMScoreAdj(c.Pid, *spec.Process.OOMScoreAdj)
	}
	trace("cgroup applied")
	if err := sc.Send(initproc.Msg{Type: initproc.MsgCgrouped}); err != nil {
		return nil, initDied(waitInit, err)
	}
	for done := false; !done; {
		m, err := sc.Recv()
		if err != nil {
			return nil, initDied(waitInit, err)
		}
		switch m.Type {
		case initproc.MsgHooks:
			st := c.specState(StatusCreating)
			herr := initproc.RunHooks(ctx, "prestart", spec.Hooks.Prestart, st)
			if herr == nil {
				herr = initproc.RunHooks(ctx, "createRuntime", spec.Hooks.CreateRuntime, st)
			}
			if herr != nil {
				sc.Send(initproc.Msg{Type: initproc.MsgError, Error: herr.Error()})
				return nil, herr
			}
			if err := sc.Send(initproc.Msg{Type: initproc.MsgHooksDone}); err != nil {
				return nil, err
			}
		case initproc.MsgReady:
			if len(m.Phases) > 0 {
				slog.Debug("init phases (since its start)", "phases", strings.Join(m.Phases, " "))
			}
			done = true
		case initproc.MsgError:
			return nil, errors.New(m.Error)
		default:
			return nil, fmt.Errorf("init sent unexpected message %q", m.Type)
		}
	}
	start, _, err := procStat(c.Pid)
	if err != nil {
		return nil, fmt.Errorf("init (pid %d) vanished after set-up: %w", c.Pid, err)
	}
	trace("init ready")
	c.PidStart = start
	if err := c.save(); err != nil {
		return nil, fmt.Errorf("save state of %s: %w", o.ID, err)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, c.Pid); err != nil {
			return nil, err
		}
	}
	return &Created{Container: c, Process: initProc}, nil
}

// initCommand re-executes this binary as the container's init.
// trace logs a phase of container set-up at debug level, with the time
// since the runtime process started, to find where latency goes.
func trace(phase string) {
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		slog.Debug(phase, "since_start", time.Since(processStart).String())
	}
}

var processStart = time.Now()

// InitBinary is the program executed as a container's init: this one,
// unless a program embedding the runtime names one that starts faster
// (cmd/gorae-init: bin/gorae's front writes it to its cache and names it
// to the engine and shims as GORAE_INIT).
var InitBinary = "/proc/self/exe"

// FindInitBinary, when set, is asked for the init program at the first
// spawn instead of InitBinary: the front writes its embedded init to the
// cache only for the commands that start one.
var FindInitBinary func() (string, error)

// initBinary is the program to start as init. Every gorae program can be
// its own container's init, so one whose named init is gone (a newer
// build pruned the cache) still starts containers, a little slower.
func initBinary() string {
	bin := InitBinary
	if FindInitBinary != nil {
		if p, err := FindInitBinary(); err == nil {
			bin = p
		} else {
			slog.Debug("no separate init program; re-executing this one", "err", err)
		}
	}
	if bin != "/proc/self/exe" {
		if _, err := os.Stat(bin); err != nil {
			return "/proc/self/exe"
		}
	}
	return bin
}

func initCommand(exe, mode string, stdin, stdout, stderr *os.File) *exec.Cmd {
	cmd := &exec.Cmd{
		Path: exe,
		Args: []string{"gorae", "runtime", "init"},
		Env:  []string{initproc.EnvInit + "=" + mode},
	}
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		cmd.Env = append(cmd.Env, initproc.EnvLogLevel+"=debug")
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if stderr != nil {
		cmd.Stderr = stderr
	}
	return cmd
}

// startCommand spawns cmd, first entering the pid namespace at pidPath if
// one is given. setns(CLONE_NEWPID) only changes the namespace of children,
// and only of the calling thread's, so it is done on a thread of its own
// that is thrown away afterwards (its goroutine exits still locked).
func startCommand(cmd *exec.Cmd, pidPath string) error {
	done, err := exeClearOfChildFDs(cmd)
	if err != nil {
		return err
	}
	defer done()
	if pidPath == "" {
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start container init: %w", err)
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		fd, err := unix.Open(pidPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open pid namespace %s: %w", pidPath, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWPID); err != nil {
			errc <- fmt.Errorf("setns pid namespace %s: %w", pidPath, err)
			return
		}
		if err := cmd.Start(); err != nil {
			errc <- fmt.Errorf("start container init in %s: %w", pidPath, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

func idMaps(in []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(in))
	for i, m := range in {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}

// cgroupsPath is linux.cgroupsPath, or /gorae/ID when the bundle leaves it
// to the runtime.
func cgroupsPath(spec *specs.Spec, id string) string {
	if spec.Linux != nil && spec.Linux.CgroupsPath != "" {
		return spec.Linux.CgroupsPath
	}
	return "/gorae/" + id
}

func withDefaultDevices(r *specs.LinuxResources) *specs.LinuxResources {
	if len(r.Devices) == 0 {
		return r
	}
	out := *r
	out.Devices = append([]specs.LinuxDeviceCgroup(nil), r.Devices...)
	i64 := func(v int64) *int64 { return &v }
	for _, d := range initproc.DefaultDevices {
		out.Devices = append(out.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(d.Major), Minor: i64(d.Minor), Access: "rwm"})
	}
	// /dev/pts/* and /dev/ptmx, for terminals.
	out.Devices = append(out.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "m"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "m"},
	)
	return &out
}

// setOOMScoreAdj writes init's oom_score_adj. Lowering it needs
// CAP_SYS_RESOURCE, which some hosts withhold even from root: then the
// current value is kept and the clamp logged, rather than failing the
// container.
func setOOMScoreAdj(pid, v int) {
	path := "/proc/" + strconv.Itoa(pid) + "/oom_score_adj"
	err := os.WriteFile(path, []byte(strconv.Itoa(v)), 0)
	if err != nil {
		slog.Warn("oom_score_adj not applied, kept the inherited value", "value", v, "path", path, "err", err)
	}
}

func initDied(wait func() error, cause error) error {
	if errors.Is(cause, io.EOF) || errors.Is(cause, io.ErrUnexpectedEOF) {
		err := wait()
		if err != nil {
			return entryFailed(err)
		}
		return errors.New("container init exited during set-up")
	}
	return fmt.Errorf("read from container init: %w", cause)
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file %s: %w", path, err)
	}
	return nil
}

func socketpair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// consoleFor is the connection init sends its pty master over: the
// caller's own (run and exec driving the terminal themselves), or one to
// --console-socket. None without a terminal.
func consoleFor(terminal bool, own *os.File, socket string) (*os.File, func(), error) {
	switch {
	case !terminal:
		return nil, func() {}, nil
	case own != nil:
		return own, func() {}, nil
	case socket != "":
		f, err := dialUnix(socket)
		if err != nil {
			return nil, nil, fmt.Errorf("connect to console socket %s: %w", socket, err)
		}
		return f, func() { f.Close() }, nil
	}
	return nil, nil, errors.New("process.terminal is true but there is no --console-socket to send the pty to")
}

// passFDs hands the child the preserved descriptors 3 .. 3+n-1 at the
// same numbers, and returns how to add one more, named in its env.
func passFDs(cmd *exec.Cmd, preserve int) func(env string, f *os.File) {
	for i := 0; i < preserve; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	return func(env string, f *os.File) {
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		cmd.Env = append(cmd.Env, env+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	}
}

// listenStart makes the socket `start` connects to. init inherits it and
// accepts only when it is ready to exec, so a connection is the start signal
// and the socket file's existence means "created".
func listenStart(dir string) (*os.File, error) {
	path := filepath.Join(dir, startSock)
	addr, done, err := unixsock.Short(path)
	if err != nil {
		return nil, err
	}
	defer done()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", path, err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

func dialUnix(path string) (*os.File, error) {
	addr, done, err := unixsock.Short(path)
	if err != nil {
		return nil, err
	}
	defer done()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

func joinLines(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\n", "; ")) }
