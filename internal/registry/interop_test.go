package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/testenv"
)

// storeImage writes an image of the given layers into a content store, as
// an OCI or a Docker schema2 manifest.
func storeImage(t *testing.T, cs content.Store, docker bool, layers ...[]byte) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	put := func(mt string, data []byte) ocispec.Descriptor {
		d, n, err := content.WriteBlob(ctx, cs, bytes.NewReader(data), int64(len(data)), "")
		if err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: n}
	}
	layerMT, configMT, manifestMT := ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest
	if docker {
		layerMT, configMT, manifestMT = image.MediaTypeDockerLayerGzip, image.MediaTypeDockerConfig, image.MediaTypeDockerManifest
	}
	m := ocispec.Manifest{MediaType: manifestMT}
	m.SchemaVersion = 2
	var diffIDs []digest.Digest
	for _, l := range layers {
		m.Layers = append(m.Layers, put(layerMT, l))
		diffIDs = append(diffIDs, digest.FromBytes(l))
	}
	cfg, _ := json.Marshal(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}})
	m.Config = put(configMT, cfg)
	data, _ := json.Marshal(m)
	return put(manifestMT, data)
}

// TestDockerRegistryInterop pushes to and pulls from Debian's
// docker-registry (distribution 2.8): OCI and Docker schema2 manifests,
// by tag and by digest, with HEAD skips and cross-repository mounts.
func TestDockerRegistryInterop(t *testing.T) {
	reg := testenv.NeedDockerRegistry(t)
	ctx := context.Background()
	big := make([]byte, 4<<20)
	rand.Read(big)
	c := newTestClient(t)
	for _, docker := range []bool{false, true} {
		desc := storeImage(t, c.Content, docker, big, []byte("small layer"))
		name := reg.Host + "/gorae/interop:v1"
		if docker {
			name = reg.Host + "/gorae/interop:docker"
		}
		log := &progressLog{}
		res, err := c.Push(ctx, mustRef(t, name), desc, nil, log.add)
		if err != nil {
			t.Fatalf("push %s: %v\n%s", name, err, reg.Log())
		}
		if res.Digest != desc.Digest {
			t.Errorf("pushed %s, want %s", res.Digest, desc.Digest)
		}
		// A second repository on the same registry: mounted, not sent.
		log = &progressLog{}
		if _, err := c.Push(ctx, mustRef(t, reg.Host+"/gorae/other:v1"), desc, nil, log.add); err != nil {
			t.Fatal(err)
		}
		if got := log.actions(ShortID(digest.FromBytes(big))); len(got) == 0 || (got[len(got)-1] != ActionMountedFrom+"gorae/interop" && got[len(got)-1] != ActionLayerExists) {
			t.Errorf("second push of the big layer: %v, want Mounted from gorae/interop", got)
		}
		// Pull back into a fresh store, by tag and by digest.
		c2 := newTestClient(t)
		for _, ref := range []string{name, reg.Host + "/gorae/other@" + desc.Digest.String()} {
			p, _, err := pull(t, c2, ref, PullOptions{})
			if err != nil {
				t.Fatalf("pull %s: %v\n%s", ref, err, reg.Log())
			}
			if p.Target.Digest != desc.Digest || p.Target.MediaType != desc.MediaType {
				t.Errorf("pulled %s %s, want %s %s", p.Target.MediaType, p.Target.Digest, desc.MediaType, desc.Digest)
			}
			for _, l := range p.Layers {
				got, err := content.ReadBlob(ctx, c2.Content, l.Digest, 8<<20)
				if err != nil || (!bytes.Equal(got, big) && !bytes.Equal(got, []byte("small layer"))) {
					t.Errorf("layer %s after the round trip: %v", l.Digest, err)
				}
			}
		}
		desc2, platforms, err := c2.Inspect(ctx, mustRef(t, name), nil)
		if err != nil || desc2.Digest != desc.Digest || len(platforms) != 1 || platforms[0].Architecture != "amd64" {
			t.Errorf("inspect %s: %v %v %v", name, desc2, platforms, err)
		}
	}
	// The registry answers unknown names as Docker users expect.
	if _, err := c.Resolve(ctx, mustRef(t, reg.Host+"/gorae/nosuch"), PullOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("pull of an unknown repository: %v, want ErrNotFound", err)
	}
}
