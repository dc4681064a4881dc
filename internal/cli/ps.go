package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// containerRow is one line of ps: its methods are the template fields
// docker's ps offers.
type containerRow struct {
	c     container.Summary
	trunc bool
}

func (r containerRow) ID() string {
	if r.trunc {
		return shortID(r.c.ID)
	}
	return r.c.ID
}

func (r containerRow) Image() string {
	img := r.c.Image
	if r.trunc && strings.HasPrefix(img, "sha256:") {
		return shortID(img)
	}
	return img
}

func (r containerRow) Command() string {
	cmd := r.c.Command
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (r containerRow) CreatedAt() string {
	return unixTime(r.c.Created).String()
}

func (r containerRow) RunningFor() string { return humanSince(unixTime(r.c.Created)) }

func (r containerRow) Ports() string { return displayPorts(r.c.Ports) }

func (r containerRow) State() string { return string(r.c.State) }

func (r containerRow) Status() string { return r.c.Status }

func (r containerRow) Size() string {
	s := humanSize(r.c.SizeRw)
	if r.c.SizeRootFs > 0 {
		s += " (virtual " + humanSize(r.c.SizeRootFs) + ")"
	}
	return s
}

func (r containerRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		n = strings.TrimPrefix(n, "/")
		// Link names (a/b) only with --no-trunc.
		if r.trunc && strings.Contains(n, "/") {
			continue
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (r containerRow) Labels() string {
	var kv []string
	for k, v := range r.c.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (r containerRow) Label(name string) string { return r.c.Labels[name] }

func (r containerRow) Mounts() string {
	var m []string
	for _, mp := range r.c.Mounts {
		name := mp.Name
		if name == "" {
			name = mp.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		m = append(m, name)
	}
	return strings.Join(m, ",")
}

func (r containerRow) LocalVolumes() string {
	n := 0
	for _, mp := range r.c.Mounts {
		if mp.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r containerRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	var ns []string
	for k := range r.c.NetworkSettings.Networks {
		ns = append(ns, k)
	}
	sort.Strings(ns)
	return strings.Join(ns, ",")
}

// MarshalJSON gives `--format json` docker's field set.
func (r containerRow) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"Platform": nil, "Command": r.Command(), "CreatedAt": r.CreatedAt(), "ID": r.ID(), "Image": r.Image(),
		"Labels": r.Labels(), "LocalVolumes": r.LocalVolumes(), "Mounts": r.Mounts(), "Names": r.Names(),
		"Networks": r.Networks(), "Ports": r.Ports(), "RunningFor": r.RunningFor(), "Size": r.Size(),
		"State": r.State(), "Status": r.Status(),
	}
	return jsonMarshal(m)
}

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
	"Networks": "NETWORKS",
}

// displayPorts renders ports as docker's ps: "0.0.0.0:8080->80/tcp, 443/tcp",
// consecutive ports folded into ranges.
func displayPorts(ports []container.PortSummary) string {
	type key struct{ ip, proto string }
	var out []string
	sorted := append([]container.PortSummary(nil), ports...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.PublicPort != b.PublicPort {
			return a.PublicPort < b.PublicPort
		}
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.IP.String() < b.IP.String()
	})
	for _, p := range sorted {
		if p.PublicPort == 0 || !p.IP.IsValid() {
			out = append(out, fmt.Sprintf("%d/%s", p.PrivatePort, p.Type))
			continue
		}
		ip := p.IP.String()
		if p.IP.Is6() {
			ip = "[" + ip + "]"
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.PublicPort, p.PrivatePort, p.Type))
	}
	return strings.Join(out, ", ")
}

func (c *CLI) psCommand() *cobra.Command {
	var o struct {
		all, quiet, noTrunc, latest, size bool
		last                              int
		format                            string
		filter                            []string
	}
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			f, err := parseFilters(o.filter)
			if err != nil {
				return err
			}
			opts := client.ContainerListOptions{All: o.all, Limit: o.last, Filters: f}
			if o.latest {
				opts.Limit = 1
			}
			format := o.format
			if format == "" {
				format = c.configFormat("psFormat")
			}
			// Sizes cost the daemon a walk of each writable layer: only on
			// request, or when the template asks for .Size.
			opts.Size = o.size || strings.Contains(format, ".Size")
			r, err := api.ContainerList(ctx, opts)
			if err != nil {
				return err
			}
			rows := make([]any, len(r.Items))
			for i, s := range r.Items {
				rows[i] = containerRow{c: s, trunc: !o.noTrunc}
			}
			table := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if o.size {
				table += "\t{{.Size}}"
			}
			return listing{format: format, table: table, quiet: "{{.ID}}", headers: psHeaders}.render(c.out, o.quiet, rows)
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	fl.StringArrayVarP(&o.filter, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	fl.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	return cmd
}
