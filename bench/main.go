// Command bench measures gorae side by side with Docker, Podman, runc and crun
// on the same machine, in one run, and prints one table of ratios.
//
// It is its own small program: it drives binaries (bin/gorae, runc, crun,
// dockerd, podman, the docker CLI) and imports nothing from gorae. Every peer
// daemon runs on its own socket, data root and network namespace under a temp
// dir, and everything it started is torn down at the end, on SIGINT/SIGTERM and
// on panics. See bench/README.md.
//
// Usage (from the repository root):
//
//	go run ./bench            # full run, under 15 minutes
//	go run ./bench -quick     # under 3 minutes
//	go run ./bench -only 'runtime|idle'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"
)

// A comparison is one group of figures. To add one (pull/push, build, unpack,
// save/load, ...), write a func(*bench) []row and register it here.
type comparison struct {
	name  string // matched by -only
	quick bool   // part of -quick
	run   func(b *bench) []row
}

var comparisons = []comparison{
	{"runtime-run", true, runtimeRun},
	{"daemon-idle-rss", true, idleRSS}, // first to start the daemons: idle means just started
	{"engine-run", true, engineRun},
	{"cli-run", true, cliRun},
	{"container-memory", true, containerMemory},
	{"parallel-50", false, parallel50}, // about 2 minutes per round
	{"layer-unpack", true, layerUnpack},
	{"image-load-save", true, imageLoadSave},
	{"bridge-50", true, bridge50},
	{"registry-push-pull", true, registryPushPull},
}

// sizes are the iteration counts of a mode.
type sizes struct {
	warmup    int // untimed runs per side before measuring
	runtimeN  int // runtime run /bin/true, per side
	engineN   int // engine run --rm busybox true, per side
	rssSample int // RSS samples (1 s apart) per reading
	idleWait  time.Duration
	perCtr    int // containers for the memory-per-container figure
	parallel  int // containers started at once
	rounds    int // rounds of the parallel figure per engine
	psN       int // ps runs per round
}

var (
	quickSizes = sizes{warmup: 2, runtimeN: 20, engineN: 5, rssSample: 3, idleWait: 3 * time.Second, perCtr: 10, parallel: 50, rounds: 1, psN: 5}
	fullSizes  = sizes{warmup: 3, runtimeN: 200, engineN: 40, rssSample: 5, idleWait: 10 * time.Second, perCtr: 10, parallel: 50, rounds: 3, psN: 10}
)

func main() {
	quick := flag.Bool("quick", false, "quick run (under 3 minutes): fewer iterations")
	only := flag.String("only", "", "run only the comparisons whose name matches this regexp")
	list := flag.Bool("list", false, "list the comparisons and exit")
	noInstall := flag.Bool("no-install", false, "do not apt-get install missing peers")
	goraeBin := flag.String("gorae", "", "measure this gorae binary instead of building bin/gorae")
	flag.Parse()

	if *list {
		for _, c := range comparisons {
			q := ""
			if c.quick {
				q = " (quick)"
			}
			fmt.Printf("%s%s\n", c.name, q)
		}
		return
	}
	var re *regexp.Regexp
	if *only != "" {
		var err error
		if re, err = regexp.Compile(*only); err != nil {
			fmt.Fprintf(os.Stderr, "bench: -only: %v\n", err)
			os.Exit(2)
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: must run as root (it starts container runtimes and daemons)")
		os.Exit(2)
	}

	ctx, cancel := context.WithCancel(context.Background())
	b := &bench{ctx: ctx, cancel: cancel, quick: *quick, start: time.Now(), loadStart: loadavg(), gorae: *goraeBin}
	b.sz = fullSizes
	if *quick {
		b.sz = quickSizes
	}

	// Clean up on SIGINT/SIGTERM: cancel running commands, undo everything, exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		b.logf("%v: cleaning up", s)
		b.interrupted.Store(true)
		cancel()
		b.cleanup()
		os.Exit(130)
	}()
	// ... and on panics of the main goroutine (workers recover and report).
	defer func() {
		if r := recover(); r != nil {
			cancel()
			b.cleanup()
			panic(r)
		}
	}()

	code := b.main(re, !*noInstall)
	cancel()
	b.cleanup()
	if b.interrupted.Load() {
		code = 130
	}
	os.Exit(code)
}

func (b *bench) main(only *regexp.Regexp, install bool) int {
	if err := b.setup(install); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	var rows []row
	for _, c := range comparisons {
		if only != nil && !only.MatchString(c.name) {
			continue
		}
		if b.quick && !c.quick {
			skip := notMeasured("not part of -quick (run the full bench)")
			rows = append(rows, row{figure: c.name, gorae: skip, peer: "—", peerValue: skip})
			continue
		}
		if b.ctx.Err() != nil {
			break
		}
		b.logf("== %s", c.name)
		t := time.Now()
		rows = append(rows, b.runComparison(c)...)
		b.logf("== %s done in %s", c.name, time.Since(t).Round(100*time.Millisecond))
	}
	b.stopEngines()
	if b.interrupted.Load() {
		return 130
	}
	report := b.report(rows)
	fmt.Print(report)
	path, err := b.writeResults(report)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: writing results: %v\n", err)
		return 1
	}
	b.logf("results written to %s", path)
	return 0
}

// runComparison runs one comparison; a panic in it becomes a failed row, and
// the run goes on with the next comparison.
func (b *bench) runComparison(c comparison) (rows []row) {
	defer func() {
		if r := recover(); r != nil {
			rows = append(rows, row{figure: c.name, gorae: failed(fmt.Errorf("panic: %v", r)), peer: "—", peerValue: value{status: "—"}})
		}
	}()
	return c.run(b)
}
