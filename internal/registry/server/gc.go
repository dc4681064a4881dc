package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/content"
)

// DefaultGCGrace spares blobs younger than this from gc: they may belong
// to a push whose manifest has not arrived yet.
const DefaultGCGrace = time.Hour

// GCOptions tune a collection.
type GCOptions struct {
	// DryRun reports what would go and deletes nothing.
	DryRun bool
	// Grace spares unreferenced blobs committed (or linked, or mounted)
	// less than this long before the collection started.
	Grace time.Duration
}

// GCResult is what a collection found.
type GCResult struct {
	// Referenced counts the blobs some manifest of some repository needs.
	Referenced int
	// Deleted are the blobs removed (or, in a dry run, to remove).
	Deleted []digest.Digest
	// Bytes is their total size.
	Bytes int64
	// Spared counts unreferenced blobs kept for the grace period.
	Spared int
}

// GC removes the blobs that no manifest in any repository references:
// mark (every manifest revision of every repository, its config, layers
// and, for an index, its children, which are revisions too) then sweep.
//
// Safety against a server pushing at the same time: gc holds the
// storage's lock exclusively from mark to sweep, and the server holds it
// shared while it checks a manifest's references and links it, and while
// it links an uploaded or mounted blob — so no manifest can come to
// reference a blob between mark and sweep. A blob uploaded for a manifest
// not pushed yet is referenced by nothing; the grace period spares it
// (each link renews its time). A push that stalls past the grace period
// loses its blobs and gets MANIFEST_BLOB_UNKNOWN for its manifest, never
// a manifest with missing blobs.
func (s *FS) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	start := time.Now()
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	marked := map[digest.Digest]bool{}
	repos, err := s.Repositories(ctx)
	if err != nil {
		return nil, err
	}
	for _, repo := range repos {
		if err := s.markRepo(ctx, repo, marked); err != nil {
			return nil, err
		}
	}
	res := &GCResult{Referenced: len(marked)}
	cutoff := start.Add(-opts.Grace)
	err = s.cs.Walk(ctx, func(info content.Info) error {
		if marked[info.Digest] {
			return nil
		}
		if info.CommittedAt.After(cutoff) {
			res.Spared++
			return nil
		}
		if !opts.DryRun {
			if err := s.cs.Delete(ctx, info.Digest); err != nil && !errors.Is(err, content.ErrNotFound) {
				return err
			}
		}
		res.Deleted = append(res.Deleted, info.Digest)
		res.Bytes += info.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry gc: sweep: %w", err)
	}
	if !opts.DryRun {
		for _, repo := range repos {
			if err := s.pruneLayerLinks(ctx, repo); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// markRepo marks every manifest revision of repo and what it references.
func (s *FS) markRepo(ctx context.Context, repo string, marked map[digest.Digest]bool) error {
	dir := s.repoPath(repo, manifestsDir, "revisions", string(digest.SHA256))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry gc: %w", err)
	}
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil {
			continue
		}
		m, err := s.Manifest(ctx, repo, d.String())
		if err != nil {
			var re *Error
			if errors.As(err, &re) {
				continue // a revision link whose bytes are gone references nothing
			}
			return fmt.Errorf("registry gc: %w", err)
		}
		marked[d] = true
		p, err := ParseManifest(m.Descriptor.MediaType, m.Data)
		if err != nil {
			// Refuse to guess what an unreadable manifest needs.
			return fmt.Errorf("registry gc: manifest %s@%s cannot be parsed (%v): nothing was deleted; delete that manifest first", repo, d, err)
		}
		for _, b := range p.Blobs {
			marked[b] = true
		}
		for _, c := range p.Children {
			marked[c] = true
		}
	}
	return nil
}

// pruneLayerLinks drops the links of repo to blobs that are gone.
func (s *FS) pruneLayerLinks(ctx context.Context, repo string) error {
	dir := s.repoPath(repo, layersDir, string(digest.SHA256))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry gc: %w", err)
	}
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil || s.blobPresent(ctx, d) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("registry gc: %w", err)
		}
	}
	return nil
}
