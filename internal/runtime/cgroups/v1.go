package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Manager manages one directory per v1 hierarchy.
type v1Manager struct {
	paths   map[string]string // controller → directory
	mounts  map[string]mount  // controller → mount; nil after Load
	dirs    []string          // distinct directories (co-mounted controllers share one)
	ensured bool
	// memFresh: ensure just made the memory cgroup, so its limits are
	// the defaults and need not be read before the first write.
	memFresh bool
}

func newV1(paths map[string]string, ms map[string]mount) *v1Manager {
	m := &v1Manager{paths: paths, mounts: ms}
	seen := map[string]bool{}
	for _, d := range paths {
		if !seen[d] {
			seen[d] = true
			m.dirs = append(m.dirs, d)
		}
	}
	sort.Strings(m.dirs)
	return m
}

func (m *v1Manager) Path(c string) string { return m.paths[c] }

func (m *v1Manager) Paths() map[string]string {
	out := make(map[string]string, len(m.paths))
	for c, d := range m.paths {
		out[c] = d
	}
	return out
}

// ensure creates the directories. cpuset is special: a new v1 cpuset
// cgroup starts with empty cpus and mems, and no task can join it until
// they are filled, so they are copied down from the nearest ancestor.
func (m *v1Manager) ensure() error {
	if m.ensured {
		return nil
	}
	cpusetDir := m.paths["cpuset"]
	for _, d := range m.dirs {
		if d == cpusetDir {
			root := ""
			if mt, ok := m.mounts["cpuset"]; ok {
				root = mt.Mountpoint
			}
			if _, _, err := cpusetInit(d, root); err != nil {
				return err
			}
			continue
		}
		created, err := mkdirAll(d)
		if err != nil {
			return err
		}
		if d == m.paths["memory"] {
			m.memFresh = created
		}
	}
	m.ensured = true
	return nil
}

// mkdirAll makes dir and its parents and reports whether dir is new.
func mkdirAll(dir string) (bool, error) {
	// Mkdir first: the parent usually exists, and this is one syscall.
	err := unix.Mkdir(dir, 0o755)
	if err == nil {
		return true, nil
	}
	if err == unix.EEXIST {
		return false, nil
	}
	if err == unix.ENOENT {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			return true, nil
		}
	}
	return false, fmt.Errorf("cgroups: mkdir %s: %w", dir, err)
}

// cpusetInit makes dir exist with non-empty cpuset.cpus and cpuset.mems and
// returns them. Existing, initialised ancestors are read, never written.
func cpusetInit(dir, root string) (cpus, mems string, err error) {
	read := func(d string) (string, string, error) {
		c, err := readFile(d, "cpuset.cpus")
		if err != nil {
			return "", "", err
		}
		mm, err := readFile(d, "cpuset.mems")
		if err != nil {
			return "", "", err
		}
		return strings.TrimSpace(c), strings.TrimSpace(mm), nil
	}
	if dir == root || dir == "/" || dir == "." {
		return read(dir)
	}
	created := false
	switch err := unix.Mkdir(dir, 0o755); err {
	case nil:
		created = true
	case unix.EEXIST:
		if cpus, mems, err = read(dir); err != nil || (cpus != "" && mems != "") {
			return cpus, mems, err
		}
	case unix.ENOENT:
		// Parent missing: made below, then this one.
	default:
		return "", "", fmt.Errorf("cgroups: mkdir %s: %w", dir, err)
	}
	pcpus, pmems, err := cpusetInit(filepath.Dir(dir), root)
	if err != nil {
		return "", "", err
	}
	if !created {
		if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
			return "", "", fmt.Errorf("cgroups: mkdir %s: %w", dir, err)
		}
	}
	if cpus == "" {
		if err := writeFile(dir, "cpuset.cpus", pcpus); err != nil {
			return "", "", err
		}
		cpus = pcpus
	}
	if mems == "" {
		if err := writeFile(dir, "cpuset.mems", pmems); err != nil {
			return "", "", err
		}
		mems = pmems
	}
	return cpus, mems, nil
}

func (m *v1Manager) Apply(pid int) error {
	if err := m.ensure(); err != nil {
		return err
	}
	if pid <= 0 {
		return nil
	}
	p := strconv.Itoa(pid)
	for _, d := range m.dirs {
		if err := writeFile(d, "cgroup.procs", p); err != nil {
			return err
		}
	}
	return nil
}

