package cli_test

import (
	"github.com/gorae/gorae/internal/testenv"

	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tmux drives a terminal: its own server socket (-S, in the test's temp
// dir), a pane of known size, keys in, screen out.
type tmux struct {
	t    *testing.T
	sock string
}

func newTmux(t *testing.T, shellCmd string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is missing (scripts/install-deps.sh installs it): %v", err)
	}
	tm := &tmux{t: t, sock: filepath.Join(t.TempDir(), "tmux")}
	envs := strings.Join([]string{"DOCKER_HOST=unix://" + sock, "DOCKER_CONFIG=" + dockerCfg, "GORAE_NO_AUTOSTART=1", "DOCKER_CLI_HINTS=false"}, " ")
	tm.run("new-session", "-d", "-x", "100", "-y", "30", "env "+envs+" "+shellCmd+"; echo EXIT=$?; sleep 60")
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *tmux) run(args ...string) string {
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (tm *tmux) keys(k ...string) { tm.run(append([]string{"send-keys"}, k...)...) }

// waitFor polls the screen until it holds want.
func (tm *tmux) waitFor(want string) string {
	tm.t.Helper()
	var screen string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if screen = tm.run("capture-pane", "-p"); strings.Contains(screen, want) {
			return screen
		}
	}
	tm.t.Fatalf("screen never showed %q:\n%s", want, screen)
	return ""
}

// TestRunInteractive: `gorae run -it` gets a pty of the terminal's size,
// follows a resize, and detaches on ctrl-p ctrl-q leaving the container
// running; `gorae attach` comes back to it and exit ends it with its code.
func TestRunInteractive(t *testing.T) {
	tm := newTmux(t, gorae+" run -it --name it1 busybox sh")
	defer goraeRun(nil, "rm", "-f", "it1")
	tm.waitFor("/ #")
	tm.keys("stty size; echo $((6*7))", "Enter")
	tm.waitFor("30 100")
	tm.waitFor("42")
	tm.run("resize-window", "-x", "80", "-y", "20")
	tm.keys("clear; stty size", "Enter")
	tm.waitFor("20 80")
	tm.keys("C-p", "C-q")
	tm.waitFor("EXIT=0")
	if st := strings.TrimSpace(mustGorae(t, "inspect", "-f", "{{.State.Status}}", "it1")); st != "running" {
		t.Fatalf("after detach the container is %s", st)
	}

	tm2 := newTmux(t, gorae+" attach it1")
	tm2.keys("echo attached-$((1+1))", "Enter")
	tm2.waitFor("attached-2")
	tm2.keys("exit 5", "Enter")
	tm2.waitFor("EXIT=5")
}

// TestExecInteractive: `gorae exec -it` with the detach keys, and the
// same through the docker CLI for comparison of what the screen shows.
func TestExecInteractive(t *testing.T) {
	mustGorae(t, "run", "-d", "--name", "ex1", "busybox", "sleep", "300")
	defer goraeRun(nil, "rm", "-f", "ex1")
	for _, bin := range []string{gorae, dockerBin} {
		tm := newTmux(t, bin+" exec -it ex1 sh")
		tm.waitFor("/ #")
		tm.keys("tty; stty size", "Enter")
		tm.waitFor("/dev/pts/")
		tm.waitFor("30 100")
		tm.keys("exit 7", "Enter")
		tm.waitFor("EXIT=7")
	}
}

// TestRunSignalProxy: SIGTERM to a foreground `gorae run` reaches the
// container (--sig-proxy), whose trap decides the exit code.
func TestRunSignalProxy(t *testing.T) {
	cmd := exec.Command(gorae, "run", "--rm", "--name", "sig1", "busybox", "sh", "-c", "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done")
	cmd.Env = env()
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "ready") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 9 || !strings.Contains(out.String(), "got-term") {
		t.Errorf("run with SIGTERM: %v, output %q", err, out.String())
	}
}

