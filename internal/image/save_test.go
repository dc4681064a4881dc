package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Two images sharing a base layer, saved together: Docker 25's layout,
// every blob once, every name in manifest.json, index.json and
// repositories, every path pointing at a blob that hashes to its name.
func TestSaveLayoutAndDedup(t *testing.T) {
	f := newFixture(t)
	base := layer("base", 3000)
	a := f.tagged(spec{layers: [][]byte{base, layer("a", 100)}}, "app/a:1", "app/a:latest")
	b := f.tagged(spec{layers: [][]byte{base, layer("b", 200)}, labels: map[string]string{"b": "yes"}}, "b:2")
	data := f.save("app/a:1", "b:2", "app/a:latest")
	entries := readTar(t, data)

	names := entryNames(entries)
	want := []string{"blobs/", "blobs/sha256/"}
	blobs := map[digest.Digest]bool{}
	for _, img := range []*Image{a, b} {
		for _, d := range append([]digest.Digest{img.Manifest.Digest, img.ID}, layerDigests(img)...) {
			blobs[d] = true
		}
	}
	var sorted []string
	for d := range blobs {
		sorted = append(sorted, "blobs/sha256/"+d.Encoded())
	}
	slices.Sort(sorted)
	want = append(append(want, sorted...), "index.json", "manifest.json", "oci-layout", "repositories")
	if !slices.Equal(names, want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	// 2 manifests + 2 configs + 3 layers: the base layer once.
	if len(sorted) != 7 {
		t.Fatalf("%d blobs, want 7 (the shared base layer once)", len(sorted))
	}
	for _, e := range entries {
		if strings.HasPrefix(e.name, "blobs/sha256/") && e.typ == tar.TypeReg {
			if got := digest.FromBytes(e.data).Encoded(); "blobs/sha256/"+got != e.name {
				t.Fatalf("%s holds bytes whose digest is %s", e.name, got)
			}
		}
	}

	var items []manifestItem
	if err := json.Unmarshal(entryData(t, entries, "manifest.json"), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("manifest.json has %d entries, want 2", len(items))
	}
	if items[0].Config != "blobs/sha256/"+a.ID.Encoded() || !slices.Equal(items[0].RepoTags, []string{"app/a:1", "app/a:latest"}) {
		t.Fatalf("entry 0: %+v", items[0])
	}
	if !slices.Equal(items[1].RepoTags, []string{"b:2"}) || len(items[1].Layers) != 2 || items[1].Layers[0] != items[0].Layers[0] {
		t.Fatalf("entry 1: %+v", items[1])
	}

	idx := indexOf(t, entryData(t, entries, "index.json"))
	if idx.MediaType != ocispec.MediaTypeImageIndex || idx.SchemaVersion != 2 || len(idx.Manifests) != 3 {
		t.Fatalf("index.json: %+v", idx)
	}
	wantNames := []string{"docker.io/app/a:1", "docker.io/app/a:latest", "docker.io/library/b:2"}
	wantTags := []string{"1", "latest", "2"}
	for i, d := range idx.Manifests {
		if d.Annotations[annotationImageName] != wantNames[i] || d.Annotations[ocispec.AnnotationRefName] != wantTags[i] {
			t.Fatalf("index entry %d annotations %v", i, d.Annotations)
		}
		if d.Platform == nil || d.Platform.OS != "linux" {
			t.Fatalf("index entry %d has no platform", i)
		}
	}
	if idx.Manifests[0].Digest != a.Manifest.Digest || idx.Manifests[2].Digest != b.Manifest.Digest {
		t.Fatal("index.json does not name the images' manifests")
	}
	if got := string(entryData(t, entries, "oci-layout")); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout: %s", got)
	}
	var repos map[string]map[string]string
	if err := json.Unmarshal(entryData(t, entries, "repositories"), &repos); err != nil {
		t.Fatal(err)
	}
	if repos["app/a"]["latest"] != a.Layers[1].Digest.Encoded() || repos["b"]["2"] != b.Layers[1].Digest.Encoded() {
		t.Fatalf("repositories: %v", repos)
	}

	// Same images, same bytes.
	if again := f.save("app/a:1", "b:2", "app/a:latest"); !bytes.Equal(again, data) {
		t.Fatal("saving the same images twice gives different archives")
	}
}

func layerDigests(img *Image) []digest.Digest {
	var out []digest.Digest
	for _, l := range img.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// Names as `docker save` reads them.
func TestSaveNames(t *testing.T) {
	f := newFixture(t)
	one := f.tagged(spec{layers: [][]byte{layer("1", 10)}}, "repo:1", "repo:2", "other:x")
	two := f.tagged(spec{layers: [][]byte{layer("2", 10)}}, "repo:3")
	untagged := f.create(f.image(spec{layers: [][]byte{layer("3", 10)}}))

	tags := func(data []byte) map[string][]string {
		var items []manifestItem
		if err := json.Unmarshal(entryData(t, readTar(t, data), "manifest.json"), &items); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, it := range items {
			out[strings.TrimPrefix(it.Config, "blobs/sha256/")] = it.RepoTags
		}
		return out
	}
	// A bare repository name: every tag of it.
	got := tags(f.save("repo"))
	if len(got) != 2 || !slices.Equal(got[one.ID.Encoded()], []string{"repo:1", "repo:2"}) || !slices.Equal(got[two.ID.Encoded()], []string{"repo:3"}) {
		t.Fatalf("save repo: %v", got)
	}
	// By ID or ID prefix: no names.
	got = tags(f.save(untagged.ID.String(), one.ID.Encoded()[:12]))
	if len(got) != 2 || got[untagged.ID.Encoded()] != nil || got[one.ID.Encoded()] != nil {
		t.Fatalf("save by ID: %v", got)
	}
	// A tag names only itself; a repeated name is saved once.
	got = tags(f.save("other:x", "other:x"))
	if !slices.Equal(got[one.ID.Encoded()], []string{"other:x"}) {
		t.Fatalf("save other:x: %v", got)
	}
	var buf bytes.Buffer
	err := Save(f.ctx, f.s, []string{"nope:latest"}, &buf)
	if !errors.Is(err, ErrNotFound) || buf.Len() != 0 {
		t.Fatalf("save of a missing image: %v, %d bytes written", err, buf.Len())
	}
	if err := Save(f.ctx, f.s, nil, &buf); err == nil {
		t.Fatal("save of nothing succeeded")
	}
	if err := Save(f.ctx, f.s, []string{"UPPER"}, &buf); !errors.Is(err, ErrInvalidReference) {
		t.Fatalf("save of an invalid name: %v", err)
	}
}

// Save streams: a 32 MiB layer goes through a 1 MiB buffer, never whole
// into memory.
func TestSaveStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 32 MiB blob")
	}
	f := newFixture(t)
	big := layer("0123456789abcdef", 32<<20)
	f.tagged(spec{layers: [][]byte{big}}, "big:1")
	big = nil
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := Save(f.ctx, f.s, []string{"big:1"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("Save allocated %d bytes for a 32 MiB layer: it buffers", alloc)
	}
}

// A blob gone from under a record is reported before anything is
// written.
func TestSaveMissingBlob(t *testing.T) {
	f := newFixture(t)
	img := f.tagged(spec{layers: [][]byte{layer("x", 10)}}, "x:1")
	if err := f.cs.Delete(f.ctx, img.Layers[0].Digest); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := Save(f.ctx, f.s, []string{"x:1"}, &buf)
	if !errors.Is(err, content.ErrNotFound) || buf.Len() != 0 {
		t.Fatalf("Save: %v, %d bytes", err, buf.Len())
	}
}
