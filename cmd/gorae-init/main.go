// Command gorae-init is a container's init between the runtime's spawn
// and the container process's execve: it enters the namespaces, builds
// the root filesystem, applies credentials and limits, and execs. It is
// embedded in bin/gorae like the engine and the shim (scripts/build.sh).
//
// Why a program of its own: every container start runs it once, and a Go
// program's start-up (its runtime, and the init of every package it links)
// is paid in page faults, ~30 µs each on this project's VMs. Linking the
// runtime and nothing else of the front (no command-line library, no
// engine) makes it start faster than the front re-executed.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/gorae/gorae/internal/runtime/initproc"
)

func main() {
	// It lives for milliseconds and allocates little: a collection would
	// only cost it time.
	debug.SetGCPercent(-1)
	if len(os.Args) == 3 && os.Args[1] == "runtime" && os.Args[2] == "init" && initproc.IsInit() {
		os.Exit(initproc.Init())
	}
	fmt.Fprintln(os.Stderr, "gorae-init: a container's init, started by `gorae runtime` only")
	os.Exit(2)
}
