package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
)

// GCOptions are the options of GC.
type GCOptions struct {
	// Keep are blobs to spare besides those of images and leases.
	Keep []digest.Digest
}

// GCResult says what a collection freed.
type GCResult struct {
	Deleted   []digest.Digest
	Reclaimed int64
}

// GC deletes every blob that no image, lease or opts.Keep needs: mark and
// sweep over the content store. It holds the store's lock, so no image is
// created or removed meanwhile; it spares blobs committed after it
// started (a pull writes blobs before it creates the image that keeps
// them) and checks leases blob by blob as it sweeps.
//
// It is safe against a crash at any point: it deletes only blobs that no
// record on disk references, and records are removed durably before GC can
// run, so a crash never leaves a record whose blob is gone; a crash in the
// sweep leaves garbage the next GC takes.
func (s *Store) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now() // the clock of the blobs' commit times, never mocked
	marked := map[digest.Digest]struct{}{}
	for _, img := range s.images {
		for _, b := range img.Blobs() {
			marked[b] = struct{}{}
		}
	}
	for _, d := range opts.Keep {
		marked[d] = struct{}{}
	}
	var garbage []content.Info
	err := s.cs.Walk(ctx, func(info content.Info) error {
		if _, ok := marked[info.Digest]; !ok && info.CommittedAt.Before(start) {
			garbage = append(garbage, info)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("image store: gc: %w", err)
	}
	res := &GCResult{}
	for _, info := range garbage {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		deleted, err := s.deleteUnleased(ctx, info.Digest)
		if err != nil {
			return res, fmt.Errorf("image store: gc: %w", err)
		}
		if deleted {
			res.Deleted = append(res.Deleted, info.Digest)
			res.Reclaimed += info.Size
		}
	}
	return res, nil
}

// deleteUnleased deletes dgst unless a lease holds it, under the lease
// lock so that a lease taken meanwhile either sees the blob gone or keeps
// it.
func (s *Store) deleteUnleased(ctx context.Context, dgst digest.Digest) (bool, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	for _, set := range s.leases {
		if _, ok := set[dgst]; ok {
			return false, nil
		}
	}
	err := s.cs.Delete(ctx, dgst)
	if err != nil && !errors.Is(err, content.ErrNotFound) {
		return false, err
	}
	return err == nil, nil
}

// Lease keeps blobs from GC while an operation that will reference them
// (a pull, a load, a build) is under way. It lives in memory only: after
// a crash the operation is gone, and so is the reason to keep its blobs.
type Lease struct {
	s *Store
}

// Lease starts a lease; Release ends it.
func (s *Store) Lease() *Lease {
	l := &Lease{s: s}
	s.leaseMu.Lock()
	s.leases[l] = map[digest.Digest]struct{}{}
	s.leaseMu.Unlock()
	return l
}

// Add protects blobs. Add a blob before checking that it is present (or
// before writing it): a collection then either has deleted it already, so
// the check fails and the caller fetches it, or keeps it.
func (l *Lease) Add(dgsts ...digest.Digest) {
	l.s.leaseMu.Lock()
	defer l.s.leaseMu.Unlock()
	set, ok := l.s.leases[l]
	if !ok {
		return // released
	}
	for _, d := range dgsts {
		set[d] = struct{}{}
	}
}

// Release ends the lease. Its blobs are garbage from then on unless an
// image references them.
func (l *Lease) Release() {
	l.s.leaseMu.Lock()
	delete(l.s.leases, l)
	l.s.leaseMu.Unlock()
}
