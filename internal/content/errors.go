package content

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Errors of the content store. Every error returned wraps one of these with
// the digest it concerns; test them with errors.Is.
var (
	ErrNotFound       = errors.New("blob not found")
	ErrAlreadyExists  = errors.New("blob already exists")
	ErrDigestMismatch = errors.New("digest mismatch")
	ErrSizeMismatch   = errors.New("size mismatch")
	ErrInvalidDigest  = errors.New("invalid digest")
	ErrTooLarge       = errors.New("blob too large")
)

// DigestMismatchError says that the bytes written do not hash to the digest
// they were expected to have. It matches ErrDigestMismatch.
type DigestMismatchError struct {
	Expected, Actual digest.Digest
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("digest mismatch: expected %s, got %s (the source sent other bytes than it described; retry or check the source)", e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrDigestMismatch) true.
func (e *DigestMismatchError) Is(target error) bool { return target == ErrDigestMismatch }

// SizeMismatchError says that the bytes written are not as many as
// expected. Actual may be a lower bound when a write overran.
type SizeMismatchError struct {
	Expected, Actual int64
}

func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("size mismatch: expected %d bytes, got %d (the source sent other bytes than it described; retry or check the source)", e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrSizeMismatch) true.
func (e *SizeMismatchError) Is(target error) bool { return target == ErrSizeMismatch }

// validate refuses digests that are malformed or that this store cannot
// hold, before any of them becomes part of a path.
func validate(dgst digest.Digest) error {
	if err := dgst.Validate(); err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalidDigest, dgst, err)
	}
	if dgst.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%w %q: only sha256 blobs are stored", ErrInvalidDigest, dgst)
	}
	return nil
}
