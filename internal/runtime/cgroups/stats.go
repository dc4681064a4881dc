package cgroups

import (
	"math"
	"strconv"
	"strings"
)

// Stats is what `docker stats` and the Engine API's stats need from the
// cgroup. Counters a host lacks stay zero.
type Stats struct {
	CPU    CPUStats
	Memory MemoryStats
	Pids   PidsStats
	BlkIO  BlkIOStats
}

// CPUStats times are in nanoseconds.
type CPUStats struct {
	Total  uint64
	User   uint64
	System uint64
	PerCPU []uint64 // v1 only (cpuacct.usage_percpu)

	Periods          uint64 // enforcement periods elapsed
	ThrottledPeriods uint64 // periods in which the quota ran out
	ThrottledTime    uint64
}

// MemoryStats are in bytes. Unlimited limits are math.MaxUint64 on v2; v1
// reports the kernel's own large value (PAGE_COUNTER_MAX in bytes).
type MemoryStats struct {
	Usage    uint64
	MaxUsage uint64 // peak usage (v2: memory.peak, Linux 5.19+)
	Limit    uint64
	Failcnt  uint64 // v1 only
	// Swap is memory+swap on v1 (memsw) and swap alone on v2, as the
	// kernels count them.
	SwapUsage uint64
	SwapLimit uint64
	OOMKill   uint64            // processes killed by the OOM killer
	Stat      map[string]uint64 // memory.stat, keys as the kernel names them
}

// PidsStats: Limit 0 means unlimited.
type PidsStats struct {
	Current uint64
	Limit   uint64
}

// BlkIOStats lists per-device counters; Op is "Read", "Write" (and on v1
// "Sync", "Async", "Discard", "Total"), as docker reports them.
type BlkIOStats struct {
	IOServiceBytes []BlkIOEntry
	IOServiced     []BlkIOEntry
}

type BlkIOEntry struct {
	Major uint64
	Minor uint64
	Op    string
	Value uint64
}

// statReader collects the first hard error while letting missing files
// (controller not mounted, older kernel) read as zero.
type statReader struct{ err error }

func (r *statReader) file(dir, name string) (string, bool) {
	if dir == "" || r.err != nil {
		return "", false
	}
	s, err := readFile(dir, name)
	if err != nil {
		if !isNotExist(err) {
			r.err = err
		}
		return "", false
	}
	return s, true
}

func (r *statReader) uint(dir, name string) uint64 {
	s, ok := r.file(dir, name)
	if !ok {
		return 0
	}
	v, err := parseUint(dir+"/"+name, strings.TrimSpace(s))
	if err != nil {
		r.err = err
	}
	return v
}

func (r *statReader) kv(dir, name string) map[string]uint64 {
	s, ok := r.file(dir, name)
	if !ok {
		return nil
	}
	out := map[string]uint64{}
	forEachKV(s, func(k, v string) {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			out[k] = n
		}
	})
	return out
}

// userHZ is the unit of cpuacct.stat (USER_HZ, 100 on every Linux ABI).
const userHZ = 100

