package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"time"
)

// bigLayer makes, once per run, a deterministic gzip'd layer of about
// mb megabytes (files of mixed sizes, half random bytes and half text, so
// it compresses about as real layers do), and a rootfs tar of busybox plus
// that content for the image figures.
func (b *bench) bigLayer(mb int) (layer, rootTar string, err error) {
	layer = filepath.Join(b.tmp, fmt.Sprintf("layer-%dm.tar.gz", mb))
	rootTar = filepath.Join(b.tmp, fmt.Sprintf("rootfs-%dm.tar", mb))
	if _, err := os.Stat(rootTar); err == nil {
		return layer, rootTar, nil
	}
	lf, err := os.Create(layer)
	if err != nil {
		return "", "", err
	}
	defer lf.Close()
	rf, err := os.Create(rootTar)
	if err != nil {
		return "", "", err
	}
	defer rf.Close()
	zw := gzip.NewWriter(lf)
	diff := sha256.New()
	lt := tar.NewWriter(io.MultiWriter(zw, diff))
	rt := tar.NewWriter(rf)
	// busybox first, so the image can run.
	if err := addDir(rt, b.rootfs); err != nil {
		return "", "", err
	}
	rng := rand.New(rand.NewSource(42))
	text := []byte("gorae bench layer content: the quick brown whale jumps over the lazy dock.\n")
	total := int64(mb) << 20
	for i := 0; total > 0; i++ {
		size := int64(1 << (10 + rng.Intn(11))) // 1 KiB .. 1 MiB
		if size > total {
			size = total
		}
		data := make([]byte, size)
		half := size / 2
		rng.Read(data[:half])
		for j := half; j < size; j += int64(len(text)) {
			copy(data[j:], text)
		}
		hdr := &tar.Header{Name: fmt.Sprintf("data/d%02d/f%05d", i%50, i), Mode: 0o644, Size: size, ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
		for _, tw := range []*tar.Writer{lt, rt} {
			if err := tw.WriteHeader(hdr); err != nil {
				return "", "", err
			}
			if _, err := tw.Write(data); err != nil {
				return "", "", err
			}
		}
		total -= size
	}
	for _, c := range []interface{ Close() error }{lt, zw, rt} {
		if err := c.Close(); err != nil {
			return "", "", err
		}
	}
	b.layerDiffID = "sha256:" + hex.EncodeToString(diff.Sum(nil))
	return layer, rootTar, nil
}

// ociLayout wraps the layer in an OCI image layout (tag "bench"), for
// tools that unpack images rather than layers (umoci).
func (b *bench) ociLayout(layer string) (string, error) {
	dir := filepath.Join(b.tmp, "oci-layout")
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return "", err
	}
	f, err := os.Open(layer)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", err
	}
	layerHex := hex.EncodeToString(h.Sum(nil))
	if err := os.Link(layer, filepath.Join(blobs, layerHex)); err != nil && !os.IsExist(err) {
		return "", err
	}
	put := func(v any) (string, int, error) {
		data, _ := json.Marshal(v)
		sum := sha256.Sum256(data)
		hx := hex.EncodeToString(sum[:])
		return "sha256:" + hx, len(data), os.WriteFile(filepath.Join(blobs, hx), data, 0o644)
	}
	cfgDigest, cfgSize, err := put(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{b.layerDiffID}},
	})
	if err != nil {
		return "", err
	}
	mDigest, mSize, err := put(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": cfgSize},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + layerHex, "size": size}},
	})
	if err != nil {
		return "", err
	}
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mDigest, "size": mSize,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "bench"}}},
	})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// addDir writes dir's tree (regular files, dirs, symlinks) into tw.
func addDir(tw *tar.Writer, dir string) error {
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteTo(tw)
			return err
		}
		return nil
	})
}

func (b *bench) layerMB() int {
	if b.quick {
		return 64
	}
	return 200
}

