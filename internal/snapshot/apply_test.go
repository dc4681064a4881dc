package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// featureLayer exercises everything a layer may carry.
func featureLayer(t testing.TB) []byte {
	long := strings.Repeat("long-name-", 20) // > 100 bytes: PAX path
	return tarOf(t,
		ent{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "bin/su", body: "#!su", mode: 0o4755, uid: 0, gid: 0},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "/bin/busybox"},
		ent{name: "bin/busybox", body: "busybox", mode: 0o755},
		ent{name: "bin/ls", typ: tar.TypeLink, link: "bin/busybox"},
		ent{name: "home/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "home/user/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000, mtime: time.Unix(1e9, 0)},
		ent{name: "home/user/notes", body: "hello", mode: 0o600, uid: 1000, gid: 1001, mtime: time.Unix(1.5e9, 0)},
		ent{name: "home/user/fifo", typ: tar.TypeFifo, mode: 0o620, uid: 1000},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "usr/bin/ping", body: "ping", mode: 0o755, xattrs: map[string]string{"user.cap": "net_raw", "trusted.note": "x"}},
		ent{name: "usr/" + long, body: "long"},
		ent{name: "/abs/file", body: "abs"},
		ent{name: "./dot/file", body: "dot"},
	)
}

func TestApplyPreservesMetadata(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	layer := featureLayer(t)
	res := mustApply(t, dir, layer)
	if want := digest.FromBytes(layer); res.DiffID != want || res.Size != int64(len(layer)) || res.Compression != Uncompressed {
		t.Errorf("result %+v, want diffID %s size %d none", res, want, len(layer))
	}
	got := describe(t, dir, true)
	for path, want := range map[string]string{
		"bin/su":          "file 4755 0:0 4:",
		"bin/sh":          "symlink 0777 0:0 -> /bin/busybox",
		"bin/busybox":     "file 0755 0:0 7:",
		"bin/ls":          "file 0755 0:0 7:",
		"home/user":       "directory 0700 1000:1000 t=1000000000",
		"home/user/notes": "file 0600 1000:1001 5:",
		"home/user/fifo":  "fifo 0620 1000:0",
		"tmp":             "directory 1777 0:0",
		"usr/bin/ping":    "file 0755 0:0 4:",
		"abs/file":        "file 0644 0:0 3:",
		"dot/file":        "file 0644 0:0 3:",
	} {
		if !strings.HasPrefix(got[path], want) {
			t.Errorf("%s: got %q, want prefix %q", path, got[path], want)
		}
	}
	if st := lstat(t, filepath.Join(dir, "bin/ls")); st.Nlink != 2 || st.Ino != lstat(t, filepath.Join(dir, "bin/busybox")).Ino {
		t.Errorf("bin/ls is not a hard link of bin/busybox (nlink %d)", st.Nlink)
	}
	if st := lstat(t, filepath.Join(dir, "home/user/notes")); st.Mtim.Sec != 1.5e9 {
		t.Errorf("notes mtime %d, want 1500000000", st.Mtim.Sec)
	}
	if got := xattrOf(filepath.Join(dir, "usr/bin/ping"), "user.cap"); got != "net_raw" {
		t.Errorf("user.cap xattr = %q", got)
	}
	if got := xattrOf(filepath.Join(dir, "usr/bin/ping"), "trusted.note"); got != "x" {
		t.Errorf("trusted.note xattr = %q", got)
	}
	if _, ok := got["usr/"+strings.Repeat("long-name-", 20)]; !ok {
		t.Error("long PAX name missing")
	}
	// Implied parents get 0755 root.
	if !strings.HasPrefix(got["usr"], "directory 0755 0:0") {
		t.Errorf("implied usr: %q", got["usr"])
	}
}

