package main

import (
	"fmt"
	"path/filepath"
	"time"
)

// runtimeRun: the OCI runtime's `run` of a bundle whose process is busybox's
// /bin/true, with a fresh container id each time, against runc, crun and the
// floor: the same namespaces made by unshare(1) with a chroot instead of a
// pivot_root and no cgroups, no spec, no state.
func runtimeRun(b *bench) []row {
	const fig = "runtime run /bin/true (busybox bundle)"
	seq := 0
	id := func(tag string) string {
		seq++
		return fmt.Sprintf("%s-%s-%d", b.id, tag, seq)
	}
	noBundle := value{}
	if why, ok := b.missing["bundle"]; ok {
		noBundle = notMeasured("no bundle: " + why)
	}
	// runtime makes the side of an OCI runtime with the runc command line.
	runtime := func(name, bin string, pre []string, peer bool) side {
		root := filepath.Join(b.tmp, "state-"+name)
		s := side{name: name, peer: peer, preset: noBundle}
		if peer {
			if why := b.need(bin); why != "" {
				s.preset = notMeasured(why)
			}
		}
		s.once = func(int) (time.Duration, error) {
			cid := id(name)
			args := append(append([]string{}, pre...), "--root", root, "run", "--bundle", b.bundle, cid)
			r, err := b.run(cmd{name: bin, args: args, timeout: 30 * time.Second})
			if err != nil {
				// Leave nothing behind for cleanup to find.
				b.run(cmd{name: bin, args: append(append([]string{}, pre...), "--root", root, "delete", "--force", cid), timeout: 10 * time.Second})
			}
			return r.dur, err
		}
		return s
	}
	gorae := runtime("gorae", b.gorae, []string{"runtime"}, false)
	if b.goraeErr != nil {
		gorae.preset = failed(b.goraeErr)
	}
	floor := side{name: "floor", once: func(int) (time.Duration, error) {
		r, err := b.run(cmd{name: "unshare", args: []string{"--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
			"chroot", b.rootfs, "/bin/true"}, timeout: 30 * time.Second})
		return r.dur, err
	}}
	sides := []side{gorae, runtime("runc", "runc", nil, true), runtime("crun", "crun", nil, true), floor}
	v := b.alternate("runtime-run", sides, b.sz.warmup, b.sz.runtimeN)
	return []row{
		{figure: fig, gorae: v["gorae"], peer: "runc", peerValue: v["runc"], target: target{max: 0.5}},
		{figure: fig, gorae: v["gorae"], peer: "crun", peerValue: v["crun"]},
		{figure: fig, gorae: v["gorae"], peer: "floor: unshare + chroot", peerValue: v["floor"], target: target{max: 3}},
	}
}
