package cgroups

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fakeV2 builds root (all controllers, none enabled), root/gorae (fewer
// controllers, memory already enabled) and the leaf root/gorae/ctr.
func fakeV2(t *testing.T) (root, leaf string, m Manager) {
	t.Helper()
	root = t.TempDir()
	makeFiles(t, root, []string{"cgroup.controllers", "cgroup.subtree_control", "cgroup.procs"}, map[string]string{
		"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
	})
	makeFiles(t, root+"/gorae", []string{"cgroup.controllers", "cgroup.subtree_control", "cgroup.procs"}, map[string]string{
		"cgroup.controllers":     "cpuset cpu io memory pids\n",
		"cgroup.subtree_control": "memory\n",
	})
	leaf = root + "/gorae/ctr"
	makeFiles(t, leaf, v2LeafFiles, map[string]string{
		"cgroup.events": "populated 1\nfrozen 0\n",
		"cgroup.freeze": "0\n",
	})
	m, err := New("/gorae/ctr", WithRoot(root), WithMode(ModeV2))
	if err != nil {
		t.Fatal(err)
	}
	return root, leaf, m
}

func TestV2ApplyEnablesControllers(t *testing.T) {
	root, leaf, m := fakeV2(t)
	ws := recordWrites(t, root, nil)
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{
		{"cgroup.subtree_control", "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc"},
		{"gorae/cgroup.subtree_control", "+cpuset +cpu +io +pids"},
		{"gorae/ctr/cgroup.procs", "4242"},
	})
	if got := readTestFile(t, leaf+"/cgroup.procs"); got != "4242" {
		t.Errorf("cgroup.procs = %q", got)
	}
	// A second Apply (exec joining) writes only cgroup.procs.
	*ws = nil
	if err := m.Apply(4243); err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{{"gorae/ctr/cgroup.procs", "4243"}})
}

func TestV2ApplyCreatesAndSkipsEnabled(t *testing.T) {
	root := t.TempDir()
	makeFiles(t, root, []string{"cgroup.controllers", "cgroup.subtree_control"}, map[string]string{
		"cgroup.controllers":     "cpu memory\n",
		"cgroup.subtree_control": "cpu memory\n",
	})
	ws := recordWrites(t, root, nil)
	m, err := New("/new", WithRoot(root), WithMode(ModeV2))
	if err != nil {
		t.Fatal(err)
	}
	// pid 0: create only.
	if err := m.Apply(0); err != nil {
		t.Fatal(err)
	}
	if len(*ws) != 0 {
		t.Errorf("unexpected writes: %v", *ws)
	}
	if fi, err := os.Stat(root + "/new"); err != nil || !fi.IsDir() {
		t.Errorf("leaf not created: %v", err)
	}
}

func TestV2Set(t *testing.T) {
	root, leaf, m := fakeV2(t)
	var devs []specs.LinuxDeviceCgroup
	setDevices = func(dir string, rules []specs.LinuxDeviceCgroup) error {
		if dir != leaf {
			t.Errorf("devices for %s", dir)
		}
		devs = rules
		return nil
	}
	t.Cleanup(func() { setDevices = setDevicesV2 })
	if err := m.Apply(0); err != nil {
		t.Fatal(err)
	}
	ws := recordWrites(t, root, nil)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit: p(int64(32 << 20)), Reservation: p(int64(16 << 20)), Swap: p(int64(64 << 20)),
			Kernel: p(int64(1 << 20)), KernelTCP: p(int64(1 << 20)), Swappiness: p(uint64(10)),
			DisableOOMKiller: p(true),
		},
		CPU: &specs.LinuxCPU{
			Shares: p(uint64(512)), Quota: p(int64(50000)), Period: p(uint64(100000)), Burst: p(uint64(1000)),
			Cpus: "0-1", Mems: "0", Idle: p(int64(0)),
		},
		Pids: &specs.LinuxPids{Limit: p(int64(16))},
		BlockIO: &specs.LinuxBlockIO{
			Weight: p(uint16(500)),
			WeightDevice: []specs.LinuxWeightDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: p(uint16(10))},
			},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 100}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 253, Minor: 1}, Rate: 0}},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 0}},
		Rdma:           map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: p(uint32(3)), HcaObjects: p(uint32(100))}},
		Network:        &specs.LinuxNetwork{ClassID: p(uint32(7))},
		Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Unified:        map[string]string{"memory.high": "30000000", "cpu.weight": "77"},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{
		{"gorae/ctr/memory.swap.max", "33554432"},
		{"gorae/ctr/memory.max", "33554432"},
		{"gorae/ctr/memory.low", "16777216"},
		{"gorae/ctr/cpu.weight", "20"},
		{"gorae/ctr/cpu.max", "50000 100000"},
		{"gorae/ctr/cpu.max.burst", "1000"},
		{"gorae/ctr/cpu.idle", "0"},
		{"gorae/ctr/cpuset.cpus", "0-1"},
		{"gorae/ctr/cpuset.mems", "0"},
		{"gorae/ctr/pids.max", "16"},
		{"gorae/ctr/io.weight", "4950"},
		{"gorae/ctr/io.weight", "8:0 1"},
		{"gorae/ctr/io.max", "8:0 rbps=1048576 wiops=100"},
		{"gorae/ctr/io.max", "253:1 wbps=max"},
		{"gorae/ctr/hugetlb.2MB.max", "4194304"},
		{"gorae/ctr/hugetlb.2MB.rsvd.max", "4194304"},
		{"gorae/ctr/hugetlb.1GB.max", "0"},
		{"gorae/ctr/hugetlb.1GB.rsvd.max", "0"}, // absent file: tolerated
		{"gorae/ctr/rdma.max", "mlx5_0 hca_handle=3 hca_object=100"},
		{"gorae/ctr/cpu.weight", "77"},
		{"gorae/ctr/memory.high", "30000000"},
	})
	if len(devs) != 1 {
		t.Errorf("device rules not passed: %v", devs)
	}
	// Unified overrides the typed value.
	if got := readTestFile(t, leaf+"/cpu.weight"); got != "77" {
		t.Errorf("cpu.weight = %q", got)
	}
}

