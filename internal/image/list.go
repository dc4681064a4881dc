package image

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Summary is one row of `docker images`: the fields of Docker's
// image.Summary (GET /images/json), with its JSON names.
type Summary struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Created     int64             `json:"Created"`
	Size        int64             `json:"Size"`
	SharedSize  int64             `json:"SharedSize"`
	Labels      map[string]string `json:"Labels"`
	// Containers is -1: the daemon, which knows them, counts them.
	Containers int64               `json:"Containers"`
	Descriptor *ocispec.Descriptor `json:"Descriptor,omitempty"`
}

// ListOptions filters List.
type ListOptions struct {
	// All includes intermediate images: untagged parents of other
	// images, which `docker images` hides without -a.
	All bool
	// Filter, if set, keeps only the images it accepts (the daemon's
	// dangling, label, reference, before and since filters).
	Filter func(*Image) bool
}

// List summarises the images, newest first. Size is the sum of the
// image's layers; SharedSize the part of it in layers (by chain ID) that
// other images have too, as `docker system df -v` counts. A layer counts
// its unpacked size once unpacked, its compressed size before.
func (s *Store) List(ctx context.Context, opts ListOptions) ([]Summary, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	users := s.chainUsers()
	out := []Summary{}
	for id, img := range s.images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		refs := s.references(id)
		if !opts.All && len(refs) == 0 && len(s.children(id)) > 0 {
			continue
		}
		if opts.Filter != nil && !opts.Filter(img.clone()) {
			continue
		}
		size, shared := imageSizes(img, users)
		tags, digests := repoTagsAndDigests(refs)
		target := img.Target
		out = append(out, Summary{
			ID:          id.String(),
			ParentID:    string(img.Parent),
			RepoTags:    tags,
			RepoDigests: digests,
			Created:     created(img),
			Size:        size,
			SharedSize:  shared,
			Labels:      labels(img),
			Containers:  -1,
			Descriptor:  &target,
		})
	}
	slices.SortFunc(out, func(a, b Summary) int {
		if c := cmp.Compare(b.Created, a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// chainUsers counts the images that have each layer (by chain ID).
func (s *Store) chainUsers() map[digest.Digest]int {
	users := map[digest.Digest]int{}
	for _, img := range s.images {
		for _, c := range img.ChainIDs() {
			users[c]++
		}
	}
	return users
}

// layerSize is what a layer counts for in Size.
func layerSize(img *Image, i int) int64 {
	if i < len(img.LayerSizes) && img.LayerSizes[i] >= 0 {
		return img.LayerSizes[i]
	}
	return img.Layers[i].Size
}

func imageSizes(img *Image, users map[digest.Digest]int) (size, shared int64) {
	for i, c := range img.ChainIDs() {
		n := layerSize(img, i)
		size += n
		if users[c] > 1 {
			shared += n
		}
	}
	return size, shared
}

func labels(img *Image) map[string]string {
	if img.Config.Config.Labels == nil {
		return map[string]string{}
	}
	return img.Config.Config.Labels
}

// created is when the image was built, in Unix seconds; 0 if its config
// does not say, as Docker shows it.
func created(img *Image) int64 {
	if img.Config.Created == nil || img.Config.Created.IsZero() {
		return 0
	}
	return img.Config.Created.Unix()
}
