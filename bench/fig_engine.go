package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// The engines compared, gorae first; podman is the daemonless peer.
var engineNames = []string{"gorae", "docker", "podman"}

// peerLabel is how the table names an engine peer.
var peerLabel = map[string]string{
	"docker": "docker (dockerd + containerd + runc)",
	"podman": "podman (conmon + runc)",
}

// vsPeers makes the rows of one figure: gorae against each peer.
func vsPeers(fig string, v map[string]value, t target, peers ...string) []row {
	var rows []row
	for _, p := range peers {
		rows = append(rows, row{figure: fig, gorae: v["gorae"], peer: peerLabel[p], peerValue: v[p], target: t})
	}
	return rows
}

// The promise of the design ("containers start faster and the engine weighs
// less") where the issue gives no number.
var lessThanPeer = target{max: 1}

// Issue #4's targets against Debian's dockerd: `docker run --rm` at most
// 1/10 of its median, the idle daemon at most 1/5 of dockerd + containerd,
// memory per running container at most 1/3 of containerd-shim's.
var (
	runTarget       = target{max: 0.1}
	idleRSSTarget   = target{max: 0.2}
	perCtrMemTarget = target{max: 1.0 / 3}
)

// vsDockerAndPodman: the target against docker, the design's
// promise against podman.
func vsDockerAndPodman(fig string, v map[string]value, docker target) []row {
	return append(vsPeers(fig, v, docker, "docker"), vsPeers(fig, v, lessThanPeer, "podman")...)
}

// runArgs run busybox with no network and never pull: nothing leaves the
// machine and no engine needs a bridge.
func (e *engine) runArgs(extra ...string) []string {
	args := append([]string{"run", "--network", "none", "--pull", "never"}, e.runExtra...)
	return append(args, extra...)
}

// rmArgs remove containers at once (SIGKILL, no stop timeout), as docker's
// rm -f does.
func (e *engine) rmArgs(ids ...string) []string {
	return append(append([]string{}, e.rmForce...), ids...)
}

// engineRun: `run --rm busybox true` through each engine's CLI, end to end:
// create, start, wait, remove.
func engineRun(b *bench) []row {
	const fig = "run --rm busybox true (CLI, end to end)"
	var sides []side
	for _, name := range engineNames {
		e, why := b.engine(name)
		s := side{name: name, peer: name != "gorae", preset: why}
		if e != nil {
			s.once = func(int) (time.Duration, error) {
				c := e.cmd(e.runArgs("--rm", "busybox", "true")...)
				c.timeout = time.Minute
				r, err := b.run(c)
				return r.dur, err
			}
		}
		sides = append(sides, s)
	}
	v := b.alternate("engine-run", sides, b.sz.warmup, b.sz.engineN)
	return vsDockerAndPodman(fig, v, runTarget)
}

// idleRSS: the resident memory of an idle daemon with one image: dockerd with
// the containerd it started, against gorae's daemon; the sum over the process
// tree, sampled once a second after a settling wait.
func idleRSS(b *bench) []row {
	const fig = "idle daemon RSS (process tree)"
	names := []string{"gorae", "docker"}
	es := map[string]*engine{}
	v := map[string]value{}
	for _, name := range names {
		e, why := b.engine(name)
		if e == nil {
			v[name] = why
			continue
		}
		es[name] = e
		v[name] = value{unit: "MiB"}
	}
	if len(es) > 0 {
		b.logf("idle-rss: settling %s", b.sz.idleWait)
		b.sleep(b.sz.idleWait)
	}
	for i := 0; i < b.sz.rssSample; i++ {
		for _, name := range names {
			if e := es[name]; e != nil {
				mib, n := e.rss()
				x := v[name]
				x.samples = append(x.samples, mib)
				v[name] = x
				if i == 0 {
					b.logf("idle-rss: %s: %.1f MiB in %d processes", name, mib, n)
				}
			}
		}
		if i+1 < b.sz.rssSample {
			b.sleep(time.Second)
		}
	}
	for _, name := range names {
		if es[name] != nil && !v[name].ok() {
			v[name] = failed(fmt.Errorf("no process of %s found in /proc", name))
		}
	}
	return vsPeers(fig, v, idleRSSTarget, "docker")
}

// containerMemory: what one more running container costs the engine: the
// growth of the engine's memory (daemon, shims or conmon; not the
// containers' own processes) with N `sleep` containers running, divided by
// N — as RSS, which counts a binary's shared code once per process, and as
// PSS, which shares it out.
func containerMemory(b *bench) []row {
	n := b.sz.perCtr
	rssFig := fmt.Sprintf("engine memory per running container (%d × sleep, RSS delta / %d)", n, n)
	pssFig := fmt.Sprintf("engine memory per running container (%d × sleep, PSS delta / %d)", n, n)
	rss, pss := map[string]value{}, map[string]value{}
	for _, name := range engineNames {
		e, why := b.engine(name)
		if e == nil {
			rss[name], pss[name] = why, why
			continue
		}
		rss[name], pss[name] = b.perContainer(e, n)
	}
	return append(vsDockerAndPodman(rssFig, rss, perCtrMemTarget), vsDockerAndPodman(pssFig, pss, perCtrMemTarget)...)
}