func (m *v1Manager) Stats() (*Stats, error) {
	var r statReader
	st := &Stats{}

	acct := m.paths["cpuacct"]
	st.CPU.Total = r.uint(acct, "cpuacct.usage")
	if s, ok := r.file(acct, "cpuacct.usage_percpu"); ok {
		for _, f := range strings.Fields(s) {
			v, _ := strconv.ParseUint(f, 10, 64)
			st.CPU.PerCPU = append(st.CPU.PerCPU, v)
		}
	}
	if kv := r.kv(acct, "cpuacct.stat"); kv != nil {
		st.CPU.User = kv["user"] * (1e9 / userHZ)
		st.CPU.System = kv["system"] * (1e9 / userHZ)
	}
	if kv := r.kv(m.paths["cpu"], "cpu.stat"); kv != nil {
		st.CPU.Periods = kv["nr_periods"]
		st.CPU.ThrottledPeriods = kv["nr_throttled"]
		st.CPU.ThrottledTime = kv["throttled_time"]
	}

	if mem := m.paths["memory"]; mem != "" {
		st.Memory.Usage = r.uint(mem, "memory.usage_in_bytes")
		st.Memory.MaxUsage = r.uint(mem, "memory.max_usage_in_bytes")
		st.Memory.Limit = r.uint(mem, "memory.limit_in_bytes")
		st.Memory.Failcnt = r.uint(mem, "memory.failcnt")
		st.Memory.SwapUsage = r.uint(mem, "memory.memsw.usage_in_bytes")
		st.Memory.SwapLimit = r.uint(mem, "memory.memsw.limit_in_bytes")
		st.Memory.Stat = r.kv(mem, "memory.stat")
		st.Memory.OOMKill = r.kv(mem, "memory.oom_control")["oom_kill"]
	}

	if p := m.paths["pids"]; p != "" {
		st.Pids.Current = r.uint(p, "pids.current")
		if l := r.uint(p, "pids.max"); l != math.MaxUint64 {
			st.Pids.Limit = l
		}
	}

	if b := m.paths["blkio"]; b != "" {
		// CFQ and BFQ count all I/O of the devices they schedule; the
		// throttle counters exist everywhere. Use the first that has data.
		for _, prefix := range []string{"blkio.", "blkio.bfq.", "blkio.throttle."} {
			bytes := parseBlkioV1(r.fileOrEmpty(b, prefix+"io_service_bytes_recursive"))
			if len(bytes) == 0 {
				continue
			}
			st.BlkIO.IOServiceBytes = bytes
			st.BlkIO.IOServiced = parseBlkioV1(r.fileOrEmpty(b, prefix+"io_serviced_recursive"))
			break
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}

func (r *statReader) fileOrEmpty(dir, name string) string {
	s, _ := r.file(dir, name)
	return s
}

// parseBlkioV1 parses "8:0 Read 4096" lines; the closing "Total N" line,
// which names no device, is skipped.
func parseBlkioV1(s string) []BlkIOEntry {
	var out []BlkIOEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		maj, min, ok := parseDevNum(f[0])
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, BlkIOEntry{Major: maj, Minor: min, Op: f[1], Value: v})
	}
	return out
}

func parseDevNum(s string) (uint64, uint64, bool) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 64)
	min, err2 := strconv.ParseUint(b, 10, 64)
	return maj, min, err1 == nil && err2 == nil
}

func (m *v2Manager) Stats() (*Stats, error) {
	var r statReader
	d := m.dir
	st := &Stats{}

	if kv := r.kv(d, "cpu.stat"); kv != nil {
		st.CPU.Total = kv["usage_usec"] * 1000
		st.CPU.User = kv["user_usec"] * 1000
		st.CPU.System = kv["system_usec"] * 1000
		st.CPU.Periods = kv["nr_periods"]
		st.CPU.ThrottledPeriods = kv["nr_throttled"]
		st.CPU.ThrottledTime = kv["throttled_usec"] * 1000
	}

	st.Memory.Usage = r.uint(d, "memory.current")
	st.Memory.MaxUsage = r.uint(d, "memory.peak")
	st.Memory.Limit = r.uint(d, "memory.max")
	st.Memory.SwapUsage = r.uint(d, "memory.swap.current")
	st.Memory.SwapLimit = r.uint(d, "memory.swap.max")
	st.Memory.Stat = r.kv(d, "memory.stat")
	st.Memory.OOMKill = r.kv(d, "memory.events")["oom_kill"]

	st.Pids.Current = r.uint(d, "pids.current")
	if l := r.uint(d, "pids.max"); l != math.MaxUint64 {
		st.Pids.Limit = l
	}

	if s, ok := r.file(d, "io.stat"); ok {
		st.BlkIO = parseIOStat(s)
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}

// parseIOStat parses v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...".
func parseIOStat(s string) BlkIOStats {
	var out BlkIOStats
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := parseDevNum(f[0])
		if !ok {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := BlkIOEntry{Major: maj, Minor: min, Value: n}
			switch k {
			case "rbytes":
				e.Op = "Read"
				out.IOServiceBytes = append(out.IOServiceBytes, e)
			case "wbytes":
				e.Op = "Write"
				out.IOServiceBytes = append(out.IOServiceBytes, e)
			case "rios":
				e.Op = "Read"
				out.IOServiced = append(out.IOServiced, e)
			case "wios":
				e.Op = "Write"
				out.IOServiced = append(out.IOServiced, e)
			}
		}
	}
	return out
}
