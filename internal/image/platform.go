package image

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNoMatchingPlatform says that an index has no image for the platform
// asked for.
var ErrNoMatchingPlatform = errors.New("no matching manifest")

// DefaultPlatform is the platform images are pulled for unless asked
// otherwise: linux on this machine's architecture. CPU variants are not
// probed: amd64 means the baseline (v1), arm64 v8, arm v7.
func DefaultPlatform() ocispec.Platform {
	return NormalizePlatform(ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH})
}

// ParsePlatform parses "os[/arch[/variant]]" ("linux/arm/v7") or a bare
// architecture ("arm64", meaning linux), as docker --platform does.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	var p ocispec.Platform
	switch {
	case len(parts) == 1 && parts[0] != "" && parts[0] != "linux":
		p = ocispec.Platform{OS: "linux", Architecture: parts[0]}
	case len(parts) == 1 && parts[0] == "linux":
		p = ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	case len(parts) == 2:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	case len(parts) == 3:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return p, fmt.Errorf("invalid platform %q: use os/arch[/variant], e.g. linux/amd64 or linux/arm/v7", s)
	}
	for _, f := range parts {
		if f == "" || strings.ContainsAny(f, " \t") {
			return p, fmt.Errorf("invalid platform %q: use os/arch[/variant], e.g. linux/amd64 or linux/arm/v7", s)
		}
	}
	return NormalizePlatform(p), nil
}

// FormatPlatform is the "os/arch[/variant]" form of p.
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// NormalizePlatform maps the aliases in use to the names Go and the OCI
// spec use (x86_64 is amd64, aarch64 arm64, armhf arm/v7) and makes the
// default variants explicit where they have one (arm64 is v8, arm v7), so
// that platforms compare with ==.
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	p.Architecture, p.Variant = strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch p.Architecture {
	case "i386", "i486", "i586", "i686":
		p.Architecture, p.Variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		p.Architecture = "amd64"
		if p.Variant == "v1" {
			p.Variant = ""
		}
	case "aarch64", "arm64":
		p.Architecture = "arm64"
		switch p.Variant {
		case "", "8", "v8", "v8.0":
			p.Variant = "v8"
		}
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "arm":
		switch p.Variant {
		case "", "7":
			p.Variant = "v7"
		case "5", "6", "8":
			p.Variant = "v" + p.Variant
		}
	}
	return p
}

// variantLevel orders the variants of one architecture: a host runs any
// variant whose level is at most its own (an armv7 CPU runs v6 and v5
// code, an x86-64-v3 CPU runs v2 code). ok is false for variants that do
// not order (unknown spellings): those match only exactly.
func variantLevel(arch, variant string) (level float64, ok bool) {
	switch arch {
	case "amd64":
		if variant == "" {
			return 1, true
		}
	case "arm", "arm64":
	default:
		return 0, variant == ""
	}
	if !strings.HasPrefix(variant, "v") {
		return 0, false
	}
	f, err := strconv.ParseFloat(variant[1:], 64)
	if err != nil || f < 0 || f > 100 {
		return 0, false
	}
	return f, true
}

// matchRank says how well an image for have suits a host of want: 0 is an
// exact match, higher is a worse but runnable one, and ok false means it
// cannot run.
func matchRank(want, have ocispec.Platform) (rank float64, ok bool) {
	want, have = NormalizePlatform(want), NormalizePlatform(have)
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return 0, false
	}
	if want.Variant == have.Variant {
		return 0, true
	}
	wl, wok := variantLevel(want.Architecture, want.Variant)
	hl, hok := variantLevel(have.Architecture, have.Variant)
	if !wok || !hok || hl > wl {
		return 0, false
	}
	return wl - hl, true
}

// SelectManifest picks from an index the entry to run on want: the exact
// platform first, else the closest older variant, skipping attestations.
// Entries without a platform are a last resort (some single-image indexes
// omit it). Ties go to the earlier entry, as registries list the
// preferred one first.
func SelectManifest(idx *ocispec.Index, want ocispec.Platform) (ocispec.Descriptor, error) {
	best, bestRank := -1, 0.0
	var offered []string
	for i, d := range idx.Manifests {
		if IsAttestation(d) || !(IsManifest(d.MediaType) || IsIndex(d.MediaType)) {
			continue
		}
		rank := 1e9 // no platform: last resort
		if d.Platform != nil {
			offered = append(offered, FormatPlatform(NormalizePlatform(*d.Platform)))
			r, ok := matchRank(want, *d.Platform)
			if !ok {
				continue
			}
			rank = r
		}
		if best < 0 || rank < bestRank {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		slices.Sort(offered)
		offered = slices.Compact(offered)
		has := "no runnable image"
		if len(offered) > 0 {
			has = "only " + strings.Join(offered, ", ")
		}
		// Docker's words first: clients match them.
		return ocispec.Descriptor{}, fmt.Errorf("%w for %s in the manifest list entries (it has %s; choose one with --platform)",
			ErrNoMatchingPlatform, FormatPlatform(NormalizePlatform(want)), has)
	}
	return idx.Manifests[best], nil
}