func (b *bench) perContainer(e *engine, n int) (rss, pss value) {
	sample := func() (float64, float64) {
		var xs, ys []float64
		for i := 0; i < 3; i++ {
			mib, _ := e.rss()
			xs = append(xs, mib)
			ys = append(ys, e.pss())
			if i < 2 {
				b.sleep(500 * time.Millisecond)
			}
		}
		return quantile(xs, 0.5), quantile(ys, 0.5)
	}
	rssBefore, pssBefore := sample()
	var ids []string
	defer func() { b.removeContainers(e, ids) }()
	for i := 0; i < n; i++ {
		c := e.cmd(e.runArgs("-d", "busybox", "sleep", "3600")...)
		c.timeout = time.Minute
		out, err := b.output(c)
		if err != nil {
			f := failed(fmt.Errorf("run -d: %w", err))
			return f, f
		}
		ids = append(ids, lastField(out))
	}
	b.sleep(2 * time.Second)
	rssAfter, pssAfter := sample()
	b.logf("container-memory: %s: RSS %.1f MiB idle, %.1f MiB with %d running; PSS %.1f → %.1f MiB", e.name, rssBefore, rssAfter, n, pssBefore, pssAfter)
	return value{samples: []float64{(rssAfter - rssBefore) / float64(n)}, unit: "MiB"},
		value{samples: []float64{(pssAfter - pssBefore) / float64(n)}, unit: "MiB"}
}

// parallel50: N `run -d busybox sleep` started at once (one CLI process
// each), the wall time until all have returned; then the latency of `ps`
// with them running; then one `rm -f` of all. The engines take turns, one
// round each, rounds times, the first engine rotating from round to round.
func parallel50(b *bench) []row {
	n := b.sz.parallel
	figStart := fmt.Sprintf("start %d containers in parallel (wall time)", n)
	figPs := fmt.Sprintf("ps with %d running", n)
	figRm := fmt.Sprintf("rm -f of %d running containers", n)
	start, ps, rm := map[string]value{}, map[string]value{}, map[string]value{}
	live := map[string]*engine{}
	for _, name := range engineNames {
		e, why := b.engine(name)
		if e == nil {
			start[name], ps[name], rm[name] = why, why, why
			continue
		}
		live[name] = e
		start[name], ps[name], rm[name] = value{unit: "s"}, value{unit: "ms"}, value{unit: "s"}
	}
	add := func(m map[string]value, name string, x float64) {
		v := m[name]
		v.samples = append(v.samples, x)
		m[name] = v
	}
	fail := func(name string, err error) {
		b.logf("parallel: %s: %v", name, err)
		v := failed(err)
		start[name], ps[name], rm[name] = v, v, v
		delete(live, name)
	}
	for r := 0; r < b.sz.rounds && b.ctx.Err() == nil; r++ {
		for _, name := range rotate(engineNames, r) {
			e := live[name]
			if e == nil {
				continue
			}
			b.sleep(2 * time.Second) // let the previous engine's teardown settle
			b.logf("parallel: round %d: %s: starting %d", r+1, name, n)
			wall, ids, err := b.startParallel(e, n)
			if err != nil {
				b.removeContainers(e, ids)
				fail(name, err)
				continue
			}
			add(start, name, wall.Seconds())
			running, err := b.output(e.cmd("ps", "-q"))
			if err == nil && len(strings.Fields(running)) < n {
				err = fmt.Errorf("ps shows %d running of %d started", len(strings.Fields(running)), n)
			}
			for i := 0; i < b.sz.psN && err == nil; i++ {
				var r result
				if r, err = b.run(e.cmd("ps")); err == nil {
					add(ps, name, float64(r.dur)/float64(time.Millisecond))
				}
			}
			if err != nil {
				b.removeContainers(e, ids)
				fail(name, fmt.Errorf("ps: %w", err))
				continue
			}
			c := e.cmd(e.rmArgs(ids...)...)
			c.timeout = 5 * time.Minute
			res, err := b.run(c)
			if err != nil {
				b.removeContainers(e, ids)
				fail(name, fmt.Errorf("rm -f: %w", err))
				continue
			}
			add(rm, name, res.dur.Seconds())
		}
	}
	var rows []row
	rows = append(rows, vsPeers(figStart, start, lessThanPeer, "docker", "podman")...)
	rows = append(rows, vsPeers(figPs, ps, lessThanPeer, "docker", "podman")...)
	rows = append(rows, vsPeers(figRm, rm, lessThanPeer, "docker", "podman")...)
	return rows
}

// startParallel starts n detached sleep containers at once and returns the
// wall time until every CLI has returned, and the ids of those started.
func (b *bench) startParallel(e *engine, n int) (time.Duration, []string, error) {
	var (
		mu    sync.Mutex
		ids   []string
		fails []error
		wg    sync.WaitGroup
	)
	t := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					fails = append(fails, fmt.Errorf("panic: %v", r))
					mu.Unlock()
				}
			}()
			c := e.cmd(e.runArgs("-d", "busybox", "sleep", "3600")...)
			c.timeout = 5 * time.Minute
			out, err := b.output(c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails = append(fails, err)
				return
			}
			ids = append(ids, lastField(out))
		}()
	}
	wg.Wait()
	wall := time.Since(t)
	if len(fails) > 0 {
		return wall, ids, fmt.Errorf("%d of %d failed: %w", len(fails), n, fails[0])
	}
	return wall, ids, nil
}

// removeContainers removes containers, untimed; failures are only logged
// (the engine's stop removes whatever is left).
func (b *bench) removeContainers(e *engine, ids []string) {
	if len(ids) == 0 {
		return
	}
	c := e.cmd(e.rmArgs(ids...)...)
	c.timeout = 5 * time.Minute
	c.detached = true
	if _, err := b.run(c); err != nil {
		b.logf("%s: rm -f: %v", e.name, err)
	}
}

// lastField is the last word of a command's output: the container id that
// `run -d` prints after any warnings.
func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// sleep waits d or until the run is cancelled.
func (b *bench) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-b.ctx.Done():
	}
}