// layerUnpack: gorae's layer Apply (`gorae debug apply-layer`, what the
// image store runs at create) against `tar -xzf` of the same gzip file,
// each into a fresh directory on the same disk.
func layerUnpack(b *bench) []row {
	mb := b.layerMB()
	fig := fmt.Sprintf("unpack a %d MB-of-content gzip layer", mb)
	layer, _, err := b.bigLayer(mb)
	if err != nil {
		return []row{{figure: fig, gorae: failed(err), peer: "tar -xzf", peerValue: value{status: "—"}}}
	}
	dirs := filepath.Join(b.tmp, "unpack")
	fresh := func(name string, i int) string {
		d := filepath.Join(dirs, fmt.Sprintf("%s-%d", name, i))
		os.RemoveAll(d)
		os.MkdirAll(d, 0o755)
		return d
	}
	gorae := side{name: "gorae", once: func(i int) (time.Duration, error) {
		d := fresh("gorae", i)
		defer os.RemoveAll(d)
		r, err := b.run(cmd{name: b.gorae, args: []string{"debug", "apply-layer", layer, d}, timeout: 5 * time.Minute})
		return r.dur, err
	}}
	if b.goraeErr != nil {
		gorae.preset = failed(b.goraeErr)
	}
	tarSide := side{name: "tar", peer: true, once: func(i int) (time.Duration, error) {
		d := fresh("tar", i)
		defer os.RemoveAll(d)
		r, err := b.run(cmd{name: "tar", args: []string{"-xzf", layer, "-C", d}, timeout: 5 * time.Minute})
		return r.dur, err
	}}
	// umoci unpacks an OCI image (here: one layer) into a rootfs, as an
	// image tool would; skopeo does not unpack, so it has no side here.
	umoci := side{name: "umoci", peer: true}
	if why := b.need("umoci"); why != "" {
		umoci.preset = notMeasured(why)
	} else if layout, err := b.ociLayout(layer); err != nil {
		umoci.preset = failed(err)
	} else {
		umoci.once = func(i int) (time.Duration, error) {
			d := fresh("umoci", i)
			defer os.RemoveAll(d)
			r, err := b.run(cmd{name: "umoci", args: []string{"raw", "unpack", "--image", layout + ":bench", filepath.Join(d, "rootfs")}, timeout: 5 * time.Minute})
			return r.dur, err
		}
	}
	v := b.alternate("layer-unpack", []side{gorae, tarSide, umoci}, 1, b.imageRounds())
	return []row{
		{figure: fig, gorae: v["gorae"], peer: "tar -xzf (same file, same disk)", peerValue: v["tar"], target: target{max: 1}},
		{figure: fig, gorae: v["gorae"], peer: "umoci raw unpack (same layer as an OCI image)", peerValue: v["umoci"]},
	}
}

func (b *bench) imageRounds() int {
	if b.quick {
		return 3
	}
	return 5
}

// imageLoadSave: `docker load` and `docker save` of one image with a big
// layer, through the docker CLI against gorae and dockerd (and podman's
// own load/save). The image is made by gorae (import + save), so every
// engine loads the same archive.
func imageLoadSave(b *bench) []row {
	mb := b.layerMB()
	loadFig := fmt.Sprintf("load a %d MB image (docker load)", mb)
	saveFig := fmt.Sprintf("save a %d MB image (docker save)", mb)
	fail := func(v value) []row {
		return append(vsPeers(loadFig, map[string]value{"gorae": v}, lessThanPeer, "docker", "podman"),
			vsPeers(saveFig, map[string]value{"gorae": v}, lessThanPeer, "docker", "podman")...)
	}
	_, rootTar, err := b.bigLayer(mb)
	if err != nil {
		return fail(failed(err))
	}
	g, why := b.engine("gorae")
	if g == nil {
		return fail(why)
	}
	archive := filepath.Join(b.tmp, "big-image.tar")
	if _, err := b.run(g.cmd("import", rootTar, "gorae-bench-big:latest")); err != nil {
		return fail(failed(fmt.Errorf("import: %w", err)))
	}
	if _, err := b.run(g.cmd("save", "-o", archive, "gorae-bench-big:latest")); err != nil {
		return fail(failed(fmt.Errorf("save: %w", err)))
	}
	var loads, saves []side
	for _, name := range engineNames {
		e, why := b.engine(name)
		ls := side{name: name, peer: name != "gorae", preset: why}
		ss := side{name: name, peer: name != "gorae", preset: why}
		if e != nil {
			out := filepath.Join(b.tmp, "saved-"+name+".tar")
			ls.once = func(int) (time.Duration, error) {
				b.run(e.cmd("rmi", "-f", "gorae-bench-big:latest"))
				c := e.cmd("load", "-q", "-i", archive)
				c.timeout = 5 * time.Minute
				r, err := b.run(c)
				return r.dur, err
			}
			ss.once = func(int) (time.Duration, error) {
				os.Remove(out)
				c := e.cmd("save", "-o", out, "gorae-bench-big:latest")
				c.timeout = 5 * time.Minute
				r, err := b.run(c)
				os.Remove(out)
				return r.dur, err
			}
		}
		loads, saves = append(loads, ls), append(saves, ss)
	}
	lv := b.alternate("image-load", loads, 1, b.imageRounds())
	sv := b.alternate("image-save", saves, 1, b.imageRounds())
	for _, name := range engineNames {
		if e, _ := b.engine(name); e != nil {
			b.run(e.cmd("rmi", "-f", "gorae-bench-big:latest"))
		}
	}
	return append(vsPeers(loadFig, lv, lessThanPeer, "docker", "podman"), vsPeers(saveFig, sv, lessThanPeer, "docker", "podman")...)
}
