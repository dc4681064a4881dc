package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Save, then Load into a fresh store: the same image IDs, names,
// manifests and parents.
func TestSaveLoadRoundTrip(t *testing.T) {
	src := newFixture(t)
	base := layer("base", 3000)
	a := src.tagged(spec{layers: [][]byte{base}}, "a:1")
	b := src.tagged(spec{layers: [][]byte{base, layer("b", 100)}, docker: true}, "b:1", "registry.example:5000/team/b:2")
	imported, err := Import(src.ctx, src.s, bytes.NewReader(tarLayer(t, "etc/hostname", "x\n")), ImportOptions{Ref: "imp", Changes: []string{"CMD [\"/bin/sh\"]"}})
	if err != nil {
		t.Fatal(err)
	}
	child, err := src.s.Create(src.ctx, src.image(spec{layers: [][]byte{base, layer("c", 10)}, labels: map[string]string{"c": "1"}}), WithParent(a.ID))
	if err != nil {
		t.Fatal(err)
	}
	data := src.save("a:1", "b", "registry.example:5000/team/b:2", "imp:latest", child.ID.String())

	dst := newFixture(t)
	loaded, lines := dst.load(data)
	wantLines := []string{
		"Loaded image: a:1",
		"Loaded image: b:1", "Loaded image: registry.example:5000/team/b:2",
		"Loaded image: imp:latest",
		"Loaded image ID: " + child.ID.String(),
	}
	if !slices.Equal(lines, wantLines) {
		t.Fatalf("progress:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	if len(loaded) != 4 {
		t.Fatalf("loaded %d images, want 4", len(loaded))
	}
	for i, want := range []*Image{a, b, imported, child} {
		got, err := dst.s.Get(dst.ctx, want.ID.String())
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if loaded[i].Image.ID != want.ID {
			t.Fatalf("loaded[%d] is %s, want %s", i, loaded[i].Image.ID, want.ID)
		}
		if got.Manifest.Digest != want.Manifest.Digest || !slices.Equal(got.Config.RootFS.DiffIDs, want.Config.RootFS.DiffIDs) {
			t.Fatalf("image %d: manifest %s, want %s (the saved manifest should come back)", i, got.Manifest.Digest, want.Manifest.Digest)
		}
		if !slices.Equal(dst.names(want.ID), src.names(want.ID)) && want != child {
			t.Fatalf("image %d names %v, want %v", i, dst.names(want.ID), src.names(want.ID))
		}
	}
	if got, _ := dst.s.Get(dst.ctx, child.ID.String()); got.Parent != a.ID {
		t.Fatalf("child's parent is %q, want %s (manifest.json's Parent)", got.Parent, a.ID)
	}
	if got, _ := dst.s.Get(dst.ctx, "imp"); got.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Fatalf("imported layer came back as %s", got.Layers[0].MediaType)
	}

	// Loading again changes nothing and says the same.
	_, again := dst.load(data)
	if !slices.Equal(again, wantLines) {
		t.Fatalf("second load said %v", again)
	}

	// The archive's metadata may come first: one pass still does.
	entries := readTar(t, data)
	slices.SortStableFunc(entries, func(x, y tarEntry) int {
		return boolInt(strings.HasPrefix(x.name, "blobs/")) - boolInt(strings.HasPrefix(y.name, "blobs/"))
	})
	if !strings.HasSuffix(entries[0].name, ".json") {
		t.Fatalf("reorder failed: %v", entryNames(entries))
	}
	third := newFixture(t)
	if _, lines := third.load(makeTar(t, entries...)); !slices.Equal(lines, wantLines) {
		t.Fatalf("metadata-first load said %v", lines)
	}

	// Compressed archives load too (docker save | gzip).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	fourth := newFixture(t)
	if _, lines := fourth.load(gz.Bytes()); !slices.Equal(lines, wantLines) {
		t.Fatalf("gzip'd load said %v", lines)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// An archive written by Docker 20.10 (the format of Docker 1.10 to 24):
// <v1 id>/layer.tar (one of them a symlink to another), <id>.json
// configs, manifest.json, repositories. Made by testdata/docker20-save.sh.
func TestLoadDocker20Archive(t *testing.T) {
	gz, err := os.ReadFile("testdata/docker20-save.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	loaded, lines := f.load(gz)
	want := []string{"Loaded image: tiny:base", "Loaded image: tiny:other", "Loaded image: tiny:child"}
	if !slices.Equal(lines, want) {
		t.Fatalf("progress %v, want %v", lines, want)
	}
	ids := map[string]string{
		"tiny:base":  "sha256:99ec2ea7047904ac03f832ad530ac42b72e58a50e8d7147a582aa220f72087a1",
		"tiny:other": "sha256:78ef83a9b4cb5a3b6c11c77806c3ebd580425c0ea78eee9be761122d5f3dde6b",
		"tiny:child": "sha256:e2d9b639f0ee8e467f9d76a03c2587c3c19977f18c9fe4d57ba60222a8a53dc3",
	}
	for i, l := range loaded {
		if l.Image.ID.String() != ids[l.Tags[0]] {
			t.Fatalf("loaded[%d] %v is %s, want %s", i, l.Tags, l.Image.ID, ids[l.Tags[0]])
		}
	}
	baseDiff := digest.Digest("sha256:1f27da33fe57a0cca3283d2a0c762bff903192694f2a24149d648eb04fad949d")
	child, _ := f.s.Get(f.ctx, "tiny:child")
	if len(child.Layers) != 2 || child.Layers[0].Digest != baseDiff || child.Layers[0].MediaType != ocispec.MediaTypeImageLayer {
		t.Fatalf("child layers %+v: want the uncompressed base layer first, stored as it came", child.Layers)
	}
	other, _ := f.s.Get(f.ctx, "tiny:other") // its layer.tar is a symlink to base's
	if other.Layers[0].Digest != baseDiff {
		t.Fatalf("tiny:other's (symlinked) layer is %s", other.Layers[0].Digest)
	}
	// The layer blob is the layer, byte for byte.
	if d := sha256Of(f.blobBytes(baseDiff)); d != baseDiff {
		t.Fatalf("stored layer hashes to %s", d)
	}
}

// An OCI layout without manifest.json: names from the annotations.
func TestLoadOCILayoutTar(t *testing.T) {
	src := newFixture(t)
	img := src.tagged(spec{layers: [][]byte{layer("x", 100)}}, "x:1")
	var keep []tarEntry
	for _, e := range readTar(t, src.save("x:1")) {
		if e.name != "manifest.json" && e.name != "repositories" {
			keep = append(keep, e)
		}
	}
	f := newFixture(t)
	loaded, lines := f.load(makeTar(t, keep...))
	if len(loaded) != 1 || loaded[0].Image.ID != img.ID || !slices.Equal(lines, []string{"Loaded image: x:1"}) {
		t.Fatalf("loaded %+v, said %v", loaded, lines)
	}

	// Only a ref.name: read as an image name, as Docker reads it (a
	// bare tag becomes a repository); one that is no name names nothing.
	idx := indexOf(t, entryData(t, keep, "index.json"))
	for _, tc := range []struct{ refName, want string }{
		{"example.com/r/x:2", "Loaded image: example.com/r/x:2"},
		{"test", "Loaded image: test:latest"},
		{"v1.0+build", "Loaded image ID: " + img.ID.String()},
	} {
		idx.Manifests[0].Annotations = map[string]string{ocispec.AnnotationRefName: tc.refName}
		var entries []tarEntry
		for _, e := range keep {
			if e.name == "index.json" {
				e = jsonFile(t, "index.json", idx)
			}
			entries = append(entries, e)
		}
		g := newFixture(t)
		_, lines := g.load(makeTar(t, entries...))
		if lines[len(lines)-1] != tc.want {
			t.Fatalf("ref.name %q: said %v, want last %q", tc.refName, lines, tc.want)
		}
	}
}

// A name that belonged to another image moves, as Docker says.
func TestLoadMovesTags(t *testing.T) {
	src := newFixture(t)
	src.tagged(spec{layers: [][]byte{layer("new", 10)}}, "app:1")
	data := src.save("app:1")
	f := newFixture(t)
	old := f.tagged(spec{layers: [][]byte{layer("old", 10)}}, "app:1", "app:keep")
	_, lines := f.load(data)
	want := []string{"The image app:1 already exists, renaming the old one with ID " + old.ID.String() + " to empty string", "Loaded image: app:1"}
	if !slices.Equal(lines, want) {
		t.Fatalf("said %v, want %v", lines, want)
	}
	if !slices.Equal(f.names(old.ID), []string{"app:keep"}) {
		t.Fatalf("old image names %v", f.names(old.ID))
	}
}

// A legacy archive built by hand, for the hostile cases.
func legacyArchive(t testing.TB, mutate func(items *[]manifestItem, files map[string]tarEntry) []tarEntry) []byte {
	t.Helper()
	l := tarLayer(t, "hello", "hi\n")
	cfg := Config{Architecture: "amd64", OS: "linux", RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(l)}}}
	cfgData, _ := json.Marshal(cfg)
	items := []manifestItem{{Config: "cfg.json", RepoTags: []string{"h:1"}, Layers: []string{"l1/layer.tar"}}}
	files := map[string]tarEntry{"cfg.json": file("cfg.json", cfgData), "l1/layer.tar": file("l1/layer.tar", l)}
	var extra []tarEntry
	if mutate != nil {
		extra = mutate(&items, files)
	}
	var entries []tarEntry
	for _, name := range slices.Sorted(maps.Keys(files)) {
		entries = append(entries, files[name])
	}
	entries = append(entries, extra...)
	if items != nil {
		entries = append(entries, jsonFile(t, "manifest.json", items))
	}
	return makeTar(t, entries...)
}

// Hostile and broken archives: a clear error, nothing registered, only
// collectable blobs left, nothing written outside the store.
func TestLoadHostile(t *testing.T) {
	okLayer := tarLayer(t, "hello", "hi\n")
	wrong := []byte("not the blob its name says")
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		want []string
		is   error
	}{
		{"valid (control)", func(t *testing.T) []byte { return legacyArchive(t, nil) }, nil, nil},
		{"entry climbing out", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, _ map[string]tarEntry) []tarEntry {
				return []tarEntry{file("../../evil", []byte("x"))}
			})
		}, []string{`"../../evil" climbs out`}, nil},
		{"manifest path climbing out", func(t *testing.T) []byte {
			return legacyArchive(t, func(items *[]manifestItem, _ map[string]tarEntry) []tarEntry {
				(*items)[0].Layers[0] = "l1/../../l1/layer.tar"
				return nil
			})
		}, []string{"climbs out"}, nil},
		{"symlink out of the archive", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["l1/layer.tar"] = tarEntry{name: "l1/layer.tar", typ: tar.TypeSymlink, linkname: "../../../../etc/passwd"}
				return nil
			})
		}, []string{"outside the archive"}, nil},
		{"absolute symlink stays in the archive", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["l1/layer.tar"] = tarEntry{name: "l1/layer.tar", typ: tar.TypeSymlink, linkname: "/etc/passwd"}
				return nil
			})
		}, []string{`"etc/passwd"`, "is not in the archive"}, nil},
		{"hard link out of the archive", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["l1/layer.tar"] = tarEntry{name: "l1/layer.tar", typ: tar.TypeLink, linkname: "../x"}
				return nil
			})
		}, []string{"outside the archive"}, nil},
		{"symlink loop", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["l1/layer.tar"] = tarEntry{name: "l1/layer.tar", typ: tar.TypeSymlink, linkname: "../l2/layer.tar"}
				files["l2/layer.tar"] = tarEntry{name: "l2/layer.tar", typ: tar.TypeSymlink, linkname: "../l1/layer.tar"}
				return nil
			})
		}, []string{"links to follow"}, nil},
		{"device node as layer", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["l1/layer.tar"] = tarEntry{name: "l1/layer.tar", typ: tar.TypeChar}
				return nil
			})
		}, []string{"not a regular file"}, nil},
		{"missing layer", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				delete(files, "l1/layer.tar")
				return nil
			})
		}, []string{`layer 0: "l1/layer.tar" is not in the archive`}, nil},
		{"missing config", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				delete(files, "cfg.json")
				return nil
			})
		}, []string{`config: "cfg.json" is not in the archive`}, nil},
		{"config not JSON", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["cfg.json"] = file("cfg.json", []byte("{"))
				return nil
			})
		}, []string{"config", "not valid JSON"}, ErrInvalidManifest},
		{"more layers than diff_ids", func(t *testing.T) []byte {
			return legacyArchive(t, func(items *[]manifestItem, _ map[string]tarEntry) []tarEntry {
				(*items)[0].Layers = append((*items)[0].Layers, "l1/layer.tar")
				return nil
			})
		}, []string{"2 layers but its config has 1 diff_ids"}, ErrInvalidManifest},
		{"uncompressed layer that is not its diff_id", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["l1/layer.tar"] = file("l1/layer.tar", tarLayer(t, "other", "x"))
				return nil
			})
		}, []string{"should be the diff_id"}, content.ErrDigestMismatch},
		{"bzip2 layer", func(t *testing.T) []byte {
			return legacyArchive(t, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
				files["l1/layer.tar"] = file("l1/layer.tar", []byte("BZh91AY&SY"))
				return nil
			})
		}, []string{"bzip2-compressed"}, nil},
		{"RepoTags entry not a tag", func(t *testing.T) []byte {
			return legacyArchive(t, func(items *[]manifestItem, _ map[string]tarEntry) []tarEntry {
				(*items)[0].RepoTags = []string{"Upper:1"}
				return nil
			})
		}, []string{`RepoTags entry "Upper:1"`}, ErrInvalidReference},
		{"digest mismatch", func(t *testing.T) []byte {
			return makeTar(t, file("blobs/sha256/"+digest.FromBytes(okLayer).Encoded(), wrong))
		}, []string{"digest mismatch"}, content.ErrDigestMismatch},
		{"manifest.json too large", func(t *testing.T) []byte {
			return makeTar(t, tarEntry{name: "manifest.json", data: []byte("["), size: maxArchiveMetadataBytes + 1})
		}, []string{"manifest.json is", "more than"}, nil},
		{"huge entry, truncated", func(t *testing.T) []byte {
			return makeTar(t, tarEntry{name: "l/layer.tar", data: []byte("abc"), size: 1 << 40})
		}, []string{"unexpected EOF"}, nil},
		{"second image broken: nothing registered", func(t *testing.T) []byte {
			return legacyArchive(t, func(items *[]manifestItem, _ map[string]tarEntry) []tarEntry {
				*items = append(*items, manifestItem{Config: "cfg.json", RepoTags: []string{"h:2"}, Layers: []string{"gone"}})
				return nil
			})
		}, []string{"manifest.json entry 1", `"gone" is not in the archive`}, nil},
		{"manifest.json not a list", func(t *testing.T) []byte {
			return makeTar(t, file("manifest.json", []byte(`{"Config":1}`)))
		}, []string{"manifest.json is not a docker save manifest"}, nil},
		{"manifest.json empty list", func(t *testing.T) []byte {
			return makeTar(t, file("manifest.json", []byte(`[]`)))
		}, []string{"manifest.json lists no images"}, nil},
		{"index.json naming a missing blob", func(t *testing.T) []byte {
			idx := ocispec.Index{Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("m"), Size: 1}}}
			idx.SchemaVersion = 2
			return makeTar(t, file("oci-layout", []byte(ociLayoutContent)), jsonFile(t, "index.json", idx))
		}, []string{"index.json entry 0", "is not in the archive"}, nil},
		{"oci-layout of another version", func(t *testing.T) []byte {
			return makeTar(t, file("oci-layout", []byte(`{"imageLayoutVersion":"2.0.0"}`)), file("index.json", []byte(`{"schemaVersion":2,"manifests":[]}`)))
		}, []string{"imageLayoutVersion"}, nil},
		{"Docker before 1.10", func(t *testing.T) []byte {
			return makeTar(t, file("repositories", []byte(`{}`)), file("0123/layer.tar", okLayer))
		}, []string{"older than 1.10"}, nil},
		{"no metadata", func(t *testing.T) []byte { return makeTar(t, file("x", []byte("y"))) }, []string{"neither manifest.json nor index.json"}, nil},
		{"empty archive", func(t *testing.T) []byte { return makeTar(t) }, []string{"archive is empty"}, nil},
		{"not a tar", func(t *testing.T) []byte {
			return []byte("this is not a tar archive at all, but it is long enough to look at")
		}, []string{"read archive"}, nil},
		{"empty input", func(t *testing.T) []byte { return nil }, []string{"archive is empty"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			f := newFixtureIn(t, filepath.Join(root, "store"))
			data := tc.data(t)
			loaded, err := Load(f.ctx, f.s, bytes.NewReader(data), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if len(loaded) != 1 {
					t.Fatalf("loaded %d", len(loaded))
				}
				return
			}
			t.Log(err)
			mustContain(t, err, tc.want...)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			f.expectNothingRegistered(0)
			if got := treeOf(t, root); slices.ContainsFunc(got, func(p string) bool { return !strings.HasPrefix(p, "store") && p != "." }) {
				t.Fatalf("something was written beside the store: %v", got)
			}
		})
	}
}

