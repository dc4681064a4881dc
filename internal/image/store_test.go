package image

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCreateAndGet(t *testing.T) {
	f := newFixture(t)
	m := f.image(spec{layers: [][]byte{layer("base", 1000), layer("top", 500)}})
	img := f.create(m)
	if img.Manifest.Digest != m.Digest || img.Target.Digest != m.Digest || len(img.Layers) != 2 {
		t.Fatalf("image %+v", img)
	}
	if img.ID != img.ConfigDescriptor.Digest || img.LayerSizes[0] != -1 {
		t.Fatalf("ID %s, config %s, sizes %v", img.ID, img.ConfigDescriptor.Digest, img.LayerSizes)
	}
	f.tag("busybox", img.ID)
	f.tag("busybox:1.36", img.ID)

	hex := img.ID.Encoded()
	for _, name := range []string{
		img.ID.String(), hex, hex[:12], hex[:1], "sha256:" + hex[:5],
		"busybox", "busybox:latest", "docker.io/library/busybox:1.36", "library/busybox",
	} {
		got, err := f.s.Get(f.ctx, name)
		if err != nil || got.ID != img.ID {
			t.Errorf("Get(%q) = %v, %v", name, got, err)
		}
	}
	for _, name := range []string{"busybox:1.35", "alpine", "sha256:" + strings.Repeat("0", 64), strings.Repeat("f", 64), "fff"} {
		_, err := f.s.Get(f.ctx, name)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no such image: "+name) {
			t.Errorf("Get(%q) = %v, want ErrNotFound naming it", name, err)
		}
	}
	if _, err := f.s.Get(f.ctx, "BusyBox"); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("Get(BusyBox) = %v, want ErrInvalidReference", err)
	}
}

func TestGetAmbiguousPrefix(t *testing.T) {
	f := newFixture(t)
	// Make images until two IDs share a first hex digit.
	seen := map[byte]digest.Digest{}
	for i := 0; ; i++ {
		img := f.create(f.image(spec{layers: [][]byte{layer(string(rune('a'+i%26))+strings.Repeat("x", i), 10)}}))
		c := img.ID.Encoded()[0]
		if other, ok := seen[c]; ok && other != img.ID {
			_, err := f.s.Get(f.ctx, string(c))
			if !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("Get(%q) = %v, want ErrAmbiguous", c, err)
			}
			return
		}
		seen[c] = img.ID
	}
}

func TestCreateFromIndex(t *testing.T) {
	f := newFixture(t)
	amd := f.image(spec{arch: "amd64", layers: [][]byte{layer("amd", 100)}, platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}})
	arm := f.image(spec{arch: "arm64", layers: [][]byte{layer("arm", 100)}, platform: &ocispec.Platform{OS: "linux", Architecture: "arm64"}})
	// An entry whose blobs we never fetched: a pull fetches one platform.
	absent := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("ppc"), Size: 3,
		Platform: &ocispec.Platform{OS: "linux", Architecture: "ppc64le"}}
	for _, docker := range []bool{false, true} {
		idx := f.index(docker, absent, amd, arm)
		img := f.create(idx, WithPlatform(ocispec.Platform{OS: "linux", Architecture: "arm64"}))
		if img.Target.Digest != idx.Digest || img.Manifest.Digest != arm.Digest || img.Config.Architecture != "arm64" {
			t.Fatalf("from index: target %s manifest %s arch %s", img.Target.Digest, img.Manifest.Digest, img.Config.Architecture)
		}
		_, err := f.s.Create(f.ctx, idx, WithPlatform(ocispec.Platform{OS: "linux", Architecture: "riscv64"}))
		if !errors.Is(err, ErrNoMatchingPlatform) {
			t.Fatalf("riscv64 = %v, want ErrNoMatchingPlatform", err)
		}
		_, err = f.s.Create(f.ctx, idx, WithPlatform(ocispec.Platform{OS: "linux", Architecture: "ppc64le"}))
		if !errors.Is(err, content.ErrNotFound) {
			t.Fatalf("absent platform = %v, want content.ErrNotFound", err)
		}
	}
	// Nested: an index of an index.
	inner := f.index(false, amd)
	outer := f.index(false, inner)
	img := f.create(outer, WithPlatform(ocispec.Platform{OS: "linux", Architecture: "amd64"}))
	if img.Manifest.Digest != amd.Digest || len(img.Indexes) != 1 || img.Indexes[0].Digest != inner.Digest {
		t.Fatalf("nested: manifest %s indexes %v", img.Manifest.Digest, img.Indexes)
	}
}

