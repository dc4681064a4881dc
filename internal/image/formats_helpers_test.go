package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tarEntry is one entry of a test archive.
type tarEntry struct {
	name     string
	typ      byte
	data     []byte
	linkname string
	size     int64 // header size if not len(data) (a lie, for hostile tests)
}

func file(name string, data []byte) tarEntry {
	return tarEntry{name: name, typ: tar.TypeReg, data: data}
}
func jsonFile(t testing.TB, name string, v any) tarEntry {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return file(name, data)
}

// makeTar builds a tar from entries; a lying size writes a header only
// (the tar is then truncated).
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := int64(len(e.data))
		if typ != tar.TypeReg {
			size = 0
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.linkname, Mode: 0o644, Size: size}
		if e.size != 0 {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.size != 0 {
			tw.Write(e.data)
			return buf.Bytes() // truncated on purpose
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readTar returns the entries of a tar in order.
func readTar(t testing.TB, data []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{name: hdr.Name, typ: hdr.Typeflag, data: b, linkname: hdr.Linkname})
	}
}

func entryData(t testing.TB, entries []tarEntry, name string) []byte {
	t.Helper()
	for _, e := range entries {
		if e.name == name {
			return e.data
		}
	}
	t.Fatalf("archive has no %s; it has %v", name, entryNames(entries))
	return nil
}

func entryNames(entries []tarEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.name)
	}
	return out
}

// save runs Save and returns the archive.
func (f *fixture) save(names ...string) []byte {
	f.t.Helper()
	var buf bytes.Buffer
	if err := Save(f.ctx, f.s, names, &buf); err != nil {
		f.t.Fatalf("Save(%v): %v", names, err)
	}
	return buf.Bytes()
}

// load runs Load and returns what it loaded and the progress lines.
func (f *fixture) load(data []byte) ([]LoadedImage, []string) {
	f.t.Helper()
	var lines []string
	out, err := Load(f.ctx, f.s, bytes.NewReader(data), func(m string) { lines = append(lines, m) })
	if err != nil {
		f.t.Fatalf("Load: %v", err)
	}
	if err := f.s.Verify(f.ctx); err != nil {
		f.t.Fatalf("Verify after Load: %v", err)
	}
	return out, lines
}

// tagged creates an image from sp and tags it.
func (f *fixture) tagged(sp spec, names ...string) *Image {
	f.t.Helper()
	img := f.create(f.image(sp))
	for _, n := range names {
		f.tag(n, img.ID)
	}
	return img
}

// tarLayer is a small, valid layer tar holding files name → content.
func tarLayer(t testing.TB, files ...string) []byte {
	t.Helper()
	var entries []tarEntry
	for i := 0; i+1 < len(files); i += 2 {
		entries = append(entries, file(files[i], []byte(files[i+1])))
	}
	return makeTar(t, entries...)
}

// expectNoImages checks a failed load left no image, no name, and only
// blobs a collection removes.
func (f *fixture) expectNothingRegistered(before int) {
	f.t.Helper()
	if n := len(f.s.Images()); n != before {
		f.t.Fatalf("%d images after a failed load, want %d", n, before)
	}
	if _, err := f.s.GC(f.ctx, GCOptions{}); err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.Verify(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	if before == 0 {
		if n := f.blobCount(); n != 0 {
			f.t.Fatalf("%d blobs survive a collection after a failed load into an empty store, want 0", n)
		}
	}
}

// sha256Of is the digest of data.
func sha256Of(data []byte) digest.Digest { return digest.FromBytes(data) }

// blobBytes reads a whole blob.
func (f *fixture) blobBytes(d digest.Digest) []byte {
	f.t.Helper()
	b, err := content.ReadBlob(f.ctx, f.cs, d, 1<<30)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// newFixtureIn is a fixture whose store lives in dir (to check that
// nothing is written beside it).
func newFixtureIn(t testing.TB, dir string) *fixture {
	t.Helper()
	cs, err := content.NewLocal(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureWith(t, dir, cs)
}

// treeOf lists every path under dir, relative, sorted.
func treeOf(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	slices.Sort(out)
	return out
}

func mustContain(t testing.TB, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not contain %q", err, w)
		}
	}
}

func indexOf(t testing.TB, data []byte) ocispec.Index {
	t.Helper()
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func background() context.Context { return context.Background() }
