package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// Version is the CLI's version, set by main.
var Version = "dev"

func (c *CLI) systemCommands() []*cobra.Command {
	group := &cobra.Command{Use: "system", Short: "Manage Docker", Args: noArgs, RunE: showHelp}
	group.AddCommand(c.dfCommand(), c.systemPruneCommand(), c.infoCommand(), c.eventsCommand())
	return []*cobra.Command{c.versionCommand(), c.infoCommand(), c.eventsCommand(), group}
}

type clientVersion struct {
	Platform          struct{ Name string }
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	BuildTime         string `json:",omitempty"`
	Context           string
}

type versionInfo struct {
	Client clientVersion
	Server *system.VersionResponse
}

func (c *CLI) versionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Docker version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			v := versionInfo{Client: clientVersion{
				Version: Version, GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH,
				DefaultAPIVersion: client.MaxAPIVersion, Context: c.contextName(),
			}}
			v.Client.Platform.Name = "gorae"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						v.Client.GitCommit = shortID(s.Value)[:7]
					case "vcs.time":
						v.Client.BuildTime = s.Value
					}
				}
			}
			api, err := c.Client(ctx)
			var serr error
			if err == nil {
				var r client.ServerVersionResult
				r, serr = api.ServerVersion(ctx, client.ServerVersionOptions{})
				if serr == nil {
					s := &system.VersionResponse{
						Platform: struct{ Name string }{r.Platform.Name}, Version: r.Version, APIVersion: r.APIVersion,
						MinAPIVersion: r.MinAPIVersion, Os: r.Os, Arch: r.Arch, Components: r.Components,
					}
					for _, comp := range r.Components {
						if comp.Name == "Engine" {
							s.GitCommit, s.GoVersion, s.BuildTime, s.KernelVersion = comp.Details["GitCommit"], comp.Details["GoVersion"], comp.Details["BuildTime"], comp.Details["KernelVersion"]
						}
					}
					v.Server = s
				}
			} else {
				serr = err
			}
			v.Client.APIVersion = client.MaxAPIVersion
			if api != nil {
				v.Client.APIVersion = api.ClientVersion()
			}
			if format != "" {
				if format == "json" {
					format = "{{json .}}"
				}
				if err := formatOne(c.out, format, v); err != nil {
					if serr != nil {
						return serr
					}
					return err
				}
				return serr
			}
			w := tabwriter.NewWriter(c.out, 20, 1, 1, ' ', 0)
			fmt.Fprintf(w, "Client:\n Version:\t%s\n API version:\t%s\n Go version:\t%s\n Git commit:\t%s\n Built:\t%s\n OS/Arch:\t%s/%s\n Context:\t%s\n",
				v.Client.Version, v.Client.APIVersion, v.Client.GoVersion, v.Client.GitCommit, v.Client.BuildTime, v.Client.Os, v.Client.Arch, v.Client.Context)
			if s := v.Server; s != nil {
				fmt.Fprintf(w, "\nServer: %s\n", s.Platform.Name)
				for _, comp := range s.Components {
					fmt.Fprintf(w, " %s:\n  Version:\t%s\n", comp.Name, comp.Version)
					if comp.Name == "Engine" {
						fmt.Fprintf(w, "  API version:\t%s (minimum version %s)\n  Go version:\t%s\n  Git commit:\t%s\n  Built:\t%s\n  OS/Arch:\t%s/%s\n  Experimental:\t%v\n",
							s.APIVersion, s.MinAPIVersion, s.GoVersion, s.GitCommit, s.BuildTime, s.Os, s.Arch, s.Experimental)
						continue
					}
					keys := make([]string, 0, len(comp.Details))
					for k := range comp.Details {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						fmt.Fprintf(w, "  %s:\t%s\n", k, comp.Details[k])
					}
				}
			}
			w.Flush()
			return serr
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func (c *CLI) contextName() string {
	switch {
	case c.opts.context != "":
		return c.opts.context
	case len(c.opts.hosts) > 0:
		return "default"
	}
	if n := c.currentContext(); n != "" {
		return n
	}
	return "default"
}

