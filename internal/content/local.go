package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Layout of a Local store under its root (docs/image-store.md):
//
//	blobs/sha256/<hex>   committed blobs, read-only, never rewritten
//	ingest/<random>      blobs being written; flock'd by their writer
const (
	blobsDir  = "blobs"
	ingestDir = "ingest"
	dirMode   = 0o700
	blobMode  = 0o444
)

// Local is a Store in a directory of the local filesystem.
type Local struct {
	root string
}

var _ Store = (*Local)(nil)

// NewLocal opens (creating if needed) the store at root and removes the
// ingests that crashed writers left behind. An ingest still locked by a
// live writer, in this or another process, is left alone.
func NewLocal(root string) (*Local, error) {
	s := &Local{root: root}
	for _, dir := range []string{filepath.Join(root, blobsDir, string(digest.SHA256)), filepath.Join(root, ingestDir)} {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("content store: create %s: %w", dir, err)
		}
	}
	if err := s.removeStaleIngests(); err != nil {
		return nil, err
	}
	return s, nil
}

// Root is the directory the store lives in.
func (s *Local) Root() string { return s.root }

func (s *Local) blobPath(dgst digest.Digest) string {
	return filepath.Join(s.root, blobsDir, string(dgst.Algorithm()), dgst.Encoded())
}

func (s *Local) removeStaleIngests() error {
	dir := filepath.Join(s.root, ingestDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("content store: read %s: %w", dir, err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			// Nothing of ours; a directory here is someone's mistake.
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("content store: open stale ingest %s: %w", p, err)
		}
		// A writer holds an exclusive flock on its ingest until it commits
		// or aborts; the kernel drops it when the writer dies, so a file we
		// can lock belongs to no one.
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				f.Close()
				return fmt.Errorf("content store: remove stale ingest %s: %w", p, rerr)
			}
		}
		f.Close()
		if err != nil && !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("content store: flock stale ingest %s: %w", p, err)
		}
	}
	return nil
}

// Info describes the blob dgst.
func (s *Local) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	if err := validate(dgst); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(s.blobPath(dgst))
	if err != nil {
		return Info{}, notFound(dgst, err)
	}
	return Info{Digest: dgst, Size: fi.Size(), CommittedAt: commitTime(fi)}, nil
}

// ReaderAt opens the blob dgst. The returned value also implements
// io.Reader (from offset 0) and io.WriterTo, so Open streams it with
// sendfile where the kernel can.
func (s *Local) ReaderAt(ctx context.Context, dgst digest.Digest) (ReaderAt, error) {
	if err := validate(dgst); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(dgst))
	if err != nil {
		return nil, notFound(dgst, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("content store: stat blob %s: %w", dgst, err)
	}
	return &fileReader{File: f, size: fi.Size()}, nil
}

// fileReader embeds *os.File for Read, ReadAt, WriteTo and Close; the file
// is open read-only, so its write methods fail.
type fileReader struct {
	*os.File
	size int64
}

func (r *fileReader) Size() int64 { return r.size }

// Walk calls fn for every committed blob. Files that are not named as a
// sha256 digest are skipped: they are not blobs.
func (s *Local) Walk(ctx context.Context, fn func(Info) error) error {
	dir := filepath.Join(s.root, blobsDir, string(digest.SHA256))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("content store: read %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		dgst := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if e.IsDir() || dgst.Validate() != nil {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("content store: stat blob %s: %w", dgst, err)
		}
		if err := fn(Info{Digest: dgst, Size: fi.Size(), CommittedAt: commitTime(fi)}); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the blob dgst.
func (s *Local) Delete(ctx context.Context, dgst digest.Digest) error {
	if err := validate(dgst); err != nil {
		return err
	}
	// Not fsync'd: a blob that reappears after a crash is only garbage
	// that the next collection finds again, and syncing once per blob
	// would make a large collection slow.
	if err := os.Remove(s.blobPath(dgst)); err != nil {
		return notFound(dgst, err)
	}
	return nil
}

// commitTime is the blob's ctime: link(2) at commit sets it, whereas the
// mtime is when the last byte was written, which may be long before.
func commitTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Unix())
	}
	return fi.ModTime()
}

func notFound(dgst digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content store: %w: %s", ErrNotFound, dgst)
	}
	return fmt.Errorf("content store: blob %s: %w", dgst, err)
}

// syncDir makes the creation, rename or removal of an entry of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("content store: open %s to fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		// EINVAL: the filesystem cannot fsync directories (some FUSE);
		// nothing more can be done there.
		return fmt.Errorf("content store: fsync %s: %w", dir, err)
	}
	return nil
}

// Compile-time checks that the reader offers streaming paths.
var (
	_ io.Reader   = (*fileReader)(nil)
	_ io.WriterTo = (*fileReader)(nil)
)
