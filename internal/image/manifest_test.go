package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestParseManifest(t *testing.T) {
	oci := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
		"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d1 + `","size":10},
		"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d2 + `","size":20}]}`
	docker := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(oci,
		"application/vnd.oci.image.manifest.v1+json", MediaTypeDockerManifest),
		"application/vnd.oci.image.config.v1+json", MediaTypeDockerConfig),
		"application/vnd.oci.image.layer.v1.tar+gzip", MediaTypeDockerLayerGzip)
	noType := strings.Replace(oci, `"mediaType":"application/vnd.oci.image.manifest.v1+json",`, "", 1)

	tests := []struct {
		name, mediaType, doc, wantType, err string
	}{
		{"oci", ocispec.MediaTypeImageManifest, oci, ocispec.MediaTypeImageManifest, ""},
		{"oci untyped source", "", oci, ocispec.MediaTypeImageManifest, ""},
		{"docker", MediaTypeDockerManifest, docker, MediaTypeDockerManifest, ""},
		{"oci without field", ocispec.MediaTypeImageManifest, noType, ocispec.MediaTypeImageManifest, ""},
		{"neither says", "", noType, ocispec.MediaTypeImageManifest, ""},
		{"served as other", MediaTypeDockerManifest, oci, "", "was served as"},
		{"index type", ocispec.MediaTypeImageIndex, noType, "", "not an image manifest"},
		{"schema1", "", `{"schemaVersion":1,"name":"x","fsLayers":[]}`, "", "schema 1"},
		{"schema3", "", strings.Replace(oci, `"schemaVersion":2`, `"schemaVersion":3`, 1), "", "schemaVersion 3"},
		{"bad digest", "", strings.Replace(oci, d2, "sha256:xyz", 1), "", "layer 0 has digest"},
		{"path digest", "", strings.Replace(oci, d2, "sha256:../../../etc/passwd", 1), "", "layer 0 has digest"},
		{"negative size", "", strings.Replace(oci, `"size":20`, `"size":-1`, 1), "", "negative size"},
		{"no config type", "", strings.Replace(oci, `"mediaType":"application/vnd.oci.image.config.v1+json",`, "", 1), "", "config has no mediaType"},
		{"not json", "", `{"schemaVersion":2,`, "", "not valid JSON"},
		{"wrong json type", "", `{"schemaVersion":"2"}`, "", "not valid JSON"},
		{"embedded data lies", "", strings.Replace(oci, `"size":20}`, `"size":20,"data":"aGVsbG8="}`, 1), "", "embeds data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseManifest(tc.mediaType, []byte(tc.doc))
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrInvalidManifest with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != tc.wantType || m.Config.Digest != d1 || len(m.Layers) != 1 || m.Layers[0].Size != 20 {
				t.Fatalf("parsed %+v", m)
			}
		})
	}
	big := `{"schemaVersion":2,"annotations":{"a":"` + strings.Repeat("x", MaxManifestSize) + `"}}`
	if _, err := ParseManifest("", []byte(big)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("oversized manifest: %v", err)
	}
}

func TestParseIndex(t *testing.T) {
	doc := `{"schemaVersion":2,"mediaType":"` + MediaTypeDockerManifestList + `","manifests":[
		{"mediaType":"` + MediaTypeDockerManifest + `","digest":"` + d1 + `","size":5,"platform":{"architecture":"amd64","os":"linux"}}]}`
	idx, err := ParseIndex("", []byte(doc))
	if err != nil || idx.MediaType != MediaTypeDockerManifestList || len(idx.Manifests) != 1 || idx.Manifests[0].Platform.Architecture != "amd64" {
		t.Fatalf("ParseIndex = %+v, %v", idx, err)
	}
	if _, err := ParseIndex(ocispec.MediaTypeImageManifest, []byte(doc)); err == nil {
		t.Fatal("index served as a manifest was accepted")
	}
	if _, err := ParseIndex("", []byte(strings.Replace(doc, d1, "sha256:1", 1))); !errors.Is(err, ErrInvalidManifest) {
		t.Fatalf("bad digest in index: %v", err)
	}
}

func TestDetectMediaType(t *testing.T) {
	tests := []struct{ doc, want string }{
		{`{"schemaVersion":2,"mediaType":"x/y"}`, "x/y"},
		{`{"schemaVersion":2,"manifests":[]}`, ocispec.MediaTypeImageIndex},
		{`{"schemaVersion":2,"config":{},"layers":[]}`, ocispec.MediaTypeImageManifest},
		{`{"schemaVersion":1,"fsLayers":[]}`, mediaTypeDockerSchema1},
	}
	for _, tc := range tests {
		if got, err := DetectMediaType([]byte(tc.doc)); err != nil || got != tc.want {
			t.Errorf("DetectMediaType(%s) = %q, %v; want %q", tc.doc, got, err, tc.want)
		}
	}
	if _, err := DetectMediaType([]byte(`{"schemaVersion":2}`)); err == nil {
		t.Error("DetectMediaType of an empty document succeeded")
	}
}

func TestParseConfig(t *testing.T) {
	good := `{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z",
		"config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000},"Shell":["/bin/sh","-c"]},
		"rootfs":{"type":"layers","diff_ids":["` + d1 + `"]},
		"history":[{"created_by":"ADD x /"}]}`
	c, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Healthcheck.Interval.Seconds() != 1 || c.Config.Shell[0] != "/bin/sh" || c.RootFS.DiffIDs[0] != d1 || c.Created.Year() != 2024 {
		t.Fatalf("parsed %+v", c)
	}
	if p := c.Platform(); FormatPlatform(p) != "linux/amd64" {
		t.Fatalf("platform %s", FormatPlatform(p))
	}
	for name, doc := range map[string]string{
		"no os":         `{"architecture":"amd64","rootfs":{"type":"layers"}}`,
		"rootfs type":   `{"architecture":"amd64","os":"linux","rootfs":{"type":"tar"}}`,
		"bad diff id":   `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:zz"]}}`,
		"bad created":   `{"architecture":"amd64","os":"linux","created":"yesterday","rootfs":{"type":"layers"}}`,
		"not an object": `[]`,
	} {
		if _, err := ParseConfig([]byte(doc)); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: ParseConfig = %v, want ErrInvalidManifest", name, err)
		}
	}
}

func TestChainIDs(t *testing.T) {
	a, b, c := digest.Digest(d1), digest.Digest(d2), digest.FromString("c")
	got := ChainIDs([]digest.Digest{a, b, c})
	ab := digest.FromString(string(a) + " " + string(b))
	abc := digest.FromString(string(ab) + " " + string(c))
	if got[0] != a || got[1] != ab || got[2] != abc {
		t.Fatalf("ChainIDs = %v", got)
	}
	if len(ChainIDs(nil)) != 0 {
		t.Fatal("ChainIDs(nil) not empty")
	}
}