func (c *CLI) infoCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			r, err := api.Info(ctx, client.InfoOptions{})
			if err != nil {
				return err
			}
			if format != "" {
				if format == "json" {
					format = "{{json .}}"
				}
				return formatOne(c.out, format, r.Info)
			}
			printInfo(c.out, c.contextName(), &r.Info)
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func printInfo(w io.Writer, ctxName string, i *system.Info) {
	fmt.Fprintf(w, "Client:\n Version:    %s\n Context:    %s\n Debug Mode: false\n\n", Version, ctxName)
	fmt.Fprintf(w, "Server:\n Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n Images: %d\n Server Version: %s\n Storage Driver: %s\n",
		i.Containers, i.ContainersRunning, i.ContainersPaused, i.ContainersStopped, i.Images, i.ServerVersion, i.Driver)
	for _, kv := range i.DriverStatus {
		fmt.Fprintf(w, "  %s: %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(w, " Logging Driver: %s\n Cgroup Driver: %s\n Cgroup Version: %s\n", i.LoggingDriver, i.CgroupDriver, i.CgroupVersion)
	var rts []string
	for n := range i.Runtimes {
		rts = append(rts, n)
	}
	sort.Strings(rts)
	fmt.Fprintf(w, " Runtimes: %s\n Default Runtime: %s\n Init Binary: %s\n", strings.Join(rts, " "), i.DefaultRuntime, i.InitBinary)
	if len(i.SecurityOptions) > 0 {
		fmt.Fprintln(w, " Security Options:")
		for _, o := range i.SecurityOptions {
			fmt.Fprintf(w, "  %s\n", strings.TrimPrefix(o, "name="))
		}
	}
	fmt.Fprintf(w, " Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n CPUs: %d\n Total Memory: %s\n Name: %s\n ID: %s\n Docker Root Dir: %s\n Debug Mode: %v\n Experimental: %v\n Live Restore Enabled: %v\n",
		i.KernelVersion, i.OperatingSystem, i.OSType, i.Architecture, i.NCPU, units.BytesSize(float64(i.MemTotal)),
		i.Name, i.ID, i.DockerRootDir, i.Debug, i.ExperimentalBuild, i.LiveRestoreEnabled)
	for _, l := range i.Labels {
		fmt.Fprintf(w, " Label: %s\n", l)
	}
}

type dfRow struct {
	Type               string
	TotalCount, Active string
	Size, Reclaimable  string
}

func (c *CLI) dfCommand() *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show docker disk usage",
		Args:  noArgs,
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			r, err := api.DiskUsage(ctx, client.DiskUsageOptions{Containers: true, Images: true, Volumes: true, BuildCache: true})
			if err != nil {
				return err
			}
			// docker's sums: what running containers use is not
			// reclaimable; sizes at four digits.
			hs := func(n int64) string { return units.HumanSize(float64(n)) }
			pct := func(rec, total int64) string {
				if total <= 0 {
					return hs(rec)
				}
				return fmt.Sprintf("%s (%d%%)", hs(rec), rec*100/total)
			}
			var imgActive, imgUsed int64
			for _, im := range r.Images.Items {
				if im.Containers > 0 {
					imgActive++
					if im.Size >= 0 && im.SharedSize >= 0 {
						imgUsed += im.Size - im.SharedSize
					}
				}
			}
			imgRec := r.Images.TotalSize - imgUsed
			if len(r.Images.Items) == 0 {
				imgActive, imgRec = r.Images.ActiveCount, r.Images.Reclaimable
			}
			var ctrActive, ctrSize, ctrRec int64
			for _, ct := range r.Containers.Items {
				ctrSize += ct.SizeRw
				if ct.State == "running" || ct.State == "paused" || ct.State == "restarting" {
					ctrActive++
				} else {
					ctrRec += ct.SizeRw
				}
			}
			if len(r.Containers.Items) == 0 {
				ctrActive, ctrSize, ctrRec = r.Containers.ActiveCount, r.Containers.TotalSize, r.Containers.Reclaimable
			}
			rows := []any{
				dfRow{"Images", itoa(int(r.Images.TotalCount)), itoa(int(imgActive)), hs(r.Images.TotalSize), pct(imgRec, r.Images.TotalSize)},
				dfRow{"Containers", itoa(int(r.Containers.TotalCount)), itoa(int(ctrActive)), hs(ctrSize), pct(ctrRec, ctrSize)},
				dfRow{"Local Volumes", itoa(int(r.Volumes.TotalCount)), itoa(int(r.Volumes.ActiveCount)), hs(r.Volumes.TotalSize), pct(r.Volumes.Reclaimable, r.Volumes.TotalSize)},
				dfRow{"Build Cache", itoa(int(r.BuildCache.TotalCount)), itoa(int(r.BuildCache.ActiveCount)), hs(r.BuildCache.TotalSize), pct(r.BuildCache.Reclaimable, r.BuildCache.TotalSize)},
			}
			headers := map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
			return listing{format: format, table: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", headers: headers}.render(c.out, false, rows)
		}),
	}
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

func (c *CLI) systemPruneCommand() *cobra.Command {
	return c.pruneCommand(pruneSpec{
		short: "Remove unused data",
		warning: func(all, volumes bool) string {
			w := "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n"
			if volumes {
				w += "  - all anonymous volumes not used by at least one container\n"
			}
			if all {
				w += "  - all images without at least one container associated to them\n"
			} else {
				w += "  - all dangling images\n"
			}
			return w + "  - unused build cache\n"
		},
		allHelp: "Remove all unused images not just dangling ones",
		system:  true,
		total:   true,
	})
}

func (c *CLI) eventsCommand() *cobra.Command {
	var since, until, format string
	var filter []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filter)
			if err != nil {
				return err
			}
			r := api.Events(ctx, client.EventsListOptions{Since: since, Until: until, Filters: f})
			if format == "json" {
				format = "{{json .}}"
			}
			for {
				select {
				case m, ok := <-r.Messages:
					if !ok {
						return nil
					}
					if format != "" {
						if err := formatOne(c.out, format, m); err != nil {
							return err
						}
						continue
					}
					printEvent(c.out, m)
				case err := <-r.Err:
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
		}),
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&filter, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	fl.StringVar(&since, "since", "", "Show all events created since timestamp")
	fl.StringVar(&until, "until", "", "Stream events until this timestamp")
	return cmd
}

// printEvent is docker's default event line:
// TIME TYPE ACTION ID (k=v, ...).
func printEvent(w io.Writer, m events.Message) {
	t := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		t = time.Unix(m.Time, 0)
	}
	fmt.Fprintf(w, "%s %s %s %s", t.Format("2006-01-02T15:04:05.000000000Z07:00"), m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		var kv []string
		for k, v := range m.Actor.Attributes {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		fmt.Fprintf(w, " (%s)", strings.Join(kv, ", "))
	}
	fmt.Fprintln(w)
}

// pingDaemon is used by commands that only need to know the daemon
// answers.
func pingDaemon(ctx context.Context, api *client.Client) error {
	_, err := api.Ping(ctx, client.PingOptions{})
	return err
}
