package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fixture is an image store over a content store in a temp dir.
type fixture struct {
	t    testing.TB
	ctx  context.Context
	root string
	cs   content.Store
	s    *Store
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := t.TempDir()
	cs, err := content.NewLocal(root + "/content")
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureWith(t, root, cs)
}

func newFixtureWith(t testing.TB, root string, cs content.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := NewStore(ctx, root+"/image", cs)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, root: root, cs: cs, s: s}
}

func (f *fixture) reopen() {
	f.t.Helper()
	s, err := NewStore(f.ctx, f.root+"/image", f.cs)
	if err != nil {
		f.t.Fatalf("reopen: %v", err)
	}
	f.s = s
}

// blob writes data and returns its descriptor.
func (f *fixture) blob(mediaType string, data []byte) ocispec.Descriptor {
	f.t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if _, _, err := content.WriteBlob(f.ctx, f.cs, bytes.NewReader(data), d.Size, d.Digest); err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) jsonBlob(mediaType string, v any) ocispec.Descriptor {
	f.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.blob(mediaType, data)
}

// layer is uncompressed layer content: its blob digest is its diff ID.
func layer(name string, size int) []byte {
	b := bytes.Repeat([]byte(name), size/len(name)+1)
	return b[:size]
}

// spec describes a test image.
type spec struct {
	layers   [][]byte
	arch     string
	history  []ocispec.History
	labels   map[string]string
	created  time.Time
	docker   bool // Docker media types rather than OCI
	noWrite  []int
	modify   func(*Config)
	platform *ocispec.Platform
}

// image writes an image's blobs and returns its manifest descriptor.
func (f *fixture) image(sp spec) ocispec.Descriptor {
	f.t.Helper()
	mtManifest, mtConfig, mtLayer := ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayer
	if sp.docker {
		mtManifest, mtConfig, mtLayer = MediaTypeDockerManifest, MediaTypeDockerConfig, MediaTypeDockerLayer
	}
	arch := sp.arch
	if arch == "" {
		arch = DefaultPlatform().Architecture
	}
	created := sp.created
	if created.IsZero() {
		created = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	cfg := Config{Created: &created, Architecture: arch, OS: "linux", RootFS: ocispec.RootFS{Type: "layers"}, History: sp.history}
	cfg.Config.Labels = sp.labels
	cfg.Config.Cmd = []string{"sh"}
	m := ocispec.Manifest{MediaType: mtManifest}
	m.SchemaVersion = 2
	for i, l := range sp.layers {
		d := ocispec.Descriptor{MediaType: mtLayer, Digest: digest.FromBytes(l), Size: int64(len(l))}
		if !contains(sp.noWrite, i) {
			d = f.blob(mtLayer, l)
		}
		m.Layers = append(m.Layers, d)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, d.Digest)
	}
	if sp.modify != nil {
		sp.modify(&cfg)
	}
	m.Config = f.jsonBlob(mtConfig, cfg)
	d := f.jsonBlob(mtManifest, m)
	d.Platform = sp.platform
	return d
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (f *fixture) index(docker bool, manifests ...ocispec.Descriptor) ocispec.Descriptor {
	f.t.Helper()
	mt := ocispec.MediaTypeImageIndex
	if docker {
		mt = MediaTypeDockerManifestList
	}
	idx := ocispec.Index{MediaType: mt, Manifests: manifests}
	idx.SchemaVersion = 2
	return f.jsonBlob(mt, idx)
}

func (f *fixture) create(target ocispec.Descriptor, opts ...CreateOpt) *Image {
	f.t.Helper()
	img, err := f.s.Create(f.ctx, target, opts...)
	if err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	return img
}

func (f *fixture) tag(name string, id digest.Digest) {
	f.t.Helper()
	ref, err := ParseReference(name)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.Tag(f.ctx, ref, id); err != nil {
		f.t.Fatalf("Tag(%s): %v", name, err)
	}
}

func (f *fixture) names(id digest.Digest) []string {
	var out []string
	for _, r := range f.s.References(id) {
		out = append(out, reference.FamiliarString(r))
	}
	return out
}

func (f *fixture) blobCount() int {
	n := 0
	f.cs.Walk(f.ctx, func(content.Info) error { n++; return nil })
	return n
}

// memStore is a content.Store in memory: fast enough for fuzzing Create,
// and a second implementation for the conformance suite.
type memStore struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

func newMemStore() *memStore { return &memStore{blobs: map[digest.Digest][]byte{}} }

func memValidate(d digest.Digest) error {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%w %q", content.ErrInvalidDigest, d)
	}
	return nil
}

