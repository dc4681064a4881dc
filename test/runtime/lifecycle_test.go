package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	gruntime "github.com/gorae/gorae/internal/runtime"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestCreateStartSplit(t *testing.T) {
	e := newEnv(t)
	shared := t.TempDir()
	s := sh(`echo started > /shared/marker; exec sleep 60`)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}})
	bundle := e.bundle(s)
	id := newID(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	if _, err := e.rt("create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		t.Fatal(err)
	}
	st := e.state(id)
	if st.Status != "created" || st.Pid <= 0 || st.ID != id || st.Bundle != bundle {
		t.Fatalf("after create: %+v", st)
	}
	pb, _ := os.ReadFile(pidFile)
	if strings.TrimSpace(string(pb)) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file %q, state pid %d", pb, st.Pid)
	}
	// The init exists, in its own namespaces, but has not exec'd the user
	// process: no marker yet.
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(shared + "/marker"); err == nil {
		t.Fatal("user process ran before start")
	}
	hostNS, _ := os.Readlink("/proc/self/ns/pid")
	initNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if hostNS == initNS || initNS == "" {
		t.Errorf("created init is not in a new pid namespace (%q vs host %q)", initNS, hostNS)
	}
	if isGorae {
		if cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid)); !strings.Contains(string(cg), id) {
			t.Errorf("created init is not in its cgroup:\n%s", cg)
		}
	}
	if _, err := e.rt("start", id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "marker", func() bool { _, err := os.Stat(shared + "/marker"); return err == nil })
	if st := e.state(id); st.Status != "running" {
		t.Errorf("after start: status %s", st.Status)
	}
	if _, err := e.rt("start", id); err == nil {
		t.Error("second start succeeded")
	}
	if _, err := e.rt("delete", id); err == nil {
		t.Error("delete of a running container without --force succeeded")
	}
	if _, err := e.rt("kill", id, "KILL"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stopped", func() bool { return e.state(id).Status == "stopped" })
	if _, err := e.rt("delete", id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.root, id)); err == nil {
		t.Error("state dir left after delete")
	}
	if _, err := e.rt("state", id); err == nil {
		t.Error("state of a deleted container succeeded")
	}
	if isGorae {
		if _, err := os.Stat("/sys/fs/cgroup/memory/gorae/" + id); err == nil {
			t.Error("cgroup left after delete")
		}
	}
}

func TestDeleteCreatedAndForce(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	if _, err := e.rt("create", "--bundle", e.bundle(baseSpec("/bin/sleep", "60")), id); err != nil {
		t.Fatal(err)
	}
	pid := e.state(id).Pid
	if _, err := e.rt("delete", id); err != nil {
		t.Fatalf("delete of a created container: %v", err)
	}
	if err := exec.Command("kill", "-0", strconv.Itoa(pid)).Run(); err == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(b), ") Z") {
			t.Errorf("init %d survived delete", pid)
		}
	}
	id2 := newID(t)
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(baseSpec("/bin/sleep", "60")), id2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt("delete", "--force", id2); err != nil {
		t.Fatalf("delete --force of a running container: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, id2)); err == nil {
		t.Error("state left after delete --force")
	}
}

func TestRunExitCodes(t *testing.T) {
	e := newEnv(t)
	if _, code := e.run(sh("exit 7")); code != 7 {
		t.Errorf("exit 7 gave %d", code)
	}
	if _, code := e.run(sh("kill -TERM $$")); code != 143 {
		// pid 1 ignores signals it has no handler for: sh as pid 1 survives.
		if code != 0 {
			t.Errorf("self-TERM as pid 1 gave %d", code)
		}
	}
	if out, code := e.run(baseSpec("/bin/no-such-binary")); code == 0 || !strings.Contains(out, "no-such-binary") {
		t.Errorf("missing executable: exit %d, output %q", code, out)
	}
}

