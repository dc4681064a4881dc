// Package reaper is the tiny init a container gets with --init (Docker's
// docker-init): it runs the real command as its child, passes signals on,
// reaps every orphan that the kernel hands to pid 1, and exits with the
// command's status.
package reaper

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs args (after an optional "--") and returns the exit status.
func Main(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-init: no command given")
		return 1
	}
	sigc := make(chan os.Signal, 32)
	signal.Notify(sigc)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The child leads its own process group in the foreground of our
	// terminal (if any), so ctrl-c reaches it as it would without us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: isTerminal()}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: %v\n", err)
		if os.IsNotExist(err) || err == exec.ErrNotFound {
			return 127
		}
		return 126
	}
	child := cmd.Process.Pid
	for s := range sigc {
		sig := s.(syscall.Signal)
		if sig != unix.SIGCHLD {
			if sig != unix.SIGURG { // the Go runtime's own preemption signal
				unix.Kill(child, sig)
			}
			continue
		}
		// Reap everything that has ended; the child's status is ours.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
	return 1
}

func isTerminal() bool {
	_, err := unix.IoctlGetTermios(0, unix.TCGETS)
	return err == nil
}
