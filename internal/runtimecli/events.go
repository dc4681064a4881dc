package runtimecli

import (
	"encoding/json"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/runtime"
	"github.com/gorae/gorae/internal/runtime/cgroups"
)

// event is one JSON line of `events`, in runc's format, so tools that read
// runc's (containerd's v1 shim, scripts) read ours.
type event struct {
	Type string      `json:"type"`
	ID   string      `json:"id"`
	Data *eventStats `json:"data,omitempty"`
}

type eventStats struct {
	CPU struct {
		Usage struct {
			Total  uint64   `json:"total,omitempty"`
			Percpu []uint64 `json:"percpu,omitempty"`
			Kernel uint64   `json:"kernel"`
			User   uint64   `json:"user"`
		} `json:"usage,omitempty"`
		Throttling struct {
			Periods          uint64 `json:"periods,omitempty"`
			ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
			ThrottledTime    uint64 `json:"throttledTime,omitempty"`
		} `json:"throttling,omitempty"`
	} `json:"cpu"`
	Memory struct {
		Usage memoryEntry       `json:"usage,omitempty"`
		Swap  memoryEntry       `json:"swap,omitempty"`
		Raw   map[string]uint64 `json:"raw,omitempty"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current,omitempty"`
		Limit   uint64 `json:"limit,omitempty"`
	} `json:"pids"`
	Blkio struct {
		IoServiceBytesRecursive []blkioEntry `json:"ioServiceBytesRecursive,omitempty"`
		IoServicedRecursive     []blkioEntry `json:"ioServicedRecursive,omitempty"`
	} `json:"blkio"`
}

type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type blkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

func toEventStats(s *cgroups.Stats) *eventStats {
	var e eventStats
	e.CPU.Usage.Total, e.CPU.Usage.Percpu = s.CPU.Total, s.CPU.PerCPU
	e.CPU.Usage.Kernel, e.CPU.Usage.User = s.CPU.System, s.CPU.User
	e.CPU.Throttling.Periods, e.CPU.Throttling.ThrottledPeriods, e.CPU.Throttling.ThrottledTime = s.CPU.Periods, s.CPU.ThrottledPeriods, s.CPU.ThrottledTime
	e.Memory.Usage = memoryEntry{Limit: s.Memory.Limit, Usage: s.Memory.Usage, Max: s.Memory.MaxUsage, Failcnt: s.Memory.Failcnt}
	e.Memory.Swap = memoryEntry{Limit: s.Memory.SwapLimit, Usage: s.Memory.SwapUsage}
	e.Memory.Raw = s.Memory.Stat
	e.Pids.Current, e.Pids.Limit = s.Pids.Current, s.Pids.Limit
	conv := func(in []cgroups.BlkIOEntry) []blkioEntry {
		var out []blkioEntry
		for _, x := range in {
			out = append(out, blkioEntry{Major: x.Major, Minor: x.Minor, Op: x.Op, Value: x.Value})
		}
		return out
	}
	e.Blkio.IoServiceBytesRecursive, e.Blkio.IoServicedRecursive = conv(s.BlkIO.IOServiceBytes), conv(s.BlkIO.IOServiced)
	return &e
}

func eventsCmd(g *globals) *cobra.Command {
	var (
		once     bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "events [flags] ID",
		Short: "Stream a container's resource statistics and OOM kills as JSON lines",
		Args:  exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return errors.New("--interval must be greater than 0")
			}
			id := args[0]
			enc := json.NewEncoder(os.Stdout)
			if once {
				c, err := runtime.Load(g.root, id)
				if err != nil {
					return err
				}
				st, err := c.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: id, Data: toEventStats(st)})
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runtime.Watch(ctx, g.root, id, interval,
				func(st *cgroups.Stats) error { return enc.Encode(event{Type: "stats", ID: id, Data: toEventStats(st)}) },
				func() error { return enc.Encode(event{Type: "oom", ID: id}) })
		},
	}
	cmd.Flags().BoolVar(&once, "stats", false, "print the statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between statistics")
	return cmd
}
