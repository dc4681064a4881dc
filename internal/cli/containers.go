package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// containerCommands are the top-level container verbs plus `container`,
// which holds the same verbs (ls for ps), as docker has them.
func (c *CLI) containerCommands() []*cobra.Command {
	verbs := func() []*cobra.Command {
		return []*cobra.Command{
			c.runCommand(), c.createCommand(), c.startCommand(), c.stopCommand(), c.restartCommand(),
			c.killCommand(), c.rmCommand(), c.logsCommand(), c.execCommand(), c.attachCommand(),
			c.cpCommand(), c.topCommand(), c.statsCommand(), c.waitCommand(), c.renameCommand(),
			c.pauseCommand(), c.unpauseCommand(), c.updateCommand(), c.commitCommand(), c.exportCommand(),
			c.diffCommand(), c.portCommand(),
		}
	}
	group := &cobra.Command{Use: "container", Short: "Manage containers", Args: noArgs, RunE: showHelp}
	ps := c.psCommand()
	ls := c.psCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"list", "ps"}
	group.AddCommand(append(verbs(), ls, c.containerInspectCommand(), c.containerPruneCommand())...)
	return append(verbs(), ps, group)
}

func showHelp(cmd *cobra.Command, args []string) error {
	cmd.SetOut(cmd.OutOrStdout())
	return cmd.Help()
}

// forEach runs fn for each argument, printing the argument on success and
// the errors together at the end, exit status 1, as docker's multi-target
// commands do.
func (c *CLI) forEach(ctx context.Context, args []string, fn func(ctx context.Context, id string) error) error {
	var errs []string
	for _, a := range args {
		if err := fn(ctx, a); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.out, a)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// simple builds a command that calls fn on each container argument.
func (c *CLI) simple(use, short string, fn func(ctx context.Context, api *client.Client, id string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  requiresMinArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			return c.forEach(ctx, args, func(ctx context.Context, id string) error { return fn(ctx, api, id) })
		}),
	}
}

func (c *CLI) stopCommand() *cobra.Command {
	var signal string
	var timeout int
	cmd := c.simple("stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", nil)
	cmd.RunE = c.stopRestart(&signal, &timeout, func(ctx context.Context, api *client.Client, id string, o client.ContainerStopOptions) error {
		_, err := api.ContainerStop(ctx, id, o)
		return err
	})
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	cmd.Flags().MarkHidden("time")
	return cmd
}

func (c *CLI) restartCommand() *cobra.Command {
	var signal string
	var timeout int
	cmd := c.simple("restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", nil)
	cmd.RunE = c.stopRestart(&signal, &timeout, func(ctx context.Context, api *client.Client, id string, o client.ContainerStopOptions) error {
		_, err := api.ContainerRestart(ctx, id, client.ContainerRestartOptions{Signal: o.Signal, Timeout: o.Timeout})
		return err
	})
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	cmd.Flags().MarkHidden("time")
	return cmd
}

func (c *CLI) stopRestart(signal *string, timeout *int, fn func(context.Context, *client.Client, string, client.ContainerStopOptions) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := ctxOf(cmd)
		api, err := c.Client(ctx)
		if err != nil {
			return err
		}
		o := client.ContainerStopOptions{Signal: *signal}
		if cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time") {
			o.Timeout = timeout
		}
		return c.forEach(ctx, args, func(ctx context.Context, id string) error { return fn(ctx, api, id, o) })
	}
}

func (c *CLI) killCommand() *cobra.Command {
	var signal string
	cmd := c.simple("kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", func(ctx context.Context, api *client.Client, id string) error {
		_, err := api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal})
		return err
	})
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (c *CLI) rmCommand() *cobra.Command {
	var o client.ContainerRemoveOptions
	cmd := c.simple("rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", func(ctx context.Context, api *client.Client, id string) error {
		_, err := api.ContainerRemove(ctx, strings.Trim(id, "/"), o)
		return err
	})
	cmd.Aliases = []string{"remove"}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&o.RemoveVolumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	cmd.Flags().BoolVarP(&o.RemoveLinks, "link", "l", false, "Remove the specified link")
	return cmd
}

