package content

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// WriteBlob makes the blob read from r present in the store and returns
// its digest and size. size (or -1) and expected (or "") are checked as by
// Writer.Commit. A blob that is already present is success: when expected
// names one, r is not read at all and the size returned is the size given.
func WriteBlob(ctx context.Context, ing Ingester, r io.Reader, size int64, expected digest.Digest) (digest.Digest, int64, error) {
	w, err := ing.Writer(ctx, WithExpected(expected, size))
	if errors.Is(err, ErrAlreadyExists) {
		return expected, size, nil
	}
	if err != nil {
		return "", 0, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, &ctxReader{ctx: ctx, r: r}); err != nil {
		return "", 0, err
	}
	dgst, n := w.Digest(), w.Size()
	if err := w.Commit(ctx, size, expected); err != nil && !errors.Is(err, ErrAlreadyExists) {
		return "", 0, err
	}
	return dgst, n, nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Open returns a stream of the blob dgst and its size.
func Open(ctx context.Context, p Provider, dgst digest.Digest) (io.ReadCloser, int64, error) {
	ra, err := p.ReaderAt(ctx, dgst)
	if err != nil {
		return nil, 0, err
	}
	// A store whose ReaderAt is already a stream from offset 0 (Local's
	// file) keeps its fast paths; others are wrapped.
	if rc, ok := ra.(io.ReadCloser); ok {
		return rc, ra.Size(), nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(ra, 0, ra.Size()), ra}, ra.Size(), nil
}

// ReadBlob reads a whole small blob (a manifest, a config). A blob larger
// than limit bytes is refused with ErrTooLarge before it is read, so a
// hostile descriptor cannot make us allocate without bound.
func ReadBlob(ctx context.Context, p Provider, dgst digest.Digest, limit int64) ([]byte, error) {
	ra, err := p.ReaderAt(ctx, dgst)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	if ra.Size() > limit {
		return nil, fmt.Errorf("content store: %w: %s is %d bytes, more than the %d allowed", ErrTooLarge, dgst, ra.Size(), limit)
	}
	buf := make([]byte, ra.Size())
	if _, err := ra.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return nil, fmt.Errorf("content store: read blob %s: %w", dgst, err)
	}
	return buf, nil
}
