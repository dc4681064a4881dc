// Package testenv builds what the root tests drive: the gorae binary and
// a busybox root filesystem made from the host's busybox-static, so every
// suite gets them the same way and nothing is downloaded.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BuildGorae builds gorae as `make build` does, static, into dir and
// returns its path.
func BuildGorae(dir string) (string, error) {
	bin := filepath.Join(dir, "gorae")
	// What ships: the front with the engine embedded (scripts/build.sh).
	build := exec.Command("sh", "scripts/build.sh", bin)
	build.Dir = RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build gorae: %v\n%s", err, out)
	}
	return bin, nil
}

// BusyboxRootfs makes a busybox root filesystem at dir.
func BusyboxRootfs(dir string) error {
	script := filepath.Join(RepoRoot(), "scripts", "busybox-rootfs.sh")
	if out, err := exec.Command("sh", script, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("busybox rootfs: %v\n%s", err, out)
	}
	return nil
}

// RequireRoot reports whether root tests may run: as root yes; otherwise
// they skip, except under CI=true, where skipping is a failure (the
// returned error says so).
func RequireRoot(suite string) (bool, error) {
	if os.Geteuid() == 0 {
		return true, nil
	}
	if os.Getenv("CI") == "true" {
		return false, fmt.Errorf("%s: must run as root in CI", suite)
	}
	return false, nil
}

// Daemon is a `gorae daemon` a suite starts on roots and a socket of its
// own, its output in Log.
type Daemon struct {
	Bin, DataRoot, ExecRoot, Sock, Log string
	Args                               []string // extra flags
	// Net is the daemon's own default bridge and subnets; Start fills it
	// with TestNetwork("gcd", 140) when empty, Cleanup removes it (not
	// Stop: a daemon started again adopts it, as in production).
	Net *Net
	cmd *exec.Cmd
}

// Net is a test daemon's default bridge, nftables table and subnets, of
// its own so daemons of suites running side by side never share them.
type Net struct {
	Bridge string
	Flags  []string
}

// TestNetwork names a bridge PREFIX<pid> with its default subnet
// 10.201.BLOCK.0/24 and networks from 10.201.BLOCK+4.0/22 (BLOCK a multiple
// of 4): callers pick
// blocks apart (e2e: 24–127; cli: 140–163).
func TestNetwork(prefix string, block int) *Net {
	br := fmt.Sprintf("%s%d", prefix, os.Getpid()%100000)
	return &Net{Bridge: br, Flags: []string{"--bridge", br, "--bip", fmt.Sprintf("10.201.%d.1/24", block),
		"--default-address-pool", fmt.Sprintf("base=10.201.%d.0/22,size=24", block+4)}}
}

// Cleanup removes what a daemon leaves on purpose for the next one
// (live-restore): its bridge and its nftables table.
func (n *Net) Cleanup() {
	exec.Command("ip", "link", "del", n.Bridge).Run()
	exec.Command("nft", "delete", "table", "ip", "gorae-"+n.Bridge).Run()
}

// Start starts the daemon and waits until ready (a client call through
// the suite's own CLI) succeeds.
func (d *Daemon) Start(ready func() bool) error {
	logf, err := os.OpenFile(d.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	if d.Net == nil {
		d.Net = TestNetwork("gcd", 140)
	}
	args := append([]string{"daemon", "--data-root", d.DataRoot, "--exec-root", d.ExecRoot, "-H", "unix://" + d.Sock, "--config-file", "/nonexistent"}, d.Net.Flags...)
	args = append(args, d.Args...)
	d.cmd = exec.Command(d.Bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ready() {
			return nil
		}
	}
	return fmt.Errorf("daemon did not answer on %s", d.Sock)
}

// Stop ends the daemon with SIGTERM (SIGKILL after 10 s). Containers
// outlive it (live-restore): the suite removes them first.
func (d *Daemon) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

// Kill ends the daemon with SIGKILL (live-restore tests).
func (d *Daemon) Kill() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Kill()
	d.cmd.Wait()
}

// Cleanup removes what the daemon leaves on purpose for the next one.
func (d *Daemon) Cleanup() {
	if d.Net != nil {
		d.Net.Cleanup()
	}
}

// LogTail is the end of the daemon's log, for a failing suite's report.
func (d *Daemon) LogTail(n int) string {
	b, _ := os.ReadFile(d.Log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// BusyboxTar makes a busybox rootfs under dir and a tar of it (an image
// for `import`), returning the tar's path.
func BusyboxTar(dir string) (string, error) {
	rootfs := filepath.Join(dir, "rootfs")
	if err := BusyboxRootfs(rootfs); err != nil {
		return "", err
	}
	tar := filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tar, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar rootfs: %v\n%s", err, out)
	}
	return tar, nil
}

// Require gates a root suite that also needs programs at paths: skip says
// why it skips (empty: run it); under CI=true what would skip is an error.
func Require(suite string, paths ...string) (skip string, err error) {
	if ok, err := RequireRoot(suite); !ok {
		return suite + ": skipped, needs root", err
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				return "", fmt.Errorf("%s: %s is missing", suite, p)
			}
			return fmt.Sprintf("%s: skipped, no %s", suite, p), nil
		}
	}
	return "", nil
}
