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

// v2Manager manages one directory of the unified hierarchy.
type v2Manager struct {
	root    string // the cgroup2 mount; "" after Load
	dir     string
	ensured bool
}

// setDevices is the device-rule installer; tests replace it because a fake
// cgroupfs cannot take a BPF program.
var setDevices = setDevicesV2

func (m *v2Manager) Path(string) string { return m.dir }

func (m *v2Manager) Paths() map[string]string { return map[string]string{"": m.dir} }

// ensure creates the directory and, top-down, enables in every ancestor's
// cgroup.subtree_control the controllers that ancestor has, so the leaf
// gets all of them. Each level is read first, and only what is missing is
// written: usually nothing, and a populated ancestor (which cannot take a
// change) is then left alone.
func (m *v2Manager) ensure() error {
	if m.ensured {
		return nil
	}
	if m.root == "" {
		_, err := mkdirAll(m.dir)
		return err
	}
	rel, err := filepath.Rel(m.root, m.dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("cgroups: %s is not under %s", m.dir, m.root)
	}
	if rel == "." {
		m.ensured = true
		return nil
	}
	cur := m.root
	for _, name := range strings.Split(rel, "/") {
		if err := enableControllers(cur); err != nil {
			return err
		}
		cur += "/" + name
		if err := unix.Mkdir(cur, 0o755); err != nil && err != unix.EEXIST {
			return fmt.Errorf("cgroups: mkdir %s: %w", cur, err)
		}
	}
	m.ensured = true
	return nil
}

