package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// statsRow is one container's line of docker stats.
type statsRow struct {
	id, name                        string
	cpu, mem, memLimit, memPerc     float64
	netRx, netTx, blkRead, blkWrite float64
	pids                            uint64
	trunc                           bool
}

func (r statsRow) Container() string {
	if r.trunc {
		return shortID(r.id)
	}
	return r.id
}
func (r statsRow) ID() string      { return r.Container() }
func (r statsRow) Name() string    { return strings.TrimPrefix(r.name, "/") }
func (r statsRow) CPUPerc() string { return fmt.Sprintf("%.2f%%", r.cpu) }
func (r statsRow) MemPerc() string { return fmt.Sprintf("%.2f%%", r.memPerc) }
func (r statsRow) MemUsage() string {
	return units.BytesSize(r.mem) + " / " + units.BytesSize(r.memLimit)
}
func (r statsRow) NetIO() string {
	return units.HumanSizeWithPrecision(r.netRx, 3) + " / " + units.HumanSizeWithPrecision(r.netTx, 3)
}
func (r statsRow) BlockIO() string {
	return units.HumanSizeWithPrecision(r.blkRead, 3) + " / " + units.HumanSizeWithPrecision(r.blkWrite, 3)
}
func (r statsRow) PIDs() string { return fmt.Sprint(r.pids) }
func (r statsRow) MarshalJSON() ([]byte, error) {
	return jsonMarshal(map[string]string{"BlockIO": r.BlockIO(), "CPUPerc": r.CPUPerc(), "Container": r.Container(),
		"ID": r.ID(), "MemPerc": r.MemPerc(), "MemUsage": r.MemUsage(), "Name": r.Name(), "NetIO": r.NetIO(), "PIDs": r.PIDs()})
}

var statsHeaders = map[string]string{
	"Container": "CONTAINER ID", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
	"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

// rowFromStats computes docker's figures from one stats sample.
func rowFromStats(s *container.StatsResponse, trunc bool) statsRow {
	r := statsRow{id: s.ID, name: s.Name, trunc: trunc, pids: s.PidsStats.Current}
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpuDelta > 0 && sysDelta > 0 {
		r.cpu = cpuDelta / sysDelta * online * 100
	}
	// Memory as docker counts it: usage less the inactive page cache.
	mem := float64(s.MemoryStats.Usage)
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := s.MemoryStats.Stats[k]; ok && float64(v) < mem {
			mem -= float64(v)
			break
		}
	}
	r.mem, r.memLimit = mem, float64(s.MemoryStats.Limit)
	if r.memLimit > 0 {
		r.memPerc = mem / r.memLimit * 100
	}
	for _, n := range s.Networks {
		r.netRx += float64(n.RxBytes)
		r.netTx += float64(n.TxBytes)
	}
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			r.blkRead += float64(e.Value)
		case "write":
			r.blkWrite += float64(e.Value)
		}
	}
	return r
}

func (c *CLI) statsCommand() *cobra.Command {
	var all, noStream, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			ids := args
			if len(ids) == 0 {
				r, err := api.ContainerList(ctx, client.ContainerListOptions{All: all})
				if err != nil {
					return err
				}
				for _, s := range r.Items {
					ids = append(ids, s.ID)
				}
			}
			l := listing{format: format, table: "table {{.Container}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}", quiet: "{{.ID}}", headers: statsHeaders}
			sample := func() ([]any, error) {
				rows := make([]any, len(ids))
				errs := make([]error, len(ids))
				var wg sync.WaitGroup
				for i, id := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, err := api.ContainerStats(ctx, id, client.ContainerStatsOptions{IncludePreviousSample: true})
						if err != nil {
							errs[i] = err
							return
						}
						defer r.Body.Close()
						var s container.StatsResponse
						if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
							errs[i] = fmt.Errorf("stats of %s: %w", id, err)
							return
						}
						if s.ID == "" {
							s.ID = id
						}
						rows[i] = rowFromStats(&s, !noTrunc)
					}()
				}
				wg.Wait()
				for _, e := range errs {
					if e != nil {
						return nil, e
					}
				}
				return rows, nil
			}
			if noStream {
				rows, err := sample()
				if err != nil {
					return err
				}
				return l.render(c.out, false, rows)
			}
			_, tty := isTerminal(c.out)
			for {
				rows, err := sample()
				if err != nil {
					return err
				}
				if tty {
					fmt.Fprint(c.out, "\033[2J\033[H")
				}
				if err := l.render(c.out, false, rows); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
			}
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	fl.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	return cmd
}
