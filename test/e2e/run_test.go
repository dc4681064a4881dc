package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRunRemoveEcho(t *testing.T) {
	out := must(t, "run", "--rm", "busybox", "echo", "hello from gorae")
	if out != "hello from gorae\n" {
		t.Errorf("output %q", out)
	}
	if ps := must(t, "ps", "-aq"); strings.TrimSpace(ps) != "" {
		t.Errorf("--rm left containers: %q", ps)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"run", "--rm", "busybox", "sh", "-c", "exit 3"}, 3},
		{[]string{"run", "--rm", "busybox", "/no/such/program"}, 127},
		{[]string{"run", "--rm", "busybox", "/etc/passwd"}, 126},
		{[]string{"run", "--rm", "no-such-image:latest", "true"}, 125},
		{[]string{"run", "--rm", "--network", "no-such-network", "busybox", "true"}, 125},
	} {
		_, err := docker(nil, tc.args...)
		if got := exitCode(err); got != tc.code {
			t.Errorf("docker %s: exit %d, want %d", strings.Join(tc.args, " "), got, tc.code)
		}
	}
}

func TestDetachedLogsStopRemove(t *testing.T) {
	id := strings.TrimSpace(must(t, "run", "-d", "--name", "ticker", "busybox", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	var logs string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if logs = must(t, "logs", "ticker"); strings.Count(logs, "\n") >= 2 {
			break
		}
	}
	if !strings.HasPrefix(logs, "tick 0\ntick 1\n") {
		t.Errorf("logs %q", logs)
	}
	if tail := must(t, "logs", "--tail", "1", "ticker"); strings.Count(tail, "\n") != 1 {
		t.Errorf("--tail 1: %q", tail)
	}
	ps := must(t, "ps", "--format", "{{.Names}} {{.Status}}")
	if !strings.Contains(ps, "ticker Up") {
		t.Errorf("ps: %q", ps)
	}
	if st := must(t, "inspect", "--format", "{{.State.Status}} {{.State.Running}}", "ticker"); st != "running true\n" {
		t.Errorf("inspect: %q", st)
	}
	if _, err := docker(nil, "rm", "ticker"); err == nil {
		t.Error("rm of a running container succeeded")
	}
	must(t, "stop", "-t", "1", "ticker")
	if st := must(t, "inspect", "--format", "{{.State.Status}}", "ticker"); st != "exited\n" {
		t.Errorf("after stop: %q", st)
	}
	must(t, "rm", "ticker")
	if _, err := docker(nil, "inspect", "ticker"); err == nil {
		t.Error("inspect after rm succeeded")
	}
}

func TestWaitKillPauseRenameTop(t *testing.T) {
	must(t, "run", "-d", "--name", "sleeper", "busybox", "sleep", "60")
	top := must(t, "top", "sleeper")
	if !strings.Contains(top, "sleep 60") {
		t.Errorf("top: %q", top)
	}
	must(t, "pause", "sleeper")
	if st := must(t, "inspect", "--format", "{{.State.Status}}", "sleeper"); st != "paused\n" {
		t.Errorf("after pause: %q", st)
	}
	must(t, "unpause", "sleeper")
	must(t, "rename", "sleeper", "dozer")
	must(t, "kill", "dozer")
	if code := must(t, "wait", "dozer"); code != "137\n" {
		t.Errorf("wait after kill: %q", code)
	}
	must(t, "rm", "dozer")
}

func TestEnvWorkdirUserEntrypoint(t *testing.T) {
	out := must(t, "run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "65534", "--entrypoint", "sh", "busybox", "-c", "echo $FOO; pwd; id -u; hostname | wc -c")
	if out != "bar\n/tmp\n65534\n13\n" {
		t.Errorf("output %q", out)
	}
}

func TestRestartPolicyOnFailure(t *testing.T) {
	must(t, "run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		out := must(t, "inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "flaky")
		if out == "2 exited\n" {
			must(t, "rm", "flaky")
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := docker(nil, "inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "flaky")
	t.Fatalf("restart policy: %q", out)
}

func TestImagesAndExport(t *testing.T) {
	imgs := must(t, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if !strings.Contains(imgs, "busybox:latest") {
		t.Errorf("images: %q", imgs)
	}
	must(t, "tag", "busybox", "mybox:1")
	if hist := must(t, "history", "mybox:1"); !strings.Contains(hist, "IMAGE") {
		t.Errorf("history: %q", hist)
	}
	must(t, "create", "--name", "exp", "busybox", "true")
	out, err := docker(nil, "export", "exp")
	if err != nil || !strings.Contains(out, "bin/busybox") {
		t.Errorf("export: %v (%d bytes)", err, len(out))
	}
	must(t, "rm", "exp")
	must(t, "rmi", "mybox:1")
}

// Live restore: the daemon dies (kill -9) while a container prints; the
// new daemon adopts it, the log has no gap, and stop still works.
func TestLiveRestore(t *testing.T) {
	must(t, "run", "-d", "--name", "survivor", "busybox", "sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done")
	time.Sleep(500 * time.Millisecond)
	daemon.Kill()
	time.Sleep(800 * time.Millisecond)
	if err := startDaemon(); err != nil {
		t.Fatal(err)
	}
	if st := must(t, "inspect", "--format", "{{.State.Status}}", "survivor"); st != "running\n" {
		t.Fatalf("after restart: %q", st)
	}
	time.Sleep(500 * time.Millisecond)
	logs := strings.Fields(must(t, "logs", "survivor"))
	for i, l := range logs {
		if l != itoa(i) {
			t.Fatalf("log gap at line %d: %q", i, logs)
		}
	}
	if len(logs) < 8 {
		t.Errorf("only %d lines logged across the restart", len(logs))
	}
	must(t, "stop", "-t", "1", "survivor")
	must(t, "rm", "survivor")
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestCommitSaveLoad(t *testing.T) {
	must(t, "run", "--name", "builder", "busybox", "sh", "-c", "echo made-in-container > /greeting")
	must(t, "commit", "-c", "CMD [\"cat\", \"/greeting\"]", "builder", "greeter:v1")
	must(t, "rm", "builder")
	if out := must(t, "run", "--rm", "greeter:v1"); out != "made-in-container\n" {
		t.Fatalf("committed image runs %q", out)
	}
	tar := t.TempDir() + "/greeter.tar"
	must(t, "save", "-o", tar, "greeter:v1")
	must(t, "rmi", "greeter:v1")
	if out := must(t, "load", "-i", tar); !strings.Contains(out, "Loaded image: greeter:v1") {
		t.Errorf("load said %q", out)
	}
	if out := must(t, "run", "--rm", "greeter:v1"); out != "made-in-container\n" {
		t.Errorf("loaded image runs %q", out)
	}
	must(t, "rmi", "greeter:v1")
}

func TestStatsAndEvents(t *testing.T) {
	must(t, "run", "-d", "--name", "busy", "--memory", "64m", "busybox", "sleep", "30")
	out := must(t, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "busy")
	if !strings.HasPrefix(out, "busy ") || !strings.Contains(out, "64MiB") {
		t.Errorf("stats: %q", out)
	}
	ev := must(t, "events", "--since", "1m", "--until", "0s", "--filter", "container=busy", "--format", "{{.Action}}")
	for _, want := range []string{"create", "start"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %s: %q", want, ev)
		}
	}
	must(t, "rm", "-f", "busy")
}

// Two images that share a base store its layers once: unpacking the
// second adds only its own layer to the snapshots on disk.
func TestLayerDedupOnDisk(t *testing.T) {
	du := func() int64 {
		out, err := exec.Command("du", "-sb", filepath.Join(dataRoot, "snapshots")).Output()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
		return n
	}
	must(t, "create", "--name", "base-user", "busybox", "true")
	baseLayer := int64(0)
	if out, err := exec.Command("du", "-sb", busyboxRootfs).Output(); err == nil {
		baseLayer, _ = strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	}
	blobs := func() int {
		ents, _ := os.ReadDir(filepath.Join(dataRoot, "content", "blobs", "sha256"))
		return len(ents)
	}
	blobsBefore := blobs()
	must(t, "run", "--name", "changer", "busybox", "sh", "-c", "echo small > /small")
	must(t, "commit", "changer", "child:1")
	before := du()
	must(t, "create", "--name", "child-user", "child:1", "true")
	grew := du() - before
	if baseLayer == 0 || grew > baseLayer/4 {
		t.Errorf("creating from child:1 added %d bytes of snapshots; the busybox base is %d bytes and must not be unpacked again", grew, baseLayer)
	}
	must(t, "rm", "base-user", "changer", "child-user")
	must(t, "rmi", "child:1")
	// rmi frees what only child:1 used (its layer, config, manifest).
	if n := blobs(); n != blobsBefore {
		t.Errorf("%d blobs after rmi, %d before the commit", n, blobsBefore)
	}
}

// Many unnamed creates at once: generated names may collide, and the
// daemon must draw again rather than fail one of them.
func TestParallelCreatesGetNames(t *testing.T) {
	const n = 40
	errs := make(chan error, n)
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			out, err := docker(nil, "create", "busybox", "true")
			if err != nil {
				errs <- fmt.Errorf("%v: %s", err, out)
				return
			}
			ids <- strings.TrimSpace(out)
		}()
	}
	var created []string
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			t.Error(err)
		case id := <-ids:
			created = append(created, id)
		}
	}
	names := must(t, "ps", "-a", "--format", "{{.Names}}")
	seen := map[string]bool{}
	for _, nm := range strings.Fields(names) {
		if seen[nm] {
			t.Errorf("name %s given twice", nm)
		}
		seen[nm] = true
	}
	if len(created) > 0 {
		must(t, append([]string{"rm"}, created...)...)
	}
}

func TestSystemDF(t *testing.T) {
	must(t, "create", "--name", "df-user", "busybox", "true")
	out := must(t, "system", "df")
	for _, want := range []string{"Images", "Containers", "Local Volumes", "Build Cache"} {
		if !strings.Contains(out, want) {
			t.Errorf("system df lacks %q:\n%s", want, out)
		}
	}
	v := must(t, "system", "df", "-v", "--format", "{{json .}}")
	if !strings.Contains(v, "busybox") {
		t.Errorf("system df -v does not list busybox: %s", v)
	}
	must(t, "rm", "df-user")
}

func TestExec(t *testing.T) {
	must(t, "run", "-d", "--name", "exec-target", "-e", "FROM_RUN=1", "busybox", "sleep", "60")
	out := must(t, "exec", "-e", "EXTRA=2", "-w", "/tmp", "exec-target", "sh", "-c", "echo $FROM_RUN $EXTRA; pwd; id -u; ps -o comm | grep -c sleep")
	if out != "1 2\n/tmp\n0\n1\n" {
		t.Errorf("exec output %q", out)
	}
	if out := must(t, "exec", "-u", "65534", "exec-target", "id", "-u"); out != "65534\n" {
		t.Errorf("exec -u: %q", out)
	}
	_, err := docker(nil, "exec", "exec-target", "sh", "-c", "exit 4")
	if code := exitCode(err); code != 4 {
		t.Errorf("exec exit code %d, want 4", code)
	}
	if out, err := docker([]byte("piped input\n"), "exec", "-i", "exec-target", "cat"); err != nil || out != "piped input\n" {
		t.Errorf("exec -i: %q %v", out, err)
	}
	// A terminal: the process sees a pty (docker prints its output raw).
	if out := must(t, "exec", "-t", "exec-target", "tty"); !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("exec -t: %q", out)
	}
	must(t, "exec", "-d", "exec-target", "sh", "-c", "echo detached > /tmp/d")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if out, _ := docker(nil, "exec", "exec-target", "cat", "/tmp/d"); out == "detached\n" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, _ := docker(nil, "exec", "exec-target", "cat", "/tmp/d"); out != "detached\n" {
		t.Errorf("exec -d did not run: %q", out)
	}
	if _, err := docker(nil, "exec", "exec-target", "/no/such/cmd"); exitCode(err) != 126 && exitCode(err) != 127 {
		t.Errorf("exec of a missing program: exit %d", exitCode(err))
	}
	must(t, "rm", "-f", "exec-target")
	if _, err := docker(nil, "exec", "exec-target", "true"); err == nil {
		t.Error("exec into a removed container succeeded")
	}
}

