package main

import "time"

// cliRun: `run --rm busybox true` through gorae's own CLI against the
// docker CLI, both on the same gorae daemon (what the CLI alone costs),
// and against the docker CLI on dockerd (the whole stack).
func cliRun(b *bench) []row {
	const fig = "`gorae run --rm busybox true` (gorae CLI, gorae daemon)"
	peerLabel["docker-cli"] = "docker CLI on the same gorae daemon"
	g, why := b.engine("gorae")
	d, dwhy := b.engine("docker")
	timed := func(c cmd) func(int) (time.Duration, error) {
		return func(int) (time.Duration, error) {
			c.timeout = time.Minute
			r, err := b.run(c)
			return r.dur, err
		}
	}
	sides := []side{
		{name: "gorae", preset: why},
		{name: "docker-cli", peer: true, preset: why},
		{name: "docker", peer: true, preset: dwhy},
	}
	if g != nil {
		own := g.cmd(g.runArgs("--rm", "busybox", "true")...)
		own.name = b.gorae
		own.env = append(own.env, "GORAE_NO_AUTOSTART=1")
		sides[0].once = timed(own)
		sides[1].once = timed(g.cmd(g.runArgs("--rm", "busybox", "true")...))
	}
	if d != nil {
		sides[2].once = timed(d.cmd(d.runArgs("--rm", "busybox", "true")...))
	}
	v := b.alternate("cli-run", sides, b.sz.warmup, b.sz.engineN)
	return vsPeers(fig, v, lessThanPeer, "docker-cli", "docker")
}
