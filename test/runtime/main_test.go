// Package runtime_test is the runtime contract suite: it drives `gorae
// runtime` through its command line exactly as an engine drives runc, and
// proves isolation from inside the container. Set GORAE_TEST_RUNTIME to run
// it against another runtime binary (e.g. runc) to check the suite itself.
package runtime_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorae/gorae/internal/testenv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	gruntime "github.com/gorae/gorae/internal/runtime"
)

var (
	runtimeBin string // the binary under test
	runtimeArg []string
	baseRootfs string // busybox rootfs, copied per test
	isGorae    bool
	idSeq      atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if ok, err := testenv.RequireRoot("runtime contract suite"); !ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("runtime contract suite: skipped, needs root")
		return 0
	}
	tmp, err := os.MkdirTemp("", "gorae-rt-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	if rb := os.Getenv("GORAE_TEST_RUNTIME"); rb != "" {
		runtimeBin = rb
	} else {
		if runtimeBin, err = testenv.BuildGorae(tmp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		runtimeArg = []string{"runtime"}
		isGorae = true
	}
	baseRootfs = filepath.Join(tmp, "rootfs")
	if err := testenv.BusyboxRootfs(baseRootfs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// env is one test's runtime state root and helpers.
type env struct {
	t    *testing.T
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{t: t, root: root}
	t.Cleanup(func() {
		// Whatever a test left, it must not outlive it.
		out, _ := e.rt("list", "-q")
		for _, id := range strings.Fields(out) {
			e.rt("delete", "--force", id)
		}
	})
	return e
}

func newID(t *testing.T) string {
	return fmt.Sprintf("t%d-%d", os.Getpid(), idSeq.Add(1))
}

// rt runs the runtime with --root and returns stdout, and an error that
// carries stderr.
func (e *env) rt(args ...string) (string, error) {
	return e.rtIn(nil, args...)
}

func (e *env) rtIn(stdin []byte, args ...string) (string, error) {
	full := append(append(append([]string(nil), runtimeArg...), "--root", e.root), args...)
	cmd := exec.Command(runtimeBin, full...)
	// Files, not pipes: a created container's init inherits our stdio and
	// keeps a pipe open long after the runtime command has returned.
	stdout, stderr := tempFile(e.t), tempFile(e.t)
	defer stdout.Close()
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	outb, _ := os.ReadFile(stdout.Name())
	if err != nil {
		errb, _ := os.ReadFile(stderr.Name())
		return string(outb), fmt.Errorf("%s %s: %w: %s", filepath.Base(runtimeBin), strings.Join(args, " "), err, strings.TrimSpace(string(errb)))
	}
	return string(outb), nil
}

func tempFile(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// baseSpec is a non-interactive busybox container in every namespace but
// the user's, with a writable /tmp on a read-only root.
func baseSpec(args ...string) *specs.Spec {
	s := gruntime.DefaultSpec(false)
	s.Process.Terminal = false
	s.Process.Args = args
	s.Hostname = "gorae-test"
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
	return s
}

// bundle writes a bundle with a private copy of the rootfs.
func (e *env) bundle(s *specs.Spec) string {
	e.t.Helper()
	dir := e.t.TempDir()
	if out, err := exec.Command("cp", "-a", baseRootfs, filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		e.t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// run runs a container to completion and returns its combined output and
// exit code.
func (e *env) run(s *specs.Spec) (string, int) {
	e.t.Helper()
	return e.runBundle(e.bundle(s))
}

func (e *env) runBundle(bundle string) (string, int) {
	e.t.Helper()
	full := append(append(append([]string(nil), runtimeArg...), "--root", e.root), "run", "--bundle", bundle, newID(e.t))
	cmd := exec.Command(runtimeBin, full...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("run: %v", err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// mustRun runs a container that must exit 0 and returns its output.
func (e *env) mustRun(s *specs.Spec) string {
	e.t.Helper()
	return e.mustRunBundle(e.bundle(s))
}

func (e *env) mustRunBundle(bundle string) string {
	e.t.Helper()
	out, code := e.runBundle(bundle)
	if code != 0 {
		e.t.Fatalf("container exited %d, want 0; output:\n%s", code, out)
	}
	return out
}

func sh(script string) *specs.Spec { return baseSpec("/bin/sh", "-c", script) }

func (e *env) state(id string) gruntime.State {
	e.t.Helper()
	out, err := e.rt("state", id)
	if err != nil {
		e.t.Fatal(err)
	}
	var st gruntime.State
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("state %s: %v: %s", id, err, out)
	}
	return st
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
