package cgroups

import (
	"errors"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var v1Hierarchies = map[string][]string{
	"memory": {"cgroup.procs", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
		"memory.kmem.tcp.limit_in_bytes", "memory.swappiness", "memory.oom_control", "memory.use_hierarchy",
		"memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.memsw.usage_in_bytes", "memory.stat"},
	"cpu,cpuacct": {"cgroup.procs", "cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us",
		"cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle", "cpu.stat", "cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"},
	"cpuset":  {"cgroup.procs", "cpuset.cpus", "cpuset.mems"},
	"pids":    {"cgroup.procs", "pids.max", "pids.current"},
	"blkio":   {"cgroup.procs", "blkio.bfq.weight", "blkio.bfq.weight_device", "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device", "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"},
	"devices": {"cgroup.procs", "devices.allow", "devices.deny"},
	"freezer": {"cgroup.procs", "freezer.state"},
	"hugetlb": {"cgroup.procs", "hugetlb.2MB.limit_in_bytes"},
	"systemd": {"cgroup.procs"},
}

// fakeV1 builds a v1 layout with /gorae/ctr existing in every hierarchy
// (plain directories have no files of their own) and empty cpusets below
// the root, as the kernel makes them.
func fakeV1(t *testing.T) (root string, m Manager) {
	t.Helper()
	root = t.TempDir()
	for h, files := range v1Hierarchies {
		makeFiles(t, root+"/"+h, []string{"cgroup.procs"}, nil)
		makeFiles(t, root+"/"+h+"/gorae", []string{"cgroup.procs"}, nil)
		makeFiles(t, root+"/"+h+"/gorae/ctr", files, map[string]string{
			"memory.limit_in_bytes": "9223372036854771712\n",
			"freezer.state":         "THAWED\n",
		})
	}
	makeFiles(t, root+"/cpuset", []string{"cpuset.cpus", "cpuset.mems"}, map[string]string{"cpuset.cpus": "0-3\n", "cpuset.mems": "0\n"})
	makeFiles(t, root+"/cpuset/gorae", []string{"cpuset.cpus", "cpuset.mems"}, nil)
	m, err := New("/gorae/ctr", WithRoot(root), WithMode(ModeV1))
	if err != nil {
		t.Fatal(err)
	}
	return root, m
}

func TestV1Apply(t *testing.T) {
	root, m := fakeV1(t)
	ws := recordWrites(t, root, nil)
	if err := m.Apply(777); err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{
		// cpuset is filled top-down from the first initialised ancestor.
		{"cpuset/gorae/cpuset.cpus", "0-3"},
		{"cpuset/gorae/cpuset.mems", "0"},
		{"cpuset/gorae/ctr/cpuset.cpus", "0-3"},
		{"cpuset/gorae/ctr/cpuset.mems", "0"},
		// One cgroup.procs per hierarchy; cpu,cpuacct is one directory.
		{"blkio/gorae/ctr/cgroup.procs", "777"},
		{"cpu,cpuacct/gorae/ctr/cgroup.procs", "777"},
		{"cpuset/gorae/ctr/cgroup.procs", "777"},
		{"devices/gorae/ctr/cgroup.procs", "777"},
		{"freezer/gorae/ctr/cgroup.procs", "777"},
		{"hugetlb/gorae/ctr/cgroup.procs", "777"},
		{"memory/gorae/ctr/cgroup.procs", "777"},
		{"pids/gorae/ctr/cgroup.procs", "777"},
		{"systemd/gorae/ctr/cgroup.procs", "777"},
	})
	// Initialised cpusets are read, not rewritten.
	m2, _ := New("/gorae/ctr", WithRoot(root), WithMode(ModeV1))
	*ws = nil
	if err := m2.Apply(0); err != nil {
		t.Fatal(err)
	}
	if len(*ws) != 0 {
		t.Errorf("second Apply wrote %v", *ws)
	}
}