// TestAutostart: from a cold state (no daemon, no socket, empty roots)
// `gorae` as root starts the daemon in the background, waits for it and
// runs the command; the daemon outlives the CLI and logs to its data root.
func TestAutostart(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	exe := fmt.Sprintf("/run/g-cli-a%d", os.Getpid())
	asock := exe + ".sock"
	defer os.RemoveAll(exe)
	defer os.Remove(asock)
	defer os.Remove(asock + ".lock")
	if _, err := os.Stat(asock); err == nil {
		t.Fatalf("%s exists before the test", asock)
	}
	tn := testenv.TestNetwork("gca", 148)
	defer tn.Cleanup()
	envs := append(os.Environ(), "GORAE_HOST=unix://"+asock, "DOCKER_HOST=", "DOCKER_CONFIG="+dockerCfg,
		"GORAE_DAEMON_FLAGS=--data-root "+data+" --exec-root "+exe+" --config-file /nonexistent "+strings.Join(tn.Flags, " "))
	run := func(stdin string, args ...string) result {
		cmd := exec.Command(gorae, args...)
		cmd.Env = envs
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{string(out), code}
	}
	defer stopAutostarted(t, asock, run)
	b, err := os.ReadFile(busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	r := run(string(b), "import", "-", "busybox")
	if r.code != 0 || !strings.Contains(r.out, "Starting the gorae daemon") {
		t.Fatalf("first command from cold: exit %d\n%s", r.code, r.out)
	}
	if _, err := os.Stat(filepath.Join(data, "gorae-daemon.log")); err != nil {
		t.Errorf("daemon log: %v", err)
	}
	r = run("", "run", "--rm", "busybox", "echo", "hello")
	if r.code != 0 || r.out != "hello\n" {
		t.Errorf("run after auto-start: exit %d %q", r.code, r.out)
	}
}

// stopAutostarted ends the daemon the test's CLI started: its PID is the
// process whose command line names this test's socket.
func stopAutostarted(t *testing.T, asock string, run func(string, ...string) result) {
	if r := run("", "ps", "-aq"); strings.TrimSpace(r.out) != "" {
		run("", append([]string{"rm", "-f"}, strings.Fields(r.out)...)...)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 2 && args[1] == "daemon" && strings.Contains(string(cmdline), "unix://"+asock+"\x00") {
			syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 100; i++ {
				if syscall.Kill(pid, 0) != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Errorf("auto-started daemon %d did not stop", pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
	}
	t.Errorf("no auto-started daemon found for %s", asock)
}

// TestSocketActivation: `gorae daemon -H fd://` serves on the socket its
// parent passed as descriptor 3 (systemd's protocol; gorae.socket).
func TestSocketActivation(t *testing.T) {
	dir := t.TempDir()
	exe := fmt.Sprintf("/run/g-cli-s%d", os.Getpid())
	ssock := exe + ".sock"
	defer os.RemoveAll(exe)
	os.Remove(ssock)
	l, err := net.Listen("unix", ssock)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(ssock)
	ul := l.(*net.UnixListener)
	f, err := ul.File()
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false) // the daemon serves on it now
	ul.Close()
	// LISTEN_PID must be the daemon's own pid: sh sets it and execs.
	tn := testenv.TestNetwork("gcs", 156)
	defer tn.Cleanup()
	cmd := exec.Command("sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"`, "sh", gorae, "daemon", "-H", "fd://",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", exe, "--config-file", "/nonexistent"}, tn.Flags...)...)
	cmd.ExtraFiles = []*os.File{f}
	logb := &syncBuf{}
	cmd.Stdout, cmd.Stderr = logb, logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	var r result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r = goraeRun(nil, "-H", "unix://"+ssock, "version", "--format", "{{.Server.Os}}"); r.code == 0 {
			break
		}
	}
	if r.code != 0 || strings.TrimSpace(r.out) != "linux" {
		t.Fatalf("version over the activated socket: exit %d %s\ndaemon: %s", r.code, r.out, logb.String())
	}
}
