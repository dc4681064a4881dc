// Package runtimecli is `gorae runtime`: the OCI runtime's command line,
// flag for flag runc's, so engines can swap gorae, runc and crun.
package runtimecli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/runtime"
)

// exitError carries a process exit status out of a command without
// printing anything.
type exitError struct{ code int }

func (e *exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }

// ExitCode maps an error from the command tree to the process exit status.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

type globals struct {
	root      string
	log       string
	logFormat string
	debug     bool
	logFile   *os.File
}

// Command builds the `runtime` command tree.
func Command() *cobra.Command {
	g := &globals{}
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "The OCI runtime (runc's command line)",
		Long: "gorae runtime turns an OCI bundle (config.json + rootfs) into an isolated process.\n" +
			"Its commands and flags are runc's, so engines can use gorae, runc or crun interchangeably.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.setupLog()
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&g.root, "root", runtime.DefaultRoot, "directory for container state (tmpfs recommended)")
	pf.StringVar(&g.log, "log", "", "log file (default: stderr)")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVar(&g.debug, "debug", false, "log debug messages")
	// Accepted for runc compatibility; engines pass them.
	pf.Bool("systemd-cgroup", false, "accepted for runc compatibility (cgroupfs is used; systemd-style paths are mapped)")
	pf.String("criu", "", "accepted for runc compatibility (checkpoint/restore is not supported)")
	pf.String("rootless", "auto", "accepted for runc compatibility")
	for _, n := range []string{"criu", "rootless"} {
		pf.MarkHidden(n)
	}
	cmd.AddCommand(
		createCmd(g), startCmd(g), stateCmd(g), killCmd(g), deleteCmd(g), runCmd(g), execCmd(g),
		listCmd(g), psCmd(g), pauseCmd(g), resumeCmd(g), updateCmd(g), eventsCmd(g), specCmd(), featuresCmd(),
	)
	return cmd
}

func (g *globals) setupLog() error {
	var w io.Writer = os.Stderr
	if g.log != "" {
		f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file %s: %w", g.log, err)
		}
		g.logFile = f
		w = f
		logToFile = true
	}
	level := slog.LevelInfo
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{
		Level: level,
		// containerd reads runc's log and matches lower-case levels.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey && len(groups) == 0 {
				return slog.String("level", strings.ToLower(a.Value.String()))
			}
			return a
		},
	}
	var h slog.Handler
	switch g.logFormat {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	slog.SetDefault(slog.New(h))
	return nil
}

// logToFile is set when --log names a file.
var logToFile bool

// Report prints a command error: to the log, where engines read it, and
// when the log is a file also to stderr, where people look. An exit status
// passed through from a container is not an error to print.
func Report(err error) {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return
	}
	slog.Error(err.Error())
	if logToFile {
		fmt.Fprintln(os.Stderr, "gorae runtime:", err)
	}
}

func ctx() context.Context { return context.Background() }

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: expects %s, got %d argument(s)\nUsage: %s", cmd.CommandPath(), what, len(args), cmd.UseLine())
		}
		return nil
	}
}

type createFlags struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (f *createFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", ".", "path to the bundle directory")
	fl.StringVar(&f.pidFile, "pid-file", "", "file to write the init process's pid to")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "unix socket to send the pty master to (process.terminal)")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "use MS_MOVE + chroot instead of pivot_root")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass N extra file descriptors (from 3) to the container")
}

func (f *createFlags) options(g *globals, id string) runtime.CreateOptions {
	return runtime.CreateOptions{
		Root: g.root, ID: id, Bundle: f.bundle, PidFile: f.pidFile, ConsoleSocket: f.consoleSocket,
		NoPivot: f.noPivot, NoNewKeyring: f.noNewKeyring, PreserveFDs: f.preserveFDs,
	}
}

func createCmd(g *globals) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [flags] ID",
		Short: "Create a container; its process waits for `start`",
		Args:  exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := runtime.Create(ctx(), f.options(g, args[0]))
			return err
		},
	}
	f.add(cmd)
	return cmd
}

func runCmd(g *globals) *cobra.Command {
	f := &createFlags{}
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] ID",
		Short: "Create and start a container, wait for it, and delete it",
		Args:  exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runtime.Run(ctx(), f.options(g, args[0]), detach)
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitError{code}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the container has started")
	cmd.Flags().BoolVar(&keep, "keep", false, "accepted for runc compatibility")
	return cmd
}

func startCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start ID",
		Short: "Start a created container",
		Args:  exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runtime.Start(ctx(), g.root, args[0])
		},
	}
}

func stateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "state ID",
		Short: "Print a container's state as JSON",
		Args:  exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := runtime.Load(g.root, args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(c.State(), "", "  ")
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
}

// ParseSignal takes 9, KILL, SIGKILL or kill.
func ParseSignal(s string) (syscall.Signal, error) { return runtime.ParseSignal(s) }

func killCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] ID [SIGNAL]",
		Short: "Send a signal (default SIGTERM) to a container's init",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := syscall.SIGTERM
			if len(args) == 2 {
				s, err := ParseSignal(args[1])
				if err != nil {
					return err
				}
				sig = s
			}
			return runtime.Kill(g.root, args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process in the container")
	return cmd
}

func deleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [flags] ID...",
		Short: "Delete a container's processes, cgroup and state",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			for _, id := range args {
				if err := runtime.Delete(ctx(), g.root, id, force); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it is running")
	return cmd
}

func pauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "pause ID", Short: "Freeze every process of a container", Args: exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error { return runtime.Pause(g.root, args[0]) },
	}
}

func resumeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "resume ID", Short: "Thaw a paused container", Args: exactArgs(1, "a container ID"),
		RunE: func(cmd *cobra.Command, args []string) error { return runtime.Resume(g.root, args[0]) },
	}
}

func listCmd(g *globals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := runtime.List(g.root)
			if err != nil {
				return err
			}
			if quiet {
				for _, c := range cs {
					fmt.Println(c.ID)
				}
				return nil
			}
			states := make([]runtime.State, 0, len(cs))
			for _, c := range cs {
				states = append(states, c.State())
			}
			switch format {
			case "json":
				b, err := json.Marshal(states)
				if err != nil {
					return err
				}
				fmt.Println(string(b))
			case "table", "":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
				for _, s := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			default:
				return fmt.Errorf("--format %q: want table or json", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only IDs")
	return cmd
}

func psCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [flags] ID [-- PS_ARGS]",
		Short: "List a container's processes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pids, err := runtime.Pids(g.root, args[0])
			if err != nil {
				return err
			}
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				b, _ := json.Marshal(pids)
				fmt.Println(string(b))
				return nil
			}
			return psTable(pids, args[1:])
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}

func specCmd() *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Write a default config.json into the bundle",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeDefaultSpec(bundle, rootless)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "bundle directory")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "a spec for a rootless container (user namespace)")
	return cmd
}

func featuresCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print what this runtime supports, as JSON (runtime-spec features.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := json.MarshalIndent(runtime.Features(), "", "    ")
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
}

func loadProcess(path string) (*specs.Process, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --process %s: %w", path, err)
	}
	var p specs.Process
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parse --process %s: %w", path, err)
	}
	return &p, nil
}
