// Command gorae is the Docker-compatible container engine: daemon, OCI runtime,
// image store, registry client and server, builder and command line in one binary.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/cli"
	"github.com/gorae/gorae/internal/daemon"
	"github.com/gorae/gorae/internal/monitor"
	"github.com/gorae/gorae/internal/reaper"
	"github.com/gorae/gorae/internal/runtime/initproc"
	"github.com/gorae/gorae/internal/runtimecli"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// The runtime's commands and a container's init live for milliseconds
	// and allocate little: garbage collection would only cost them time.
	// Long-running commands (daemon, shim) turn it back on.
	if len(os.Args) > 1 && os.Args[1] == "runtime" {
		debug.SetGCPercent(-1)
	}
	// --init: this binary, bind-mounted into the container, is its pid 1.
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(reaper.Main(os.Args[1:]))
	}
	// A container's init is this binary re-executed; it must not pay for
	// building the command tree.
	if len(os.Args) == 3 && os.Args[1] == "runtime" && os.Args[2] == "init" && initproc.IsInit() {
		os.Exit(initproc.Init())
	}
	daemon.EngineVersion = version
	root := &cobra.Command{
		Use:           "gorae",
		Short:         "A Docker-compatible container engine in one binary",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runtimecli.Command(), shimCommand(), daemonCommand(), debugCommand(), registryCommand())
	// The docker-style commands (run, ps, pull …): not built for the
	// runtime and the shim, which engines start many times a second.
	if len(os.Args) < 2 || (os.Args[1] != "runtime" && os.Args[1] != "shim") {
		cli.Version = version
		cli.New().Register(root)
	}
	cmd, err := root.ExecuteC()
	if err != nil {
		switch {
		case cmd != nil && cmd != root && isRuntime(cmd):
			runtimecli.Report(err)
		case cmd == root || cli.Owns(cmd):
			os.Exit(cli.Report(os.Stderr, cli.RootError(root, err)))
		default:
			fmt.Fprintln(os.Stderr, "gorae:", err)
		}
	}
	os.Exit(runtimecli.ExitCode(err))
}

func isRuntime(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "runtime" {
			return true
		}
	}
	return false
}

// shimCommand is the per-container monitor the daemon spawns; not for
// people, so hidden. bin/gorae's front serves it too (cmd/gorae-front).
func shimCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "shim DIR",
		Short:  "Monitor one container (started by the daemon)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE:   func(cmd *cobra.Command, args []string) error { return monitor.Main(args[0]) },
	}
}