func TestCreateRefuses(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		target func() ocispec.Descriptor
		is     error
		msg    string
	}{
		{"missing layer", func() ocispec.Descriptor {
			return f.image(spec{layers: [][]byte{layer("a", 10), layer("b", 10)}, noWrite: []int{1}})
		}, content.ErrNotFound, "layer 1"},
		{"missing manifest", func() ocispec.Descriptor {
			return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("nothing"), Size: 7}
		}, content.ErrNotFound, "manifest"},
		{"wrong manifest size", func() ocispec.Descriptor {
			d := f.image(spec{layers: [][]byte{layer("a", 10)}})
			d.Size++
			return d
		}, ErrInvalidManifest, "descriptor says"},
		{"diff_ids and layers differ", func() ocispec.Descriptor {
			return f.image(spec{layers: [][]byte{layer("a", 10)}, modify: func(c *Config) { c.RootFS.DiffIDs = nil }})
		}, ErrInvalidManifest, "has 1 layers but its config lists 0"},
		{"artifact", func() ocispec.Descriptor {
			m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: f.blob("application/vnd.cncf.helm.config.v1+json", []byte("{}"))}
			m.SchemaVersion = 2
			return f.jsonBlob(ocispec.MediaTypeImageManifest, m)
		}, ErrNotRunnable, "helm"},
		{"config is not a config", func() ocispec.Descriptor {
			m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: f.blob(ocispec.MediaTypeImageConfig, []byte(`{"os":"linux"}`))}
			m.SchemaVersion = 2
			return f.jsonBlob(ocispec.MediaTypeImageManifest, m)
		}, ErrInvalidManifest, "architecture"},
		{"a layer blob", func() ocispec.Descriptor {
			return f.blob(ocispec.MediaTypeImageLayerGzip, []byte("not a manifest"))
		}, ErrNotRunnable, "expected an image manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.s.Images())
			_, err := f.s.Create(f.ctx, tc.target())
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Create = %v, want %v mentioning %q", err, tc.is, tc.msg)
			}
			if n := len(f.s.Images()); n != before {
				t.Fatalf("%d images after a refused Create, want %d", n, before)
			}
		})
	}
}

func TestTagUntag(t *testing.T) {
	f := newFixture(t)
	a := f.create(f.image(spec{layers: [][]byte{layer("a", 10)}}))
	b := f.create(f.image(spec{layers: [][]byte{layer("b", 10)}}))
	f.tag("app:v1", a.ID)
	f.tag("app:latest", a.ID)
	f.tag("example.com/app:v1", a.ID)
	if got := strings.Join(f.names(a.ID), ","); got != "app:latest,app:v1,example.com/app:v1" {
		t.Fatalf("names %s", got)
	}
	got, _ := f.s.Get(f.ctx, "app")
	if got.LastTagTime.IsZero() {
		t.Fatal("LastTagTime not set by Tag")
	}
	// Moving a tag.
	f.tag("app:latest", b.ID)
	if got := strings.Join(f.names(b.ID), ","); got != "app:latest" {
		t.Fatalf("names of b: %s", got)
	}
	ref, _ := ParseReference("app:v1")
	if id, err := f.s.Untag(f.ctx, ref); err != nil || id != a.ID {
		t.Fatalf("Untag = %s, %v", id, err)
	}
	if _, err := f.s.Untag(f.ctx, ref); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Untag = %v", err)
	}
	// Digest references must name the image's own manifest.
	byDigest, _ := ParseReference("app@" + a.Manifest.Digest.String())
	if err := f.s.Tag(f.ctx, byDigest, a.ID); err != nil {
		t.Fatalf("digest ref: %v", err)
	}
	if err := f.s.Tag(f.ctx, byDigest, b.ID); err == nil {
		t.Fatal("a digest reference was pointed at another image's manifest")
	}
	if err := f.s.Tag(f.ctx, ref, digest.FromString("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Tag of a missing image = %v", err)
	}
	insp, err := f.s.Inspect(f.ctx, a.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(insp.RepoTags, ",") != "example.com/app:v1" || strings.Join(insp.RepoDigests, ",") != "app@"+a.Manifest.Digest.String() {
		t.Fatalf("RepoTags %v RepoDigests %v", insp.RepoTags, insp.RepoDigests)
	}
}

