package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// refEntry is one name of an image: name:tag or name@digest.
type refEntry struct {
	ref reference.Named
	id  digest.Digest
}

// repositories is repositories.json, in Docker's own format: repository
// (familiar name) → reference (familiar string) → image ID.
//
//	{"Repositories":{"busybox":{"busybox:latest":"sha256:…","busybox@sha256:…":"sha256:…"}}}
type repositories struct {
	Repositories map[string]map[string]digest.Digest `json:"Repositories"`
}

func (s *Store) loadRefs() error {
	p := filepath.Join(s.root, repositoriesFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("image store: read %s: %w", p, err)
	}
	var repos repositories
	if err := json.Unmarshal(data, &repos); err != nil {
		return fmt.Errorf("image store: %s is corrupt (%v): move it away to start with no image names", p, err)
	}
	for _, refs := range repos.Repositories {
		for s2, id := range refs {
			ref, err := reference.ParseNormalizedNamed(s2)
			if err != nil {
				return fmt.Errorf("image store: %s: reference %q: %w", p, s2, err)
			}
			if _, ok := s.images[id]; !ok {
				continue // see NewStore
			}
			s.refs[ref.String()] = refEntry{ref: ref, id: id}
		}
	}
	return nil
}

// writeRefs persists s.refs; the caller holds s.mu.
func (s *Store) writeRefs() error {
	repos := repositories{Repositories: map[string]map[string]digest.Digest{}}
	for _, e := range s.refs {
		name := reference.FamiliarName(e.ref)
		if repos.Repositories[name] == nil {
			repos.Repositories[name] = map[string]digest.Digest{}
		}
		repos.Repositories[name][reference.FamiliarString(e.ref)] = e.id
	}
	data, err := json.Marshal(&repos) // maps marshal sorted: stable output
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.root, repositoriesFile, append(data, '\n')); err != nil {
		return fmt.Errorf("image store: save names: %w", err)
	}
	return nil
}

// Tag points ref at image id. ref is name:tag (a bare name means
// :latest), or name@digest where digest is the image's target or manifest
// (what a pull by digest records, Docker's RepoDigests). A tag that named
// another image moves; that image keeps its other names.
func (s *Store) Tag(ctx context.Context, ref reference.Named, id digest.Digest) error {
	ref = reference.TagNameOnly(ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	img, ok := s.images[id]
	if !ok {
		return fmt.Errorf("image store: tag %s: %w", FamiliarString(ref), notFound(id.String()))
	}
	if c, ok := ref.(reference.Canonical); ok {
		if _, tagged := ref.(reference.Tagged); tagged {
			return &ReferenceError{Input: ref.String(), Err: errors.New("a reference cannot have both a tag and a digest here")}
		}
		if c.Digest() != img.Target.Digest && c.Digest() != img.Manifest.Digest {
			return fmt.Errorf("image store: %s cannot name image %s: the digest is not its manifest's (%s)", FamiliarString(ref), id, img.Manifest.Digest)
		}
	}
	key := ref.String()
	if e, ok := s.refs[key]; ok && e.id == id {
		return nil
	}
	prev, had := s.refs[key]
	s.refs[key] = refEntry{ref: ref, id: id}
	if err := s.writeRefs(); err != nil {
		if had {
			s.refs[key] = prev
		} else {
			delete(s.refs, key)
		}
		return err
	}
	if _, tagged := ref.(reference.Tagged); tagged {
		// Cosmetic (Metadata.LastTagTime): a failure leaves the old time.
		updated := img.clone()
		updated.LastTagTime = s.now().UTC()
		if s.writeImage(updated) == nil {
			s.images[id] = updated
		}
	}
	return nil
}

// Untag removes the name ref and returns the image it named. It never
// removes the image, even if that was its last name: that is Delete's.
func (s *Store) Untag(ctx context.Context, ref reference.Named) (digest.Digest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.untag(reference.TagNameOnly(ref))
}

// untag is Untag under s.mu.
func (s *Store) untag(ref reference.Named) (digest.Digest, error) {
	key := ref.String()
	e, ok := s.refs[key]
	if !ok {
		return "", notFound(FamiliarString(ref))
	}
	delete(s.refs, key)
	if err := s.writeRefs(); err != nil {
		s.refs[key] = e
		return "", err
	}
	return e.id, nil
}

// References are the names of image id, sorted as Docker sorts them.
func (s *Store) References(id digest.Digest) []reference.Named {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.references(id)
}

func (s *Store) references(id digest.Digest) []reference.Named {
	var out []reference.Named
	for _, e := range s.refs {
		if e.id == id {
			out = append(out, e.ref)
		}
	}
	slices.SortFunc(out, func(a, b reference.Named) int {
		return strings.Compare(FamiliarString(a), FamiliarString(b))
	})
	return out
}

// repoTagsAndDigests are an image's names in Docker's familiar forms.
func repoTagsAndDigests(refs []reference.Named) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	for _, r := range refs {
		if _, ok := r.(reference.Canonical); ok {
			digests = append(digests, FamiliarString(r))
		} else {
			tags = append(tags, FamiliarString(r))
		}
	}
	return tags, digests
}
