// Package content is gorae's content-addressed blob store. Every manifest,
// config and layer is one file named by the sha256 digest of its bytes. A
// blob is written to an ingest file, hashed as it streams in, and becomes
// visible only after its digest and size verify, so a reader never sees a
// partial or wrong blob and never needs to verify on read.
//
// The interfaces are narrow, as containerd's content store: Provider reads,
// Ingester writes, Manager lists and deletes, and Store is all three.
// contenttest holds the conformance suite every implementation must pass.
package content

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Info describes a committed blob.
type Info struct {
	Digest digest.Digest
	Size   int64
	// CommittedAt is when the blob became visible. Garbage collection
	// uses it to spare blobs committed after it started.
	CommittedAt time.Time
}

// ReaderAt reads a committed blob at any offset. Close releases it; a blob
// deleted while open stays readable until then.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Provider reads committed blobs.
type Provider interface {
	// ReaderAt opens the blob dgst. It fails with ErrNotFound if absent.
	ReaderAt(ctx context.Context, dgst digest.Digest) (ReaderAt, error)
}

// Ingester writes new blobs.
type Ingester interface {
	// Writer starts a new blob. With WithExpected naming a blob that is
	// already present it fails with ErrAlreadyExists, so a caller can skip
	// a download.
	Writer(ctx context.Context, opts ...WriterOpt) (Writer, error)
}

// Manager inspects, lists and deletes committed blobs.
type Manager interface {
	// Info describes the blob dgst, or fails with ErrNotFound.
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
	// Walk calls fn for every committed blob, in no promised order. An
	// error from fn stops the walk and is returned.
	Walk(ctx context.Context, fn func(Info) error) error
	// Delete removes the blob dgst, or fails with ErrNotFound. Readers
	// that have it open keep reading it.
	Delete(ctx context.Context, dgst digest.Digest) error
}

// Store is a complete content store.
type Store interface {
	Provider
	Ingester
	Manager
}

// Writer streams one blob into the store. It is not safe for concurrent
// use. Every Writer ends with Commit or Abort; `defer w.Abort()` is the
// idiom, as Abort after Commit does nothing.
type Writer interface {
	io.Writer
	// Digest is the digest of the bytes written so far.
	Digest() digest.Digest
	// Size is the number of bytes written so far.
	Size() int64
	// Commit verifies the blob and makes it visible. size < 0 and an empty
	// expected skip that check, falling back to what WithExpected said.
	//
	// It returns nil when this writer made the blob visible, and an error
	// wrapping ErrAlreadyExists when the verified blob was already there
	// (committed earlier or concurrently by another writer): either way
	// the blob is present once Commit returns, so a caller that only needs
	// it present treats ErrAlreadyExists as success (WriteBlob does).
	// A size or digest mismatch returns *SizeMismatchError or
	// *DigestMismatchError and leaves nothing visible. After Commit,
	// successful or not, the writer is finished.
	Commit(ctx context.Context, size int64, expected digest.Digest) error
	// Abort discards the ingest. It is safe to call more than once and
	// after Commit.
	Abort() error
}

// WriterOpts are the settings of a new Writer.
type WriterOpts struct {
	// Expected is the digest the blob must have, if known.
	Expected digest.Digest
	// Size is the size the blob must have, or -1 if unknown. Writes past it
	// fail at once, so a hostile source cannot fill the disk.
	Size int64
}

// WriterOpt sets an option of a new Writer.
type WriterOpt func(*WriterOpts)

// WithExpected says what the blob must be: its digest (or "") and its size
// (or -1).
func WithExpected(dgst digest.Digest, size int64) WriterOpt {
	return func(o *WriterOpts) {
		o.Expected = dgst
		o.Size = size
	}
}