func TestV2SetBFQ(t *testing.T) {
	root, leaf, m := fakeV2(t)
	makeFiles(t, leaf, []string{"io.bfq.weight"}, nil)
	ws := recordWrites(t, root, nil)
	err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		Weight:       p(uint16(500)),
		WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Weight: p(uint16(300))}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sameWrites(t, (*ws)[2:], []write{ // after enabling controllers
		{"gorae/ctr/io.bfq.weight", "500"},
		{"gorae/ctr/io.bfq.weight", "8:16 300"},
	})
}

func TestV2SetMemoryVariants(t *testing.T) {
	for _, c := range []struct {
		name string
		mem  specs.LinuxMemory
		want []write
		err  string
	}{
		{"unlimited", specs.LinuxMemory{Limit: p(int64(-1))}, []write{
			{"gorae/ctr/memory.swap.max", "max"}, {"gorae/ctr/memory.max", "max"},
		}, ""},
		{"no swap", specs.LinuxMemory{Limit: p(int64(100 << 20)), Swap: p(int64(100 << 20))}, []write{
			{"gorae/ctr/memory.swap.max", "0"}, {"gorae/ctr/memory.max", "104857600"},
		}, ""},
		{"limit only", specs.LinuxMemory{Limit: p(int64(100 << 20))}, []write{
			{"gorae/ctr/memory.max", "104857600"},
		}, ""},
		{"swap below limit", specs.LinuxMemory{Limit: p(int64(100)), Swap: p(int64(50))}, nil, "below memory.limit"},
		{"check before update", specs.LinuxMemory{Limit: p(int64(1000)), CheckBeforeUpdate: p(true)}, nil, "below current usage 4096"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, leaf, m := fakeV2(t)
			writeTestFile(t, leaf+"/memory.current", "4096\n")
			if err := m.Apply(0); err != nil {
				t.Fatal(err)
			}
			ws := recordWrites(t, root, nil)
			err := m.Set(&specs.LinuxResources{Memory: &c.mem})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameWrites(t, *ws, c.want)
		})
	}
}

func TestV2SetNoSwapAccounting(t *testing.T) {
	_, leaf, m := fakeV2(t)
	os.Remove(leaf + "/memory.swap.max")
	// "max" and "0" are what a kernel without swap accounting does anyway.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(-1))}}); err != nil {
		t.Errorf("unlimited without swap file: %v", err)
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(100)), Swap: p(int64(300))}})
	want := "write " + leaf + "/memory.swap.max: 200: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestV2SetErrorsNameFileAndValue(t *testing.T) {
	_, leaf, m := fakeV2(t)
	os.Remove(leaf + "/pids.max")
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: p(int64(16))}})
	want := "write " + leaf + "/pids.max: 16: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %T does not unwrap to FileError/ErrNotExist", err)
	}

	err = m.Set(&specs.LinuxResources{Unified: map[string]string{"nosuch.file": "1"}})
	if err == nil || !strings.Contains(err.Error(), "nosuch.file: 1: no such file or directory (is the nosuch controller enabled") {
		t.Errorf("unified err = %v", err)
	}
	for _, bad := range []string{"../escape", "a/b", ""} {
		if err := m.Set(&specs.LinuxResources{Unified: map[string]string{bad: "1"}}); err == nil {
			t.Errorf("unified key %q accepted", bad)
		}
	}
	err = m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: p(int64(1000))}})
	if err == nil || !strings.Contains(err.Error(), "realtime") {
		t.Errorf("realtime on v2: %v", err)
	}
	if err := m.Set(nil); err != nil {
		t.Errorf("Set(nil) = %v", err)
	}
}

// playKernel updates cgroup.events when cgroup.freeze is written, as the
// kernel does once every task has stopped.
func playKernel(path, value string) {
	if filepath.Base(path) == "cgroup.freeze" {
		os.WriteFile(filepath.Join(filepath.Dir(path), "cgroup.events"), []byte("populated 1\nfrozen "+value+"\n"), 0o644)
	}
}