func TestKillSignalsAndAll(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	s := sh(`trap 'echo got-usr1 > /tmp/x; exit 3' USR1; while true; do sleep 0.1; done`)
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(s), id); err != nil {
		t.Fatal(err)
	}
	// A pid namespace's init ignores signals it has no handler for, so a
	// USR1 that beats the shell's `trap` is lost: send until one lands.
	waitFor(t, "stop after USR1", func() bool {
		if e.state(id).Status == "stopped" {
			return true
		}
		if _, err := e.rt("kill", id, "SIGUSR1"); err != nil && e.state(id).Status != "stopped" {
			t.Fatal(err)
		}
		return false
	})
	if _, err := e.rt("kill", id, "KILL"); err == nil {
		t.Error("kill of a stopped container succeeded")
	}
	e.rt("delete", id)

	id = newID(t)
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(sh(`sleep 60 & sleep 60 & wait`)), id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three processes", func() bool {
		out, _ := e.rt("ps", "--format", "json", id)
		var pids []int
		json.Unmarshal([]byte(out), &pids)
		return len(pids) == 3
	})
	if _, err := e.rt("kill", "--all", id, "9"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stopped after kill --all", func() bool { return e.state(id).Status == "stopped" })
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(baseSpec("/bin/sleep", "60")), id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt("pause", id); err != nil {
		t.Fatal(err)
	}
	st := e.state(id)
	if st.Status != "paused" {
		t.Errorf("after pause: %s", st.Status)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.Pid))
	_ = b // the freezer state is the cgroup's; the task sleeps either way
	if _, err := e.rt("resume", id); err != nil {
		t.Fatal(err)
	}
	if st := e.state(id); st.Status != "running" {
		t.Errorf("after resume: %s", st.Status)
	}
	if _, err := e.rt("resume", id); err == nil {
		t.Error("resume of a running container succeeded")
	}
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	s := baseSpec("/bin/sleep", "60")
	s.Process.Env = append(s.Process.Env, "FROM_SPEC=1")
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(s), id); err != nil {
		t.Fatal(err)
	}
	out, err := e.rt("exec", "--cwd", "/tmp", "-e", "EXTRA=2", "--user", "1000:1000", id, "/bin/sh", "-c", `echo $FROM_SPEC $EXTRA; pwd; id -u; hostname; ps -o pid,comm | grep -c sleep`)
	if err != nil {
		t.Fatal(err)
	}
	if out != "1 2\n/tmp\n1000\ngorae-test\n1\n" {
		t.Errorf("exec output %q", out)
	}
	// exit status passes through
	if _, err := e.rt("exec", id, "/bin/sh", "-c", "exit 5"); err == nil || !strings.Contains(err.Error(), "exit status 5") {
		t.Errorf("exec exit 5: %v", err)
	}
	// --process file and --detach with --pid-file
	p := specs.Process{Args: []string{"/bin/sh", "-c", "echo detached > /tmp/d; sleep 1"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	pf := filepath.Join(t.TempDir(), "p.json")
	b, _ := json.Marshal(p)
	os.WriteFile(pf, b, 0o644)
	pidFile := filepath.Join(t.TempDir(), "pid")
	if _, err := e.rt("exec", "--process", pf, "--detach", "--pid-file", pidFile, id); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(pidFile); err != nil || len(b) == 0 {
		t.Errorf("exec pid file: %v %q", err, b)
	}
	waitFor(t, "detached exec output", func() bool {
		out, _ := e.rt("exec", id, "/bin/cat", "/tmp/d")
		return out == "detached\n"
	})
	if _, err := e.rt("exec", id, "/bin/nonexistent"); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("exec of a missing binary: %v", err)
	}
}

func TestListAndPs(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(baseSpec("/bin/sleep", "60")), id); err != nil {
		t.Fatal(err)
	}
	out, err := e.rt("list", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var states []gruntime.State
	if err := json.Unmarshal([]byte(out), &states); err != nil || len(states) != 1 || states[0].ID != id || states[0].Status != "running" {
		t.Errorf("list json: %v %s", err, out)
	}
	out, err = e.rt("list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "running") {
		t.Errorf("list table: %v %s", err, out)
	}
	out, err = e.rt("ps", id)
	if err != nil || !strings.Contains(out, "PID") || !strings.Contains(out, "sleep 60") {
		t.Errorf("ps table: %v %s", err, out)
	}
}

func TestHooks(t *testing.T) {
	e := newEnv(t)
	logDir := t.TempDir()
	logf := filepath.Join(logDir, "hooks.log")
	hook := func(name string) specs.Hook {
		// Each hook appends its name and the state's status it was given.
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `read -r s; st=$(echo "$s" | sed 's/.*"status":"\([a-z]*\)".*/\1/'); echo ` + name + ` $st >> ` + logf}}
	}
	s := sh(`echo hi`)
	// createContainer runs in the container's mount namespace before
	// pivot_root and startContainer after it; give both the log through
	// the same path inside.
	s.Mounts = append(s.Mounts, specs.Mount{Destination: logDir, Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}})
	s.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{hook("prestart")},
		CreateRuntime:   []specs.Hook{hook("createRuntime")},
		CreateContainer: []specs.Hook{hook("createContainer")},
		StartContainer:  []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo startContainer >> " + logf}}},
		Poststart:       []specs.Hook{hook("poststart")},
		Poststop:        []specs.Hook{hook("poststop")},
	}
	e.mustRun(s)
	b, _ := os.ReadFile(logf)
	want := "prestart creating\ncreateRuntime creating\ncreateContainer creating\nstartContainer\npoststart running\npoststop stopped\n"
	if string(b) != want {
		t.Errorf("hooks ran as\n%s\nwant\n%s", b, want)
	}
	// A failing createRuntime hook fails create and leaves nothing.
	s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
	id := newID(t)
	if _, err := e.rt("create", "--bundle", e.bundle(s), id); err == nil || !strings.Contains(err.Error(), "createRuntime") {
		t.Errorf("failing hook: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, id)); err == nil {
		t.Error("state left after a failed hook")
	}
}

