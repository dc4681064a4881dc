package image

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// DeleteOptions are the options of Delete (`docker rmi`).
type DeleteOptions struct {
	// Force removes an image that several names or a stopped container
	// use; an image a running container uses is only untagged.
	Force bool
	// NoPrune keeps untagged parents, which Delete otherwise removes.
	NoPrune bool
	// InUse says whether a container uses image id: the ID of one that
	// does ("" if none) and whether it is running. nil means none does.
	InUse func(id digest.Digest) (container string, running bool)
}

// DeleteResponse is one line of `docker rmi`'s output.
type DeleteResponse struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// ConflictError says why an image cannot be removed, in Docker's words;
// it matches ErrConflict (HTTP 409).
type ConflictError struct {
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

type conflictKind int

const (
	conflictChild conflictKind = 1 << iota
	conflictRunning
	conflictRefs
	conflictStopped

	conflictHard = conflictChild | conflictRunning
	conflictSoft = conflictRefs | conflictStopped
)

// Delete removes a name or an image as `docker rmi` does. Given a name,
// it untags it, and removes the image only if that was its last name;
// given an ID, it removes the image and its names, refusing (without
// Force) when the names span repositories or a container uses it. A
// running container's image is never removed. Untagged parents go too,
// unless NoPrune. Blobs stay until GC; a removal is durable before Delete
// returns, so GC never frees a blob whose image a crash could bring back.
func (s *Store) Delete(ctx context.Context, refOrID string, opts DeleteOptions) ([]DeleteResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.lookup(refOrID)
	if err != nil {
		return nil, err
	}
	id := img.ID
	var out []DeleteResponse
	refs := s.references(id)
	removedName := false

	if !isIDPrefix(id, refOrID) {
		ref, err := reference.ParseNormalizedNamed(refOrID)
		if err != nil {
			return nil, &ReferenceError{Input: refOrID, Err: err}
		}
		ref = reference.TagNameOnly(ref)
		if !opts.Force && isSingleReference(refs) {
			if c, _ := s.inUse(opts, id); c != "" {
				// Untagging would leave a dangling image in use: make the
				// user say so.
				return nil, &ConflictError{Message: fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", refOrID, shortID(c), shortID(id.Encoded()))}
			}
		}
		if _, err := s.untag(ref); err != nil {
			return nil, err
		}
		out = append(out, DeleteResponse{Untagged: FamiliarString(ref)})
		refs = s.references(id)
		// The last tag of a repository takes that repository's digest
		// names with it: they would otherwise keep an image the user just
		// removed by name.
		if _, canonical := ref.(reference.Canonical); !canonical && !hasTagIn(refs, ref.Name()) {
			var left []reference.Named
			for _, r := range refs {
				if _, c := r.(reference.Canonical); c && r.Name() == ref.Name() {
					if _, err := s.untag(r); err != nil {
						return out, err
					}
					out = append(out, DeleteResponse{Untagged: FamiliarString(r)})
				} else {
					left = append(left, r)
				}
			}
			refs = left
		}
		if len(refs) > 0 {
			return out, nil
		}
		removedName = true
	} else if isSingleReference(refs) {
		mask := conflictHard
		if !opts.Force {
			mask |= conflictSoft &^ conflictRefs
		}
		if err := s.conflict(id, opts, mask); err != nil {
			return nil, err
		}
		for _, r := range refs {
			if _, err := s.untag(r); err != nil {
				return out, err
			}
			out = append(out, DeleteResponse{Untagged: FamiliarString(r)})
		}
	}
	err = s.deleteImage(id, &out, opts, opts.Force, removedName)
	return out, err
}

// deleteImage removes image id and its remaining names if nothing forbids
// it, then its untagged parent. quiet (the image just lost its last name)
// turns a conflict into "keep it", as Docker does, unless the image is
// dangling and unused, where the user should hear why it stays.
func (s *Store) deleteImage(id digest.Digest, out *[]DeleteResponse, opts DeleteOptions, force, quiet bool) error {
	mask := conflictHard
	if !force {
		mask |= conflictSoft
	}
	if err := s.conflict(id, opts, mask); err != nil {
		c, _ := s.inUse(opts, id)
		if quiet && (len(s.references(id)) > 0 || c != "") {
			return nil
		}
		return err
	}
	parent := s.images[id].Parent
	for _, r := range s.references(id) {
		if _, err := s.untag(r); err != nil {
			return err
		}
		*out = append(*out, DeleteResponse{Untagged: FamiliarString(r)})
	}
	if err := removeFileDurable(filepath.Join(s.root, imagesDir), id.Encoded()+".json"); err != nil {
		return fmt.Errorf("image store: remove image %s: %w", id, err)
	}
	delete(s.images, id)
	*out = append(*out, DeleteResponse{Deleted: id.String()})
	if opts.NoPrune || parent == "" {
		return nil
	}
	if _, ok := s.images[parent]; !ok {
		return nil
	}
	// The parent goes only if nothing names or uses it; never forced.
	return s.deleteImage(parent, out, opts, false, true)
}

// conflict returns why image id cannot be removed, among the kinds of
// mask, or nil.
func (s *Store) conflict(id digest.Digest, opts DeleteOptions, mask conflictKind) error {
	msg := func(hard bool, why string) error {
		force := "must be forced"
		if hard {
			force = "cannot be forced"
		}
		return &ConflictError{Message: fmt.Sprintf("conflict: unable to delete %s (%s) - %s", shortID(id.Encoded()), force, why)}
	}
	if mask&conflictChild != 0 && len(s.children(id)) > 0 {
		return msg(true, "image has dependent child images")
	}
	c, running := s.inUse(opts, id)
	if mask&conflictRunning != 0 && c != "" && running {
		return msg(true, "image is being used by running container "+shortID(c))
	}
	if mask&conflictRefs != 0 && len(s.references(id)) > 0 {
		return msg(false, "image is referenced in multiple repositories")
	}
	if mask&conflictStopped != 0 && c != "" && !running {
		return msg(false, "image is being used by stopped container "+shortID(c))
	}
	return nil
}

func (s *Store) inUse(opts DeleteOptions, id digest.Digest) (string, bool) {
	if opts.InUse == nil {
		return "", false
	}
	return opts.InUse(id)
}

// isIDPrefix reports whether s names id by (a prefix of) its ID rather
// than by a name.
func isIDPrefix(id digest.Digest, s string) bool {
	return s != "" && (strings.HasPrefix(id.String(), s) || strings.HasPrefix(id.Encoded(), s))
}

// isSingleReference reports whether refs hold at most one tag and all are
// in one repository: removing such an image by ID removes no name the
// user might not mean. False for no names at all.
func isSingleReference(refs []reference.Named) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var tag reference.Named
	canonical := map[string]bool{}
	for _, r := range refs {
		if _, ok := r.(reference.Canonical); ok {
			canonical[r.Name()] = true
		} else if tag == nil {
			tag = r
		} else {
			return false
		}
	}
	if tag == nil {
		tag = refs[0]
	}
	return len(canonical) == 1 && canonical[tag.Name()]
}

func hasTagIn(refs []reference.Named, name string) bool {
	for _, r := range refs {
		if _, c := r.(reference.Canonical); !c && r.Name() == name {
			return true
		}
	}
	return false
}

// shortID is Docker's 12-character form of an ID.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// PruneOptions are the options of Prune (`docker image prune`).
type PruneOptions struct {
	// All prunes every unused image, not only dangling ones.
	All bool
	// Filter, if set, keeps from pruning the images it rejects (the
	// daemon's until and label filters).
	Filter func(*Image) bool
	InUse  func(id digest.Digest) (container string, running bool)
	// GC collects the blobs freed, with these options.
	GC GCOptions
}

// PruneReport is Docker's ImagesPruneReport; SpaceReclaimed counts the
// blobs freed (the daemon adds the unpacked layers it removes).
type PruneReport struct {
	ImagesDeleted  []DeleteResponse `json:"ImagesDeleted"`
	SpaceReclaimed uint64           `json:"SpaceReclaimed"`
}

// Prune removes dangling images (no tag; with All, every image) that no
// container uses and that are not parents of kept images, then collects
// the blobs they leave. An image in use is skipped, not an error.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (*PruneReport, error) {
	rep := &PruneReport{ImagesDeleted: []DeleteResponse{}}
	del := DeleteOptions{InUse: opts.InUse}
	for _, img := range s.pruneCandidates(opts) {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		var names []string
		for _, r := range s.References(img.ID) {
			names = append(names, r.String())
		}
		if len(names) == 0 {
			names = []string{img.ID.Encoded()}
		}
		for _, n := range names {
			out, err := s.Delete(ctx, n, del)
			if err != nil {
				if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
					continue // in use, or gone with a child: not ours to prune
				}
				return rep, err
			}
			rep.ImagesDeleted = append(rep.ImagesDeleted, out...)
		}
	}
	res, err := s.GC(ctx, opts.GC)
	if err != nil {
		return rep, err
	}
	rep.SpaceReclaimed = uint64(res.Reclaimed)
	return rep, nil
}

func (s *Store) pruneCandidates(opts PruneOptions) []*Image {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Image
	for id, img := range s.images {
		refs := s.references(id)
		tagged := false
		for _, r := range refs {
			if _, ok := r.(reference.Tagged); ok {
				tagged = true
			}
		}
		if !opts.All && tagged {
			continue
		}
		if len(refs) == 0 && len(s.children(id)) > 0 {
			continue // an intermediate image goes with its last child
		}
		if opts.Filter != nil && !opts.Filter(img.clone()) {
			continue
		}
		out = append(out, img.clone())
	}
	return out
}