func TestV2FreezeThaw(t *testing.T) {
	root, leaf, m := fakeV2(t)
	ws := recordWrites(t, root, playKernel)
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State = %v, %v", st, err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Frozen {
		t.Errorf("State after freeze = %v, %v", st, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State after thaw = %v, %v", st, err)
	}
	sameWrites(t, *ws, []write{{"gorae/ctr/cgroup.freeze", "1"}, {"gorae/ctr/cgroup.freeze", "0"}})

	// Freeze asked but not complete: FREEZING.
	writeTestFile(t, leaf+"/cgroup.freeze", "1\n")
	writeTestFile(t, leaf+"/cgroup.events", "populated 1\nfrozen 0\n")
	if st, err := m.State(); err != nil || st != Freezing {
		t.Errorf("State = %v, %v; want FREEZING", st, err)
	}
}

func TestV2FreezeWaits(t *testing.T) {
	_, leaf, m := fakeV2(t)
	go func() {
		time.Sleep(20 * time.Millisecond)
		writeTestFile(t, leaf+"/cgroup.events", "populated 1\nfrozen 1\n")
	}()
	start := time.Now()
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Error("Freeze returned before the cgroup was frozen")
	}
}

func TestV2FreezeTimeout(t *testing.T) {
	_, leaf, m := fakeV2(t)
	old := freezeTimeout
	freezeTimeout = 30 * time.Millisecond
	t.Cleanup(func() { freezeTimeout = old })
	err := m.Freeze()
	if err == nil || !strings.Contains(err.Error(), "not frozen") {
		t.Fatalf("err = %v", err)
	}
	// A failed freeze must not leave the container half frozen.
	if got := readTestFile(t, leaf+"/cgroup.freeze"); got != "0" {
		t.Errorf("cgroup.freeze = %q after timeout", got)
	}
}

func TestV2Pids(t *testing.T) {
	_, leaf, m := fakeV2(t)
	writeTestFile(t, leaf+"/cgroup.procs", "10\n11\n")
	writeTestFile(t, leaf+"/sub/cgroup.procs", "12\n")
	writeTestFile(t, leaf+"/sub/deeper/cgroup.procs", "13\n")
	writeTestFile(t, leaf+"/empty/cgroup.procs", "")
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	sort.Ints(pids)
	if !reflect.DeepEqual(pids, []int{10, 11, 12, 13}) {
		t.Errorf("Pids = %v", pids)
	}
}

func TestV2KillUsesCgroupKill(t *testing.T) {
	root, _, m := fakeV2(t)
	ws := recordWrites(t, root, nil)
	if err := m.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{{"gorae/ctr/cgroup.kill", "1"}})
}

// TestV2KillLoop signals, under freeze, a process this test started and
// listed in the fake cgroup.
func TestV2KillLoop(t *testing.T) {
	root, leaf, m := fakeV2(t)
	os.Remove(leaf + "/cgroup.kill") // kernel before 5.14
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep binary: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	writeTestFile(t, leaf+"/cgroup.procs", strconv.Itoa(cmd.Process.Pid)+"\n")
	ws := recordWrites(t, root, playKernel)
	if err := m.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Errorf("child: %v, want killed by SIGKILL", err)
	}
	sameWrites(t, *ws, []write{
		{"gorae/ctr/cgroup.kill", "1"},
		{"gorae/ctr/cgroup.freeze", "1"},
		{"gorae/ctr/cgroup.freeze", "0"},
	})
}

func TestV2Stats(t *testing.T) {
	_, leaf, m := fakeV2(t)
	for f, v := range map[string]string{
		"cpu.stat":            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 300\n",
		"memory.current":      "4096\n",
		"memory.peak":         "8192\n",
		"memory.max":          "max\n",
		"memory.swap.current": "0\n",
		"memory.swap.max":     "0\n",
		"memory.stat":         "anon 1024\nfile 2048\ninactive_file 512\n",
		"memory.events":       "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
		"pids.current":        "3\n",
		"pids.max":            "16\n",
		"io.stat":             "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
	} {
		writeTestFile(t, leaf+"/"+f, v)
	}
	os.Remove(leaf + "/memory.peak") // before Linux 5.19: reads as 0
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPUStats{Total: 1500000, User: 1000000, System: 500000, Periods: 10, ThrottledPeriods: 2, ThrottledTime: 300000},
		Memory: MemoryStats{
			Usage: 4096, Limit: 1<<64 - 1, OOMKill: 1,
			Stat: map[string]uint64{"anon": 1024, "file": 2048, "inactive_file": 512},
		},
		Pids: PidsStats{Current: 3, Limit: 16},
		BlkIO: BlkIOStats{
			IOServiceBytes: []BlkIOEntry{{8, 0, "Read", 4096}, {8, 0, "Write", 8192}},
			IOServiced:     []BlkIOEntry{{8, 0, "Read", 1}, {8, 0, "Write", 2}},
		},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats:\n got %+v\nwant %+v", st, want)
	}
	writeTestFile(t, leaf+"/pids.current", "garbage\n")
	if _, err := m.Stats(); err == nil || !strings.Contains(err.Error(), leaf+"/pids.current") {
		t.Errorf("bad value: err = %v", err)
	}
}
