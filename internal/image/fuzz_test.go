package image

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzParseReference: no input panics, and what parses round-trips
// through both its full and its familiar form.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"busybox", "busybox:1.36", "docker.io/library/busybox:latest", "localhost:5000/a/b",
		"busybox@sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa",
		"a:b@sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa",
		"Busybox", "[::1]:5000/x", "a//b", "sha256:abc", "", ":", "@",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err == nil {
			again, err := ParseReference(ref.String())
			if err != nil || again.String() != ref.String() {
				t.Fatalf("%q parsed to %q, which re-parses to %v, %v", s, ref, again, err)
			}
			fam, err := ParseReference(FamiliarString(ref))
			if err != nil || fam.String() != ref.String() {
				t.Fatalf("%q: familiar form %q re-parses to %v, %v", s, FamiliarString(ref), fam, err)
			}
		}
		ParseTag(s)
		if p, err := ParsePlatform(s); err == nil {
			FormatPlatform(p)
		}
		// Lookup by any string never panics.
		st := &Store{images: map[digest.Digest]*Image{}, refs: map[string]refEntry{}}
		st.lookup(s)
	})
}

var manifestSeeds = []string{
	`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":20}]}`,
	`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":5,"platform":{"architecture":"arm","os":"linux","variant":"v7"}}]}`,
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha512:` + "ab" + `","size":1,"data":"aGk="}]}`,
	`{"schemaVersion":1,"fsLayers":[]}`,
	`{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":-5},"layers":null}`,
}

// FuzzParseManifest: hostile manifests and indexes never panic, and what
// validates has only valid digests and sizes.
func FuzzParseManifest(f *testing.F) {
	for _, s := range manifestSeeds {
		f.Add([]byte(s), "")
		f.Add([]byte(s), MediaTypeDockerManifest)
		f.Add([]byte(s), ocispec.MediaTypeImageIndex)
	}
	f.Fuzz(func(t *testing.T, data []byte, mediaType string) {
		DetectMediaType(data)
		if m, err := ParseManifest(mediaType, data); err == nil {
			for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
				if d.Digest.Validate() != nil || d.Size < 0 {
					t.Fatalf("validated manifest has descriptor %+v", d)
				}
			}
		}
		if idx, err := ParseIndex(mediaType, data); err == nil {
			for _, d := range idx.Manifests {
				if d.Digest.Validate() != nil || d.Size < 0 {
					t.Fatalf("validated index has descriptor %+v", d)
				}
			}
			for _, p := range []string{"linux/amd64", "linux/arm/v6", "linux/arm64", "windows/amd64"} {
				pl, _ := ParsePlatform(p)
				SelectManifest(idx, pl)
			}
		}
	})
}

// FuzzParseConfig: hostile configs never panic, nor do the things built
// from them (chain IDs, history, inspect).
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Env":["A=1"],"Healthcheck":{"Test":["CMD"]}},"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},"history":[{"created_by":"x"},{"empty_layer":true},{}]}`))
	f.Add([]byte(`{"architecture":"arm","os":"linux","variant":"v7","rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"0001-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"os":"linux"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		c.Platform()
		chain := ChainIDs(c.RootFS.DiffIDs)
		if len(chain) != len(c.RootFS.DiffIDs) {
			t.Fatal("chain length")
		}
		// A store holding an image with this config: history and inspect
		// must cope with any history/layer mismatch.
		img := &Image{ID: digest.FromBytes(data), Config: c, Layers: make([]ocispec.Descriptor, len(c.RootFS.DiffIDs)),
			LayerSizes: unknownSizes(len(c.RootFS.DiffIDs))}
		st := &Store{images: map[digest.Digest]*Image{img.ID: img}, refs: map[string]refEntry{}}
		if _, err := st.History(context.Background(), img.ID.String()); err != nil {
			t.Fatal(err)
		}
		insp, err := st.Inspect(context.Background(), img.ID.String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(insp); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzCreate: a hostile manifest in the content store, reached through
// Create as a pull or load would, never panics and never records an
// image whose blobs are not all present.
func FuzzCreate(f *testing.F) {
	for _, s := range manifestSeeds {
		f.Add([]byte(s), "", []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	}
	f.Fuzz(func(t *testing.T, doc []byte, mediaType string, config []byte) {
		ctx := context.Background()
		cs := newMemStore()
		put := func(b []byte) digest.Digest {
			d, _, err := content.WriteBlob(ctx, cs, bytes.NewReader(b), -1, "")
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		// The config is stored too, and a manifest naming it is tried as
		// well, so the fuzzer can reach config parsing through Create.
		cfgDigest := put(config)
		own := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(config))}}
		own.SchemaVersion = 2
		ownData, _ := json.Marshal(own)
		st := &Store{cs: cs, images: map[digest.Digest]*Image{}, refs: map[string]refEntry{},
			leases: map[*Lease]map[digest.Digest]struct{}{}}
		for _, b := range [][]byte{doc, ownData} {
			target := ocispec.Descriptor{MediaType: mediaType, Digest: put(b), Size: int64(len(b))}
			st.mu.Lock()
			img, err := st.resolveTarget(ctx, target, DefaultPlatform())
			st.mu.Unlock()
			if err != nil {
				continue
			}
			for _, d := range img.Blobs() {
				if _, err := cs.Info(ctx, d); err != nil {
					t.Fatalf("resolved an image whose blob %s is missing", d)
				}
			}
		}
	})
}
