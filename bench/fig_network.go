package main

import (
	"fmt"
	"strings"
	"time"
)

func init() {
	peerLabel["docker-bridge"] = "docker (dockerd + containerd + runc, default bridge + iptables)"
}

// bridge50: N containers on the default bridge, one after the other:
// `run -d --network bridge busybox sleep` (create + start: namespace,
// veth, address, /etc files), then one `rm -f` of all of them (stop +
// teardown). One sample is the whole cycle; the engines take turns. Both
// daemons run in the bench's network namespace, so their bridges and
// rules never touch the host's.
func bridge50(b *bench) []row {
	n := b.sz.parallel
	fig := fmt.Sprintf("create + start + remove %d containers on the default bridge (sequential run -d, one rm -f)", n)
	var sides []side
	for _, name := range []string{"gorae", "docker-bridge"} {
		e, why := b.engine(name)
		s := side{name: name, peer: name != "gorae", preset: why}
		if e != nil {
			s.once = func(int) (time.Duration, error) { return b.bridgeCycle(e, n) }
			defer func() {
				if name != "gorae" {
					b.stopEngine(e) // the others do not need this dockerd
				}
			}()
		}
		sides = append(sides, s)
	}
	warmup, rounds := 0, 1
	if b.sz.rounds > 1 {
		warmup, rounds = 1, b.sz.rounds
	}
	v := b.alternate("bridge-50", sides, warmup, rounds)
	for k, x := range v {
		if x.ok() {
			// alternate measures in ms; a cycle is seconds long.
			for i := range x.samples {
				x.samples[i] /= 1000
			}
			x.unit = "s"
			v[k] = x
		}
	}
	return vsPeers(fig, v, lessThanPeer, "docker-bridge")
}

func (b *bench) bridgeCycle(e *engine, n int) (time.Duration, error) {
	t := time.Now()
	var ids []string
	for i := 0; i < n; i++ {
		c := e.cmd("run", "-d", "--network", "bridge", "--pull", "never", "busybox", "sleep", "3600")
		c.timeout = time.Minute
		out, err := b.output(c)
		if err != nil {
			b.removeContainers(e, ids)
			return 0, fmt.Errorf("run %d: %w", i+1, err)
		}
		ids = append(ids, lastField(out))
	}
	c := e.cmd(e.rmArgs(ids...)...)
	c.timeout = 5 * time.Minute
	if _, err := b.run(c); err != nil {
		b.removeContainers(e, ids)
		return 0, fmt.Errorf("rm -f: %w", err)
	}
	if left, err := b.output(e.cmd("ps", "-aq")); err == nil && strings.TrimSpace(left) != "" {
		return 0, fmt.Errorf("%d containers left after rm -f", len(strings.Fields(left)))
	}
	return time.Since(t), nil
}
