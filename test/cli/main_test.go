// Package cli_test judges gorae's command line against the docker CLI
// (/usr/local/bin/docker): both drive the SAME gorae daemon, started here
// on its own data root, exec root and socket, and must print the same
// shape with the same exit codes. Interactive runs go through tmux; the
// daemon's auto-start is tested from a cold state.
package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorae/gorae/internal/testenv"
)

var (
	gorae      string
	dockerBin  = "/usr/local/bin/docker"
	sock       string
	daemon     *testenv.Daemon
	busyboxTar string
	dockerCfg  string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if skip, err := testenv.Require("test/cli", dockerBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	} else if skip != "" {
		fmt.Println(skip)
		return 0
	}
	tmp, err := os.MkdirTemp("", "gorae-cli-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	if gorae, err = testenv.BuildGorae(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if busyboxTar, err = testenv.BusyboxTar(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dockerCfg = filepath.Join(tmp, "docker-config")
	// Short: unix socket paths are limited to 108 bytes.
	execRoot := fmt.Sprintf("/run/g-cli-t%d", os.Getpid())
	sock = execRoot + ".sock"
	defer os.RemoveAll(execRoot)
	defer os.Remove(sock)
	daemon = &testenv.Daemon{Bin: gorae, DataRoot: filepath.Join(tmp, "data"), ExecRoot: execRoot, Sock: sock, Log: filepath.Join(tmp, "daemon.log")}
	if err := daemon.Start(func() bool { return goraeRun(nil, "version").code == 0 }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		dumpLog()
		return 1
	}
	defer stopDaemon()
	if r := goraeRun(nil, "import", busyboxTar, "busybox:latest"); r.code != 0 {
		fmt.Fprintf(os.Stderr, "gorae import busybox: %s", r.out)
		dumpLog()
		return 1
	}
	code := m.Run()
	if code != 0 {
		dumpLog()
	}
	return code
}

func dumpLog() { fmt.Fprintf(os.Stderr, "--- daemon log (tail) ---\n%s\n", daemon.LogTail(6000)) }

// stopDaemon removes the containers (they outlive the daemon), then stops it.
func stopDaemon() {
	if r := goraeRun(nil, "ps", "-aq"); strings.TrimSpace(r.out) != "" {
		goraeRun(nil, append([]string{"rm", "-f"}, strings.Fields(r.out)...)...)
	}
	daemon.Stop()
	daemon.Cleanup()
}

type result struct {
	out  string // stdout then stderr
	code int
}

// env is the environment both CLIs get: our daemon, our config dir,
// no auto-start (this daemon is started by the test).
func env() []string {
	return append(os.Environ(), "DOCKER_HOST=unix://"+sock, "GORAE_HOST=", "DOCKER_CONFIG="+dockerCfg,
		"DOCKER_CLI_HINTS=false", "GORAE_NO_AUTOSTART=1")
}

func runBin(bin string, stdin []byte, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return result{out: out.String() + errb.String(), code: code}
}

func goraeRun(stdin []byte, args ...string) result  { return runBin(gorae, stdin, args...) }
func dockerRun(stdin []byte, args ...string) result { return runBin(dockerBin, stdin, args...) }

// normalize removes what differs between two runs of the same command:
// the program's name, IDs, times.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\bgorae\b`), "docker"},
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "<digest>"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<id>"},
	{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "<id>"},
	{regexp.MustCompile(`(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes|hours)) ago`), "<ago>"},
	{regexp.MustCompile(`Up (Less than a second|About a minute|\d+ (seconds?|minutes))`), "Up <t>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d[ T][0-9:.]+( ?[+-]\d\d:?\d\d| UTC|Z)*( UTC)?`), "<time>"},
	{regexp.MustCompile(`[0-9.]+%`), "<pct>"},
}

func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	// Column widths follow the values; compare the words.
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

// same runs args with both CLIs and wants the same normalized output and
// exit code; it returns gorae's result.
func same(t *testing.T, args ...string) result {
	t.Helper()
	g := goraeRun(nil, args...)
	d := dockerRun(nil, args...)
	if g.code != d.code {
		t.Errorf("%s: exit %d, docker %d\ngorae:  %s\ndocker: %s", strings.Join(args, " "), g.code, d.code, g.out, d.out)
	}
	if ng, nd := normalize(g.out), normalize(d.out); ng != nd {
		t.Errorf("%s: output differs\n--- gorae\n%s\n--- docker\n%s", strings.Join(args, " "), ng, nd)
	}
	return g
}

func mustGorae(t *testing.T, args ...string) string {
	t.Helper()
	r := goraeRun(nil, args...)
	if r.code != 0 {
		t.Fatalf("gorae %s: exit %d\n%s", strings.Join(args, " "), r.code, r.out)
	}
	return r.out
}

// syncBuf is an output buffer a test reads while a process writes it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
