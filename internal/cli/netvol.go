package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// network … and volume … speak the Engine API's /networks and /volumes
// routes; they work against any daemon that serves them.

type networkRow struct {
	n     network.Summary
	trunc bool
}

func (r networkRow) ID() string {
	if r.trunc {
		return shortID(r.n.ID)
	}
	return r.n.ID
}
func (r networkRow) Name() string      { return r.n.Name }
func (r networkRow) Driver() string    { return r.n.Driver }
func (r networkRow) Scope() string     { return r.n.Scope }
func (r networkRow) IPv6() string      { return fmt.Sprint(r.n.EnableIPv6) }
func (r networkRow) Internal() string  { return fmt.Sprint(r.n.Internal) }
func (r networkRow) CreatedAt() string { return r.n.Created.String() }
func (r networkRow) Labels() string    { return joinLabels(r.n.Labels) }
func (r networkRow) Label(k string) string {
	return r.n.Labels[k]
}
func (r networkRow) MarshalJSON() ([]byte, error) {
	return jsonMarshal(map[string]string{"CreatedAt": r.CreatedAt(), "Driver": r.Driver(), "ID": r.ID(), "IPv6": r.IPv6(),
		"Internal": r.Internal(), "Labels": r.Labels(), "Name": r.Name(), "Scope": r.Scope()})
}

