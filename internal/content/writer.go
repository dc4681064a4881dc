package content

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// writeBuffer batches the small writes of io.Copy (32 KiB); each full
// buffer is hashed while another goroutine writes it to the file, so a
// blob costs the slower of the two rather than their sum (BenchmarkWrite
// against BenchmarkWriteBaseline; larger buffers measured slower).
const writeBuffer = 256 << 10

// Writer starts a blob in a new ingest file.
func (s *Local) Writer(ctx context.Context, opts ...WriterOpt) (Writer, error) {
	o := WriterOpts{Size: -1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.Expected != "" {
		if err := validate(o.Expected); err != nil {
			return nil, err
		}
		if _, err := os.Stat(s.blobPath(o.Expected)); err == nil {
			return nil, fmt.Errorf("content store: %w: %s", ErrAlreadyExists, o.Expected)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Join(s.root, ingestDir), "ingest-")
	if err != nil {
		return nil, fmt.Errorf("content store: create ingest file: %w", err)
	}
	// The lock tells NewLocal, here or in another process, that this
	// ingest is alive; the kernel releases it if we die.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("content store: flock ingest %s: %w", f.Name(), err)
	}
	return &localWriter{
		s:    s,
		f:    f,
		buf:  make([]byte, 0, writeBuffer),
		h:    sha256.New(),
		opts: o,
	}, nil
}

type localWriter struct {
	s       *Local
	f       *os.File // nil once finished
	buf     []byte   // filled by Write, drained by flush
	h       hash.Hash
	err     error // a failed file write: sticky, so Commit fails
	written int64
	opts    WriterOpts
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		return 0, errors.New("content store: write to a finished writer")
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.opts.Size >= 0 && w.written+int64(len(p)) > w.opts.Size {
		return 0, fmt.Errorf("content store: %w", &SizeMismatchError{Expected: w.opts.Size, Actual: w.written + int64(len(p))})
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= cap(w.buf) {
			// Large writes skip the copy into the buffer.
			chunk := p[:cap(w.buf)]
			if err := w.writeAndHash(chunk); err != nil {
				return n, err
			}
			p = p[len(chunk):]
			n += len(chunk)
			w.written += int64(len(chunk))
			continue
		}
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
		w.written += int64(c)
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (w *localWriter) flush() error {
	err := w.writeAndHash(w.buf)
	w.buf = w.buf[:0]
	return err
}

// writeAndHash writes b to the ingest file and hashes it, in parallel.
func (w *localWriter) writeAndHash(b []byte) error {
	if len(b) == 0 {
		return w.err
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.f.Write(b)
		done <- err
	}()
	w.h.Write(b)
	if err := <-done; err != nil && w.err == nil {
		w.err = fmt.Errorf("content store: write ingest %s: %w", w.f.Name(), err)
	}
	return w.err
}

// Digest is the digest of the bytes written so far. It flushes the
// buffer, as the hash only sees flushed bytes.
func (w *localWriter) Digest() digest.Digest {
	if w.f != nil {
		// A write error is kept for Commit; the hash is complete anyway.
		w.flush()
	}
	return digest.NewDigest(digest.SHA256, w.h)
}

func (w *localWriter) Size() int64 { return w.written }

func (w *localWriter) Commit(ctx context.Context, size int64, expected digest.Digest) (err error) {
	if w.f == nil {
		return errors.New("content store: commit of a finished writer")
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if size < 0 {
		size = w.opts.Size
	}
	if expected == "" {
		expected = w.opts.Expected
	}
	if size >= 0 && size != w.written {
		return fmt.Errorf("content store: %w", &SizeMismatchError{Expected: size, Actual: w.written})
	}
	if err := w.flush(); err != nil {
		return err
	}
	actual := w.Digest()
	if expected != "" && expected != actual {
		if err := validate(expected); err != nil {
			return err
		}
		return fmt.Errorf("content store: %w", &DigestMismatchError{Expected: expected, Actual: actual})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Read-only, so that nothing edits a blob in place by accident.
	if err := w.f.Chmod(blobMode); err != nil {
		return fmt.Errorf("content store: chmod ingest %s: %w", w.f.Name(), err)
	}
	// The data must be on disk before the name is: otherwise a crash could
	// leave a visible blob whose bytes are not its digest's.
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("content store: fsync ingest %s: %w", w.f.Name(), err)
	}
	target := w.s.blobPath(actual)
	// link(2), unlike rename(2), never replaces an existing blob, which
	// tells us exactly whether another writer got there first; the ingest
	// is still locked and open, so no cleanup can take it meanwhile.
	lerr := os.Link(w.f.Name(), target)
	if lerr != nil && !errors.Is(lerr, fs.ErrExist) {
		return fmt.Errorf("content store: link %s to %s: %w", w.f.Name(), target, lerr)
	}
	// Even when the blob was there, the other writer may not have synced
	// its directory yet, and our caller is about to rely on the blob.
	if err := syncDir(filepath.Dir(target)); err != nil {
		return err
	}
	w.Abort() // removes the ingest name; the blob keeps the inode
	if lerr != nil {
		return fmt.Errorf("content store: %w: %s", ErrAlreadyExists, actual)
	}
	return nil
}

func (w *localWriter) Abort() error {
	if w.f == nil {
		return nil
	}
	name := w.f.Name()
	rerr := os.Remove(name)
	w.f.Close()
	w.f = nil
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return fmt.Errorf("content store: remove ingest %s: %w", name, rerr)
	}
	return nil
}
