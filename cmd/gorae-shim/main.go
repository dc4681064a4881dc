// Command gorae-shim is the per-container monitor as a program of its own,
// embedded in bin/gorae like the engine (scripts/build.sh): every running
// container keeps one, so what it weighs is what a container costs the
// engine. It links the runtime and the monitor, nothing of the engine.
package main

import (
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/gorae/gorae/internal/monitor"
	"github.com/gorae/gorae/internal/runtime"
	"github.com/gorae/gorae/internal/runtime/initproc"
)

func main() {
	// Containers' inits are the init program the front wrote (or the
	// front itself): both start faster than we do.
	if f := os.Getenv("GORAE_INIT"); f != "" {
		runtime.InitBinary = f
	} else if f := os.Getenv("GORAE_FRONT"); f != "" {
		runtime.InitBinary = f
	}
	if len(os.Args) == 3 && os.Args[1] == "runtime" && os.Args[2] == "init" && initproc.IsInit() {
		os.Exit(initproc.Init())
	}
	// A monitor waits and copies a container's output: one P is plenty,
	// and each further one keeps its own cache of partly used spans
	// (~250 KiB more resident per container measured with two).
	goruntime.GOMAXPROCS(1)
	// The engine's argv: `gorae shim DIR`.
	if len(os.Args) != 3 || os.Args[1] != "shim" {
		fmt.Fprintln(os.Stderr, "usage: gorae shim DIR (started by the daemon)")
		os.Exit(2)
	}
	if err := monitor.Main(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "gorae shim:", err)
		os.Exit(1)
	}
}
