package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// SaveOCILayout, then LoadOCILayout into a fresh store.
func TestOCILayoutDirRoundTrip(t *testing.T) {
	src := newFixture(t)
	base := layer("base", 2000)
	a := src.tagged(spec{layers: [][]byte{base}}, "a:1")
	b := src.tagged(spec{layers: [][]byte{base, layer("b", 10)}}, "b:1")
	dir := filepath.Join(t.TempDir(), "layout")
	if err := SaveOCILayout(src.ctx, src.s, []string{"a:1"}, dir); err != nil {
		t.Fatal(err)
	}
	// A second save adds to the layout; saving a name again replaces it.
	if err := SaveOCILayout(src.ctx, src.s, []string{"b:1", "a:1"}, dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	idx := indexOf(t, data)
	var names []string
	for _, d := range idx.Manifests {
		names = append(names, d.Annotations[annotationImageName])
	}
	if !slices.Equal(names, []string{"docker.io/library/b:1", "docker.io/library/a:1"}) {
		t.Fatalf("index names %v", names)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "oci-layout")); string(got) != ociLayoutContent {
		t.Fatalf("oci-layout %s", got)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if len(entries) != 6 { // 2 manifests, 2 configs, 2 layers: the base once
		t.Fatalf("%d blobs in the layout, want 6", len(entries))
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if digest.FromBytes(b).Encoded() != e.Name() {
			t.Fatalf("blob %s is not its digest", e.Name())
		}
	}

	dst := newFixture(t)
	var lines []string
	loaded, err := LoadOCILayout(dst.ctx, dst.s, dir, func(m string) { lines = append(lines, m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 || loaded[0].Image.ID != b.ID || loaded[1].Image.ID != a.ID {
		t.Fatalf("loaded %+v", loaded)
	}
	if !slices.Equal(lines, []string{"Loaded image: b:1", "Loaded image: a:1"}) {
		t.Fatalf("progress %v", lines)
	}
	if got, _ := dst.s.Get(dst.ctx, "a:1"); got.Manifest.Digest != a.Manifest.Digest {
		t.Fatal("a:1 came back with another manifest")
	}
	if err := dst.s.Verify(dst.ctx); err != nil {
		t.Fatal(err)
	}
}

// An unpacked docker save archive is a directory LoadOCILayout reads too.
func TestLoadUnpackedArchive(t *testing.T) {
	gz, err := os.ReadFile("testdata/docker20-save.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := decompress(background(), bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		p := filepath.Join(dir, hdr.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		switch hdr.Typeflag {
		case tar.TypeReg:
			var buf bytes.Buffer
			buf.ReadFrom(tr)
			os.WriteFile(p, buf.Bytes(), 0o644)
		case tar.TypeSymlink:
			os.Symlink(hdr.Linkname, p)
		}
	}
	f := newFixture(t)
	loaded, err := LoadOCILayout(f.ctx, f.s, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 3 || loaded[2].Image.ID != "sha256:e2d9b639f0ee8e467f9d76a03c2587c3c19977f18c9fe4d57ba60222a8a53dc3" {
		t.Fatalf("loaded %+v", loaded)
	}
}

// A layout directory cannot make a load read outside it, and a failed
// load registers nothing.
func TestLoadOCILayoutHostile(t *testing.T) {
	src := newFixture(t)
	img := src.tagged(spec{layers: [][]byte{layer("x", 100)}}, "x:1")
	dir := filepath.Join(t.TempDir(), "layout")
	if err := SaveOCILayout(src.ctx, src.s, []string{"x:1"}, dir); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte(layer("x", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	lp := filepath.Join(dir, "blobs", "sha256", img.Layers[0].Digest.Encoded())
	os.Remove(lp)
	if err := os.Symlink(outside, lp); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	_, err := LoadOCILayout(f.ctx, f.s, dir, nil)
	mustContain(t, err, "layer 0 of manifest", "escapes")
	f.expectNothingRegistered(0)

	// A blob whose bytes are not its name.
	os.Remove(lp)
	os.WriteFile(lp, []byte("other bytes"), 0o644)
	_, err = LoadOCILayout(f.ctx, f.s, dir, nil)
	mustContain(t, err, "digest mismatch")
	f.expectNothingRegistered(0)

	// No layout at all.
	_, err = LoadOCILayout(f.ctx, f.s, t.TempDir(), nil)
	mustContain(t, err, "neither manifest.json nor index.json")
}

// SaveOCILayout writes only into an empty directory or a layout.
func TestSaveOCILayoutRefusesOtherDirectories(t *testing.T) {
	f := newFixture(t)
	f.tagged(spec{layers: [][]byte{layer("x", 10)}}, "x:1")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644)
	err := SaveOCILayout(f.ctx, f.s, []string{"x:1"}, dir)
	mustContain(t, err, "not empty and not an OCI image layout")
	if got := treeOf(t, dir); !slices.Equal(got, []string{".", "precious"}) {
		t.Fatalf("the directory was written into: %v", got)
	}
	// A layout whose index.json is damaged is not overwritten either.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(ociLayoutContent), 0o644)
	os.WriteFile(filepath.Join(dir, "index.json"), []byte("{"), 0o644)
	err = SaveOCILayout(f.ctx, f.s, []string{"x:1"}, dir)
	mustContain(t, err, "index.json")
	if data, _ := os.ReadFile(filepath.Join(dir, "index.json")); string(data) != "{" {
		t.Fatal("a damaged index.json was overwritten")
	}
}

// Docker 25.0's graphdriver save wrote OCI manifests without their layers;
// manifest.json is what a load trusts then.
func TestLoadDocker25LayerlessManifest(t *testing.T) {
	src := newFixture(t)
	img := src.tagged(spec{layers: [][]byte{layer("x", 100)}}, "x:1")
	entries := readTar(t, src.save("x:1"))
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: img.ConfigDescriptor}
	m.SchemaVersion = 2
	mdata, _ := json.Marshal(m)
	md := digest.FromBytes(mdata)
	idx := indexOf(t, entryData(t, entries, "index.json"))
	idx.Manifests[0].Digest, idx.Manifests[0].Size = md, int64(len(mdata))
	var out []tarEntry
	for _, e := range entries {
		if e.name == "index.json" {
			e = jsonFile(t, "index.json", idx)
		}
		out = append(out, e)
	}
	out = append(out, file("blobs/sha256/"+md.Encoded(), mdata))
	f := newFixture(t)
	loaded, lines := f.load(makeTar(t, out...))
	if loaded[0].Image.ID != img.ID || !slices.Equal(lines, []string{"Loaded image: x:1"}) {
		t.Fatalf("loaded %s, said %v", loaded[0].Image.ID, lines)
	}
	if got := loaded[0].Image; got.Manifest.Digest == md || len(got.Layers) != 1 {
		t.Fatalf("the layerless manifest was used: %+v", got.Manifest)
	}
}