// consoleSocket listens for a runtime's pty master (--console-socket)
// and sends what the terminal shows up to "END".
func consoleSocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	sockPath := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- "accept: " + err.Error()
			return
		}
		f, _ := c.File()
		c.Close()
		pty, err := gruntime.ReceivePty(f)
		f.Close()
		if err != nil {
			got <- err.Error()
			return
		}
		defer pty.Close()
		var all []byte
		buf := make([]byte, 1024)
		for {
			n, err := pty.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil || strings.Contains(string(all), "END") {
				break
			}
		}
		got <- string(all)
	}()
	return sockPath, got
}

func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	sockPath, got := consoleSocket(t)
	s := sh(`tty; stty size; echo END`)
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 40, Width: 120}
	id := newID(t)
	if _, err := e.rt("create", "--bundle", e.bundle(s), "--console-socket", sockPath, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt("start", id); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-got:
		if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "40 120") {
			t.Errorf("terminal output %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no terminal output")
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(baseSpec("/bin/sleep", "60")), id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt("update", "--memory", "48m", "--pids-limit", "20", "--cpu-shares", "256", id); err != nil {
		t.Fatal(err)
	}
	out, err := e.rt("exec", id, "/bin/cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/cpu/cpu.shares")
	if err != nil {
		t.Fatal(err)
	}
	if out != fmt.Sprintf("%d\n20\n256\n", 48<<20) {
		t.Errorf("limits after update: %q", out)
	}
	// The same through --resources on stdin.
	if _, err := e.rtIn([]byte(`{"pids":{"limit":30}}`), "update", "--resources", "-", id); err != nil {
		t.Fatal(err)
	}
	if out, _ := e.rt("exec", id, "/bin/cat", "/sys/fs/cgroup/pids/pids.max"); out != "30\n" {
		t.Errorf("pids.max after --resources: %q", out)
	}
}

// events: runc's JSON lines — statistics once (--stats) or every interval,
// and an "oom" line for each OOM kill in the container's cgroup.
func TestEvents(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	// dd's 64 MiB buffer against a 32 MiB limit: each dd is OOM-killed, the
	// shell (pid 1) lives on and tries again.
	s := sh(`while true; do dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; sleep 0.3; done`)
	limit := int64(32 << 20)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	if _, err := e.rt("run", "-d", "--bundle", e.bundle(s), id); err != nil {
		t.Fatal(err)
	}
	defer e.rt("delete", "--force", id)
	type ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Memory struct {
				Usage struct {
					Limit uint64 `json:"limit"`
					Usage uint64 `json:"usage"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
			} `json:"pids"`
			CPU struct {
				Usage struct {
					Total uint64 `json:"total"`
				} `json:"usage"`
			} `json:"cpu"`
		} `json:"data"`
	}
	out, err := e.rt("events", "--stats", id)
	if err != nil {
		t.Fatal(err)
	}
	var once ev
	if err := json.Unmarshal([]byte(out), &once); err != nil || once.Type != "stats" || once.ID != id {
		t.Fatalf("events --stats: %v %q", err, out)
	}
	if once.Data.Memory.Usage.Limit != uint64(limit) || once.Data.Pids.Current < 1 || once.Data.CPU.Usage.Total == 0 {
		t.Errorf("events --stats data: %+v", once.Data)
	}
	// Streaming: stats every 200ms and the OOM kills, for 3 seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtimeBin, append(append(append([]string(nil), runtimeArg...), "--root", e.root), "events", "--interval", "200ms", id)...)
	outf := tempFile(t)
	cmd.Stdout = outf
	cmd.Run()
	b, _ := os.ReadFile(outf.Name())
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var x ev
		if err := json.Unmarshal([]byte(line), &x); err != nil || x.ID != id {
			t.Fatalf("event line %q: %v", line, err)
		}
		counts[x.Type]++
	}
	if counts["stats"] < 3 || counts["oom"] < 1 {
		t.Errorf("3 s of events at 200ms with dd OOM-killed every ~0.3 s: %v\n%s", counts, b)
	}
	if _, err := e.rt("events", "--stats", "no-such-container"); err == nil {
		t.Error("events of an unknown container succeeded")
	}
}
