package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
)

// ImageStore serves the images of a gorae image store, read-only (the
// daemon's "registry-serve" option): other machines pull straight from
// a node. Repositories are the images' names — docker.io/library/busybox
// is "library/busybox", ghcr.io/a/b is "ghcr.io/a/b" (a name whose host
// has a port cannot be a repository name and is not served) — and a
// repository holds the manifests and blobs of the images named in it.
type ImageStore struct {
	images *image.Store
	cs     content.Store
}

var _ Storage = (*ImageStore)(nil)

// NewImageStore serves images, whose blobs are in cs.
func NewImageStore(images *image.Store, cs content.Store) *ImageStore {
	return &ImageStore{images: images, cs: cs}
}

// repoName is the repository a reference is served under, or "".
func repoName(ref reference.Named) string {
	name := reference.Path(ref)
	if d := reference.Domain(ref); d != "docker.io" {
		name = d + "/" + name
	}
	if ValidateName(name) != nil {
		return ""
	}
	return name
}

// repoView is one repository as the image store has it now.
type repoView struct {
	tags   map[string]ocispec.Descriptor // tag → image target
	images []*image.Image
}

// view groups the store's images by repository.
func (s *ImageStore) view() map[string]*repoView {
	out := map[string]*repoView{}
	for _, img := range s.images.Images() {
		for _, ref := range s.images.References(img.ID) {
			name := repoName(ref)
			if name == "" {
				continue
			}
			v := out[name]
			if v == nil {
				v = &repoView{tags: map[string]ocispec.Descriptor{}}
				out[name] = v
			}
			if t, ok := ref.(reference.Tagged); ok {
				v.tags[t.Tag()] = img.Target
			}
			if !slices.ContainsFunc(v.images, func(i *image.Image) bool { return i.ID == img.ID }) {
				v.images = append(v.images, img)
			}
		}
	}
	return out
}

func (s *ImageStore) repo(name string) (*repoView, error) {
	v := s.view()[name]
	if v == nil {
		return nil, Errorf(CodeNameUnknown, "repository %q is not known to this registry (the daemon serves the images it has, by name)", name)
	}
	return v, nil
}

// Repositories lists the repositories of every named image.
func (s *ImageStore) Repositories(ctx context.Context) ([]string, error) {
	var out []string
	for name := range s.view() {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// Tags lists the tags of a repository.
func (s *ImageStore) Tags(ctx context.Context, name string) ([]string, error) {
	v, err := s.repo(name)
	if err != nil {
		return nil, err
	}
	tags := []string{}
	for t := range v.tags {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags, nil
}

// manifests are the documents of an image: what was pulled or loaded,
// the indexes below it and the platform's manifest.
func manifests(img *image.Image) []ocispec.Descriptor {
	return append([]ocispec.Descriptor{img.Target, img.Manifest}, img.Indexes...)
}

// Manifest reads a manifest by tag or by digest.
func (s *ImageStore) Manifest(ctx context.Context, name, ref string) (*Manifest, error) {
	v, err := s.repo(name)
	if err != nil {
		if errors.As(err, new(*Error)) {
			return nil, manifestUnknown(name, ref)
		}
		return nil, err
	}
	d, found := v.tags[ref]
	if !found {
		dgst, err := digest.Parse(ref)
		if err != nil {
			return nil, manifestUnknown(name, ref)
		}
		for _, img := range v.images {
			for _, m := range manifests(img) {
				if m.Digest == dgst {
					d, found = m, true
				}
			}
		}
	}
	if !found {
		return nil, manifestUnknown(name, ref)
	}
	data, err := content.ReadBlob(ctx, s.cs, d.Digest, MaxManifestSize)
	if err != nil {
		if errors.Is(err, content.ErrNotFound) {
			return nil, manifestUnknown(name, ref)
		}
		return nil, fmt.Errorf("image store: manifest %s of %s: %w", d.Digest, name, err)
	}
	d.Size = int64(len(data))
	return &Manifest{Descriptor: ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, Data: data}, nil
}

// has says whether blob d belongs to an image of the repository.
func (s *ImageStore) has(name string, d digest.Digest) bool {
	v, err := s.repo(name)
	if err != nil {
		return false
	}
	for _, img := range v.images {
		if slices.Contains(img.Blobs(), d) {
			return true
		}
	}
	return false
}

// StatBlob sizes a blob of the repository.
func (s *ImageStore) StatBlob(ctx context.Context, name string, d digest.Digest) (int64, error) {
	return statBlob(ctx, s.cs, name, d, s.has(name, d))
}

// OpenBlob opens a blob of the repository.
func (s *ImageStore) OpenBlob(ctx context.Context, name string, d digest.Digest) (content.ReaderAt, error) {
	if !s.has(name, d) {
		return nil, blobUnknown(name, d)
	}
	r, err := s.cs.ReaderAt(ctx, d)
	if errors.Is(err, content.ErrNotFound) {
		return nil, blobUnknown(name, d)
	}
	return r, err
}

// Referrers: the image store keeps no artifacts that refer to images.
func (s *ImageStore) Referrers(ctx context.Context, name string, subject digest.Digest) ([]ocispec.Descriptor, error) {
	return []ocispec.Descriptor{}, nil
}
