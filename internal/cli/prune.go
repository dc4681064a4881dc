package cli

import (
	"context"
	"fmt"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// A pruner removes one kind of unused object, prints what went as docker
// does and returns the space reclaimed.
type pruner func(ctx context.Context, api *client.Client, f client.Filters, all bool) (uint64, error)

func (c *CLI) pruneContainers(ctx context.Context, api *client.Client, f client.Filters, _ bool) (uint64, error) {
	r, err := api.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: f})
	if err != nil {
		return 0, err
	}
	printPruned(c.out, "Deleted Containers:", r.Report.ContainersDeleted)
	return r.Report.SpaceReclaimed, nil
}

func (c *CLI) pruneImages(ctx context.Context, api *client.Client, f client.Filters, all bool) (uint64, error) {
	f = f.Clone().Add("dangling", fmt.Sprint(!all))
	r, err := api.ImagePrune(ctx, client.ImagePruneOptions{Filters: f})
	if err != nil {
		return 0, err
	}
	if len(r.Report.ImagesDeleted) > 0 {
		fmt.Fprintln(c.out, "Deleted Images:")
		printDeleted(c.out, r.Report.ImagesDeleted)
		fmt.Fprintln(c.out)
	}
	return r.Report.SpaceReclaimed, nil
}

func (c *CLI) pruneNetworks(ctx context.Context, api *client.Client, f client.Filters, _ bool) (uint64, error) {
	r, err := api.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: f})
	if err != nil {
		return 0, err
	}
	printPruned(c.out, "Deleted Networks:", r.Report.NetworksDeleted)
	return 0, nil
}

func (c *CLI) pruneVolumes(ctx context.Context, api *client.Client, f client.Filters, all bool) (uint64, error) {
	r, err := api.VolumePrune(ctx, client.VolumePruneOptions{All: all, Filters: f})
	if err != nil {
		return 0, err
	}
	printPruned(c.out, "Deleted Volumes:", r.Report.VolumesDeleted)
	return r.Report.SpaceReclaimed, nil
}

// pruneSpec describes one `… prune` command.
type pruneSpec struct {
	short   string
	warning func(all, volumes bool) string
	allHelp string // "" when the command has no --all
	system  bool   // system prune: --volumes, and every kind in turn
	total   bool   // print "Total reclaimed space"
	run     []pruner
}

func (c *CLI) pruneCommand(s pruneSpec) *cobra.Command {
	var force, all, volumes bool
	var filter []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: s.short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			if !force && !c.confirm(s.warning(all, volumes)) {
				return nil
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			f, err := parseFilters(filter)
			if err != nil {
				return err
			}
			run := s.run
			if s.system {
				run = []pruner{c.pruneContainers, c.pruneNetworks}
				if volumes {
					// --all is about images here; anonymous volumes only.
					run = append(run, func(ctx context.Context, api *client.Client, f client.Filters, _ bool) (uint64, error) {
						return c.pruneVolumes(ctx, api, f, false)
					})
				}
				run = append(run, c.pruneImages)
			}
			var total uint64
			for _, p := range run {
				n, err := p(ctx, api, f, all)
				if err != nil {
					return err
				}
				total += n
			}
			if s.total {
				fmt.Fprintf(c.out, "Total reclaimed space: %s\n", units.HumanSize(float64(total)))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	if s.allHelp != "" {
		fl.BoolVarP(&all, "all", "a", false, s.allHelp)
	}
	if s.system {
		fl.BoolVar(&volumes, "volumes", false, "Prune anonymous volumes")
	}
	fl.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fl.StringArrayVar(&filter, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