func (c *CLI) pauseCommand() *cobra.Command {
	return c.simple("pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", func(ctx context.Context, api *client.Client, id string) error {
		_, err := api.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		return err
	})
}

func (c *CLI) unpauseCommand() *cobra.Command {
	return c.simple("unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", func(ctx context.Context, api *client.Client, id string) error {
		_, err := api.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	})
}

func (c *CLI) waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  requiresMinArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			var errs []string
			for _, id := range args {
				res := api.ContainerWait(ctx, id, client.ContainerWaitOptions{})
				select {
				case r := <-res.Result:
					fmt.Fprintln(c.out, r.StatusCode)
				case err := <-res.Error:
					errs = append(errs, err.Error())
				}
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		}),
	}
}

func (c *CLI) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  requiresExactArgs(2),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			newName := strings.TrimSpace(args[1])
			if newName == "" {
				return errors.New("Error: Neither old nor new names may be empty")
			}
			if _, err := api.ContainerRename(ctx, args[0], client.ContainerRenameOptions{NewName: newName}); err != nil {
				return fmt.Errorf("%w\nError: failed to rename container named %s", err, args[0])
			}
			return nil
		}),
	}
}

func (c *CLI) logsCommand() *cobra.Command {
	var o client.ContainerLogsOptions
	var tail string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  requiresExactArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			info, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			o.ShowStdout, o.ShowStderr, o.Tail = true, true, tail
			rc, err := api.ContainerLogs(ctx, info.Container.ID, o)
			if err != nil {
				return err
			}
			defer rc.Close()
			if info.Container.Config != nil && info.Container.Config.Tty {
				_, err = io.Copy(c.out, rc)
			} else {
				_, err = stdcopy.StdCopy(c.out, c.errOut, rc)
			}
			return err
		}),
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Details, "details", false, "Show extra details provided to logs")
	fl.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	fl.StringVar(&o.Since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fl.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fl.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	fl.StringVar(&o.Until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	return cmd
}

func (c *CLI) topCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  requiresMinArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			r, err := api.ContainerTop(ctx, args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.out, 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(r.Titles, "\t"))
			for _, p := range r.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		}),
	}
}

func (c *CLI) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  requiresExactArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			r, err := api.ContainerDiff(ctx, args[0], client.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, ch := range r.Changes {
				kind := map[container.ChangeType]string{container.ChangeModify: "C", container.ChangeAdd: "A", container.ChangeDelete: "D"}[ch.Kind]
				fmt.Fprintf(c.out, "%s %s\n", kind, ch.Path)
			}
			return nil
		}),
	}
}

func (c *CLI) portCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  requiresRangeArgs(1, 2),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			r, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			var lines []string
			if ns := r.Container.NetworkSettings; ns != nil {
				for p, bs := range ns.Ports {
					if len(args) == 2 {
						want := args[1]
						if !strings.Contains(want, "/") {
							want += "/tcp"
						}
						if p.String() != want {
							continue
						}
					}
					for _, b := range bs {
						ip := "0.0.0.0"
						if b.HostIP.IsValid() {
							ip = b.HostIP.String()
							if b.HostIP.Is6() {
								ip = "[" + ip + "]"
							}
						}
						addr := ip + ":" + b.HostPort
						if len(args) == 2 {
							lines = append(lines, addr)
						} else {
							lines = append(lines, p.String()+" -> "+addr)
						}
					}
				}
			}
			if len(args) == 2 && len(lines) == 0 {
				return fmt.Errorf("Error: No public port '%s' published for %s", args[1], args[0])
			}
			sort.Strings(lines)
			for _, l := range lines {
				fmt.Fprintln(c.out, l)
			}
			return nil
		}),
	}
}

