// Command gorae-front is what `make build` ships as bin/gorae: a small
// binary that runs the OCI runtime itself and hands every other command
// to the whole engine (cmd/gorae), which it carries embedded.
//
// Why: a Go binary runs the init of every package it links before main.
// The engine links the registry, image and API libraries, whose init
// alone costs ~20 ms per process on this project's machines; the runtime
// is executed twice per container (the command and the container's init)
// and lives for milliseconds. Built alone, the runtime pays ~3 ms.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/reaper"
	"github.com/gorae/gorae/internal/runtime"
	"github.com/gorae/gorae/internal/runtime/initproc"
	"github.com/gorae/gorae/internal/runtimecli"
)

// version is set at build time, as the engine's.
var version = "dev"

func main() {
	// --init: this binary, bind-mounted into the container, is its pid 1.
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(reaper.Main(os.Args[1:]))
	}
	if len(os.Args) < 2 || os.Args[1] != "runtime" {
		if err := execEngine(os.Args); err != nil {
			fmt.Fprintln(os.Stderr, "gorae:", err)
			os.Exit(125)
		}
	}
	// The runtime's commands and a container's init live for milliseconds
	// and allocate little: garbage collection would only cost them time.
	debug.SetGCPercent(-1)
	if len(os.Args) == 3 && os.Args[2] == "init" && initproc.IsInit() {
		os.Exit(initproc.Init())
	}
	runtime.FindInitBinary = initProgram
	root := &cobra.Command{Use: "gorae", Version: version, SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(runtimecli.Command())
	err := root.Execute()
	if err != nil {
		runtimecli.Report(err)
	}
	os.Exit(runtimecli.ExitCode(err))
}
