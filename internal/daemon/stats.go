package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/runtime/cgroups"
)

// ContainerStats writes `docker stats` samples read from the cgroup: one,
// or one a second while stream is set and the container runs.
func (d *Daemon) ContainerStats(ctx context.Context, ref string, stream, oneShot bool, w io.Writer) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	var prev *container.StatsResponse
	for {
		cur := d.sample(c)
		if prev != nil {
			cur.PreCPUStats = prev.CPUStats
			cur.PreRead = prev.Read
		}
		// Without one-shot, Docker's first sample waits a second so CPU
		// percentages have a previous sample to compare with.
		if oneShot || prev != nil {
			if err := enc.Encode(cur); err != nil {
				return nil
			}
			if f, ok := w.(interface{ Flush() }); ok {
				f.Flush()
			}
			if !stream {
				return nil
			}
		}
		prev = cur
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		if !c.Snapshot().IsRunning() && stream {
			return nil
		}
	}
}

func (d *Daemon) sample(c *ctrstore.Container) *container.StatsResponse {
	r := &container.StatsResponse{
		ID:     c.ID,
		Name:   c.Name,
		OSType: "linux",
		Read:   time.Now().UTC(),
	}
	if !c.Snapshot().IsRunning() {
		return r
	}
	m, err := cgroups.New("/gorae/" + c.ID)
	if err != nil {
		return r
	}
	st, err := m.Stats()
	if err != nil {
		return r
	}
	r.CPUStats = container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage: st.CPU.Total, PercpuUsage: st.CPU.PerCPU,
			UsageInKernelmode: st.CPU.System, UsageInUsermode: st.CPU.User,
		},
		SystemUsage: systemCPUUsage(),
		OnlineCPUs:  uint32(goruntime.NumCPU()),
		ThrottlingData: container.ThrottlingData{
			Periods: st.CPU.Periods, ThrottledPeriods: st.CPU.ThrottledPeriods, ThrottledTime: st.CPU.ThrottledTime,
		},
	}
	r.MemoryStats = container.MemoryStats{
		Usage: st.Memory.Usage, MaxUsage: st.Memory.MaxUsage, Limit: st.Memory.Limit,
		Failcnt: st.Memory.Failcnt, Stats: st.Memory.Stat,
	}
	r.PidsStats = container.PidsStats{Current: st.Pids.Current, Limit: st.Pids.Limit}
	return r
}

// systemCPUUsage is the host's total CPU time in nanoseconds, the
// denominator of `docker stats` CPU %.
func systemCPUUsage() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, v := range f[1:8] {
		n, _ := strconv.ParseUint(v, 10, 64)
		ticks += n
	}
	// USER_HZ is 100 on Linux.
	return ticks * (1e9 / 100)
}

// ContainerUpdate changes limits and the restart policy of a container.
func (d *Daemon) ContainerUpdate(ctx context.Context, ref string, u *container.UpdateConfig) (container.UpdateResponse, error) {
	c, err := d.get(ref)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	c.Lock()
	hc := *c.HostConfig
	if u.RestartPolicy.Name != "" {
		hc.RestartPolicy = u.RestartPolicy
	}
	res := u.Resources
	merge := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	merge(&hc.Memory, res.Memory)
	merge(&hc.MemorySwap, res.MemorySwap)
	merge(&hc.MemoryReservation, res.MemoryReservation)
	merge(&hc.CPUShares, res.CPUShares)
	merge(&hc.CPUQuota, res.CPUQuota)
	merge(&hc.CPUPeriod, res.CPUPeriod)
	merge(&hc.NanoCPUs, res.NanoCPUs)
	if res.CpusetCpus != "" {
		hc.CpusetCpus = res.CpusetCpus
	}
	if res.CpusetMems != "" {
		hc.CpusetMems = res.CpusetMems
	}
	if res.PidsLimit != nil {
		hc.PidsLimit = res.PidsLimit
	}
	c.Unlock()
	if err := validateHostConfig(&hc); err != nil {
		return container.UpdateResponse{}, err
	}
	r := &specs.LinuxResources{}
	if err := setResources(r, &hc); err != nil {
		return container.UpdateResponse{}, err
	}
	if c.Snapshot().IsRunning() {
		m, err := cgroups.New("/gorae/" + c.ID)
		if err != nil {
			return container.UpdateResponse{}, err
		}
		if err := m.Set(r); err != nil {
			return container.UpdateResponse{}, errdefs.InvalidParameter(fmt.Errorf("update container %s: %w", c.ID, err))
		}
	}
	c.Lock()
	c.HostConfig = &hc
	c.Unlock()
	return container.UpdateResponse{Warnings: []string{}}, d.containers.Save(c)
}