func TestHealthcheck(t *testing.T) {
	must(t, "run", "-d", "--name", "healthy", "--health-cmd", "test -e /tmp/ok || touch /tmp/ok", "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60")
	must(t, "run", "-d", "--name", "sick", "--health-cmd", "exit 1", "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60")
	deadline := time.Now().Add(10 * time.Second)
	var h, s string
	for time.Now().Before(deadline) {
		h = must(t, "inspect", "--format", "{{.State.Health.Status}}", "healthy")
		s = must(t, "inspect", "--format", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", "sick")
		if h == "healthy\n" && strings.HasPrefix(s, "unhealthy") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if h != "healthy\n" || !strings.HasPrefix(s, "unhealthy") {
		t.Fatalf("health: healthy=%q sick=%q", h, s)
	}
	if ps := must(t, "ps", "--filter", "name=healthy", "--format", "{{.Status}}"); !strings.Contains(ps, "(healthy)") {
		t.Errorf("ps status %q", ps)
	}
	must(t, "rm", "-f", "healthy", "sick")
}

func TestDefaultSeccompProfile(t *testing.T) {
	out, _ := docker(nil, "run", "--rm", "busybox", "sh", "-c", "grep Seccomp: /proc/self/status; unshare -m true 2>&1; echo rc=$?")
	if !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("default profile: %q", out)
	}
	out = must(t, "run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c", "unshare -m true && echo unshared")
	if out != "unshared\n" {
		t.Errorf("with CAP_SYS_ADMIN: %q", out)
	}
	out = must(t, "run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep", "Seccomp:", "/proc/self/status")
	if !strings.Contains(out, "Seccomp:\t0") {
		t.Errorf("unconfined: %q", out)
	}
}

// --init: a reaper is pid 1, the command its child, its status ours.
func TestInit(t *testing.T) {
	out, err := docker(nil, "run", "--rm", "--init", "busybox", "sh", "-c", "ps -o pid,comm | grep '^ *1 '; sleep 0.1 & exit 5")
	if exitCode(err) != 5 {
		t.Errorf("exit %d, want 5 (%q)", exitCode(err), out)
	}
	if !strings.Contains(out, "docker-init") {
		t.Errorf("pid 1 is not docker-init: %q", out)
	}
	// Signals reach the command: stop ends it at once, not after 10 s.
	must(t, "run", "-d", "--init", "--name", "inited", "busybox", "sleep", "60")
	start := time.Now()
	must(t, "stop", "inited")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %s: SIGTERM did not reach the command", d)
	}
	must(t, "rm", "inited")
}

