package image

import (
	"context"
	"fmt"
	"io"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CommitOptions describe a new image made of a parent image plus one
// layer (`docker commit`, and each step of a build).
type CommitOptions struct {
	// Ref tags the new image ("" leaves it untagged).
	Ref string
	// Config is the new image's run config (the container's, merged with
	// the parent's by the caller); Changes are applied on top of it.
	Config  ContainerConfig
	Changes []string
	Comment string
	Author  string
	// CreatedBy is the history entry's command (the container's).
	CreatedBy string
	// EmptyLayer records a history entry without a layer (a build step
	// that changed only metadata); layer is then ignored.
	EmptyLayer bool
}

// Commit makes an image from parent (nil for none) and an uncompressed
// layer tar read from layer, streaming it into the content store as gzip.
func Commit(ctx context.Context, s *Store, parent *Image, layer io.Reader, opts CommitOptions) (*Image, error) {
	var names []reference.Named
	if opts.Ref != "" {
		tag, err := ParseTag(opts.Ref)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		names = append(names, tag)
	}
	platform := DefaultPlatform()
	cfg := Config{Architecture: platform.Architecture, OS: platform.OS, RootFS: ocispec.RootFS{Type: "layers"}}
	var layers []ocispec.Descriptor
	var parentID digest.Digest
	if parent != nil {
		if parent.Config != nil {
			cfg = *parent.Config
			cfg.RootFS.DiffIDs = append([]digest.Digest(nil), parent.Config.RootFS.DiffIDs...)
			cfg.History = append([]ocispec.History(nil), parent.Config.History...)
		}
		layers = append(layers, parent.Layers...)
		parentID = parent.ID
	}
	run := opts.Config
	if err := ApplyChanges(&run, cfg.OS, opts.Changes); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	cfg.Config = run
	cfg.Author = opts.Author
	cfg.Comment = opts.Comment

	lease := s.Lease()
	defer lease.Release()
	created := s.now().UTC()
	cfg.Created = &created
	h := ocispec.History{Created: &created, CreatedBy: opts.CreatedBy, Comment: opts.Comment, Author: opts.Author, EmptyLayer: opts.EmptyLayer}
	if !opts.EmptyLayer {
		desc, diffID, err := importLayer(ctx, s.cs, lease, layer)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		layers = append(layers, desc)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	}
	cfg.History = append(cfg.History, h)
	cfgDesc, err := writeJSONBlob(ctx, s.cs, lease, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return nil, fmt.Errorf("commit: write config: %w", err)
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    layers,
	}
	mDesc, err := writeJSONBlob(ctx, s.cs, lease, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return nil, fmt.Errorf("commit: write manifest: %w", err)
	}
	loaded, err := s.register(ctx, []pendingImage{{target: mDesc, names: names, parent: parentID}}, platform, nil)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return loaded[0].Image, nil
}
