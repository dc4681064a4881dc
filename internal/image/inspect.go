package image

import (
	"context"
	"slices"
	"time"

	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// InspectResponse is Docker's ImageInspect (GET /images/{name}/json, API
// 1.50), with its JSON names. It is defined here rather than imported from
// github.com/docker/docker, whose module would bring the whole engine's
// dependency tree for one struct. GraphDriver is the daemon's to fill.
type InspectResponse struct {
	ID            string              `json:"Id"`
	RepoTags      []string            `json:"RepoTags"`
	RepoDigests   []string            `json:"RepoDigests"`
	Parent        string              `json:"Parent"`
	Comment       string              `json:"Comment"`
	Created       string              `json:"Created,omitempty"`
	DockerVersion string              `json:"DockerVersion"`
	Author        string              `json:"Author"`
	Config        *ContainerConfig    `json:"Config"`
	Architecture  string              `json:"Architecture"`
	Variant       string              `json:"Variant,omitempty"`
	Os            string              `json:"Os"`
	OsVersion     string              `json:"OsVersion,omitempty"`
	Size          int64               `json:"Size"`
	GraphDriver   DriverData          `json:"GraphDriver"`
	RootFS        RootFS              `json:"RootFS"`
	Metadata      Metadata            `json:"Metadata"`
	Descriptor    *ocispec.Descriptor `json:"Descriptor,omitempty"`
}

// DriverData names the storage driver and its paths for one image.
type DriverData struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// RootFS lists an image's layers by diff ID.
type RootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers,omitempty"`
}

// Metadata holds local facts about an image.
type Metadata struct {
	LastTagTime time.Time `json:"LastTagTime,omitempty"`
}

// HistoryItem is one row of `docker history` (GET /images/{name}/history).
type HistoryItem struct {
	ID        string   `json:"Id"`
	Created   int64    `json:"Created"`
	CreatedBy string   `json:"CreatedBy"`
	Tags      []string `json:"Tags"`
	Size      int64    `json:"Size"`
	Comment   string   `json:"Comment"`
}

// Inspect describes the image refOrID (see Get) as `docker image inspect`.
func (s *Store) Inspect(ctx context.Context, refOrID string) (*InspectResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	img, err := s.lookup(refOrID)
	if err != nil {
		return nil, err
	}
	cfg := img.Config
	tags, digests := repoTagsAndDigests(s.references(img.ID))
	size, _ := imageSizes(img, nil)
	layers := make([]string, len(cfg.RootFS.DiffIDs))
	for i, d := range cfg.RootFS.DiffIDs {
		layers[i] = d.String()
	}
	runConfig := cfg.Config.clone() // the caller may change it
	r := &InspectResponse{
		ID:            img.ID.String(),
		RepoTags:      tags,
		RepoDigests:   digests,
		Parent:        string(img.Parent),
		Comment:       cfg.Comment,
		DockerVersion: cfg.DockerVersion,
		Author:        cfg.Author,
		Config:        &runConfig,
		Architecture:  cfg.Architecture,
		Variant:       cfg.Variant,
		Os:            cfg.OS,
		OsVersion:     cfg.OSVersion,
		Size:          size,
		GraphDriver:   DriverData{Data: map[string]string{}},
		RootFS:        RootFS{Type: cfg.RootFS.Type, Layers: layers},
		Metadata:      Metadata{LastTagTime: img.LastTagTime},
		Descriptor:    &ocispec.Descriptor{MediaType: img.Target.MediaType, Digest: img.Target.Digest, Size: img.Target.Size},
	}
	if cfg.Created != nil && !cfg.Created.IsZero() {
		r.Created = cfg.Created.Format(time.RFC3339Nano)
	}
	if r.Comment == "" && len(cfg.History) > 0 {
		// Docker shows the last history comment when the config has none
		// ("buildkit.dockerfile.v0", "imported from …").
		r.Comment = cfg.History[len(cfg.History)-1].Comment
	}
	return r, nil
}

// History lists how the image refOrID was built, newest step first, as
// `docker history`: one row per config history entry, with the size of
// the layer it made. The top row carries the image's ID and tags, the
// next its parent's and so on while local parents exist; the rest are
// "<missing>", as Docker shows them.
func (s *Store) History(ctx context.Context, refOrID string) ([]HistoryItem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	img, err := s.lookup(refOrID)
	if err != nil {
		return nil, err
	}
	cfg := img.Config
	out := make([]HistoryItem, 0, len(cfg.History))
	layer := 0
	for _, h := range cfg.History {
		item := HistoryItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil && !h.Created.IsZero() {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer {
			// A config with more non-empty entries than layers is
			// malformed; its extra rows show no size rather than fail.
			if layer < len(img.Layers) {
				item.Size = layerSize(img, layer)
			}
			layer++
		}
		out = append(out, item)
	}
	slices.Reverse(out)
	cur := img
	for i := range out {
		out[i].ID = cur.ID.String()
		for _, r := range s.references(cur.ID) {
			if _, ok := r.(reference.Tagged); ok {
				out[i].Tags = append(out[i].Tags, FamiliarString(r))
			}
		}
		next, ok := s.images[cur.Parent]
		if cur.Parent == "" || !ok {
			break
		}
		cur = next
	}
	return out, nil
}