func TestCopy(t *testing.T) {
	must(t, "run", "-d", "--name", "cp-target", "busybox", "sh", "-c", "mkdir -p /data/sub && echo inside > /data/sub/f && sleep 60")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out, _ := docker(nil, "exec", "cp-target", "cat", "/data/sub/f"); out == "inside\n" {
			break
		}
	}
	host := t.TempDir()
	must(t, "cp", "cp-target:/data", host)
	if b, err := os.ReadFile(filepath.Join(host, "data", "sub", "f")); err != nil || string(b) != "inside\n" {
		t.Errorf("cp out: %q %v", b, err)
	}
	os.WriteFile(filepath.Join(host, "in.txt"), []byte("from host\n"), 0o640)
	must(t, "cp", filepath.Join(host, "in.txt"), "cp-target:/data/sub/")
	if out := must(t, "exec", "cp-target", "cat", "/data/sub/in.txt"); out != "from host\n" {
		t.Errorf("cp in: %q", out)
	}
	if _, err := docker(nil, "cp", "cp-target:/no/such/path", host); err == nil {
		t.Error("cp of a missing path succeeded")
	}
	// A hostile archive stays inside the container: .. and a symlink to /
	// lead to the container's root, never the host's.
	var hostile bytes.Buffer
	tw := tar.NewWriter(&hostile)
	tw.WriteHeader(&tar.Header{Name: "../../../../../tmp/gorae-e2e-escape", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.WriteHeader(&tar.Header{Name: "esc", Linkname: "/", Typeflag: tar.TypeSymlink})
	tw.WriteHeader(&tar.Header{Name: "esc/tmp/gorae-e2e-escape2", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("y"))
	tw.Close()
	if out, err := docker(hostile.Bytes(), "cp", "-", "cp-target:/data"); err != nil {
		t.Logf("hostile cp refused: %v %s", err, out)
	}
	for _, f := range []string{"/tmp/gorae-e2e-escape", "/tmp/gorae-e2e-escape2"} {
		if _, err := os.Stat(f); err == nil {
			os.Remove(f)
			t.Errorf("archive wrote %s on the host", f)
		}
	}
	must(t, "stop", "-t", "0", "cp-target")
	// A stopped container's filesystem is reachable too.
	must(t, "cp", "cp-target:/data/sub/in.txt", filepath.Join(host, "back.txt"))
	if b, _ := os.ReadFile(filepath.Join(host, "back.txt")); string(b) != "from host\n" {
		t.Errorf("cp from a stopped container: %q", b)
	}
	must(t, "rm", "cp-target")
}

// runc as a container's runtime (--runtime runc): run, exec, logs, stop.
func TestRuncRuntime(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("runc is not installed (apt-get install runc)")
		}
		t.Skip("runc is not installed")
	}
	if out := must(t, "run", "--rm", "--runtime", "runc", "busybox", "echo", "via runc"); out != "via runc\n" {
		t.Errorf("run: %q", out)
	}
	must(t, "run", "-d", "--runtime", "runc", "--name", "runc-target", "busybox", "sleep", "60")
	if out := must(t, "exec", "runc-target", "sh", "-c", "echo exec via runc; exit 0"); out != "exec via runc\n" {
		t.Errorf("exec: %q", out)
	}
	if _, err := docker(nil, "exec", "runc-target", "sh", "-c", "exit 6"); exitCode(err) != 6 {
		t.Errorf("exec exit code %d, want 6", exitCode(err))
	}
	must(t, "stop", "-t", "1", "runc-target")
	must(t, "rm", "runc-target")
}

func TestDiff(t *testing.T) {
	must(t, "run", "--name", "differ", "busybox", "sh", "-c", "echo new > /added; echo x >> /etc/passwd; rm /bin/vi")
	out := must(t, "diff", "differ")
	for _, want := range []string{"A /added", "C /etc/passwd", "D /bin/vi", "C /etc"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	must(t, "rm", "differ")
}