// A load holds its blobs in a lease until they are recorded: a collection
// in the middle takes nothing it needs.
func TestLoadSurvivesConcurrentGC(t *testing.T) {
	src := newFixture(t)
	src.tagged(spec{layers: [][]byte{layer("a", 5000), layer("b", 5000)}}, "g:1")
	data := src.save("g:1")
	f := newFixture(t)
	r := &gcReader{r: bytes.NewReader(data), gc: func() {
		if _, err := f.s.GC(f.ctx, GCOptions{}); err != nil {
			t.Error(err)
		}
	}}
	if _, err := Load(f.ctx, f.s, r, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Verify(f.ctx); err != nil {
		t.Fatal(err)
	}
}

// gcReader runs gc between reads.
type gcReader struct {
	r  io.Reader
	gc func()
}

func (g *gcReader) Read(p []byte) (int, error) {
	g.gc()
	if len(p) > 512 {
		p = p[:512]
	}
	return g.r.Read(p)
}

// Load streams: a 32 MiB layer goes from the archive to the content
// store through a 1 MiB buffer.
func TestLoadStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 32 MiB")
	}
	src := newFixture(t)
	src.tagged(spec{layers: [][]byte{layer("0123456789abcdef", 32<<20)}}, "big:1")
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Save(src.ctx, src.s, []string{"big:1"}, pw)) }()
	f := newFixture(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Load(f.ctx, f.s, pr, nil); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 12<<20 {
		t.Fatalf("Save piped into Load allocated %d bytes for a 32 MiB layer: something buffers", alloc)
	}
}