func TestPersistence(t *testing.T) {
	f := newFixture(t)
	base := f.create(f.image(spec{layers: [][]byte{layer("base", 100)}}))
	img := f.create(f.image(spec{layers: [][]byte{layer("base", 100), layer("app", 50)}}), WithParent(base.ID))
	f.tag("busybox", img.ID)
	f.tag("busybox@"+img.Manifest.Digest.String(), img.ID)
	f.reopen()
	got, err := f.s.Get(f.ctx, "busybox")
	if err != nil || got.ID != img.ID || got.Parent != base.ID || got.Created.IsZero() {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if strings.Join(f.names(img.ID), ",") != "busybox:latest,busybox@"+img.Manifest.Digest.String() {
		t.Fatalf("names after reopen: %v", f.names(img.ID))
	}
	// repositories.json is Docker's format, readable with cat.
	data, err := os.ReadFile(filepath.Join(f.root, "image", "repositories.json"))
	if err != nil {
		t.Fatal(err)
	}
	var repos map[string]map[string]map[string]string
	if err := json.Unmarshal(data, &repos); err != nil {
		t.Fatal(err)
	}
	if repos["Repositories"]["busybox"]["busybox:latest"] != img.ID.String() {
		t.Fatalf("repositories.json: %s", data)
	}
	if _, err := os.Stat(filepath.Join(f.root, "image", "images", img.ID.Encoded()+".json")); err != nil {
		t.Fatal(err)
	}
	// Leftovers of an interrupted write are removed; a dangling name
	// (hand-edited) is dropped.
	os.WriteFile(filepath.Join(f.root, "image", "images", ".tmp-x.json-123"), []byte("{"), 0o600)
	repos["Repositories"]["ghost"] = map[string]string{"ghost:latest": digest.FromString("ghost").String()}
	data, _ = json.Marshal(repos)
	os.WriteFile(filepath.Join(f.root, "image", "repositories.json"), data, 0o600)
	f.reopen()
	if _, err := f.s.Get(f.ctx, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ghost: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "image", "images", ".tmp-x.json-123")); !os.IsNotExist(err) {
		t.Fatal("temp file survived reopening")
	}
	if err := f.s.Verify(f.ctx); err != nil {
		t.Fatal(err)
	}
	// A corrupt record stops the store with the path and what to do.
	os.WriteFile(filepath.Join(f.root, "image", "images", img.ID.Encoded()+".json"), []byte("{"), 0o600)
	_, err = NewStore(f.ctx, f.root+"/image", f.cs)
	if err == nil || !strings.Contains(err.Error(), img.ID.Encoded()+".json is corrupt") || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("corrupt record: %v", err)
	}
}

func TestVerifyReportsMissingBlob(t *testing.T) {
	f := newFixture(t)
	img := f.create(f.image(spec{layers: [][]byte{layer("a", 10)}}))
	f.cs.Delete(f.ctx, img.Layers[0].Digest)
	err := f.s.Verify(f.ctx)
	if err == nil || !strings.Contains(err.Error(), img.ID.String()) {
		t.Fatalf("Verify = %v", err)
	}
}

func TestParentLoopRefused(t *testing.T) {
	f := newFixture(t)
	a := f.create(f.image(spec{layers: [][]byte{layer("a", 10)}}))
	b := f.create(f.image(spec{layers: [][]byte{layer("b", 10)}}), WithParent(a.ID))
	for _, target := range []*Image{a, b} {
		if _, err := f.s.Create(f.ctx, target.Manifest, WithParent(b.ID)); err == nil || !strings.Contains(err.Error(), "own ancestor") {
			t.Fatalf("parent loop through %s: %v", shortID(target.ID.String()), err)
		}
	}
}