func TestApplyCompressions(t *testing.T) {
	requireRoot(t)
	layer := featureLayer(t)
	want := digest.FromBytes(layer)
	var first map[string]string
	for _, c := range []struct {
		name string
		blob []byte
		comp Compression
	}{
		{"none", layer, Uncompressed},
		{"gzip", gzipOf(t, layer), Gzip},
		{"zstd", zstdOf(t, layer), Zstd},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			res := mustApply(t, dir, c.blob)
			if res.DiffID != want || res.Compression != c.comp || res.Size != int64(len(layer)) {
				t.Errorf("got %+v, want diffID %s, %s, size %d", res, want, c.comp, len(layer))
			}
			tree := describe(t, dir, false) // implied dirs are stamped "now"
			if first == nil {
				first = tree
			} else {
				sameTree(t, first, tree)
			}
		})
	}
	for _, c := range []struct{ name, magic string }{{"bzip2", "BZh91AY&SY"}, {"xz", "\xfd7zXZ\x00\x00"}} {
		_, err := Apply(t.Context(), t.TempDir(), strings.NewReader(c.magic))
		if err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s layer: got %v, want an error naming %s", c.name, err, c.name)
		}
	}
}

// A tar written by GNU tar is padded to 10 KiB records after its end
// marker; the diffID covers the padding.
func TestApplyDiffIDCoversPadding(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644)
	blob := filepath.Join(t.TempDir(), "l.tar")
	if out, err := exec.Command("tar", "-cf", blob, "-C", src, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	b, _ := os.ReadFile(blob)
	if len(b)%10240 != 0 {
		t.Fatalf("GNU tar wrote %d bytes, not whole records", len(b))
	}
	res := mustApply(t, t.TempDir(), b)
	if res.DiffID != digest.FromBytes(b) || res.Size != int64(len(b)) {
		t.Errorf("got %s/%d, want %s/%d", res.DiffID, res.Size, digest.FromBytes(b), len(b))
	}
}

func TestApplyWhiteouts(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mustApply(t, dir, tarOf(t,
		ent{name: "etc/", typ: tar.TypeDir},
		ent{name: "etc/.wh.passwd"},
		ent{name: "var/.wh..wh..opq"},
		ent{name: "var/new", body: "new"},
		ent{name: "keep", body: "same layer"},
		ent{name: ".wh.keep"},               // applies to lower layers only: keep stays
		ent{name: ".wh.dir"},                // hides a lower dir ...
		ent{name: "dir/", typ: tar.TypeDir}, // ... which this layer recreates: opaque
		ent{name: "dir/x", body: "x"},
		ent{name: "raw", typ: tar.TypeChar}, // overlay's own form, 0:0
		ent{name: "a/b/.wh.c"},              // implied parents
		ent{name: ".wh..wh.plnk/x"},         // aufs metadata dir: a plain dir name
		ent{name: "m/.wh..wh.aufs"},         // reserved: ignored
	))
	isWh := func(p string) bool {
		st := lstat(t, filepath.Join(dir, p))
		return isWhiteout(&st)
	}
	for _, p := range []string{"etc/passwd", "raw", "a/b/c"} {
		if !isWh(p) {
			t.Errorf("%s is not an overlay whiteout", p)
		}
	}
	if xattrOf(filepath.Join(dir, "var"), opaqueXattr) != "y" {
		t.Error("var is not opaque")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "var/new")); string(b) != "new" {
		t.Error("var/new lost")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep")); string(b) != "same layer" {
		t.Error("a whiteout removed a file of its own layer")
	}
	if xattrOf(filepath.Join(dir, "dir"), opaqueXattr) != "y" {
		t.Error("dir recreated over a whiteout is not opaque")
	}
	if xattrOf(filepath.Join(dir, "etc"), opaqueXattr) != "" {
		t.Error("etc is opaque")
	}
	if _, err := os.Lstat(filepath.Join(dir, "m/.wh..wh.aufs")); err == nil {
		t.Error("reserved .wh..wh. entry was created")
	}
	for _, p := range []string{"etc/.wh.passwd", ".wh.keep", "var/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s exists as a file", p)
		}
	}
}

