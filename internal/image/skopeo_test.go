package image

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// needTool returns the path of a program the test needs; without it the
// test skips, except under CI=true, where a skip is a failure.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true forbids skipping (%s)", name, install)
		}
		t.Skipf("%s is not installed (%s)", name, install)
	}
	return p
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// busyboxImage imports a busybox root filesystem (scripts/busybox-rootfs.sh)
// as busybox:latest.
func busyboxImage(t *testing.T, f *fixture) *Image {
	t.Helper()
	needTool(t, "busybox", "apt-get install busybox-static")
	tarPath := needTool(t, "tar", "apt-get install tar")
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "busybox-rootfs.sh")
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	run(t, "sh", script, rootfs)
	rootTar := run(t, tarPath, "-C", rootfs, "-c", ".")
	img, err := Import(f.ctx, f.s, bytes.NewReader(rootTar), ImportOptions{Ref: "busybox:latest", Changes: []string{`CMD ["sh"]`}})
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.RootFS.DiffIDs[0] != digest.FromBytes(rootTar) {
		t.Fatal("busybox layer diff ID is not the tar's digest")
	}
	return img
}

// Round trips through skopeo, which no one here wrote: what Save writes,
// skopeo reads (inspect, copy to an OCI layout, to an OCI archive and to
// another docker archive), and what skopeo writes, Load and
// LoadOCILayout read back as the same image.
func TestSkopeoInterop(t *testing.T) {
	skopeo := needTool(t, "skopeo", "apt-get install skopeo")
	src := newFixture(t)
	img := busyboxImage(t, src)
	work := t.TempDir()
	saved := filepath.Join(work, "saved.tar")
	if err := os.WriteFile(saved, src.save("busybox:latest"), 0o644); err != nil {
		t.Fatal(err)
	}

	// skopeo reads our archive, and finds our tag in it.
	var info struct {
		Digest string
		Layers []string
		Os     string
	}
	if err := json.Unmarshal(run(t, skopeo, "inspect", "docker-archive:"+saved), &info); err != nil {
		t.Fatal(err)
	}
	if info.Os != "linux" || len(info.Layers) != 1 {
		t.Fatalf("skopeo inspect: %+v", info)
	}
	var cfg Config
	if err := json.Unmarshal(run(t, skopeo, "inspect", "--config", "--raw", "docker-archive:"+saved+":busybox:latest"), &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.RootFS.DiffIDs, img.Config.RootFS.DiffIDs) || !slices.Equal(cfg.Config.Cmd, []string{"sh"}) {
		t.Fatalf("skopeo sees config %+v", cfg)
	}
	// skopeo inspect lists no RepoTags for archives; that it finds the
	// image by our tag, and not by another, shows the tag is there.
	if out, err := exec.Command(skopeo, "inspect", "docker-archive:"+saved+":busybox:nope").CombinedOutput(); err == nil || !strings.Contains(string(out), "not found") {
		t.Fatalf("skopeo found busybox:nope in the archive: %v\n%s", err, out)
	}

	layoutDir := filepath.Join(work, "layoutdir")
	other := filepath.Join(work, "other.tar")
	ociArchive := filepath.Join(work, "oci.tar")
	copyTo := func(from, to string) {
		run(t, skopeo, "--insecure-policy", "copy", "-q", from, to)
	}
	copyTo("docker-archive:"+saved, "oci:"+layoutDir+":test")
	copyTo("docker-archive:"+saved, "docker-archive:"+other+":test:latest")
	copyTo("docker-archive:"+saved, "oci-archive:"+ociArchive+":test")

	// check that a load gave the image: the same ID, or, where skopeo
	// converted the manifest to OCI (docker-archive: to oci:), the ID of
	// the config skopeo rewrote (containers/image re-encodes it as an
	// OCI config, dropping Docker's fields such as "comment", for Docker's
	// own archives too); the same layers and command either way.
	check := func(name string, loaded []LoadedImage, err error, wantID digest.Digest, wantTags []string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(loaded) != 1 {
			t.Fatalf("%s: loaded %d images", name, len(loaded))
		}
		got := loaded[0]
		if got.Image.ID != wantID || !slices.Equal(got.Image.Config.RootFS.DiffIDs, img.Config.RootFS.DiffIDs) {
			t.Fatalf("%s: image %s with diff_ids %v, want %s with %v", name, got.Image.ID, got.Image.Config.RootFS.DiffIDs, wantID, img.Config.RootFS.DiffIDs)
		}
		if !slices.Equal(got.Image.Config.Config.Cmd, []string{"sh"}) {
			t.Fatalf("%s: Cmd %v", name, got.Image.Config.Config.Cmd)
		}
		if !slices.Equal(got.Tags, wantTags) {
			t.Fatalf("%s: tags %v, want %v", name, got.Tags, wantTags)
		}
	}
	f := newFixture(t)
	loaded, err := LoadOCILayout(f.ctx, f.s, layoutDir, nil)
	readDir := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(layoutDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// ref.name "test" reads as test:latest, as Docker reads it.
	check("skopeo's oci: layout", loaded, err, layoutConfig(t, readDir), []string{"test:latest"})

	f = newFixture(t)
	data, _ := os.ReadFile(other)
	loaded, err = Load(f.ctx, f.s, bytes.NewReader(data), nil)
	check("skopeo's docker-archive:", loaded, err, img.ID, []string{"test:latest"})

	f = newFixture(t)
	data, _ = os.ReadFile(ociArchive)
	loaded, err = Load(f.ctx, f.s, bytes.NewReader(data), nil)
	entries := readTar(t, data)
	check("skopeo's oci-archive:", loaded, err, layoutConfig(t, func(name string) []byte { return entryData(t, entries, name) }), []string{"test:latest"})

	// And our layout directory is one skopeo copies from.
	ourLayout := filepath.Join(work, "ours")
	if err := SaveOCILayout(src.ctx, src.s, []string{"busybox:latest"}, ourLayout); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(work, "back.tar")
	copyTo("oci:"+ourLayout+":latest", "docker-archive:"+back+":busybox:again")
	f = newFixture(t)
	data, _ = os.ReadFile(back)
	loaded, err = Load(f.ctx, f.s, bytes.NewReader(data), nil)
	check("skopeo's copy of our layout", loaded, err, img.ID, []string{"busybox:again"})

	// OCI to OCI, skopeo keeps the config: the ID survives a layout
	// skopeo wrote.
	layout2 := filepath.Join(work, "layout2")
	copyTo("oci:"+ourLayout+":latest", "oci:"+layout2+":v1")
	f = newFixture(t)
	loaded, err = LoadOCILayout(f.ctx, f.s, layout2, nil)
	check("skopeo's oci: copy of our layout", loaded, err, img.ID, []string{"v1:latest"})
}

// layoutConfig is the config digest of the one image of an OCI layout.
func layoutConfig(t *testing.T, read func(name string) []byte) digest.Digest {
	t.Helper()
	idx := indexOf(t, read("index.json"))
	if len(idx.Manifests) != 1 {
		t.Fatalf("layout has %d images", len(idx.Manifests))
	}
	var m struct {
		Config struct{ Digest digest.Digest }
	}
	if err := json.Unmarshal(read(blobPath(idx.Manifests[0].Digest)), &m); err != nil {
		t.Fatal(err)
	}
	return m.Config.Digest
}
