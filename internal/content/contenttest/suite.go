// Package contenttest is the conformance suite of content.Store: every
// implementation runs it, as containerd's content testsuite, so they all
// keep the same promises.
package contenttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
)

// Run runs the suite; newStore returns a new, empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) content.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s content.Store)
	}{
		{"WriteRead", testWriteRead},
		{"WriteInPieces", testWriteInPieces},
		{"EmptyBlob", testEmptyBlob},
		{"CommitExisting", testCommitExisting},
		{"WriterForExisting", testWriterForExisting},
		{"DigestMismatch", testDigestMismatch},
		{"SizeMismatch", testSizeMismatch},
		{"WritePastSize", testWritePastSize},
		{"Abort", testAbort},
		{"NotFound", testNotFound},
		{"InvalidDigest", testInvalidDigest},
		{"Walk", testWalk},
		{"Delete", testDelete},
		{"ConcurrentSameBlob", testConcurrentSameBlob},
		{"ConcurrentManyBlobs", testConcurrentManyBlobs},
		{"WriteBlob", testWriteBlob},
		{"CanceledContext", testCanceledContext},
		{"ReadBlobLimit", testReadBlobLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// write commits data and fails the test on any error.
func write(t *testing.T, s content.Store, data []byte) digest.Digest {
	t.Helper()
	dgst, n, err := content.WriteBlob(context.Background(), s, bytes.NewReader(data), int64(len(data)), digest.FromBytes(data))
	if err != nil {
		t.Fatalf("WriteBlob: %v", err)
	}
	if n != int64(len(data)) {
		t.Fatalf("WriteBlob size %d, want %d", n, len(data))
	}
	return dgst
}

// checkBlob asserts that dgst is present with exactly data.
func checkBlob(t *testing.T, s content.Store, dgst digest.Digest, data []byte) {
	t.Helper()
	ctx := context.Background()
	info, err := s.Info(ctx, dgst)
	if err != nil {
		t.Fatalf("Info(%s): %v", dgst, err)
	}
	if info.Digest != dgst || info.Size != int64(len(data)) {
		t.Fatalf("Info = %+v, want digest %s size %d", info, dgst, len(data))
	}
	ra, err := s.ReaderAt(ctx, dgst)
	if err != nil {
		t.Fatalf("ReaderAt(%s): %v", dgst, err)
	}
	defer ra.Close()
	if ra.Size() != int64(len(data)) {
		t.Fatalf("ReaderAt size %d, want %d", ra.Size(), len(data))
	}
	got := make([]byte, len(data))
	if _, err := ra.ReadAt(got, 0); err != nil && !(len(got) == 0 && errors.Is(err, io.EOF)) {
		t.Fatalf("ReadAt: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("ReadAt returned other bytes than written")
	}
	rc, size, err := content.Open(ctx, s, dgst)
	if err != nil {
		t.Fatalf("Open(%s): %v", dgst, err)
	}
	defer rc.Close()
	streamed, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	if size != int64(len(data)) || !bytes.Equal(streamed, data) {
		t.Fatalf("Open returned %d bytes (size %d), want %d", len(streamed), size, len(data))
	}
}

// checkAbsent asserts that dgst is not visible in any way.
func checkAbsent(t *testing.T, s content.Store, dgst digest.Digest) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Info(ctx, dgst); !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("Info(%s) = %v, want ErrNotFound", dgst, err)
	}
	if _, err := s.ReaderAt(ctx, dgst); !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("ReaderAt(%s) = %v, want ErrNotFound", dgst, err)
	}
	s.Walk(ctx, func(i content.Info) error {
		if i.Digest == dgst {
			t.Fatalf("Walk lists %s", dgst)
		}
		return nil
	})
}

func blobCount(t *testing.T, s content.Store) int {
	t.Helper()
	n := 0
	if err := s.Walk(context.Background(), func(content.Info) error { n++; return nil }); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return n
}

func testWriteRead(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 3<<20+17)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	want := digest.FromBytes(data)
	if w.Digest() != want || w.Size() != int64(len(data)) {
		t.Fatalf("writer reports %s/%d, want %s/%d", w.Digest(), w.Size(), want, len(data))
	}
	if err := w.Commit(ctx, int64(len(data)), want); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, want, data)
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	checkBlob(t, s, want, data)
}

func testWriteInPieces(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 100003)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for off := 0; off < len(data); off += 997 {
		end := min(off+997, len(data))
		if _, err := w.Write(data[off:end]); err != nil {
			t.Fatal(err)
		}
		if w.Digest() != digest.FromBytes(data[:end]) {
			t.Fatalf("Digest after %d bytes is not the digest of those bytes", end)
		}
	}
	// Unknown size and digest: the store computes them.
	if err := w.Commit(ctx, -1, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	checkBlob(t, s, digest.FromBytes(data), data)
}