func TestV1Set(t *testing.T) {
	root, m := fakeV1(t)
	if err := m.Apply(0); err != nil {
		t.Fatal(err)
	}
	ws := recordWrites(t, root, nil)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit: p(int64(32 << 20)), Reservation: p(int64(16 << 20)), Swap: p(int64(64 << 20)),
			Kernel: p(int64(1 << 20)), KernelTCP: p(int64(2 << 20)), Swappiness: p(uint64(10)),
			DisableOOMKiller: p(true), UseHierarchy: p(true),
		},
		CPU: &specs.LinuxCPU{
			Shares: p(uint64(512)), Quota: p(int64(50000)), Period: p(uint64(100000)), Burst: p(uint64(1000)),
			RealtimePeriod: p(uint64(1000000)), RealtimeRuntime: p(int64(950000)), Idle: p(int64(1)),
			Cpus: "1", Mems: "0",
		},
		Pids: &specs.LinuxPids{Limit: p(int64(-1))},
		BlockIO: &specs.LinuxBlockIO{
			Weight:                  p(uint16(500)),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: p(uint16(200))}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 100}},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: p(int64(1)), Minor: p(int64(3)), Access: "rwm"},
			{Allow: true, Type: "c", Access: "m"},
			{Allow: true, Type: "b", Major: p(int64(8)), Access: "r"},
			{Allow: false, Type: "c", Major: p(int64(1)), Minor: p(int64(3)), Access: "w"},
		},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	// net_cls/net_prio are not mounted here: asking for them is an error
	// that names the controller, not a silent no-op.
	if err := m.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: p(uint32(7))}}); err == nil || !strings.Contains(err.Error(), "net_cls") {
		t.Errorf("network classID without net_cls: %v", err)
	}
	sameWrites(t, *ws, []write{
		{"memory/gorae/ctr/memory.limit_in_bytes", "33554432"},
		{"memory/gorae/ctr/memory.memsw.limit_in_bytes", "67108864"},
		{"memory/gorae/ctr/memory.soft_limit_in_bytes", "16777216"},
		{"memory/gorae/ctr/memory.kmem.limit_in_bytes", "1048576"}, // absent: skipped
		{"memory/gorae/ctr/memory.kmem.tcp.limit_in_bytes", "2097152"},
		{"memory/gorae/ctr/memory.swappiness", "10"},
		{"memory/gorae/ctr/memory.oom_control", "1"},
		{"memory/gorae/ctr/memory.use_hierarchy", "1"},
		{"cpu,cpuacct/gorae/ctr/cpu.shares", "512"},
		{"cpu,cpuacct/gorae/ctr/cpu.cfs_period_us", "100000"},
		{"cpu,cpuacct/gorae/ctr/cpu.cfs_quota_us", "50000"},
		{"cpu,cpuacct/gorae/ctr/cpu.cfs_burst_us", "1000"},
		{"cpu,cpuacct/gorae/ctr/cpu.rt_period_us", "1000000"},
		{"cpu,cpuacct/gorae/ctr/cpu.rt_runtime_us", "950000"},
		{"cpu,cpuacct/gorae/ctr/cpu.idle", "1"},
		{"cpuset/gorae/ctr/cpuset.cpus", "1"},
		{"cpuset/gorae/ctr/cpuset.mems", "0"},
		{"pids/gorae/ctr/pids.max", "max"},
		{"blkio/gorae/ctr/blkio.bfq.weight", "500"},
		{"blkio/gorae/ctr/blkio.bfq.weight_device", "8:0 200"},
		{"blkio/gorae/ctr/blkio.throttle.read_bps_device", "8:0 1048576"},
		{"blkio/gorae/ctr/blkio.throttle.write_iops_device", "8:0 100"},
		{"hugetlb/gorae/ctr/hugetlb.2MB.limit_in_bytes", "4194304"},
		{"hugetlb/gorae/ctr/hugetlb.2MB.rsvd.limit_in_bytes", "4194304"}, // absent: skipped
		{"devices/gorae/ctr/devices.deny", "a *:* rwm"},
		{"devices/gorae/ctr/devices.allow", "c 1:3 rwm"},
		{"devices/gorae/ctr/devices.allow", "c *:* m"},
		{"devices/gorae/ctr/devices.allow", "b 8:* r"},
		{"devices/gorae/ctr/devices.deny", "c 1:3 w"},
	})

	// Growing memory+swap past the current limit writes memsw first.
	*ws = nil
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(128 << 20)), Swap: p(int64(256 << 20))}})
	if err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{
		{"memory/gorae/ctr/memory.memsw.limit_in_bytes", "268435456"},
		{"memory/gorae/ctr/memory.limit_in_bytes", "134217728"},
	})
	// Unlimited: memsw first, and swap follows memory.
	*ws = nil
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(-1))}}); err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{
		{"memory/gorae/ctr/memory.memsw.limit_in_bytes", "-1"},
		{"memory/gorae/ctr/memory.limit_in_bytes", "-1"},
	})
	// Devices without a leading deny-all get the reset written first.
	*ws = nil
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: p(int64(1)), Minor: p(int64(5)), Access: "rw"}}}); err != nil {
		t.Fatal(err)
	}
	sameWrites(t, *ws, []write{
		{"devices/gorae/ctr/devices.deny", "a"},
		{"devices/gorae/ctr/devices.allow", "c 1:5 rw"},
	})
}

