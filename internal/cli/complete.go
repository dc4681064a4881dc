package cli

import (
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// Dynamic completion: a command whose first argument is CONTAINER or
// IMAGE completes the daemon's names (never starting a daemon for it).
// The static part (commands, flags) is cobra's generator over the tree:
// `gorae completion bash|zsh|fish`.

func (c *CLI) addCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
		if cmd.ValidArgsFunction != nil || cmd.RunE == nil {
			return
		}
		fields := strings.Fields(cmd.Use)
		for _, f := range fields[1:] {
			if f == "[OPTIONS]" {
				continue
			}
			switch {
			case strings.HasPrefix(f, "CONTAINER"):
				cmd.ValidArgsFunction = c.completeNames("container", strings.Contains(cmd.Use, "CONTAINER..."))
			case strings.HasPrefix(f, "IMAGE") || strings.HasPrefix(f, "SOURCE_IMAGE"):
				cmd.ValidArgsFunction = c.completeNames("image", strings.Contains(cmd.Use, "IMAGE..."))
			}
			return
		}
	}
	walk(root)
}

func (c *CLI) completeNames(kind string, many bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !many {
			return nil, cobra.ShellCompDirectiveDefault
		}
		host, _, err := c.resolveHost()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		api, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer api.Close()
		ctx := ctxOf(cmd)
		var names []cobra.Completion
		switch kind {
		case "container":
			r, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
			if err != nil {
				break
			}
			for _, s := range r.Items {
				for _, n := range s.Names {
					names = append(names, strings.TrimPrefix(n, "/"))
				}
			}
		case "image":
			r, err := api.ImageList(ctx, client.ImageListOptions{})
			if err != nil {
				break
			}
			for _, im := range r.Items {
				for _, t := range im.RepoTags {
					names = append(names, familiarTagged(t))
				}
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