// need returns the directory of controller c, or an error naming the
// resource that wanted it.
func (m *v1Manager) need(c, what string) (string, error) {
	if d := m.paths[c]; d != "" {
		return d, nil
	}
	return "", fmt.Errorf("cgroups: %s needs the %s controller, which is not mounted", what, c)
}

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if len(r.Unified) > 0 {
		return errors.New("cgroups: unified resources need cgroup v2")
	}
	if err := m.ensure(); err != nil {
		return err
	}
	if r.Memory != nil {
		if err := m.setMemory(r.Memory); err != nil {
			return err
		}
	}
	if r.CPU != nil {
		if err := m.setCPU(r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		d, err := m.need("pids", "pids.limit")
		if err != nil {
			return err
		}
		if err := writeFile(d, "pids.max", pidsMax(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if r.BlockIO != nil {
		if err := m.setBlkio(r.BlockIO); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		d, err := m.need("hugetlb", "hugepageLimits")
		if err != nil {
			return err
		}
		for _, h := range r.HugepageLimits {
			if err := setHugetlb(d, h, "limit_in_bytes"); err != nil {
				return err
			}
		}
	}
	if r.Network != nil {
		if err := m.setNetwork(r.Network); err != nil {
			return err
		}
	}
	if len(r.Rdma) > 0 {
		d, err := m.need("rdma", "rdma")
		if err != nil {
			return err
		}
		if err := setRdma(d, r.Rdma); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		if err := m.setDevices(r.Devices); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1Manager) setMemory(mem *specs.LinuxMemory) error {
	d, err := m.need("memory", "memory")
	if err != nil {
		return err
	}
	fresh := m.memFresh
	m.memFresh = false
	if err := setMemoryAndSwapV1(d, mem.Limit, mem.Swap, fresh); err != nil {
		return err
	}
	if mem.Reservation != nil {
		if err := writeFile(d, "memory.soft_limit_in_bytes", strconv.FormatInt(*mem.Reservation, 10)); err != nil {
			return err
		}
	}
	// Kernel memory limits are deprecated (recent kernels accept and
	// ignore them); write them only where the files still exist.
	if mem.Kernel != nil {
		if err := writeFile(d, "memory.kmem.limit_in_bytes", strconv.FormatInt(*mem.Kernel, 10)); err != nil && !isNotExist(err) {
			return err
		}
	}
	if mem.KernelTCP != nil {
		if err := writeFile(d, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(*mem.KernelTCP, 10)); err != nil && !isNotExist(err) {
			return err
		}
	}
	if mem.Swappiness != nil {
		if *mem.Swappiness > 100 {
			return fmt.Errorf("cgroups: invalid memory swappiness %d (must be 0-100)", *mem.Swappiness)
		}
		if err := writeFile(d, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	// Only true is written: false is the default of a new cgroup.
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		if err := writeFile(d, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	if mem.UseHierarchy != nil {
		v := "0"
		if *mem.UseHierarchy {
			v = "1"
		}
		if err := writeFile(d, "memory.use_hierarchy", v); err != nil {
			return err
		}
	}
	return nil
}

// setMemoryAndSwapV1 writes memory.limit_in_bytes and
// memory.memsw.limit_in_bytes (memory+swap, the spec's "swap"). The kernel
// refuses memsw below the memory limit, so the order depends on whether the
// limits grow or shrink. fresh says the cgroup still has the default
// (unlimited) limits.
func setMemoryAndSwapV1(d string, limitp, swapp *int64, fresh bool) error {
	var limit, swap int64
	if limitp != nil {
		limit = *limitp
	}
	if swapp != nil {
		swap = *swapp
	}
	if limit == 0 && swap == 0 {
		return nil
	}
	// An unlimited memory without a swap value means unlimited memory+swap.
	if limit == -1 && swap == 0 {
		swap = -1
	}
	setMem := func() error {
		if limit == 0 {
			return nil
		}
		return writeFile(d, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
	}
	setSwap := func() error {
		if swap == 0 {
			return nil
		}
		err := writeFile(d, "memory.memsw.limit_in_bytes", strconv.FormatInt(swap, 10))
		// Without swap accounting, "unlimited" and "no swap" are what we have.
		if err != nil && isNotExist(err) && (swap == -1 || swap == limit) {
			return nil
		}
		return err
	}
	swapFirst := false
	if limit != 0 && swap != 0 {
		if swap == -1 {
			swapFirst = true
		} else if !fresh {
			cur, err := readUint(d, "memory.limit_in_bytes")
			if err != nil {
				return err
			}
			swapFirst = cur < uint64(swap)
		}
	}
	if swapFirst {
		if err := setSwap(); err != nil {
			return err
		}
		return setMem()
	}
	if err := setMem(); err != nil {
		return err
	}
	return setSwap()
}

func (m *v1Manager) setCPU(c *specs.LinuxCPU) error {
	if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil ||
		c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil {
		d, err := m.need("cpu", "cpu")
		if err != nil {
			return err
		}
		if c.Shares != nil && *c.Shares != 0 {
			if err := writeFile(d, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
				return err
			}
		}
		var period uint64
		var quota int64
		if c.Period != nil {
			period = *c.Period
		}
		if c.Quota != nil {
			quota = *c.Quota
		}
		if period != 0 {
			if err := writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
				// A shorter period can make the old quota invalid; with the
				// new quota in place first the period is accepted.
				if !errors.Is(err, unix.EINVAL) || quota == 0 {
					return err
				}
				if err := writeFile(d, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
					return err
				}
				if err := writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
					return err
				}
			}
		}
		if quota != 0 {
			if err := writeFile(d, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
				return err
			}
		}
		if c.Burst != nil {
			if err := writeFile(d, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
				return err
			}
		}
		// The runtime may only be set within the period, so period first.
		if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
			if err := writeFile(d, "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10)); err != nil {
				return err
			}
		}
		if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
			if err := writeFile(d, "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10)); err != nil {
				return err
			}
		}
		if c.Idle != nil {
			if err := writeFile(d, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
				return err
			}
		}
	}
	if c.Cpus != "" || c.Mems != "" {
		d, err := m.need("cpuset", "cpu.cpus/mems")
		if err != nil {
			return err
		}
		if c.Cpus != "" {
			if err := writeFile(d, "cpuset.cpus", c.Cpus); err != nil {
				return err
			}
		}
		if c.Mems != "" {
			if err := writeFile(d, "cpuset.mems", c.Mems); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1Manager) setBlkio(b *specs.LinuxBlockIO) error {
	d, err := m.need("blkio", "blockIO")
	if err != nil {
		return err
	}
	// Kernels with BFQ and no CFQ name the weight files blkio.bfq.*.
	weight, weightDevice := "blkio.weight", "blkio.weight_device"
	if b.Weight != nil || len(b.WeightDevice) > 0 {
		if _, err := os.Stat(d + "/blkio.weight"); err != nil {
			weight, weightDevice = "blkio.bfq.weight", "blkio.bfq.weight_device"
		}
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := writeFile(d, weight, strconv.FormatUint(uint64(*b.Weight), 10)); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := writeFile(d, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10)); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			if err := writeFile(d, weightDevice, devNum(wd.Major, wd.Minor)+" "+strconv.FormatUint(uint64(*wd.Weight), 10)); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := writeFile(d, "blkio.leaf_weight_device", devNum(wd.Major, wd.Minor)+" "+strconv.FormatUint(uint64(*wd.LeafWeight), 10)); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.devs {
			// Rate 0 removes the rule, as in the kernel.
			if err := writeFile(d, t.file, devNum(td.Major, td.Minor)+" "+strconv.FormatUint(td.Rate, 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

func devNum(major, minor int64) string {
	return strconv.FormatInt(major, 10) + ":" + strconv.FormatInt(minor, 10)
}

// setNetwork writes net_cls/net_prio only where they are mounted, as
// runc does: these are hints for tc/iptables, not limits.
func (m *v1Manager) setNetwork(n *specs.LinuxNetwork) error {
	// A limit the host cannot apply is an error, not a silent no-op: the
	// user asked for it (runc refuses the same way).
	if n.ClassID != nil {
		d := m.paths["net_cls"]
		if d == "" {
			return fmt.Errorf("cgroups: linux.resources.network.classID is set but the net_cls controller is not mounted on this host")
		}
		if err := writeFile(d, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if len(n.Priorities) > 0 {
		d := m.paths["net_prio"]
		if d == "" {
			return fmt.Errorf("cgroups: linux.resources.network.priorities are set but the net_prio controller is not mounted on this host")
		}
		for _, p := range n.Priorities {
			if err := writeFile(d, "net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

func setHugetlb(d string, h specs.LinuxHugepageLimit, suffix string) error {
	if h.Pagesize == "" || strings.ContainsAny(h.Pagesize, "/.") {
		return fmt.Errorf("cgroups: invalid hugepage size %q", h.Pagesize)
	}
	v := strconv.FormatUint(h.Limit, 10)
	if err := writeFile(d, "hugetlb."+h.Pagesize+"."+suffix, v); err != nil {
		return err
	}
	// The spec asks for reservation limits too where the kernel has them
	// (5.7+), so a reservation cannot exceed what faults may use.
	rsvd := "hugetlb." + h.Pagesize + ".rsvd." + suffix
	if err := writeFile(d, rsvd, v); err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

// setRdma writes rdma.max, one device per write (same format on v1 and v2).
func setRdma(d string, r map[string]specs.LinuxRdma) error {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := r[n]
		if l.HcaHandles == nil && l.HcaObjects == nil {
			continue
		}
		v := n
		if l.HcaHandles != nil {
			v += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			v += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if err := writeFile(d, "rdma.max", v); err != nil {
			return err
		}
	}
	return nil
}

// setDevices resets the allow-list to "nothing" and replays the rules in
// order, which is what the spec's list means starting from deny-all.
func (m *v1Manager) setDevices(rules []specs.LinuxDeviceCgroup) error {
	d, err := m.need("devices", "devices")
	if err != nil {
		return err
	}
	rs, err := parseDeviceRules(rules)
	if err != nil {
		return err
	}
	files := openFiles{dir: d}
	defer files.close()
	// Start from deny-all, unless the first rule says so itself (as the
	// runtime's default list does).
	if len(rs) == 0 || rs[0].allow || !rs[0].matchesAll() {
		if err := files.write("devices.deny", "a"); err != nil {
			return err
		}
	}
	for _, r := range rs {
		file := "devices.deny"
		if r.allow {
			file = "devices.allow"
		}
		if err := files.write(file, r.v1String()); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1Manager) Freeze() error {
	d, err := m.need("freezer", "freeze")
	if err != nil {
		return err
	}
	// Writing FROZEN again nudges tasks that were busy when first asked.
	err = poll(freezeTimeout, func() (bool, error) {
		if err := writeFile(d, "freezer.state", string(Frozen)); err != nil {
			return false, err
		}
		s, err := readFile(d, "freezer.state")
		return strings.TrimSpace(s) == string(Frozen), err
	})
	if err != nil {
		_ = writeFile(d, "freezer.state", string(Thawed))
		if err == errTimeout {
			return fmt.Errorf("cgroups: freeze %s: still FREEZING after %v", d, freezeTimeout)
		}
		return err
	}
	return nil
}

func (m *v1Manager) Thaw() error {
	d, err := m.need("freezer", "thaw")
	if err != nil {
		return err
	}
	if err := writeFile(d, "freezer.state", string(Thawed)); err != nil {
		return err
	}
	err = poll(freezeTimeout, func() (bool, error) {
		s, err := readFile(d, "freezer.state")
		return strings.TrimSpace(s) == string(Thawed), err
	})
	if err == errTimeout {
		return fmt.Errorf("cgroups: thaw %s: not THAWED after %v", d, freezeTimeout)
	}
	return err
}

func (m *v1Manager) State() (FreezerState, error) {
	d := m.paths["freezer"]
	if d == "" {
		return Thawed, nil
	}
	s, err := readFile(d, "freezer.state")
	if err != nil {
		if isNotExist(err) {
			return Thawed, nil
		}
		return "", err
	}
	return FreezerState(strings.TrimSpace(s)), nil
}

// Pids reads one hierarchy: pids or freezer, which exist for process
// accounting, else any.
func (m *v1Manager) Pids() ([]int, error) {
	for _, c := range []string{"pids", "freezer", "memory", "cpu", "name=systemd"} {
		if d := m.paths[c]; d != "" {
			return readPidsRecursive(d)
		}
	}
	if len(m.dirs) == 0 {
		return nil, nil
	}
	return readPidsRecursive(m.dirs[0])
}

func (m *v1Manager) Kill(sig unix.Signal) error { return signalAll(m, sig) }

func (m *v1Manager) Destroy() error {
	var first error
	for _, d := range m.dirs {
		if err := removeDir(d); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// readPidsRecursive reads cgroup.procs of dir and of every sub-cgroup.
func readPidsRecursive(dir string) ([]int, error) {
	var pids []int
	var walk func(string) error
	walk = func(d string) error {
		s, err := readFile(d, "cgroup.procs")
		if err != nil {
			if isNotExist(err) && d != dir {
				return nil // removed meanwhile
			}
			return err
		}
		for _, f := range strings.Fields(s) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("cgroups: %s/cgroup.procs: bad pid %q", d, f)
			}
			pids = append(pids, pid)
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				if err := walk(d + "/" + e.Name()); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	return pids, nil
}

func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}