func enableControllers(dir string) error {
	avail, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	if strings.TrimSpace(avail) == "" {
		return nil
	}
	enabled, err := readFile(dir, "cgroup.subtree_control")
	if err != nil {
		return err
	}
	on := map[string]bool{}
	for _, c := range strings.Fields(enabled) {
		on[c] = true
	}
	var missing []string
	for _, c := range strings.Fields(avail) {
		if !on[c] {
			missing = append(missing, "+"+c)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if writeFile(dir, "cgroup.subtree_control", strings.Join(missing, " ")) == nil {
		return nil
	}
	// All-or-nothing failed: enable what can be. A controller left off
	// shows up as a named missing file when Set needs it.
	for _, c := range missing {
		_ = writeFile(dir, "cgroup.subtree_control", c)
	}
	return nil
}

func (m *v2Manager) Apply(pid int) error {
	if err := m.ensure(); err != nil {
		return err
	}
	if pid <= 0 {
		return nil
	}
	return writeFile(m.dir, "cgroup.procs", strconv.Itoa(pid))
}

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := m.ensure(); err != nil {
		return err
	}
	d := m.dir
	if r.Memory != nil {
		if err := setMemoryV2(d, r.Memory); err != nil {
			return err
		}
	}
	if r.CPU != nil {
		if err := setCPUV2(d, r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		if err := writeFile(d, "pids.max", pidsMax(*r.Pids.Limit)); err != nil {
			return err
		}
	}
	if r.BlockIO != nil {
		if err := setIO(d, r.BlockIO); err != nil {
			return err
		}
	}
	for _, h := range r.HugepageLimits {
		if err := setHugetlb(d, h, "max"); err != nil {
			return err
		}
	}
	if len(r.Rdma) > 0 {
		if err := setRdma(d, r.Rdma); err != nil {
			return err
		}
	}
	// linux.resources.network has no v2 controller; like runc, ignore it.
	if len(r.Devices) > 0 {
		if err := setDevices(d, r.Devices); err != nil {
			return err
		}
	}
	// Unified goes last so that it overrides the typed fields.
	return setUnified(d, r.Unified)
}

func numOrMax(v int64) string {
	if v == -1 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func setMemoryV2(d string, mem *specs.LinuxMemory) error {
	var limit, swap int64
	if mem.Limit != nil {
		limit = *mem.Limit
	}
	if mem.Swap != nil {
		swap = *mem.Swap
	}
	if limit != 0 || swap != 0 {
		sw, set, err := swapV2(limit, swap)
		if err != nil {
			return err
		}
		if set {
			v := numOrMax(sw)
			err := writeFile(d, "memory.swap.max", v)
			// Without swap accounting "max" and "0" are already the case.
			if err != nil && !(isNotExist(err) && (v == "max" || v == "0")) {
				return err
			}
		}
	}
	if limit != 0 {
		if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && limit > 0 {
			cur, err := readUint(d, "memory.current")
			if err != nil {
				return err
			}
			if cur > uint64(limit) {
				return fmt.Errorf("cgroups: memory limit %d is below current usage %d of %s", limit, cur, d)
			}
		}
		if err := writeFile(d, "memory.max", numOrMax(limit)); err != nil {
			return err
		}
	}
	if mem.Reservation != nil && *mem.Reservation != 0 {
		if err := writeFile(d, "memory.low", numOrMax(*mem.Reservation)); err != nil {
			return err
		}
	}
	// kernel, kernelTCP, swappiness, disableOOMKiller, useHierarchy have
	// no v2 equivalent and are ignored, as runc does.
	return nil
}

func setCPUV2(d string, c *specs.LinuxCPU) error {
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 || c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		return errors.New("cgroups: cpu realtimeRuntime/realtimePeriod are not supported on cgroup v2")
	}
	if c.Shares != nil && *c.Shares != 0 {
		if err := writeFile(d, "cpu.weight", strconv.FormatUint(sharesToWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	if v := cpuMax(c.Quota, c.Period); v != "" {
		if err := writeFile(d, "cpu.max", v); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := writeFile(d, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := writeFile(d, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
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
	return nil
}

func setIO(d string, b *specs.LinuxBlockIO) error {
	// BFQ takes the v1 weight range as is; io.weight wants 1-10000.
	bfq := false
	if b.Weight != nil || len(b.WeightDevice) > 0 {
		_, err := os.Stat(d + "/io.bfq.weight")
		bfq = err == nil
	}
	if b.Weight != nil && *b.Weight != 0 {
		var err error
		if bfq {
			err = writeFile(d, "io.bfq.weight", strconv.FormatUint(uint64(*b.Weight), 10))
		} else {
			err = writeFile(d, "io.weight", strconv.FormatUint(blkioWeightToIOWeight(*b.Weight), 10))
		}
		if err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight == nil {
			continue
		}
		var err error
		if bfq {
			err = writeFile(d, "io.bfq.weight", devNum(wd.Major, wd.Minor)+" "+strconv.FormatUint(uint64(*wd.Weight), 10))
		} else {
			err = writeFile(d, "io.weight", devNum(wd.Major, wd.Minor)+" "+strconv.FormatUint(blkioWeightToIOWeight(*wd.Weight), 10))
		}
		if err != nil {
			return err
		}
	}
	// leafWeight is CFQ-only and has no v2 equivalent.
	for _, line := range ioMaxLines(b) {
		if err := writeFile(d, "io.max", line); err != nil {
			return err
		}
	}
	return nil
}

// ioMaxLines merges the four throttle lists into one io.max line per
// device ("8:0 rbps=1048576 wiops=100"). A rate of 0 removes a limit on v1,
// so it is written as "max" here.
func ioMaxLines(b *specs.LinuxBlockIO) []string {
	type dev struct{ major, minor int64 }
	var order []dev
	keys := map[dev][]string{}
	add := func(key string, tds []specs.LinuxThrottleDevice) {
		for _, td := range tds {
			k := dev{td.Major, td.Minor}
			if _, ok := keys[k]; !ok {
				order = append(order, k)
			}
			v := "max"
			if td.Rate != 0 {
				v = strconv.FormatUint(td.Rate, 10)
			}
			keys[k] = append(keys[k], key+"="+v)
		}
	}
	add("rbps", b.ThrottleReadBpsDevice)
	add("wbps", b.ThrottleWriteBpsDevice)
	add("riops", b.ThrottleReadIOPSDevice)
	add("wiops", b.ThrottleWriteIOPSDevice)
	lines := make([]string, 0, len(order))
	for _, k := range order {
		lines = append(lines, devNum(k.major, k.minor)+" "+strings.Join(keys[k], " "))
	}
	return lines
}

// setUnified writes linux.resources.unified: file name → raw value.
func setUnified(d string, u map[string]string) error {
	if len(u) == 0 {
		return nil
	}
	keys := make([]string, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic order of writes
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
			return fmt.Errorf("cgroups: unified: invalid key %q", k)
		}
		if err := writeFile(d, k, u[k]); err != nil {
			if isNotExist(err) {
				ctrl, _, _ := strings.Cut(k, ".")
				return fmt.Errorf("%w (is the %s controller enabled for this cgroup?)", err, ctrl)
			}
			return err
		}
	}
	return nil
}

func (m *v2Manager) Freeze() error {
	if err := writeFile(m.dir, "cgroup.freeze", "1"); err != nil {
		return err
	}
	err := poll(freezeTimeout, func() (bool, error) {
		v, err := eventValue(m.dir, "frozen")
		return v == "1", err
	})
	if err == errTimeout {
		_ = writeFile(m.dir, "cgroup.freeze", "0")
		return fmt.Errorf("cgroups: freeze %s: not frozen after %v", m.dir, freezeTimeout)
	}
	return err
}

func (m *v2Manager) Thaw() error {
	if err := writeFile(m.dir, "cgroup.freeze", "0"); err != nil {
		return err
	}
	err := poll(freezeTimeout, func() (bool, error) {
		v, err := eventValue(m.dir, "frozen")
		return v == "0", err
	})
	if err == errTimeout {
		return fmt.Errorf("cgroups: thaw %s: still frozen after %v", m.dir, freezeTimeout)
	}
	return err
}

// eventValue reads one key of cgroup.events.
func eventValue(dir, key string) (string, error) {
	s, err := readFile(dir, "cgroup.events")
	if err != nil {
		return "", err
	}
	v := ""
	forEachKV(s, func(k, val string) {
		if k == key {
			v = val
		}
	})
	return v, nil
}

// State reads cgroup.freeze (what was asked) and, when a freeze was asked,
// cgroup.events (whether it is complete).
func (m *v2Manager) State() (FreezerState, error) {
	s, err := readFile(m.dir, "cgroup.freeze")
	if err != nil {
		if isNotExist(err) {
			return Thawed, nil // root cgroup, or kernel before 5.2
		}
		return "", err
	}
	if strings.TrimSpace(s) != "1" {
		return Thawed, nil
	}
	v, err := eventValue(m.dir, "frozen")
	if err != nil {
		return "", err
	}
	if v == "1" {
		return Frozen, nil
	}
	return Freezing, nil
}

func (m *v2Manager) Pids() ([]int, error) { return readPidsRecursive(m.dir) }

// Kill uses cgroup.kill (5.14+) for SIGKILL: one write, atomic against
// forks. Other signals, and older kernels, go through the freeze loop.
func (m *v2Manager) Kill(sig unix.Signal) error {
	if sig == unix.SIGKILL {
		err := writeFile(m.dir, "cgroup.kill", "1")
		if err == nil || !isNotExist(err) {
			return err
		}
		if _, serr := os.Stat(m.dir); serr != nil {
			return err // the cgroup itself is gone
		}
	}
	return signalAll(m, sig)
}

func (m *v2Manager) Destroy() error { return removeDir(m.dir) }
