package runtimecli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/runtime"
)

func updateCmd(g *globals) *cobra.Command {
	var resources, memory, memorySwap, memoryReservation, cpusetCpus, cpusetMems string
	var cpuShares, cpuPeriod uint64
	var cpuQuota, pidsLimit int64
	cmd := &cobra.Command{
		Use:   "update [flags] ID",
		Short: "Change a running container's resource limits",
		Args:  exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := &specs.LinuxResources{}
			if resources != "" {
				var in io.Reader = os.Stdin
				if resources != "-" {
					f, err := os.Open(resources)
					if err != nil {
						return fmt.Errorf("--resources: %w", err)
					}
					defer f.Close()
					in = f
				}
				if err := json.NewDecoder(in).Decode(r); err != nil {
					return fmt.Errorf("--resources: parse LinuxResources JSON: %w", err)
				}
			}
			fl := cmd.Flags()
			mem := func(name, v string) (*int64, error) {
				n, err := parseBytes(v)
				if err != nil {
					return nil, fmt.Errorf("--%s %q: %w", name, v, err)
				}
				return &n, nil
			}
			var err error
			if fl.Changed("memory") || fl.Changed("memory-swap") || fl.Changed("memory-reservation") {
				if r.Memory == nil {
					r.Memory = &specs.LinuxMemory{}
				}
				if fl.Changed("memory") {
					if r.Memory.Limit, err = mem("memory", memory); err != nil {
						return err
					}
				}
				if fl.Changed("memory-swap") {
					if r.Memory.Swap, err = mem("memory-swap", memorySwap); err != nil {
						return err
					}
				}
				if fl.Changed("memory-reservation") {
					if r.Memory.Reservation, err = mem("memory-reservation", memoryReservation); err != nil {
						return err
					}
				}
			}
			if fl.Changed("cpu-shares") || fl.Changed("cpu-quota") || fl.Changed("cpu-period") || fl.Changed("cpuset-cpus") || fl.Changed("cpuset-mems") {
				if r.CPU == nil {
					r.CPU = &specs.LinuxCPU{}
				}
				if fl.Changed("cpu-shares") {
					r.CPU.Shares = &cpuShares
				}
				if fl.Changed("cpu-quota") {
					r.CPU.Quota = &cpuQuota
				}
				if fl.Changed("cpu-period") {
					r.CPU.Period = &cpuPeriod
				}
				if fl.Changed("cpuset-cpus") {
					r.CPU.Cpus = cpusetCpus
				}
				if fl.Changed("cpuset-mems") {
					r.CPU.Mems = cpusetMems
				}
			}
			if fl.Changed("pids-limit") {
				r.Pids = &specs.LinuxPids{Limit: &pidsLimit}
			}
			return runtime.Update(g.root, args[0], r)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&resources, "resources", "r", "", `LinuxResources JSON file ("-" for stdin)`)
	fl.StringVar(&memory, "memory", "", "memory limit (bytes, or with k/m/g)")
	fl.StringVar(&memorySwap, "memory-swap", "", "memory+swap limit (-1 for unlimited)")
	fl.StringVar(&memoryReservation, "memory-reservation", "", "memory soft limit")
	fl.Uint64Var(&cpuShares, "cpu-shares", 0, "CPU shares (relative weight)")
	fl.Int64Var(&cpuQuota, "cpu-quota", 0, "CFS quota in microseconds per period")
	fl.Uint64Var(&cpuPeriod, "cpu-period", 0, "CFS period in microseconds")
	fl.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs allowed (0-3, 0,1)")
	fl.StringVar(&cpusetMems, "cpuset-mems", "", "memory nodes allowed")
	fl.Int64Var(&pidsLimit, "pids-limit", 0, "maximum number of processes (-1 for unlimited)")
	return cmd
}

// parseBytes reads 1024, 512k, 64m, 1g (binary units, as runc and docker).
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	l := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	if l != "" {
		switch l[len(l)-1] {
		case 'k':
			mult, l = 1<<10, l[:len(l)-1]
		case 'm':
			mult, l = 1<<20, l[:len(l)-1]
		case 'g':
			mult, l = 1<<30, l[:len(l)-1]
		case 't':
			mult, l = 1<<40, l[:len(l)-1]
		}
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size like 1024, 512k, 64m or 1g")
	}
	return n * mult, nil
}