func TestV1SetErrors(t *testing.T) {
	root, m := fakeV1(t)
	if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}); err == nil {
		t.Error("unified on v1 accepted")
	}
	if err := m.Set(&specs.LinuxResources{Unified: map[string]string{}}); err != nil {
		t.Errorf("empty unified on v1: %v", err)
	}
	err := m.Set(&specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx": {HcaHandles: p(uint32(1))}}})
	if err == nil || !strings.Contains(err.Error(), "rdma controller") {
		t.Errorf("rdma without controller: %v", err)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: p(uint64(101))}}); err == nil {
		t.Error("swappiness 101 accepted")
	}
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}}); err == nil {
		t.Error("device type x accepted")
	}
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}}}); err == nil {
		t.Error("device access rwx accepted")
	}
	// Swap beyond memory without swap accounting is an error naming the file.
	os.Remove(root + "/memory/gorae/ctr/memory.memsw.limit_in_bytes")
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(100)), Swap: p(int64(200))}})
	want := "write " + root + "/memory/gorae/ctr/memory.memsw.limit_in_bytes: 200: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.Value != "200" {
		t.Errorf("not a FileError: %#v", err)
	}
	// ... but "no extra swap" is fine.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: p(int64(100)), Swap: p(int64(100))}}); err != nil {
		t.Errorf("swap == limit without memsw: %v", err)
	}
}

func TestV1FreezeStatePids(t *testing.T) {
	root, m := fakeV1(t)
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State = %v, %v", st, err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Frozen {
		t.Errorf("State = %v, %v", st, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.State(); err != nil || st != Thawed {
		t.Errorf("State = %v, %v", st, err)
	}
	writeTestFile(t, root+"/pids/gorae/ctr/cgroup.procs", "5\n6\n")
	writeTestFile(t, root+"/pids/gorae/ctr/sub/cgroup.procs", "7\n")
	writeTestFile(t, root+"/freezer/gorae/ctr/cgroup.procs", "99\n")
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	sort.Ints(pids)
	if !reflect.DeepEqual(pids, []int{5, 6, 7}) {
		t.Errorf("Pids = %v (want the pids hierarchy)", pids)
	}
}

func TestV1Stats(t *testing.T) {
	root, m := fakeV1(t)
	for f, v := range map[string]string{
		"cpu,cpuacct/gorae/ctr/cpuacct.usage":                       "3000\n",
		"cpu,cpuacct/gorae/ctr/cpuacct.usage_percpu":                "1000 2000 \n",
		"cpu,cpuacct/gorae/ctr/cpuacct.stat":                        "user 2\nsystem 1\n",
		"cpu,cpuacct/gorae/ctr/cpu.stat":                            "nr_periods 5\nnr_throttled 1\nthrottled_time 777\n",
		"memory/gorae/ctr/memory.usage_in_bytes":                    "4096\n",
		"memory/gorae/ctr/memory.max_usage_in_bytes":                "8192\n",
		"memory/gorae/ctr/memory.limit_in_bytes":                    "33554432\n",
		"memory/gorae/ctr/memory.failcnt":                           "2\n",
		"memory/gorae/ctr/memory.memsw.usage_in_bytes":              "4096\n",
		"memory/gorae/ctr/memory.memsw.limit_in_bytes":              "67108864\n",
		"memory/gorae/ctr/memory.stat":                              "cache 100\nrss 200\ntotal_inactive_file 50\n",
		"memory/gorae/ctr/memory.oom_control":                       "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
		"pids/gorae/ctr/pids.current":                               "2\n",
		"pids/gorae/ctr/pids.max":                                   "max\n",
		"blkio/gorae/ctr/blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n",
		"blkio/gorae/ctr/blkio.throttle.io_serviced_recursive":      "8:0 Read 1\n8:0 Write 0\n8:0 Total 1\nTotal 1\n",
	} {
		writeTestFile(t, root+"/"+f, v)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPUStats{Total: 3000, User: 20000000, System: 10000000, PerCPU: []uint64{1000, 2000},
			Periods: 5, ThrottledPeriods: 1, ThrottledTime: 777},
		Memory: MemoryStats{Usage: 4096, MaxUsage: 8192, Limit: 32 << 20, Failcnt: 2, SwapUsage: 4096, SwapLimit: 64 << 20,
			OOMKill: 1, Stat: map[string]uint64{"cache": 100, "rss": 200, "total_inactive_file": 50}},
		Pids: PidsStats{Current: 2},
		BlkIO: BlkIOStats{
			IOServiceBytes: []BlkIOEntry{{8, 0, "Read", 4096}, {8, 0, "Write", 0}, {8, 0, "Total", 4096}},
			IOServiced:     []BlkIOEntry{{8, 0, "Read", 1}, {8, 0, "Write", 0}, {8, 0, "Total", 1}},
		},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats:\n got %+v\nwant %+v", st, want)
	}
}
