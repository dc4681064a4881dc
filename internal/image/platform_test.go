package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParsePlatform(t *testing.T) {
	tests := []struct{ in, want string }{
		{"linux/amd64", "linux/amd64"},
		{"linux/x86_64", "linux/amd64"},
		{"linux/aarch64", "linux/arm64/v8"},
		{"linux/arm64", "linux/arm64/v8"},
		{"linux/arm", "linux/arm/v7"},
		{"linux/arm/v6", "linux/arm/v6"},
		{"linux/armhf", "linux/arm/v7"},
		{"arm64", "linux/arm64/v8"},
		{"Linux/AMD64", "linux/amd64"},
		{"linux/amd64/v3", "linux/amd64/v3"},
		{"linux/386", "linux/386"},
	}
	for _, tc := range tests {
		p, err := ParsePlatform(tc.in)
		if err != nil || FormatPlatform(p) != tc.want {
			t.Errorf("ParsePlatform(%q) = %s, %v; want %s", tc.in, FormatPlatform(p), err, tc.want)
		}
	}
	for _, bad := range []string{"", "linux/", "a/b/c/d", "/amd64"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) succeeded", bad)
		}
	}
}

func entry(n int, platform string, annotations map[string]string) ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(string(rune('a' + n))), Size: 1, Annotations: annotations}
	if platform != "" {
		parts := strings.Split(platform, "/")
		d.Platform = &ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			d.Platform.Variant = parts[2]
		}
	}
	return d
}

func TestSelectManifest(t *testing.T) {
	attest := map[string]string{"vnd.docker.reference.type": "attestation-manifest"}
	idx := &ocispec.Index{Manifests: []ocispec.Descriptor{
		entry(0, "unknown/unknown", nil),
		entry(1, "linux/amd64", attest),
		entry(2, "linux/arm/v5", nil),
		entry(3, "linux/arm/v6", nil),
		entry(4, "linux/amd64", nil),
		entry(5, "linux/arm64", nil),
		entry(6, "linux/arm/v7", nil),
		entry(7, "linux/amd64/v3", nil),
		entry(8, "windows/amd64", nil),
		entry(9, "linux/amd64", nil),
	}}
	tests := []struct {
		want string
		idx  int
	}{
		{"linux/amd64", 4},    // first plain amd64; attestation skipped; v3 needs a v3 host
		{"linux/amd64/v3", 7}, // exact variant beats the baseline
		{"linux/amd64/v2", 4}, // v1 runs on v2
		{"linux/arm64", 5},    // "" and v8 are one variant
		{"linux/arm64/v8", 5},
		{"linux/arm/v7", 6},
		{"linux/arm/v6", 3},
		{"linux/arm/v8", 6}, // the newest that runs
		{"windows/amd64", 8},
	}
	for _, tc := range tests {
		p, err := ParsePlatform(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		d, err := SelectManifest(idx, p)
		if err != nil || d.Digest != idx.Manifests[tc.idx].Digest {
			t.Errorf("SelectManifest(%s) = %v, %v; want entry %d", tc.want, d.Platform, err, tc.idx)
		}
	}
	_, err := SelectManifest(idx, ocispec.Platform{OS: "linux", Architecture: "s390x"})
	if !errors.Is(err, ErrNoMatchingPlatform) || !strings.Contains(err.Error(), "no matching manifest for linux/s390x in the manifest list entries") ||
		!strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Fatalf("no match: %v", err)
	}
	// An entry without platform is the last resort.
	only := &ocispec.Index{Manifests: []ocispec.Descriptor{entry(0, "", nil)}}
	if _, err := SelectManifest(only, DefaultPlatform()); err != nil {
		t.Fatalf("platformless entry: %v", err)
	}
}