func testEmptyBlob(t *testing.T, s content.Store) {
	dgst := write(t, s, nil)
	if dgst != digest.FromBytes(nil) {
		t.Fatalf("empty blob digest %s", dgst)
	}
	checkBlob(t, s, dgst, nil)
}

func testCommitExisting(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 4096)
	dgst := write(t, s, data)
	w, err := s.Writer(ctx) // no expected digest: the store cannot know yet
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write(data)
	err = w.Commit(ctx, int64(len(data)), dgst)
	if !errors.Is(err, content.ErrAlreadyExists) {
		t.Fatalf("second Commit = %v, want ErrAlreadyExists", err)
	}
	checkBlob(t, s, dgst, data)
	if n := blobCount(t, s); n != 1 {
		t.Fatalf("%d blobs, want 1", n)
	}
}

func testWriterForExisting(t *testing.T, s content.Store) {
	data := randomBytes(t, 4096)
	dgst := write(t, s, data)
	_, err := s.Writer(context.Background(), content.WithExpected(dgst, int64(len(data))))
	if !errors.Is(err, content.ErrAlreadyExists) {
		t.Fatalf("Writer for a present blob = %v, want ErrAlreadyExists", err)
	}
}

func testDigestMismatch(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 8192)
	wrong := digest.FromString("something else")
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write(data)
	err = w.Commit(ctx, int64(len(data)), wrong)
	var mm *content.DigestMismatchError
	if !errors.Is(err, content.ErrDigestMismatch) || !errors.As(err, &mm) {
		t.Fatalf("Commit = %v, want a DigestMismatchError", err)
	}
	if mm.Expected != wrong || mm.Actual != digest.FromBytes(data) {
		t.Fatalf("mismatch %+v, want expected %s actual %s", mm, wrong, digest.FromBytes(data))
	}
	checkAbsent(t, s, wrong)
	checkAbsent(t, s, digest.FromBytes(data))
	if n := blobCount(t, s); n != 0 {
		t.Fatalf("%d blobs after a failed commit, want 0", n)
	}
}

func testSizeMismatch(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 1000)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write(data)
	err = w.Commit(ctx, 999, digest.FromBytes(data))
	var mm *content.SizeMismatchError
	if !errors.Is(err, content.ErrSizeMismatch) || !errors.As(err, &mm) || mm.Expected != 999 || mm.Actual != 1000 {
		t.Fatalf("Commit = %v, want SizeMismatchError{999, 1000}", err)
	}
	checkAbsent(t, s, digest.FromBytes(data))
	// The writer is finished.
	if _, err := w.Write(data); err == nil {
		t.Fatal("Write after a failed Commit succeeded")
	}
}

func testWritePastSize(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 100)
	w, err := s.Writer(ctx, content.WithExpected(digest.FromBytes(data[:50]), 50))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(data); !errors.Is(err, content.ErrSizeMismatch) {
		t.Fatalf("Write past the expected size = %v, want ErrSizeMismatch", err)
	}
	w.Abort()
	checkAbsent(t, s, digest.FromBytes(data[:50]))
}

func testAbort(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 1000)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if _, err := w.Write(data); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
	if err := w.Commit(ctx, -1, ""); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	checkAbsent(t, s, digest.FromBytes(data))
}

func testNotFound(t *testing.T, s content.Store) {
	dgst := digest.FromString("absent")
	checkAbsent(t, s, dgst)
	if err := s.Delete(context.Background(), dgst); !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("Delete of an absent blob = %v, want ErrNotFound", err)
	}
	_, _, err := content.Open(context.Background(), s, dgst)
	if !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("Open of an absent blob = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), dgst.String()) {
		t.Fatalf("error %q does not name the digest", err)
	}
}

func testInvalidDigest(t *testing.T, s content.Store) {
	ctx := context.Background()
	for _, d := range []digest.Digest{"", "sha256:../../etc/passwd", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "nonsense"} {
		if _, err := s.Info(ctx, d); !errors.Is(err, content.ErrInvalidDigest) {
			t.Errorf("Info(%q) = %v, want ErrInvalidDigest", d, err)
		}
		if _, err := s.ReaderAt(ctx, d); !errors.Is(err, content.ErrInvalidDigest) {
			t.Errorf("ReaderAt(%q) = %v, want ErrInvalidDigest", d, err)
		}
		if err := s.Delete(ctx, d); !errors.Is(err, content.ErrInvalidDigest) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidDigest", d, err)
		}
		if d == "" {
			continue // "" means "not known" to Writer
		}
		if _, err := s.Writer(ctx, content.WithExpected(d, -1)); !errors.Is(err, content.ErrInvalidDigest) {
			t.Errorf("Writer(expected %q) = %v, want ErrInvalidDigest", d, err)
		}
	}
}

