// Package cli is gorae's docker-style command line: `gorae run`, `gorae ps`,
// `gorae pull` … with docker's flags, output and exit codes. It is a client
// of the Docker Engine API like any other (the moby Go SDK), so it never
// imports the engine's packages and works the same against a remote gorae
// or, as far as the API goes, against dockerd.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// CLI holds what every command needs: the streams, the global options
// and, once a command asks for it, the API client.
type CLI struct {
	in     io.ReadCloser
	out    io.Writer
	errOut io.Writer

	opts globalOptions
	api  *client.Client
	// host is the address the client talks to, resolved from the options.
	host string
}

type globalOptions struct {
	hosts     []string
	context   string
	configDir string
	debug     bool
	logLevel  string
	tls       bool
	tlsVerify bool
}

// New returns a CLI on the process's standard streams.
func New() *CLI {
	return &CLI{in: os.Stdin, out: os.Stdout, errOut: os.Stderr}
}

// StatusError is a failure with the exit code docker gives it. An empty
// Status has been reported already.
type StatusError struct {
	Status     string
	StatusCode int
}

func (e StatusError) Error() string {
	if e.Status == "" {
		return fmt.Sprintf("exit status %d", e.StatusCode)
	}
	return e.Status
}

// ExitCode is the process exit status for err, as docker computes it:
// a StatusError's code, 1 for any other error.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var se StatusError
	if errors.As(err, &se) {
		if se.StatusCode == 0 {
			return 1
		}
		return se.StatusCode
	}
	return 1
}

// Report prints err as docker's main does and returns the exit code.
func Report(w io.Writer, err error) int {
	err = friendly(err)
	var se StatusError
	if errors.As(err, &se) {
		if se.Status != "" {
			fmt.Fprintln(w, se.Status)
		}
	} else if err != nil {
		fmt.Fprintln(w, err)
	}
	return ExitCode(err)
}

// Owns reports whether cmd is one of this package's commands (or the
// root, whose flags it registers), so main can report its errors the
// docker way.
func Owns(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations != nil && c.Annotations[ownerKey] == "cli" {
			return true
		}
	}
	return false
}

const ownerKey = "gorae.owner"

// Register adds docker's global flags to root and every docker-style
// command under it. The commands root already has (daemon, runtime, shim,
// debug) keep their own flags.
func (c *CLI) Register(root *cobra.Command) {
	// docker's global flags go before the command (gorae -H x ps), on the
	// root alone: as persistent flags their shorthands (-H, -c, -l, -D)
	// would collide with the commands' own (history -H, run -c, ps -l).
	root.TraverseChildren = true
	pf := root.Flags()
	pf.StringArrayVarP(&c.opts.hosts, "host", "H", nil, "Daemon socket to connect to")
	pf.StringVarP(&c.opts.context, "context", "c", "", `Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with "docker context use")`)
	pf.StringVar(&c.opts.configDir, "config", "", "Location of client config files (default ~/.docker)")
	pf.BoolVarP(&c.opts.debug, "debug", "D", false, "Enable debug mode")
	pf.StringVarP(&c.opts.logLevel, "log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	pf.BoolVar(&c.opts.tls, "tls", false, "Use TLS; implied by --tlsverify")
	pf.BoolVar(&c.opts.tlsVerify, "tlsverify", false, "Use TLS and verify the remote")
	for _, n := range []string{"tls", "tlsverify"} {
		pf.MarkHidden(n)
	}
	root.SetFlagErrorFunc(flagError)
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return StatusError{Status: fmt.Sprintf("%s: unknown command: %s %s\n\nRun '%s --help' for more information", binName, binName, args[0], binName), StatusCode: 1}
		}
		return cmd.Help()
	}
	root.CompletionOptions.HiddenDefaultCmd = false

	groups := [][]*cobra.Command{
		c.containerCommands(),
		c.imageCommands(),
		c.systemCommands(),
		c.registryCommands(),
		{c.networkCommand(), c.volumeCommand(), c.contextCommand(), c.buildCommand()},
	}
	for _, g := range groups {
		for _, cmd := range g {
			mark(cmd)
			root.AddCommand(cmd)
		}
	}
	c.addCompletions(root)
}

func mark(cmd *cobra.Command) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[ownerKey] = "cli"
	// docker's usage errors: exit 125 with the usage line.
	cmd.SetFlagErrorFunc(flagError)
}

// flagError is docker's answer to a bad flag: the error, the usage line,
// exit status 125.
func flagError(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return StatusError{
		Status:     fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information", err, useLine(cmd), cmd.CommandPath()),
		StatusCode: 125,
	}
}

func useLine(cmd *cobra.Command) string {
	return strings.TrimSuffix(cmd.UseLine(), " [flags]")
}

// Argument checks worded as docker words them (exit status 1).
func requiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, "requires at least %d %s", n, plural(n))
	}
}

func requiresExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, "requires %d %s", n, plural(n))
	}
}

func requiresRangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, "requires at least %d and at most %d %s", lo, hi, plural(hi))
	}
}

func requiresMaxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argsError(cmd, "requires at most %d %s", n, plural(n))
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return fmt.Errorf("%s: unknown command: %s %s\n\nRun '%s --help' for more information", binName, cmd.CommandPath(), args[0], cmd.CommandPath())
	}
	return argsError(cmd, "accepts no arguments")
}

func argsError(cmd *cobra.Command, format string, a ...any) error {
	return fmt.Errorf("%s: '%s' %s\n\nUsage:  %s\n\nSee '%s --help' for more information",
		binName, cmd.CommandPath(), fmt.Sprintf(format, a...), useLine(cmd), cmd.CommandPath())
}

const binName = "gorae"

func plural(n int) string {
	if n == 1 {
		return "argument"
	}
	return "arguments"
}

// Streams and terminals.

func (c *CLI) Out() io.Writer { return c.out }

func isTerminal(v any) (uintptr, bool) {
	if f, ok := v.(*os.File); ok {
		fd := f.Fd()
		return fd, term.IsTerminal(int(fd))
	}
	return 0, false
}

// ctx is the context for one command: cobra's, canceled on SIGINT/SIGTERM
// by main's caller if it chose to.
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// RootError rewords cobra's errors about the root command as docker
// words them ("unknown command"), exit status 1.
func RootError(root *cobra.Command, err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown command ") {
		name := strings.TrimPrefix(msg, "unknown command ")
		name, _, _ = strings.Cut(name, " for ")
		return StatusError{Status: fmt.Sprintf("%s: unknown command: %s %s\n\nRun '%s --help' for more information", binName, binName, strings.Trim(name, `"`), binName), StatusCode: 1}
	}
	return err
}

// withAPI is a RunE that needs the API client: connected (and the daemon
// started) before fn runs.
func (c *CLI) withAPI(fn func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := ctxOf(cmd)
		api, err := c.Client(ctx)
		if err != nil {
			return err
		}
		return fn(ctx, api, cmd, args)
	}
}

// friendly words a failure to reach the daemon as docker's CLI does.
func friendly(err error) error {
	if err != nil && client.IsErrConnectionFailed(err) {
		host := "the daemon"
		if h, _, ok := strings.Cut(strings.TrimPrefix(err.Error(), "failed to connect to the docker API at "), ";"); ok {
			host = h
		}
		return errors.New("Cannot connect to the gorae daemon at " + host + ". Is the gorae daemon running?")
	}
	return err
}
