package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gorae/gorae/internal/content"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestImport(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 11, 23, 18, 53, 7, 0, time.UTC)
	f.s.now = func() time.Time { return now }
	in := tarLayer(t, "etc/passwd", "root:x:0:0::/:/bin/sh\n", "bin/true", "")
	img, err := Import(f.ctx, f.s, bytes.NewReader(in), ImportOptions{
		Ref:     "imported",
		Changes: []string{`CMD ["/bin/true"]`, "ENV A=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.names(img.ID), []string{"imported:latest"}) {
		t.Fatalf("names %v", f.names(img.ID))
	}
	c := img.Config
	p := DefaultPlatform()
	if c.OS != "linux" || c.Architecture != p.Architecture || c.Created == nil || !c.Created.Equal(now) {
		t.Fatalf("config platform/created: %+v", c)
	}
	if c.RootFS.Type != "layers" || !slices.Equal(c.RootFS.DiffIDs, []digest.Digest{digest.FromBytes(in)}) {
		t.Fatalf("diff_ids %v, want the sha256 of the input", c.RootFS.DiffIDs)
	}
	if c.Comment != "Imported from -" || len(c.History) != 1 || c.History[0].Comment != "Imported from -" || !c.History[0].Created.Equal(now) {
		t.Fatalf("comment %q, history %+v", c.Comment, c.History)
	}
	if !slices.Equal(c.Config.Cmd, []string{"/bin/true"}) || !slices.Equal(c.Config.Env, []string{"A=1"}) {
		t.Fatalf("run config %+v", c.Config)
	}
	if img.Manifest.MediaType != ocispec.MediaTypeImageManifest || img.ConfigDescriptor.MediaType != ocispec.MediaTypeImageConfig {
		t.Fatalf("manifest %s, config %s", img.Manifest.MediaType, img.ConfigDescriptor.MediaType)
	}
	l := img.Layers[0]
	if l.MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Fatalf("layer media type %s", l.MediaType)
	}
	blob := f.blobBytes(l.Digest)
	if int64(len(blob)) != l.Size || digest.FromBytes(blob) != l.Digest {
		t.Fatal("layer descriptor does not describe its blob")
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := io.ReadAll(zr); !bytes.Equal(out, in) {
		t.Fatal("the layer does not decompress to the input")
	}
	if err := f.s.Verify(f.ctx); err != nil {
		t.Fatal(err)
	}
}

// Every compression docker import accepts gives the same diff ID: the
// uncompressed tar's.
func TestImportCompressed(t *testing.T) {
	in := tarLayer(t, "a", "aaaa", "b", "bbbb")
	want := digest.FromBytes(in)
	inputs := map[string][]byte{"plain": in}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(in)
	zw.Close()
	inputs["gzip"] = gz.Bytes()
	enc, _ := zstd.NewWriter(nil)
	inputs["zstd"] = enc.EncodeAll(in, nil)
	for _, tool := range []string{"bzip2", "xz"} {
		if path, err := exec.LookPath(tool); err == nil {
			cmd := exec.Command(path, "-c")
			cmd.Stdin = bytes.NewReader(in)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			inputs[tool] = out
		} else {
			t.Logf("%s not installed: its input is not tried", tool)
		}
	}
	// A tar's padding after its end blocks belongs to the layer too.
	inputs["padded"] = append(slices.Clone(in), make([]byte, 10240)...)
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			img, err := Import(f.ctx, f.s, bytes.NewReader(data), ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w := want
			if name == "padded" {
				w = digest.FromBytes(data)
			}
			if got := img.Config.RootFS.DiffIDs[0]; got != w {
				t.Fatalf("diff ID %s, want %s", got, w)
			}
		})
	}
}

func TestImportOptions(t *testing.T) {
	f := newFixture(t)
	in := tarLayer(t, "x", "y")
	img, err := Import(f.ctx, f.s, bytes.NewReader(in), ImportOptions{
		Message:  "my message",
		Platform: ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := img.Config; c.Comment != "my message" || c.History[0].Comment != "my message" || c.Architecture != "arm" || c.Variant != "v7" {
		t.Fatalf("config %+v", c)
	}
	if f.names(img.ID) != nil {
		t.Fatalf("untagged import has names %v", f.names(img.ID))
	}
	img, err = Import(f.ctx, f.s, bytes.NewReader(in), ImportOptions{Source: "https://example.com/rootfs.tar", Platform: ocispec.Platform{OS: "linux", Architecture: "aarch64"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := img.Config; c.Comment != "Imported from https://example.com/rootfs.tar" || c.Architecture != "arm64" || c.Variant != "" {
		t.Fatalf("config %+v", c)
	}
	// An empty input is an empty layer, as Docker takes it.
	img, err = Import(f.ctx, f.s, bytes.NewReader(nil), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := img.Config.RootFS.DiffIDs[0]; d != digest.FromBytes(nil) {
		t.Fatalf("empty import diff ID %s", d)
	}
}

// failReader fails the test if read: what must be refused is refused
// before the input is touched.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Fatal("the input was read")
	return 0, io.EOF
}

func TestImportRefused(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		opts ImportOptions
		want string
	}{
		{"digest reference", ImportOptions{Ref: "x@sha256:" + digest.FromString("x").Encoded()}, "refusing to create a tag with a digest reference"},
		{"invalid reference", ImportOptions{Ref: "Upper"}, "invalid reference format"},
		{"STOPSIGNAL", ImportOptions{Changes: []string{"STOPSIGNAL SIGKILL"}}, "stopsignal is not a valid change command"},
		{"half a platform", ImportOptions{Platform: ocispec.Platform{OS: "linux"}}, "lacks an OS or an architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(f.ctx, f.s, failReader{t}, tc.opts)
			mustContain(t, err, tc.want)
		})
	}

	// Not a tar: refused, nothing recorded, nothing left but garbage.
	_, err := Import(f.ctx, f.s, bytes.NewReader([]byte("garbage")), ImportOptions{Ref: "g"})
	mustContain(t, err, "not a tar archive")
	f.expectNothingRegistered(0)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("not a tar "), 100))
	zw.Close()
	_, err = Import(f.ctx, f.s, &gz, ImportOptions{})
	mustContain(t, err, "not a tar archive", "gzip-compressed")
	f.expectNothingRegistered(0)
}

// A failing content store is the error reported, not a confused tar
// reader.
func TestImportWriteFailure(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("disk full")
	cs := &failingWriterStore{memStore: newMemStore(), err: boom}
	s, err := NewStore(f.ctx, t.TempDir(), cs)
	if err != nil {
		t.Fatal(err)
	}
	in := makeTar(t, file("random", randomBytes(1<<20)))
	_, err = Import(f.ctx, s, bytes.NewReader(in), ImportOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("Import: %v, want the store's error", err)
	}
}

// failingWriterStore's writers fail after their first kilobyte.
type failingWriterStore struct {
	*memStore
	err error
}

func (s *failingWriterStore) Writer(ctx context.Context, opts ...content.WriterOpt) (content.Writer, error) {
	w, err := s.memStore.Writer(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &failingWriter{Writer: w, err: s.err}, nil
}

type failingWriter struct {
	content.Writer
	err error
	n   int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > 1024 {
		return 0, w.err
	}
	return w.Writer.Write(p)
}

// Import streams: a 32 MiB tar is never held whole.
func TestImportStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 32 MiB")
	}
	f := newFixture(t)
	in := makeTar(t, file("big", layer("0123456789", 32<<20)))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Import(f.ctx, f.s, bytes.NewReader(in), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Fatalf("Import allocated %d bytes for a 32 MiB tar: it buffers", alloc)
	}
}