func testWalk(t *testing.T, s content.Store) {
	ctx := context.Background()
	want := map[digest.Digest]int64{}
	for i := range 10 {
		data := randomBytes(t, 100*i)
		want[write(t, s, data)] = int64(len(data))
	}
	got := map[digest.Digest]int64{}
	if err := s.Walk(ctx, func(i content.Info) error {
		got[i.Digest] = i.Size
		if i.CommittedAt.IsZero() {
			t.Errorf("%s has no commit time", i.Digest)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk found %d blobs, want %d", len(got), len(want))
	}
	for d, n := range want {
		if got[d] != n {
			t.Errorf("Walk: %s size %d, want %d", d, got[d], n)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(ctx, func(content.Info) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func testDelete(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 1000)
	dgst := write(t, s, data)
	if err := s.Delete(ctx, dgst); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkAbsent(t, s, dgst)
	// Deleted content can be written again.
	write(t, s, data)
	checkBlob(t, s, dgst, data)
}

func testConcurrentSameBlob(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 1<<20)
	dgst := digest.FromBytes(data)
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Half know the digest up front, half learn it at commit, so
			// both the early and the late existence checks race.
			exp := dgst
			if i%2 == 1 {
				exp = ""
			}
			_, _, err := content.WriteBlob(ctx, s, bytes.NewReader(data), int64(len(data)), exp)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent WriteBlob: %v", err)
		}
	}
	checkBlob(t, s, dgst, data)
	if n := blobCount(t, s); n != 1 {
		t.Fatalf("%d blobs after concurrent writes of one, want 1", n)
	}
}

func testConcurrentManyBlobs(t *testing.T, s content.Store) {
	const n = 32
	blobs := make([][]byte, n)
	for i := range blobs {
		blobs[i] = randomBytes(t, 10000+i)
	}
	var wg sync.WaitGroup
	for _, b := range blobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := content.WriteBlob(context.Background(), s, bytes.NewReader(b), int64(len(b)), ""); err != nil {
				t.Errorf("WriteBlob: %v", err)
			}
		}()
	}
	wg.Wait()
	for _, b := range blobs {
		checkBlob(t, s, digest.FromBytes(b), b)
	}
	if got := blobCount(t, s); got != n {
		t.Fatalf("%d blobs, want %d", got, n)
	}
}

// failReader fails the test if read: WriteBlob must not read a blob it has.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("WriteBlob read the source of a blob already present")
	return 0, io.EOF
}

func testWriteBlob(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 5000)
	dgst, n, err := content.WriteBlob(ctx, s, bytes.NewReader(data), -1, "")
	if err != nil || dgst != digest.FromBytes(data) || n != int64(len(data)) {
		t.Fatalf("WriteBlob = %s, %d, %v; want %s, %d, nil", dgst, n, err, digest.FromBytes(data), len(data))
	}
	// Present: success, and the source is not read.
	if _, _, err := content.WriteBlob(ctx, s, failReader{t}, int64(len(data)), dgst); err != nil {
		t.Fatalf("WriteBlob of a present blob: %v", err)
	}
	// Present but not announced: read, verified, success.
	if _, _, err := content.WriteBlob(ctx, s, bytes.NewReader(data), -1, ""); err != nil {
		t.Fatalf("WriteBlob of a present blob without digest: %v", err)
	}
	// Mismatch is an error.
	other := randomBytes(t, 5000)
	if _, _, err := content.WriteBlob(ctx, s, bytes.NewReader(other), 5000, digest.FromBytes(data[:10])); !errors.Is(err, content.ErrDigestMismatch) {
		t.Fatalf("WriteBlob with the wrong digest = %v, want ErrDigestMismatch", err)
	}
	checkAbsent(t, s, digest.FromBytes(other))
}

func testCanceledContext(t *testing.T, s content.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := randomBytes(t, 1000)
	if _, _, err := content.WriteBlob(ctx, s, bytes.NewReader(data), -1, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteBlob with a canceled context = %v, want context.Canceled", err)
	}
	checkAbsent(t, s, digest.FromBytes(data))
}

func testReadBlobLimit(t *testing.T, s content.Store) {
	ctx := context.Background()
	data := randomBytes(t, 2000)
	dgst := write(t, s, data)
	got, err := content.ReadBlob(ctx, s, dgst, 2000)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadBlob at the limit = %d bytes, %v", len(got), err)
	}
	if _, err := content.ReadBlob(ctx, s, dgst, 1999); !errors.Is(err, content.ErrTooLarge) {
		t.Fatalf("ReadBlob over the limit = %v, want ErrTooLarge", err)
	}
	empty := write(t, s, nil)
	if got, err := content.ReadBlob(ctx, s, empty, 10); err != nil || len(got) != 0 {
		t.Fatalf("ReadBlob of the empty blob = %q, %v", got, err)
	}
}