// Later entries win; a directory over a directory merges.
func TestApplyDuplicates(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mustApply(t, dir, tarOf(t,
		ent{name: "f", body: "first"},
		ent{name: "f", body: "second", mode: 0o600},
		ent{name: "d", body: "file"},
		ent{name: "d/", typ: tar.TypeDir, mode: 0o700},
		ent{name: "d/inner", body: "in"},
		ent{name: "e/", typ: tar.TypeDir},
		ent{name: "e/sub/deep", body: "deep"},
		ent{name: "e", body: "now a file"},
		ent{name: "m/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "m/a", body: "a"},
		ent{name: "m/", typ: tar.TypeDir, mode: 0o750, uid: 7},
		ent{name: "m/b", body: "b"},
		ent{name: "l", typ: tar.TypeSymlink, link: "f"},
		ent{name: "l", body: "file over link"},
		ent{name: "s/", typ: tar.TypeDir},
		ent{name: "s/x", body: "x"},
		ent{name: "s", typ: tar.TypeSymlink, link: "/"},
		ent{name: "w", typ: tar.TypeChar}, // whiteout, then a file replaces it
		ent{name: "w", body: "w"},
	))
	got := describe(t, dir, false)
	for p, want := range map[string]string{
		"f":       "file 0600 0:0 6:",
		"d":       "directory 0700",
		"d/inner": "file",
		"e":       "file 0644 0:0 10:",
		"m":       "directory 0750 7:0",
		"m/a":     "file",
		"m/b":     "file",
		"l":       "file 0644 0:0 14:",
		"s":       "symlink 0777 0:0 -> /",
		"w":       "file 0644 0:0 1:",
	} {
		if !strings.HasPrefix(got[p], want) {
			t.Errorf("%s: got %q, want prefix %q", p, got[p], want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "second" {
		t.Errorf("f = %q", b)
	}
	if _, ok := got["e/sub/deep"]; ok {
		t.Error("e/sub/deep survived e becoming a file")
	}
}

// Directories a layer implies take their attributes from the parent layers,
// so they do not mask them in the merged view.
func TestApplyImpliedParentsFromLowers(t *testing.T) {
	requireRoot(t)
	lower := t.TempDir()
	mustApply(t, lower, tarOf(t,
		ent{name: "usr/", typ: tar.TypeDir, mode: 0o711, uid: 5, gid: 6},
		ent{name: "usr/lib/", typ: tar.TypeDir, mode: 0o750, uid: 7},
	))
	upper := t.TempDir()
	mustApply(t, upper, tarOf(t, ent{name: "usr/lib/x/f", body: "f"}), WithParents([]string{lower}))
	got := describe(t, upper, false)
	for p, want := range map[string]string{
		"usr":       "directory 0711 5:6",
		"usr/lib":   "directory 0750 7:0",
		"usr/lib/x": "directory 0755 0:0",
	} {
		if !strings.HasPrefix(got[p], want) {
			t.Errorf("%s: got %q, want prefix %q", p, got[p], want)
		}
	}
}

// Directory times are set after their contents are written.
func TestApplyDirTimes(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mustApply(t, dir, tarOf(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o751, mtime: time.Unix(1111, 0)},
		ent{name: "a/", typ: tar.TypeDir, mtime: time.Unix(2222, 0)},
		ent{name: "a/b/", typ: tar.TypeDir, mtime: time.Unix(3333, 0)},
		ent{name: "a/b/f", body: "f"},
		ent{name: "a/g", body: "g"},
	))
	for p, want := range map[string]int64{".": 1111, "a": 2222, "a/b": 3333} {
		if st := lstat(t, filepath.Join(dir, p)); st.Mtim.Sec != want {
			t.Errorf("%s mtime %d, want %d", p, st.Mtim.Sec, want)
		}
	}
	if st := lstat(t, dir); st.Mode&0o7777 != 0o751 {
		t.Errorf("root mode %o, want 751", st.Mode&0o7777)
	}
}

// Sparse files stay sparse.
func TestApplySparse(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	f, _ := os.Create(filepath.Join(src, "sparse"))
	f.WriteAt([]byte("head"), 0)
	f.WriteAt([]byte("tail"), 64<<20)
	f.Close()
	blob := filepath.Join(t.TempDir(), "s.tar")
	if out, err := exec.Command("tar", "--sparse", "-cf", blob, "-C", src, "sparse").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	b, _ := os.ReadFile(blob)
	dir := t.TempDir()
	mustApply(t, dir, b)
	st := lstat(t, filepath.Join(dir, "sparse"))
	if st.Size != 64<<20+4 {
		t.Errorf("size %d", st.Size)
	}
	if st.Blocks*512 > 1<<20 {
		t.Errorf("sparse file takes %d bytes on disk", st.Blocks*512)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "sparse"))
	if string(data[:4]) != "head" || string(data[64<<20:]) != "tail" || !allZero(data[4:64<<20]) {
		t.Error("sparse content differs")
	}
}

func TestApplyCorruptGzip(t *testing.T) {
	requireRoot(t)
	blob := gzipOf(t, tarOf(t, ent{name: "f", body: strings.Repeat("x", 100000)}))
	blob[len(blob)-6] ^= 0xff // the CRC in the trailer
	_, err := Apply(t.Context(), t.TempDir(), bytes.NewReader(blob))
	if err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("got %v, want a gzip checksum error", err)
	}
}

func TestApplyCanceled(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Apply(ctx, t.TempDir(), bytes.NewReader(featureLayer(t))); err == nil {
		t.Error("Apply with a canceled context succeeded")
	}
}

func TestParseEntryName(t *testing.T) {
	for _, c := range []struct {
		name string
		want layerEntry
		err  string
	}{
		{"a/b", layerEntry{entryPlain, "a", "b"}, ""},
		{"./a/b/", layerEntry{entryPlain, "a", "b"}, ""},
		{"/abs/path", layerEntry{entryPlain, "abs", "path"}, ""},
		{"//x", layerEntry{entryPlain, "", "x"}, ""},
		{"./", layerEntry{entryPlain, "", ""}, ""},
		{"a/../b", layerEntry{entryPlain, "", "b"}, ""},
		{"a/.wh.b", layerEntry{entryWhiteout, "a", "b"}, ""},
		{".wh..wh..opq", layerEntry{entryOpaque, "", ""}, ""},
		{"d/.wh..wh..opq", layerEntry{entryOpaque, "d", ""}, ""},
		{"d/.wh..wh.plnk", layerEntry{entryIgnored, "d", ".wh..wh.plnk"}, ""},
		{"../../etc/x", layerEntry{}, "outside"},
		{"/../x", layerEntry{}, "outside"},
		{"a/../../x", layerEntry{}, "outside"},
		{"..", layerEntry{}, "outside"},
		{".wh...", layerEntry{}, "not a file name"},
		{"d/.wh..", layerEntry{}, "not a file name"},
		{".wh.", layerEntry{}, "not a file name"},
		{"a\x00b", layerEntry{}, "NUL"},
	} {
		got, err := parseEntryName(c.name)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %+v, %v; want error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestDetectCompression(t *testing.T) {
	for _, c := range []struct {
		head string
		want Compression
	}{
		{"\x1f\x8b\x08", Gzip}, {"\x28\xb5\x2f\xfd", Zstd}, {"ustar", Uncompressed}, {"", Uncompressed},
	} {
		if got, err := DetectCompression([]byte(c.head)); got != c.want || err != nil {
			t.Errorf("%q: %v %v", c.head, got, err)
		}
	}
}

func TestReadAhead(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789"), 100001)
	ra := newReadAhead(bytes.NewReader(src), 4096, 3)
	var got bytes.Buffer
	buf := make([]byte, 777)
	for {
		n, err := ra.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	ra.Close()
	if !bytes.Equal(got.Bytes(), src) {
		t.Fatal("read-ahead changed the stream")
	}
	// Closing early stops the goroutine.
	ra = newReadAhead(bytes.NewReader(src), 4096, 3)
	ra.Read(buf)
	ra.Close()
}
