package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzLoad: no archive makes Load panic, and whatever it accepts leaves a
// store whose every image has its blobs; whatever it refuses registers
// nothing. Run with -fuzztime 5000x (counts, not durations: Go 1.26's
// coordinator fails duration-based runs spuriously).
func FuzzLoad(f *testing.F) {
	// Seeds: what Save writes, the legacy and OCI-only forms, Docker
	// 20.10's archive, and the hostile shapes of TestLoadHostile.
	src := newFixture(f)
	src.tagged(spec{layers: [][]byte{tarLayer(f, "a", "1"), tarLayer(f, "b", "2")}}, "seed:1")
	saved := src.save("seed:1")
	f.Add(saved)
	var ociOnly []tarEntry
	for _, e := range readTar(f, saved) {
		if e.name != "manifest.json" && e.name != "repositories" {
			ociOnly = append(ociOnly, e)
		}
	}
	f.Add(makeTar(f, ociOnly...))
	f.Add(legacyArchive(f, nil))
	f.Add(legacyArchive(f, func(_ *[]manifestItem, files map[string]tarEntry) []tarEntry {
		files["l1/layer.tar"] = tarEntry{name: "l1/layer.tar", typ: '2', linkname: "../../etc/passwd"}
		return nil
	}))
	if gz, err := os.ReadFile("testdata/docker20-save.tar.gz"); err == nil {
		if zr, err := gzip.NewReader(bytes.NewReader(gz)); err == nil {
			if plain, err := io.ReadAll(zr); err == nil {
				f.Add(plain)
			}
		}
	}
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("i"), Size: 1}}}
	idx.SchemaVersion = 2
	f.Add(makeTar(f, jsonFile(f, "index.json", idx)))
	f.Add(makeTar(f, file("manifest.json", []byte(`[{"Config":"../c","Layers":["/x"]}]`))))
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0})

	ctx := context.Background()
	s, err := NewStore(ctx, f.TempDir(), newMemStore())
	if err != nil {
		f.Fatal(err)
	}
	runs := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		before := len(s.Images())
		loaded, err := Load(ctx, s, bytes.NewReader(data), func(string) {})
		if err != nil {
			if n := len(s.Images()); n != before {
				t.Fatalf("a refused load (%v) changed the number of images from %d to %d", err, before, n)
			}
		} else if len(loaded) == 0 {
			t.Fatal("Load succeeded but loaded nothing")
		}
		if err := s.Verify(ctx); err != nil {
			t.Fatalf("after Load (%v): %v", err, err)
		}
		if runs++; runs%200 == 0 {
			s.GC(ctx, GCOptions{}) // keep the in-memory store small
		}
	})
}
