package runtime

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Run is create + start + wait, as `runc run`: the container is deleted
// when its init exits, and the result is the exit status a shell would
// report (128+N for a signal). With detach it returns once started.
func Run(ctx context.Context, o CreateOptions, detach bool) (int, error) {
	trace("run")
	spec, err := LoadSpec(o.Bundle)
	if err != nil {
		return 1, err
	}
	o.spec = spec
	trace("run: spec loaded")
	tty := spec.Process != nil && spec.Process.Terminal && o.ConsoleSocket == ""
	if tty && detach {
		return 1, errors.New("run --detach with process.terminal needs --console-socket")
	}
	fg, err := newForeground(!detach, tty)
	if err != nil {
		return 1, err
	}
	defer fg.close()
	trace("run: foreground ready")
	o.consoleConn = fg.childConsole
	created, err := Create(ctx, o)
	if err != nil {
		return 1, err
	}
	c := created.Container
	fail := func(err error) (int, error) {
		c.destroy(ctx, true)
		created.Process.Wait()
		return 1, err
	}
	if err := fg.attach(); err != nil {
		return fail(err)
	}
	if err := c.start(ctx); err != nil {
		return fail(err)
	}
	trace("started")
	if detach {
		return 0, nil
	}
	st := fg.wait(created.Process, c.Pid)
	trace("exited")
	defer trace("deleted")
	if err := c.destroy(ctx, true); err != nil {
		return exitStatus(st), err
	}
	return exitStatus(st), nil
}

// ExecAndWait is `exec` without --detach: it runs the process, relays
// signals and (without a console socket) the terminal, and returns its
// exit status.
func ExecAndWait(ctx context.Context, o ExecOptions, detach bool) (int, error) {
	tty := o.Process != nil && o.Process.Terminal && o.ConsoleSocket == ""
	if tty && detach {
		return 1, errors.New("exec --detach with --tty needs --console-socket")
	}
	fg, err := newForeground(!detach, tty)
	if err != nil {
		return 1, err
	}
	defer fg.close()
	o.consoleConn = fg.childConsole
	proc, err := Exec(ctx, o)
	if err != nil {
		return 1, err
	}
	if detach {
		proc.Release()
		return 0, nil
	}
	if err := fg.attach(); err != nil {
		proc.Kill()
		proc.Wait()
		return 1, err
	}
	return exitStatus(fg.wait(proc, proc.Pid)), nil
}

// foreground is the runtime acting for a process it waits on: it relays
// signals, and with a terminal the pty between our stdio and the process.
type foreground struct {
	sigc         chan os.Signal
	ourConsole   *os.File
	childConsole *os.File
	pty          *os.File
	outDone      chan struct{}
	restore      func()
}

func newForeground(wait, tty bool) (*foreground, error) {
	fg := &foreground{restore: func() {}}
	if wait {
		// Signals may arrive before the process exists: queue them. Only
		// the ones a user or supervisor sends: catching all 64 costs a
		// millisecond of rt_sigaction calls on every run.
		fg.sigc = make(chan os.Signal, 32)
		signal.Notify(fg.sigc, relayedSignals...)
	}
	if tty {
		var err error
		fg.ourConsole, fg.childConsole, err = socketpair()
		if err != nil {
			fg.close()
			return nil, err
		}
	}
	return fg, nil
}

// attach receives the pty master (sent by the process during set-up) and
// starts copying.
func (fg *foreground) attach() error {
	if fg.ourConsole == nil {
		return nil
	}
	fg.childConsole.Close()
	pty, err := ReceivePty(fg.ourConsole)
	if err != nil {
		return err
	}
	fg.pty = pty
	in := int(os.Stdin.Fd())
	if term.IsTerminal(in) {
		if st, err := term.MakeRaw(in); err == nil {
			fg.restore = func() { term.Restore(in, st) }
		}
		resizePty(pty)
	}
	go io.Copy(pty, os.Stdin)
	fg.outDone = make(chan struct{})
	go func() { io.Copy(os.Stdout, pty); close(fg.outDone) }()
	return nil
}

func (fg *foreground) wait(proc *os.Process, target int) *os.ProcessState {
	waitc := make(chan *os.ProcessState, 1)
	go func() {
		st, _ := proc.Wait()
		waitc <- st
	}()
	for {
		select {
		case st := <-waitc:
			if fg.outDone != nil {
				<-fg.outDone
			}
			return st
		case s := <-fg.sigc:
			sig, _ := s.(syscall.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG:
			case unix.SIGWINCH:
				if fg.pty != nil {
					resizePty(fg.pty)
				}
			default:
				unix.Kill(target, sig)
			}
		}
	}
}

// relayedSignals are passed on to the process we wait for.
var relayedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGWINCH, unix.SIGALRM, unix.SIGCONT, unix.SIGPWR,
}

func (fg *foreground) close() {
	fg.restore()
	if fg.sigc != nil {
		signal.Stop(fg.sigc)
	}
	for _, f := range []*os.File{fg.ourConsole, fg.childConsole, fg.pty} {
		if f != nil {
			f.Close()
		}
	}
}

func exitStatus(st *os.ProcessState) int {
	if st == nil {
		return 1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

func resizePty(pty *os.File) {
	ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, ws)
}