func (m *memStore) Info(_ context.Context, d digest.Digest) (content.Info, error) {
	if err := memValidate(d); err != nil {
		return content.Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d]
	if !ok {
		return content.Info{}, fmt.Errorf("%w: %s", content.ErrNotFound, d)
	}
	return content.Info{Digest: d, Size: int64(len(b)), CommittedAt: time.Unix(1, 0)}, nil
}

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

func (m *memStore) ReaderAt(_ context.Context, d digest.Digest) (content.ReaderAt, error) {
	if err := memValidate(d); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d]
	if !ok {
		return nil, fmt.Errorf("%w: %s", content.ErrNotFound, d)
	}
	return memReader{bytes.NewReader(b)}, nil
}

func (m *memStore) Walk(ctx context.Context, fn func(content.Info) error) error {
	m.mu.Lock()
	infos := make([]content.Info, 0, len(m.blobs))
	for d, b := range m.blobs {
		infos = append(infos, content.Info{Digest: d, Size: int64(len(b)), CommittedAt: time.Unix(1, 0)})
	}
	m.mu.Unlock()
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Delete(_ context.Context, d digest.Digest) error {
	if err := memValidate(d); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[d]; !ok {
		return fmt.Errorf("%w: %s", content.ErrNotFound, d)
	}
	delete(m.blobs, d)
	return nil
}

func (m *memStore) Writer(ctx context.Context, opts ...content.WriterOpt) (content.Writer, error) {
	o := content.WriterOpts{Size: -1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.Expected != "" {
		if err := memValidate(o.Expected); err != nil {
			return nil, err
		}
		if _, err := m.Info(ctx, o.Expected); err == nil {
			return nil, fmt.Errorf("%w: %s", content.ErrAlreadyExists, o.Expected)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &memWriter{m: m, opts: o}, nil
}

type memWriter struct {
	m    *memStore
	buf  bytes.Buffer
	opts content.WriterOpts
	done bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("finished")
	}
	if w.opts.Size >= 0 && int64(w.buf.Len()+len(p)) > w.opts.Size {
		return 0, &content.SizeMismatchError{Expected: w.opts.Size, Actual: int64(w.buf.Len() + len(p))}
	}
	return w.buf.Write(p)
}

func (w *memWriter) Digest() digest.Digest { return digest.FromBytes(w.buf.Bytes()) }
func (w *memWriter) Size() int64           { return int64(w.buf.Len()) }
func (w *memWriter) Abort() error          { w.done = true; return nil }

func (w *memWriter) Commit(ctx context.Context, size int64, expected digest.Digest) error {
	if w.done {
		return errors.New("finished")
	}
	w.done = true
	if size < 0 {
		size = w.opts.Size
	}
	if expected == "" {
		expected = w.opts.Expected
	}
	if size >= 0 && size != w.Size() {
		return &content.SizeMismatchError{Expected: size, Actual: w.Size()}
	}
	actual := w.Digest()
	if expected != "" && expected != actual {
		if err := memValidate(expected); err != nil {
			return err
		}
		return &content.DigestMismatchError{Expected: expected, Actual: actual}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if _, ok := w.m.blobs[actual]; ok {
		return fmt.Errorf("%w: %s", content.ErrAlreadyExists, actual)
	}
	w.m.blobs[actual] = bytes.Clone(w.buf.Bytes())
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
