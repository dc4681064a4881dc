package image

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// LoadedImage is one image that Load, LoadOCILayout or Import recorded,
// with the names the source gave it (familiar form: "busybox:latest").
type LoadedImage struct {
	Image *Image
	Tags  []string
}

// pendingImage is an image a load or an import is about to record: the
// manifest or index it starts from, the names to give it and, from a
// docker save archive, its parent.
type pendingImage struct {
	target ocispec.Descriptor
	// names are name:tag references, or name@digest ones that name the
	// target or its manifest.
	names  []reference.Named
	parent digest.Digest
}

// register records many images and their names as one change, under the
// store's lock, so that a load either registers everything it read or
// nothing: every target is resolved and checked (as Create does) before
// anything is written; then the records are written, then the names in one
// write of repositories.json. A write that fails midway takes back the
// records written before it. progress receives Docker's `docker load`
// lines, once everything is recorded.
func (s *Store) register(ctx context.Context, pending []pendingImage, platform ocispec.Platform, progress func(string)) ([]LoadedImage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()

	// 1. Resolve and check everything; nothing is written yet.
	final := map[digest.Digest]*Image{}
	var order []digest.Digest
	ids := make([]digest.Digest, len(pending))
	for i, p := range pending {
		img, err := s.resolveTarget(ctx, p.target, platform)
		if err != nil {
			return nil, err
		}
		for _, n := range p.names {
			if c, ok := n.(reference.Canonical); ok && c.Digest() != img.Target.Digest && c.Digest() != img.Manifest.Digest {
				return nil, fmt.Errorf("image store: %s cannot name image %s: the digest is not its manifest's (%s)", FamiliarString(n), img.ID, img.Manifest.Digest)
			}
		}
		ids[i] = img.ID
		if prev, ok := final[img.ID]; ok {
			// The same image twice (two entries of one archive): the
			// later target wins, as a second Create would make it.
			img.Created, img.LastTagTime, img.Parent = prev.Created, prev.LastTagTime, prev.Parent
		} else if old, ok := s.images[img.ID]; ok {
			img.Created, img.LastTagTime, img.Parent = old.Created, old.LastTagTime, old.Parent
			if slices.Equal(old.Config.RootFS.DiffIDs, img.Config.RootFS.DiffIDs) {
				img.LayerSizes = old.LayerSizes
			}
			order = append(order, img.ID)
		} else {
			img.Created = now
			order = append(order, img.ID)
		}
		final[img.ID] = img
	}
	for i, p := range pending {
		if p.parent == "" {
			continue
		}
		if err := s.checkParent(final, ids[i], p.parent); err != nil {
			return nil, err
		}
		final[ids[i]].Parent = p.parent
	}

	// 2. The names, in a copy of the map until they are written.
	refs := maps.Clone(s.refs)
	var notes []string
	for i, p := range pending {
		id := ids[i]
		for _, n := range p.names {
			n = reference.TagNameOnly(n)
			key := n.String()
			if e, ok := refs[key]; ok {
				if e.id == id {
					continue
				}
				if _, tagged := n.(reference.Tagged); tagged {
					notes = append(notes, fmt.Sprintf("The image %s already exists, renaming the old one with ID %s to empty string", FamiliarString(n), e.id))
				}
			}
			refs[key] = refEntry{ref: n, id: id}
			if _, tagged := n.(reference.Tagged); tagged {
				final[id].LastTagTime = now
			}
		}
	}

	// 3. Records, then names.
	var written []digest.Digest
	undo := func() {
		for _, id := range written {
			if old, ok := s.images[id]; ok {
				s.writeImage(old)
			} else {
				removeFileDurable(filepath.Join(s.root, imagesDir), id.Encoded()+".json")
			}
		}
	}
	for _, id := range order {
		if err := ctx.Err(); err != nil {
			undo()
			return nil, err
		}
		if err := s.writeImage(final[id]); err != nil {
			undo()
			return nil, err
		}
		written = append(written, id)
	}
	if !maps.EqualFunc(refs, s.refs, func(a, b refEntry) bool { return a.id == b.id }) {
		old := s.refs
		s.refs = refs
		if err := s.writeRefs(); err != nil {
			s.refs = old
			undo()
			return nil, err
		}
	}
	for _, id := range order {
		s.images[id] = final[id]
	}

	// 4. What was loaded, in the source's order, each image once.
	var out []LoadedImage
	index := map[digest.Digest]int{}
	for i, p := range pending {
		j, ok := index[ids[i]]
		if !ok {
			j = len(out)
			index[ids[i]] = j
			out = append(out, LoadedImage{Image: final[ids[i]].clone()})
		}
		for _, n := range p.names {
			if _, tagged := n.(reference.Tagged); tagged && !slices.Contains(out[j].Tags, FamiliarString(n)) {
				out[j].Tags = append(out[j].Tags, FamiliarString(n))
			}
		}
	}
	if progress != nil {
		for _, n := range notes {
			progress(n)
		}
		for _, l := range out {
			if len(l.Tags) == 0 {
				progress("Loaded image ID: " + l.Image.ID.String())
			}
			for _, t := range l.Tags {
				progress("Loaded image: " + t)
			}
		}
	}
	return out, nil
}

// checkParent refuses a parent that is not there or that cannot be one,
// as Docker's load does: the parent's layers must be the first layers of
// the child, and parents never form a loop. final holds the images being
// registered; the caller holds s.mu.
func (s *Store) checkParent(final map[digest.Digest]*Image, id, parent digest.Digest) error {
	get := func(d digest.Digest) *Image {
		if img, ok := final[d]; ok {
			return img
		}
		return s.images[d]
	}
	child, p := get(id), get(parent)
	if p == nil {
		return fmt.Errorf("image store: parent %s of image %s: %w (it is neither in the archive nor in the store)", parent, id, ErrNotFound)
	}
	cl, pl := child.Config.RootFS.DiffIDs, p.Config.RootFS.DiffIDs
	if len(pl) > len(cl) || !slices.Equal(pl, cl[:len(pl)]) {
		return fmt.Errorf("image store: image %s is not a valid parent of %s: its layers are not the first layers of the child", parent, id)
	}
	seen := map[digest.Digest]bool{id: true}
	for d := parent; d != ""; {
		if seen[d] {
			return fmt.Errorf("image store: image %s cannot have %s as parent: it is its own ancestor", id, parent)
		}
		seen[d] = true
		img := get(d)
		if img == nil {
			break
		}
		d = img.Parent
	}
	return nil
}
