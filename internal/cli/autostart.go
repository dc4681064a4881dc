package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// autostartWait bounds how long the CLI waits for a daemon it started.
const autostartWait = 60 * time.Second

// maybeStartDaemon starts `gorae daemon` in the background when nothing
// answers on host (a unix socket), the user is root and auto-start is not
// turned off. The daemon is detached (own session, stdio to
// <data-root>/gorae-daemon.log) so it outlives the CLI; the CLI waits for
// /_ping and goes on. Two CLIs racing serialize on a lock file; the second
// finds the first one's daemon answering.
func maybeStartDaemon(ctx context.Context, host string, errOut io.Writer) error {
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok || os.Getenv(EnvNoAutostart) == "1" || dialUnix(sock, time.Second) {
		return nil
	}
	if os.Geteuid() != 0 {
		// Not ours to start: the request fails with docker's "Cannot
		// connect" message.
		return nil
	}
	flags := strings.Fields(os.Getenv(EnvDaemonFlags))
	dataRoot := flagValue(flags, "--data-root", "/var/lib/gorae")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return fmt.Errorf("auto-start the daemon: %w", err)
	}
	lock, err := os.OpenFile(sock+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("auto-start the daemon: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("auto-start the daemon: lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if dialUnix(sock, time.Second) {
		return nil // another CLI started it while we waited for the lock
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("auto-start the daemon: find the gorae binary: %w", err)
	}
	if err := os.MkdirAll(dataRoot, 0o711); err != nil {
		return fmt.Errorf("auto-start the daemon: %w", err)
	}
	logPath := filepath.Join(dataRoot, "gorae-daemon.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("auto-start the daemon: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	args := append([]string{"daemon", "-H", host}, flags...)
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("auto-start the daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(errOut, "Starting the gorae daemon (log: %s) ...\n", logPath)
	ctx, cancel := context.WithTimeout(ctx, autostartWait)
	defer cancel()
	for {
		if pingUnix(ctx, sock) {
			// The daemon stays; the goroutine reaping it dies with us.
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("auto-start the daemon: `gorae %s` exited (%v); see %s", strings.Join(args, " "), err, logPath)
		case <-ctx.Done():
			return fmt.Errorf("auto-start the daemon: no answer on %s after %s; see %s", sock, autostartWait, logPath)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pingUnix asks the daemon's /_ping over a unix socket.
func pingUnix(ctx context.Context, sock string) bool {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}, Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://gorae/_ping", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// flagValue finds --name V or --name=V in args.
func flagValue(args []string, name, def string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return def
}
