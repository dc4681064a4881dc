package cgroups

// Root tests against the host's real cgroup filesystems. Each creates
// cgroups under a unique name, only moves in processes it started, and
// removes what it created even when it fails.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const helperEnv = "GORAE_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "open-devices" {
		helperOpenDevices()
		return
	}
	os.Exit(m.Run())
}

// helperOpenDevices runs in a child: for each byte read from stdin it tries
// to open /dev/null and /dev/zero and reports the result on stdout, so the
// parent can first move it into a cgroup and then ask.
func helperOpenDevices() {
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			os.Exit(0)
		}
		res := func(path string) string {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return unix.ErrnoName(err.(unix.Errno))
			}
			unix.Close(fd)
			return "ok"
		}
		fmt.Printf("null=%s zero=%s\n", res("/dev/null"), res("/dev/zero"))
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("cgroup integration tests need root, and CI runs as root")
		}
		t.Skip("cgroup integration tests need root")
	}
}

func uniqueName(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("gorae-test-%d-%s", os.Getpid(), hex.EncodeToString(b))
}

// procState is the state letter of /proc/PID/stat ("S", "D", ...).
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return strings.Fields(s[i+1:])[0]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func killedBy(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

func TestIntegrationV1(t *testing.T) {
	requireRoot(t)
	mode, err := DetectMode()
	if err != nil || (mode != ModeV1 && mode != ModeHybrid) {
		t.Skipf("host has no cgroup v1 hierarchies (mode %v, %v)", mode, err)
	}
	name := uniqueName(t)
	m, err := New("/" + name + "/ctr")
	if err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	t.Cleanup(func() {
		// The manager made /<name> as the parent of ctr; remove both, and
		// nothing else, whatever state the test stopped in.
		for _, d := range paths {
			if err := removeDir(filepath.Dir(d)); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	for _, c := range []string{"memory", "pids", "cpu", "cpuset", "freezer", "devices"} {
		if paths[c] == "" {
			t.Skipf("%s controller not mounted", c)
		}
	}

	// A shell that, once in the cgroup and told to go, forks a sleep and
	// becomes one: two processes, both started by this test.
	cmd := exec.Command("/bin/sh", "-c", "read x; sleep 60 & exec sleep 60")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})

	shares, quota, period := uint64(512), int64(50000), uint64(100000)
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: p(int64(32 << 20))},
		Pids:    &specs.LinuxPids{Limit: p(int64(16))},
		CPU:     &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period, Cpus: "0", Mems: "0"},
		Devices: dockerDefault,
	}
	// Set before Apply, as `create` may do; it must create the cgroups.
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		paths["memory"] + "/memory.limit_in_bytes": "33554432",
		paths["pids"] + "/pids.max":                "16",
		paths["cpu"] + "/cpu.shares":               "512",
		paths["cpu"] + "/cpu.cfs_quota_us":         "50000",
		paths["cpu"] + "/cpu.cfs_period_us":        "100000",
		paths["cpuset"] + "/cpuset.cpus":           "0",
		paths["cpuset"] + "/cpuset.mems":           "0",
	} {
		if got := strings.TrimSpace(readTestFile(t, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	devList := readTestFile(t, paths["devices"]+"/devices.list")
	if strings.Contains(devList, "a *:* rwm") || !strings.Contains(devList, "c 1:3 rwm") ||
		!strings.Contains(devList, "c 136:* rwm") || !strings.Contains(devList, "b *:* m") {
		t.Errorf("devices.list:\n%s", devList)
	}
	for _, d := range paths {
		procs := readTestFile(t, d+"/cgroup.procs")
		if !strings.Contains(procs, strconv.Itoa(cmd.Process.Pid)) {
			t.Errorf("%s/cgroup.procs = %q, want pid %d", d, procs, cmd.Process.Pid)
		}
	}

	// The kernel's own refusal comes back naming file and value.
	err = m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}})
	want := "write " + paths["cpuset"] + "/cpuset.cpus: 4095: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("bad cpuset: err = %v, want prefix %q", err, want)
	}

	io.WriteString(stdin, "go\n")
	var pids []int
	waitFor(t, "two processes in the cgroup", func() bool {
		pids, err = m.Pids()
		return err == nil && len(pids) == 2
	})

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Limit != 32<<20 || st.Pids.Current != 2 || st.Pids.Limit != 16 || st.CPU.Total == 0 || len(st.CPU.PerCPU) == 0 {
		t.Errorf("Stats = %+v", st)
	}
	if _, ok := st.Memory.Stat["rss"]; !ok {
		t.Errorf("memory.stat not read: %v", st.Memory.Stat)
	}

	// Another process (runtime pause/kill) rebuilds the manager from Paths.
	lm, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	if err := lm.Freeze(); err != nil {
		t.Fatal(err)
	}
	if s, err := lm.State(); err != nil || s != Frozen {
		t.Errorf("State = %v, %v", s, err)
	}
	for _, pid := range pids {
		if s := procState(t, pid); s != "D" {
			t.Errorf("frozen pid %d in state %s, want D", pid, s)
		}
	}
	if err := lm.Thaw(); err != nil {
		t.Fatal(err)
	}
	if s, err := lm.State(); err != nil || s != Thawed {
		t.Errorf("State = %v, %v", s, err)
	}
	// Thawed tasks run (R) for a moment, then sleep again.
	for _, pid := range pids {
		waitFor(t, fmt.Sprintf("pid %d back asleep", pid), func() bool { return procState(t, pid) == "S" })
	}

	// Killing a paused container: SIGKILL must not stay stuck behind v1's
	// freezer.
	if err := lm.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := lm.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if sig := killedBy(err); sig != unix.SIGKILL {
			t.Errorf("child ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("child not killed")
	}
	waitFor(t, "empty cgroup", func() bool {
		pids, err := m.Pids()
		return err == nil && len(pids) == 0
	})
	if s, _ := m.State(); s != Thawed {
		t.Errorf("Kill left the cgroup %v", s)
	}

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range paths {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Destroy (%v)", d, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// TestIntegrationV2 uses the host's cgroup2 mount: /sys/fs/cgroup on a
// unified host, /sys/fs/cgroup/unified on a hybrid one (no controllers
// there, but freezing, killing and BPF device programs work).
func TestIntegrationV2(t *testing.T) {
	requireRoot(t)
	root := DefaultRoot
	if !IsCgroup2UnifiedMode() {
		ms, err := hostMounts()
		if err != nil || ms.Unified == nil {
			t.Skipf("no cgroup2 mount on this host (%v)", err)
		}
		root = ms.Unified.Mountpoint
	}
	name := uniqueName(t)
	m, err := New("/"+name, WithRoot(root), WithMode(ModeV2))
	if err != nil {
		t.Fatal(err)
	}
	dir := m.Path("")
	if dir != root+"/"+name {
		t.Fatalf("Path = %s", dir)
	}
	t.Cleanup(func() {
		if err := removeDir(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=open-devices")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	ask := func(timeout time.Duration) (string, bool) {
		io.WriteString(stdin, "?")
		select {
		case l := <-lines:
			return l, true
		case <-time.After(timeout):
			return "", false
		}
	}

	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if got, _ := ask(5 * time.Second); got != "null=ok zero=ok" {
		t.Fatalf("before device rules: %q", got)
	}

	t.Run("devices", func(t *testing.T) {
		err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			dev(true, "a", -1, -1, "rwm"),
			dev(false, "c", 1, 3, "rwm"),
		}})
		if err != nil && strings.Contains(err.Error(), "load device program") {
			t.Skipf("kernel refused BPF_PROG_LOAD: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := ask(5 * time.Second); got != "null=EPERM zero=ok" {
			t.Errorf("with /dev/null denied: %q", got)
		}
		// Replacing the rules replaces the program rather than adding one.
		if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			dev(false, "", -1, -1, "rwm"),
			dev(true, "c", 1, 3, "rwm"),
		}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := ask(5 * time.Second); got != "null=ok zero=EPERM" {
			t.Errorf("after update: %q", got)
		}
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if ids, err := queryDevicePrograms(fd); err != nil || len(ids) != 1 {
			t.Errorf("attached programs = %v, %v; want exactly one", ids, err)
		}
		// Allow-all detaches ours.
		if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{dev(true, "a", -1, -1, "rwm")}}); err != nil {
			t.Fatal(err)
		}
		if ids, err := queryDevicePrograms(fd); err != nil || len(ids) != 0 {
			t.Errorf("attached programs = %v, %v; want none", ids, err)
		}
		if got, _ := ask(5 * time.Second); got != "null=ok zero=ok" {
			t.Errorf("after allow-all: %q", got)
		}
	})

	pids, err := m.Pids()
	if err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Errorf("Pids = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if _, err := m.Stats(); err != nil {
		t.Errorf("Stats: %v", err)
	}

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if s, err := m.State(); err != nil || s != Frozen {
		t.Errorf("State = %v, %v", s, err)
	}
	// A frozen process does not answer...
	if got, ok := ask(200 * time.Millisecond); ok {
		t.Errorf("frozen child answered %q", got)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if s, err := m.State(); err != nil || s != Thawed {
		t.Errorf("State = %v, %v", s, err)
	}
	// ... and answers once thawed.
	select {
	case <-lines:
	case <-time.After(5 * time.Second):
		t.Error("thawed child did not answer")
	}

	lm, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if err := lm.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if killedBy(err) != unix.SIGKILL {
			t.Errorf("child ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("child not killed")
	}
	if err := lm.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Destroy", dir)
	}
}

