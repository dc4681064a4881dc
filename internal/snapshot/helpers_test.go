package snapshot

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("snapshot tests need root (mknod, trusted.* xattrs, overlay mounts), and CI runs as root")
		}
		t.Skip("needs root")
	}
}

// ent is one entry of a test layer; the zero values make a 0644 root file.
type ent struct {
	name   string
	typ    byte
	body   string
	mode   int64
	link   string
	uid    int
	gid    int
	xattrs map[string]string
	major  int64
	minor  int64
	mtime  time.Time
	size   int64 // header size, when it should lie about the body
}

var testTime = time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)

func (e ent) header() *tar.Header {
	h := &tar.Header{
		Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link,
		Uid: e.uid, Gid: e.gid, Devmajor: e.major, Devminor: e.minor,
		ModTime: e.mtime, Size: int64(len(e.body)), Format: tar.FormatPAX,
	}
	if h.Typeflag == 0 {
		h.Typeflag = tar.TypeReg
	}
	if h.Mode == 0 {
		h.Mode = 0o644
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
	}
	if h.ModTime.IsZero() {
		h.ModTime = testTime
	}
	if h.Typeflag != tar.TypeReg {
		h.Size = 0
	}
	if e.size != 0 {
		h.Size = e.size
	}
	for k, v := range e.xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+k] = v
	}
	return h
}

// tarOf builds a layer tar. A body shorter than a lying header size makes
// a truncated tar, as hostile layers do.
func tarOf(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.header()
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("tar body %s: %v", e.name, err)
		}
		if e.size > int64(len(e.body)) {
			return buf.Bytes() // truncated: no padding, no end marker
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// describe lists a tree as path → "type mode uid:gid content xattrs", the
// form tree comparisons use. Directory mtimes are left out unless withTimes;
// other mtimes are in whole seconds, as layers carry them.
func describe(t testing.TB, root string, withTimes bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %04o %d:%d", typeName(st.Mode), st.Mode&0o7777, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %d:%s nlink=%d", len(data), sha256Hex(data)[:12], st.Nlink)
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", target)
		case unix.S_IFCHR, unix.S_IFBLK:
			fmt.Fprintf(&b, " %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if withTimes || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			fmt.Fprintf(&b, " t=%d", st.Mtim.Sec)
		}
		names, _ := listXattrs(-1, p)
		for _, n := range names {
			if strings.HasPrefix(n, "security.selinux") {
				continue
			}
			v, _ := getXattr(-1, p, n)
			fmt.Fprintf(&b, " %s=%q", n, v)
		}
		out[rel] = b.String()
		return nil
	})
	if err != nil {
		t.Fatalf("describing %s: %v", root, err)
	}
	return out
}

// sameTree fails the test with the differences between two descriptions.
func sameTree(t testing.TB, want, got map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	bad := 0
	for _, k := range keys {
		if want[k] != got[k] {
			bad++
			t.Errorf("%s:\n\twant %q\n\tgot  %q", k, want[k], got[k])
		}
	}
	if bad > 0 {
		t.FailNow()
	}
}

// mustApply applies a layer and fails the test on error.
func mustApply(t testing.TB, dir string, layer []byte, opts ...ApplyOpt) ApplyResult {
	t.Helper()
	res, err := Apply(t.Context(), dir, bytes.NewReader(layer), opts...)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func xattrOf(p, name string) string {
	v, err := getXattr(-1, p, name)
	if err != nil {
		return ""
	}
	return string(v)
}
