package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The registry the pull/push figures use: Debian's docker-registry on the
// loopback of the bench's network namespace, where the daemons run too,
// so every byte moves over that namespace's lo and nothing else.
const benchRegistry = "127.0.0.1:5000"

// registryImage makes, once per run, a `docker save` archive of a
// two-layer image of about mb megabytes: one layer of random bytes, one of
// text that compresses well, both gzip'd. Every engine loads the same
// archive, so every engine pushes the same content.
func (b *bench) registryImage(mb int) (string, error) {
	archive := filepath.Join(b.tmp, fmt.Sprintf("registry-image-%dm.tar", mb))
	if _, err := os.Stat(archive); err == nil {
		return archive, nil
	}
	rng := rand.New(rand.NewSource(7))
	half := int64(mb) << 19
	text := []byte("gorae bench registry layer: compressible text, line after line after line.\n")
	fill := []func([]byte){
		func(p []byte) { rng.Read(p) },
		func(p []byte) {
			for i := 0; i < len(p); i += len(text) {
				copy(p[i:], text)
			}
		},
	}
	type layer struct {
		name   string
		diffID string
		data   []byte
	}
	var layers []layer
	for i, f := range fill {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		diff := sha256.New()
		tw := tar.NewWriter(io.MultiWriter(zw, diff))
		// Files of 4 MiB: a layer of many files, as images are.
		for j, left := 0, half; left > 0; j++ {
			n := min(left, 4<<20)
			data := make([]byte, n)
			f(data)
			hdr := &tar.Header{Name: fmt.Sprintf("layer%d/f%03d", i, j), Mode: 0o644, Size: n, ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return "", err
			}
			if _, err := tw.Write(data); err != nil {
				return "", err
			}
			left -= n
		}
		if err := tw.Close(); err != nil {
			return "", err
		}
		if err := zw.Close(); err != nil {
			return "", err
		}
		sum := sha256.Sum256(gz.Bytes())
		layers = append(layers, layer{name: hex.EncodeToString(sum[:]) + ".tar.gz", diffID: "sha256:" + hex.EncodeToString(diff.Sum(nil)), data: gz.Bytes()})
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "config": map[string]any{"Cmd": []string{"/bin/true"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layers[0].diffID, layers[1].diffID}},
	})
	cfgSum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{
		"Config": cfgName, "RepoTags": []string{"gorae-bench-reg:latest"}, "Layers": []string{layers[0].name, layers[1].name},
	}})
	f, err := os.Create(archive + ".tmp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	files := []struct {
		name string
		data []byte
	}{{cfgName, cfg}, {layers[0].name, layers[0].data}, {layers[1].name, layers[1].data}, {"manifest.json", manifest}}
	for _, e := range files {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}); err != nil {
			return "", err
		}
		if _, err := tw.Write(e.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return archive, os.Rename(archive+".tmp", archive)
}

// benchRegistryProc is a docker-registry running in the bench's netns.
type benchRegistryProc struct {
	x      *exec.Cmd
	exited chan struct{}
}