func (c *CLI) updateCommand() *cobra.Command {
	var o runOptions
	var kernelMemory string
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			var res container.Resources
			if err := o.resources(&res); err != nil {
				return err
			}
			opts := client.ContainerUpdateOptions{Resources: &res}
			if cmd.Flags().Changed("restart") {
				rp, err := parseRestart(o.restart)
				if err != nil {
					return err
				}
				opts.RestartPolicy = &rp
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			return c.forEach(ctx, args, func(ctx context.Context, id string) error {
				r, err := api.ContainerUpdate(ctx, id, opts)
				for _, w := range r.Warnings {
					fmt.Fprintln(c.errOut, w)
				}
				return err
			})
		},
	}
	fl := cmd.Flags()
	o.flags = fl
	fl.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable")
	fl.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fl.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Float64Var(&o.cpus, "cpus", 0, "Number of CPUs")
	fl.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&kernelMemory, "kernel-memory", "", "Kernel memory limit (deprecated)")
	fl.MarkHidden("kernel-memory")
	fl.StringVarP(&o.memory, "memory", "m", "", "Memory limit")
	fl.StringVar(&o.memoryReservation, "memory-reservation", "", "Memory soft limit")
	fl.StringVar(&o.memorySwap, "memory-swap", "", `Swap limit equal to memory plus swap: -1 to enable unlimited swap`)
	fl.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fl.StringVar(&o.restart, "restart", "", "Restart policy to apply when a container exits")
	fl.Int64Var(&o.memorySwappiness, "memory-swappiness", -1, "")
	fl.MarkHidden("memory-swappiness")
	return cmd
}

func (c *CLI) commitCommand() *cobra.Command {
	var o client.ContainerCommitOptions
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  requiresRangeArgs(1, 2),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				o.Reference = args[1]
			}
			o.NoPause = !pause
			r, err := api.ContainerCommit(ctx, args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.out, r.ID)
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fl.StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fl.StringVarP(&o.Comment, "message", "m", "", "Commit message")
	fl.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func (c *CLI) exportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  requiresExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			w, closeOut, err := c.archiveOutput(output)
			if err != nil {
				return err
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			rc, err := api.ContainerExport(ctx, args[0], client.ContainerExportOptions{})
			if err != nil {
				return err
			}
			defer rc.Close()
			if _, err := io.Copy(w, rc); err != nil {
				return err
			}
			return closeOut()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// archiveOutput is -o FILE (written whole, then renamed) or stdout,
// which docker refuses when it is a terminal.
func (c *CLI) archiveOutput(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		if _, ok := isTerminal(c.out); ok {
			return nil, nil, errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return c.out, func() error { return nil }, nil
	}
	f, err := os.CreateTemp(dirOf(path), ".gorae-tmp-*")
	if err != nil {
		return nil, nil, fmt.Errorf("failed to export: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	return bw, func() error {
		err := bw.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			os.Remove(f.Name())
		}
		return err
	}, nil
}

func dirOf(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		if i == 0 {
			return "/"
		}
		return p[:i]
	}
	return "."
}

func (c *CLI) containerPruneCommand() *cobra.Command {
	return c.pruneCommand(pruneSpec{
		short:   "Remove all stopped containers",
		warning: func(bool, bool) string { return "WARNING! This will remove all stopped containers." },
		total:   true,
		run:     []pruner{c.pruneContainers},
	})
}