// TestIntegrationV2KillLoop signals through freeze + loop (non-SIGKILL).
func TestIntegrationV2KillLoop(t *testing.T) {
	requireRoot(t)
	root := DefaultRoot
	if !IsCgroup2UnifiedMode() {
		ms, err := hostMounts()
		if err != nil || ms.Unified == nil {
			t.Skipf("no cgroup2 mount on this host (%v)", err)
		}
		root = ms.Unified.Mountpoint
	}
	m, err := New("/"+uniqueName(t)+"/sub", WithRoot(root), WithMode(ModeV2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeDir(filepath.Dir(m.Path(""))); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	var cmds []*exec.Cmd
	for i := 0; i < 3; i++ {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			t.Skipf("sleep: %v", err)
		}
		cmds = append(cmds, c)
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		if err := m.Apply(c.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	pids, err := m.Pids()
	sort.Ints(pids)
	if err != nil || len(pids) != 3 {
		t.Fatalf("Pids = %v, %v", pids, err)
	}
	if err := m.Kill(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if err := c.Wait(); killedBy(err) != unix.SIGTERM {
			t.Errorf("pid %d: %v, want SIGTERM", c.Process.Pid, err)
		}
	}
	if s, _ := m.State(); s != Thawed {
		t.Errorf("Kill left the cgroup %v", s)
	}
	// Destroy removes only the leaf; the test's parent goes in cleanup.
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkV1Create measures what `create` pays on a v1 host: resolve the
// path, make the cgroups, write typical limits, and later remove them.
func BenchmarkV1Create(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if mode, _ := DetectMode(); mode != ModeV1 && mode != ModeHybrid {
		b.Skip("no cgroup v1")
	}
	parent := fmt.Sprintf("/gorae-bench-cg-%d", os.Getpid())
	b.Cleanup(func() {
		ms, _ := hostMounts()
		for _, mt := range ms.V1 {
			removeDir(mt.Mountpoint + parent)
		}
	})
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: p(int64(64 << 20)), Swap: p(int64(128 << 20))},
		Pids:    &specs.LinuxPids{Limit: p(int64(100))},
		CPU:     &specs.LinuxCPU{Shares: p(uint64(512)), Quota: p(int64(50000)), Period: p(uint64(100000))},
		Devices: dockerDefault,
	}
	for i := 0; b.Loop(); i++ {
		m, err := New(parent + "/" + strconv.Itoa(i))
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(0); err != nil {
			b.Fatal(err)
		}
		if err := m.Set(r); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