func joinLabels(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (c *CLI) networkCommand() *cobra.Command {
	group := &cobra.Command{Use: "network", Short: "Manage networks", Args: noArgs, RunE: showHelp}

	var co struct {
		driver, ipamDriver                string
		subnets, ipRanges, gateways, opts []string
		labels, ipamOpts                  []string
		internal, attachable, ipv6, ipv4  bool
	}
	create := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  requiresExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			opts := client.NetworkCreateOptions{
				Driver: co.driver, Internal: co.internal, Attachable: co.attachable,
				Options: kvMap(co.opts), Labels: kvMap(co.labels),
			}
			if cmd.Flags().Changed("ipv6") {
				opts.EnableIPv6 = &co.ipv6
			}
			if cmd.Flags().Changed("ipv4") {
				opts.EnableIPv4 = &co.ipv4
			}
			if len(co.subnets) > 0 || co.ipamDriver != "" || len(co.ipamOpts) > 0 {
				ipam := &network.IPAM{Driver: co.ipamDriver, Options: kvMap(co.ipamOpts)}
				for i, s := range co.subnets {
					p, err := netip.ParsePrefix(s)
					if err != nil {
						return fmt.Errorf("invalid subnet %s: %v", s, err)
					}
					cfg := network.IPAMConfig{Subnet: p}
					if i < len(co.gateways) {
						if cfg.Gateway, err = netip.ParseAddr(co.gateways[i]); err != nil {
							return fmt.Errorf("invalid gateway %s: %v", co.gateways[i], err)
						}
					}
					if i < len(co.ipRanges) {
						if cfg.IPRange, err = netip.ParsePrefix(co.ipRanges[i]); err != nil {
							return fmt.Errorf("invalid ip-range %s: %v", co.ipRanges[i], err)
						}
					}
					ipam.Config = append(ipam.Config, cfg)
				}
				opts.IPAM = ipam
			} else if len(co.gateways) > 0 || len(co.ipRanges) > 0 {
				return errors.New("every ip-range or gateway must have a corresponding subnet")
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			r, err := api.NetworkCreate(ctx, args[0], opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.out, r.ID)
			return nil
		},
	}
	fl := create.Flags()
	fl.StringVarP(&co.driver, "driver", "d", "bridge", "Driver to manage the Network")
	fl.StringArrayVar(&co.subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	fl.StringArrayVar(&co.ipRanges, "ip-range", nil, "Allocate container ip from a sub-range")
	fl.StringArrayVar(&co.gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	fl.StringArrayVarP(&co.opts, "opt", "o", nil, "Set driver specific options")
	fl.StringArrayVar(&co.labels, "label", nil, "Set metadata on a network")
	fl.StringVar(&co.ipamDriver, "ipam-driver", "", "IP Address Management Driver")
	fl.StringArrayVar(&co.ipamOpts, "ipam-opt", nil, "Set IPAM driver specific options")
	fl.BoolVar(&co.internal, "internal", false, "Restrict external access to the network")
	fl.BoolVar(&co.attachable, "attachable", false, "Enable manual container attachment")
	fl.BoolVar(&co.ipv6, "ipv6", false, "Enable or disable IPv6 networking")
	fl.BoolVar(&co.ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")

	var lo struct {
		quiet, noTrunc bool
		format         string
		filter         []string
	}
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			f, err := parseFilters(lo.filter)
			if err != nil {
				return err
			}
			r, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: f})
			if err != nil {
				return err
			}
			sort.Slice(r.Items, func(i, j int) bool { return r.Items[i].Name < r.Items[j].Name })
			var rows []any
			for _, n := range r.Items {
				rows = append(rows, networkRow{n: n, trunc: !lo.noTrunc})
			}
			headers := map[string]string{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS"}
			return listing{format: lo.format, table: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", quiet: "{{.ID}}", headers: headers}.render(c.out, lo.quiet, rows)
		}),
	}
	ls.Flags().StringArrayVarP(&lo.filter, "filter", "f", nil, `Provide filter values (e.g. "driver=bridge")`)
	ls.Flags().StringVar(&lo.format, "format", "", "Format output using a custom template")
	ls.Flags().BoolVar(&lo.noTrunc, "no-trunc", false, "Do not truncate the output")
	ls.Flags().BoolVarP(&lo.quiet, "quiet", "q", false, "Only display network IDs")

	var inspFormat string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(ctxOf(cmd), "network", args, inspFormat, false)
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Format output using a custom template")

	rm := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    requiresMinArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			return c.forEach(ctx, args, func(ctx context.Context, id string) error {
				_, err := api.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
				return err
			})
		}),
	}
	rm.Flags().BoolP("force", "f", false, "Do not error if the network does not exist")

	prune := c.pruneCommand(pruneSpec{
		short: "Remove all unused networks",
		warning: func(bool, bool) string {
			return "WARNING! This will remove all custom networks not used by at least one container."
		},
		run: []pruner{c.pruneNetworks},
	})

	var cn struct {
		aliases []string
		ip, ip6 string
	}
	connect := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  requiresExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			ep := &network.EndpointSettings{Aliases: cn.aliases}
			if cn.ip != "" || cn.ip6 != "" {
				ep.IPAMConfig = &network.EndpointIPAMConfig{}
				var err error
				if cn.ip != "" {
					if ep.IPAMConfig.IPv4Address, err = netip.ParseAddr(cn.ip); err != nil {
						return fmt.Errorf("invalid IPv4 address: %s", cn.ip)
					}
				}
				if cn.ip6 != "" {
					if ep.IPAMConfig.IPv6Address, err = netip.ParseAddr(cn.ip6); err != nil {
						return fmt.Errorf("invalid IPv6 address: %s", cn.ip6)
					}
				}
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			_, err = api.NetworkConnect(ctx, args[0], client.NetworkConnectOptions{Container: args[1], EndpointConfig: ep})
			return err
		},
	}
	connect.Flags().StringArrayVar(&cn.aliases, "alias", nil, "Add network-scoped alias for the container")
	connect.Flags().StringVar(&cn.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	connect.Flags().StringVar(&cn.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")

	var dforce bool
	disconnect := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  requiresExactArgs(2),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			_, err := api.NetworkDisconnect(ctx, args[0], client.NetworkDisconnectOptions{Container: args[1], Force: dforce})
			return err
		}),
	}
	disconnect.Flags().BoolVarP(&dforce, "force", "f", false, "Force the container to disconnect from a network")

	group.AddCommand(create, ls, inspect, rm, prune, connect, disconnect)
	return group
}

