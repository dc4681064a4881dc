package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/gorae/gorae/internal/runtime/initproc"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are `exec`'s flags.
type ExecOptions struct {
	Root          string
	ID            string
	Process       *specs.Process
	PidFile       string
	ConsoleSocket string
	PreserveFDs   int
	IgnorePaused  bool
	Stdin         *os.File
	Stdout        *os.File
	Stderr        *os.File
	consoleConn   *os.File
}

var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// Exec starts a new process in a running container's namespaces and
// cgroup. It returns once the process has exec'd (or failed to); the caller
// may wait on the returned process.
func Exec(ctx context.Context, o ExecOptions) (*os.Process, error) {
	c, err := Load(o.Root, o.ID)
	if err != nil {
		return nil, err
	}
	switch st := c.Status(); st {
	case StatusRunning, StatusCreated:
	case StatusPaused:
		if !o.IgnorePaused {
			return nil, fmt.Errorf("cannot exec in container %s: it is paused (resume it, or --ignore-paused)", o.ID)
		}
	default:
		return nil, fmt.Errorf("cannot exec in container %s: it is %s", o.ID, st)
	}
	p := o.Process
	if p == nil || len(p.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	ic := &initproc.Config{ID: c.ID, Bundle: c.Bundle, Rootfs: c.Rootfs, Spec: c.Config, Process: p, Join: map[specs.LinuxNamespaceType]string{}}
	pidPath, userNSPath := "", ""
	if c.Config.Linux != nil {
		for _, ns := range c.Config.Linux.Namespaces {
			path := "/proc/" + strconv.Itoa(c.Pid) + "/ns/" + nsProcName[ns.Type]
			switch ns.Type {
			case specs.UserNamespace:
				userNSPath = path
			case specs.PIDNamespace:
				pidPath = path
			default:
				ic.Join[ns.Type] = path
			}
		}
	}

	parentSync, childSync, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer parentSync.Close()
	defer childSync.Close()

	console, closeConsole, err := consoleFor(p.Terminal, o.consoleConn, o.ConsoleSocket)
	if err != nil {
		return nil, err
	}
	defer closeConsole()
	exe, releaseExe, err := protectedExe(initBinary(), c.Dir())
	if err != nil {
		return nil, err
	}
	defer releaseExe()
	cmd := initCommand(exe, "exec", o.Stdin, o.Stdout, o.Stderr)
	addFD := passFDs(cmd, o.PreserveFDs)
	addFD(initproc.EnvSyncFD, childSync)
	if console != nil {
		addFD(initproc.EnvConsoleFD, console)
	}
	if userNSPath != "" {
		// Joined before init's Go starts (userns_linux.go); init then
		// holds every capability in it to join the other namespaces.
		join, err := joinUserNS(cmd, userNSPath, 0)
		if err != nil {
			return nil, err
		}
		defer join.Close()
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: p.Terminal}
	if err := startCommand(cmd, pidPath); err != nil {
		return nil, err
	}
	childSync.Close()
	ok := false
	defer func() {
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if err := m.Apply(cmd.Process.Pid); err != nil {
		return nil, fmt.Errorf("exec: join cgroup of %s: %w", o.ID, err)
	}
	sc := initproc.NewConn(parentSync)
	if err := sc.Send(initproc.Msg{Type: initproc.MsgConfig, Config: ic}); err != nil {
		return nil, err
	}
	// EOF means the process exec'd: our end of the sync socket was close-on-exec.
	msg, err := sc.Recv()
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("exec: read from process: %w", err)
	case msg.Type == initproc.MsgError:
		return nil, errors.New(msg.Error)
	default:
		return nil, fmt.Errorf("exec: unexpected message %q", msg.Type)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, cmd.Process.Pid); err != nil {
			return nil, err
		}
	}
	ok = true
	// Leave reaping to the caller; the *exec.Cmd's Wait is not needed.
	return cmd.Process, nil
}