// confirm asks docker's question; anything but y/Y is no.
func (c *CLI) confirm(warning string) bool {
	fmt.Fprintf(c.out, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(c.in).ReadString('\n')
	ans := strings.TrimSpace(line)
	if ans == "y" || ans == "Y" {
		return true
	}
	fmt.Fprintln(c.out)
	return false
}

// parseFilters reads --filter key=value flags.
func parseFilters(in []string) (client.Filters, error) {
	f := client.Filters{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	return f, nil
}

// inspect: docker prints the daemon's JSON indented by four spaces, or a
// template over it.

func (c *CLI) containerInspectCommand() *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(ctxOf(cmd), "container", args, format, size)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// inspected is one object for inspect: its typed form for templates and
// its raw JSON for printing.
type inspected struct {
	typed any
	raw   json.RawMessage
}

func (c *CLI) inspectOne(ctx context.Context, api *client.Client, kind, ref string, size bool) (inspected, error) {
	switch kind {
	case "container":
		r, err := api.ContainerInspect(ctx, ref, client.ContainerInspectOptions{Size: size})
		if err != nil {
			return inspected{}, err
		}
		return inspected{typed: r.Container, raw: r.Raw}, nil
	case "image":
		var raw bytes.Buffer
		r, err := api.ImageInspect(ctx, ref, client.ImageInspectWithRawResponse(&raw))
		if err != nil {
			return inspected{}, err
		}
		return inspected{typed: r.InspectResponse, raw: bytes.TrimSpace(raw.Bytes())}, nil
	case "network":
		r, err := api.NetworkInspect(ctx, ref, client.NetworkInspectOptions{})
		if err != nil {
			return inspected{}, err
		}
		return inspected{typed: r.Network, raw: r.Raw}, nil
	case "volume":
		r, err := api.VolumeInspect(ctx, ref, client.VolumeInspectOptions{})
		if err != nil {
			return inspected{}, err
		}
		return inspected{typed: r.Volume, raw: r.Raw}, nil
	}
	return inspected{}, fmt.Errorf("%q is not a valid value for --type", kind)
}

// inspectObjects prints objects of kind ("" tries container, image,
// network, volume as docker inspect does).
func (c *CLI) inspectObjects(ctx context.Context, kind string, refs []string, format string, size bool) error {
	api, err := c.Client(ctx)
	if err != nil {
		return err
	}
	var objs []inspected
	var errs []string
	for _, ref := range refs {
		var obj inspected
		var err error
		if kind != "" {
			obj, err = c.inspectOne(ctx, api, kind, ref, size)
		} else {
			// Any kind that has it; a daemon without a kind's routes
			// answers an error, which means "not here" as well.
			err = fmt.Errorf("Error: No such object: %s", ref)
			for _, k := range []string{"container", "image", "network", "volume"} {
				if o, e := c.inspectOne(ctx, api, k, ref, size); e == nil {
					obj, err = o, nil
					break
				} else if client.IsErrConnectionFailed(e) {
					return e
				}
			}
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		objs = append(objs, obj)
	}
	if format == "" {
		var parts []string
		for _, o := range objs {
			parts = append(parts, string(o.raw))
		}
		var buf strings.Builder
		if len(parts) == 0 {
			buf.WriteString("[]")
		} else {
			var out = []byte("[" + strings.Join(parts, ",") + "]")
			var ind bytes.Buffer
			if err := json.Indent(&ind, out, "", "    "); err != nil {
				return err
			}
			buf.Write(ind.Bytes())
		}
		fmt.Fprintln(c.out, buf.String())
	} else {
		for _, o := range objs {
			if err := formatOne(c.out, format, o.typed); err != nil {
				// Some templates only work on the generic form.
				var generic any
				if json.Unmarshal(o.raw, &generic) != nil {
					return err
				}
				if err2 := formatOne(c.out, format, generic); err2 != nil {
					return err
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func isNotFound(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "no such") || strings.Contains(m, "not found")
}

func (c *CLI) inspectCommand() *cobra.Command {
	var format, kind string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(ctxOf(cmd), kind, args, format, size)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	cmd.Flags().StringVar(&kind, "type", "", "Only inspect objects of the given type")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

// Helpers shared by listings.

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }

func itoa(n int) string { return strconv.Itoa(n) }

// printPruned lists what a prune removed under docker's title.
func printPruned(w io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, it := range items {
		fmt.Fprintln(w, it)
	}
	fmt.Fprintln(w)
}