// startRegistry runs docker-registry in the bench's network namespace on
// benchRegistry, storing under root (emptied first), and waits until it
// answers /v2/.
func (b *bench) startRegistry(root string) (*benchRegistryProc, error) {
	ns, err := b.netnsPath()
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(root, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(root, "data"), benchRegistry)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(root, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	x := exec.Command("nsenter", "--net="+ns, "docker-registry", "serve", cfg)
	x.Stdout, x.Stderr = logf, logf
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := x.Start(); err != nil {
		return nil, err
	}
	r := &benchRegistryProc{x: x, exited: make(chan struct{})}
	go func() { x.Wait(); close(r.exited) }()
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, err := b.output(command("nsenter", "--net="+ns, "busybox", "wget", "-qO-", "http://"+benchRegistry+"/v2/"))
		if err == nil && strings.HasPrefix(out, "{") {
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("docker-registry exited at start: %s", lastLines(filepath.Join(root, "registry.log"), 2))
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("docker-registry did not answer on %s in the netns: %s", benchRegistry, lastLines(filepath.Join(root, "registry.log"), 2))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the registry by its pid and waits for it.
func (r *benchRegistryProc) stop() {
	if r == nil {
		return
	}
	r.x.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.x.Process.Kill()
		<-r.exited
	}
}

// registryPushPull: push of the two-layer image to an empty loopback
// registry, and pull of it back into an engine that does not have it,
// gorae and dockerd through the docker CLI, and skopeo (push from the
// docker-archive file, pull into an OCI layout: skopeo does not unpack).
// The target: at least 1.5× dockerd's throughput, i.e. at most
// 0.67× its time.
func registryPushPull(b *bench) []row {
	mb := b.layerMB()
	pushFig := fmt.Sprintf("push a %d MB two-layer image (one random, one compressible) to a loopback registry", mb)
	pullFig := fmt.Sprintf("pull it back (%d MB two-layer image, from a loopback registry)", mb)
	t := target{max: 1 / 1.5}
	peers := func(fig string, v map[string]value) []row {
		return []row{
			{figure: fig, gorae: v["gorae"], peer: peerLabel["docker"], peerValue: v["docker"], target: t},
			{figure: fig, gorae: v["gorae"], peer: "skopeo copy", peerValue: v["skopeo"]},
		}
	}
	fail := func(v value) []row {
		all := map[string]value{"gorae": v, "docker": {status: "—"}, "skopeo": {status: "—"}}
		return append(peers(pushFig, all), peers(pullFig, all)...)
	}
	if why := b.need("docker-registry", "busybox"); why != "" {
		return fail(notMeasured(why))
	}
	archive, err := b.registryImage(mb)
	if err != nil {
		return fail(failed(err))
	}
	ns, err := b.netnsPath()
	if err != nil {
		return fail(failed(err))
	}
	root := filepath.Join(b.tmp, "registry")
	var reg *benchRegistryProc
	b.atCleanup("stop docker-registry", func() error { reg.stop(); return nil })
	fresh := func() error {
		reg.stop()
		reg, err = b.startRegistry(root)
		return err
	}
	ref := benchRegistry + "/bench/img:v1"
	engines := map[string]*engine{}
	var pushes, pulls []side
	for _, name := range []string{"gorae", "docker"} {
		e, why := b.engine(name)
		ps := side{name: name, peer: name != "gorae", preset: why}
		pl := side{name: name, peer: name != "gorae", preset: why}
		if e != nil {
			load := e.cmd("load", "-q", "-i", archive)
			load.timeout = 5 * time.Minute
			if _, err := b.run(load); err != nil {
				ps.preset = failed(fmt.Errorf("load: %w", err))
			} else if _, err := b.run(e.cmd("tag", "gorae-bench-reg:latest", ref)); err != nil {
				ps.preset = failed(fmt.Errorf("tag: %w", err))
			}
			pl.preset = ps.preset
			if name != "gorae" && ps.preset.status != "" {
				ps.preset = notMeasured(ps.preset.status)
				pl.preset = ps.preset
			}
			engines[name] = e
			ps.once = func(int) (time.Duration, error) {
				if err := fresh(); err != nil {
					return 0, err
				}
				c := e.cmd("push", ref)
				c.timeout = 10 * time.Minute
				r, err := b.run(c)
				return r.dur, err
			}
			pl.once = func(int) (time.Duration, error) {
				b.run(e.cmd("rmi", "-f", ref))
				c := e.cmd("pull", ref)
				c.timeout = 10 * time.Minute
				r, err := b.run(c)
				return r.dur, err
			}
		}
		pushes, pulls = append(pushes, ps), append(pulls, pl)
	}
	sk := side{name: "skopeo", peer: true}
	skPull := side{name: "skopeo", peer: true}
	if why := b.need("skopeo"); why != "" {
		sk.preset, skPull.preset = notMeasured(why), notMeasured(why)
	} else {
		layout := filepath.Join(b.tmp, "skopeo-pull")
		sk.once = func(int) (time.Duration, error) {
			if err := fresh(); err != nil {
				return 0, err
			}
			c := command("nsenter", "--net="+ns, "skopeo", "copy", "-q", "--insecure-policy", "--dest-tls-verify=false", "docker-archive:"+archive, "docker://"+ref)
			c.timeout = 10 * time.Minute
			r, err := b.run(c)
			return r.dur, err
		}
		skPull.once = func(int) (time.Duration, error) {
			os.RemoveAll(layout)
			c := command("nsenter", "--net="+ns, "skopeo", "copy", "-q", "--insecure-policy", "--src-tls-verify=false", "docker://"+ref, "oci:"+layout+":v1")
			c.timeout = 10 * time.Minute
			r, err := b.run(c)
			os.RemoveAll(layout)
			return r.dur, err
		}
	}
	rounds := b.imageRounds()
	pushV := b.alternate("registry-push", append(pushes, sk), 1, rounds)

	// The pulls all fetch what gorae pushed (the archive's own blobs),
	// from a registry that keeps it; each engine first forgets the image.
	var pullV map[string]value
	if g := engines["gorae"]; g == nil || pushes[0].preset.status != "" {
		pullV = map[string]value{"gorae": pushes[0].preset, "docker": {status: "—"}, "skopeo": {status: "—"}}
	} else if err := fresh(); err != nil {
		pullV = map[string]value{"gorae": failed(err), "docker": {status: "—"}, "skopeo": {status: "—"}}
	} else if _, err := b.run(g.cmd("push", ref)); err != nil {
		pullV = map[string]value{"gorae": failed(fmt.Errorf("push for the pull figure: %w", err)), "docker": {status: "—"}, "skopeo": {status: "—"}}
	} else {
		for _, e := range engines {
			b.run(e.cmd("rmi", "-f", "gorae-bench-reg:latest", ref))
		}
		pullV = b.alternate("registry-pull", append(pulls, skPull), 1, rounds)
	}
	for _, e := range engines {
		b.run(e.cmd("rmi", "-f", "gorae-bench-reg:latest", ref))
	}
	reg.stop()
	reg = nil
	os.RemoveAll(root)
	for _, v := range []map[string]value{pushV, pullV} {
		for k, x := range v {
			v[k] = inSeconds(x)
		}
	}
	return append(peers(pushFig, pushV), peers(pullFig, pullV)...)
}

// inSeconds turns a value in ms into seconds, which read better for
// transfers of hundreds of megabytes.
func inSeconds(v value) value {
	if v.unit != "ms" {
		return v
	}
	out := value{unit: "s", status: v.status}
	for _, s := range v.samples {
		out.samples = append(out.samples, s/1000)
	}
	return out
}