type volumeRow struct{ v volume.Volume }

func (r volumeRow) Name() string       { return r.v.Name }
func (r volumeRow) Driver() string     { return r.v.Driver }
func (r volumeRow) Scope() string      { return r.v.Scope }
func (r volumeRow) Mountpoint() string { return r.v.Mountpoint }
func (r volumeRow) Labels() string     { return joinLabels(r.v.Labels) }
func (r volumeRow) Label(k string) string {
	return r.v.Labels[k]
}
func (r volumeRow) Size() string {
	if r.v.UsageData == nil || r.v.UsageData.Size < 0 {
		return "N/A"
	}
	return units.HumanSize(float64(r.v.UsageData.Size))
}
func (r volumeRow) MarshalJSON() ([]byte, error) {
	return jsonMarshal(map[string]string{"Driver": r.Driver(), "Labels": r.Labels(), "Mountpoint": r.Mountpoint(),
		"Name": r.Name(), "Scope": r.Scope(), "Size": r.Size()})
}

func (c *CLI) volumeCommand() *cobra.Command {
	group := &cobra.Command{Use: "volume", Short: "Manage volumes", Args: noArgs, RunE: showHelp}

	var co struct {
		driver       string
		opts, labels []string
	}
	create := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			r, err := api.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Driver: co.driver, DriverOpts: kvMap(co.opts), Labels: kvMap(co.labels)})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.out, r.Volume.Name)
			return nil
		},
	}
	create.Flags().StringVarP(&co.driver, "driver", "d", "local", "Specify volume driver name")
	create.Flags().StringArrayVarP(&co.opts, "opt", "o", nil, "Set driver specific options")
	create.Flags().StringArrayVar(&co.labels, "label", nil, "Set metadata for a volume")

	var lo struct {
		quiet  bool
		format string
		filter []string
	}
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			f, err := parseFilters(lo.filter)
			if err != nil {
				return err
			}
			r, err := api.VolumeList(ctx, client.VolumeListOptions{Filters: f})
			if err != nil {
				return err
			}
			sort.Slice(r.Items, func(i, j int) bool { return r.Items[i].Name < r.Items[j].Name })
			var rows []any
			for _, v := range r.Items {
				rows = append(rows, volumeRow{v: v})
			}
			headers := map[string]string{"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Size": "SIZE"}
			return listing{format: lo.format, table: "table {{.Driver}}\t{{.Name}}", quiet: "{{.Name}}", headers: headers}.render(c.out, lo.quiet, rows)
		}),
	}
	ls.Flags().StringArrayVarP(&lo.filter, "filter", "f", nil, `Provide filter values (e.g. "dangling=true")`)
	ls.Flags().StringVar(&lo.format, "format", "", "Format output using a custom template")
	ls.Flags().BoolVarP(&lo.quiet, "quiet", "q", false, "Only display volume names")

	var inspFormat string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(ctxOf(cmd), "volume", args, inspFormat, false)
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Format output using a custom template")

	var rmForce bool
	rm := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    requiresMinArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			return c.forEach(ctx, args, func(ctx context.Context, id string) error {
				_, err := api.VolumeRemove(ctx, id, client.VolumeRemoveOptions{Force: rmForce})
				return err
			})
		}),
	}
	rm.Flags().BoolVarP(&rmForce, "force", "f", false, "Force the removal of one or more volumes")

	prune := c.pruneCommand(pruneSpec{
		short: "Remove unused local volumes",
		warning: func(all, _ bool) string {
			if all {
				return "WARNING! This will remove all local volumes not used by at least one container."
			}
			return "WARNING! This will remove anonymous local volumes not used by at least one container."
		},
		allHelp: "Remove all unused volumes, not just anonymous ones",
		total:   true,
		run:     []pruner{c.pruneVolumes},
	})

	group.AddCommand(create, ls, inspect, rm, prune)
	return group
}
