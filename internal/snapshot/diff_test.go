package snapshot

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	layerA = func(t testing.TB) []byte {
		return tarOf(t,
			ent{name: "etc/", typ: tar.TypeDir},
			ent{name: "etc/passwd", body: "root:x:0:0\n"},
			ent{name: "etc/group", body: "root:x:0:\n"},
			ent{name: "etc/hosts", body: "127.0.0.1 localhost\n"},
			ent{name: "usr/", typ: tar.TypeDir},
			ent{name: "usr/bin/", typ: tar.TypeDir},
			ent{name: "usr/bin/tool", body: "tool", mode: 0o755},
			ent{name: "usr/lib/", typ: tar.TypeDir},
			ent{name: "usr/lib/libx.so", body: "ELF"},
			ent{name: "usr/lib/libx.so.1", typ: tar.TypeSymlink, link: "libx.so"},
			ent{name: "var/", typ: tar.TypeDir},
			ent{name: "var/cache/", typ: tar.TypeDir},
			ent{name: "var/cache/dir/a", body: "a"}, // implies var/cache/dir, hidden by B
			ent{name: "var/cache/b", body: "b"},
			ent{name: "opt/app/", typ: tar.TypeDir, mode: 0o750},
			ent{name: "opt/app/conf", body: "conf"},
			ent{name: "opt/app/data/", typ: tar.TypeDir},
			ent{name: "opt/app/data/blob", body: "blob"},
			ent{name: "home/u/", typ: tar.TypeDir, uid: 1000, gid: 1000, mode: 0o700},
			ent{name: "home/u/.profile", body: "PS1=$", uid: 1000, gid: 1000},
			ent{name: "link1", body: "shared inode"},
			ent{name: "link2", typ: tar.TypeLink, link: "link1"},
		)
	}
	layerB = func(t testing.TB) []byte {
		return tarOf(t,
			ent{name: "etc/hosts", body: "127.0.0.1 localhost b\n"},
			ent{name: "usr/lib/.wh.libx.so.1"},
			ent{name: "var/cache/.wh..wh..opq"},
			ent{name: "var/cache/new", body: "new"},
			ent{name: "srv/www/index.html", body: "<html>"},
		)
	}
)

// containerChanges is what a container does to its rootfs.
func containerChanges(t *testing.T, root string) {
	p := func(s string) string { return filepath.Join(root, s) }
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(os.WriteFile(p("etc/passwd"), []byte("root:x:0:0\nu:x:1000:1000\n"), 0o644))
	check(os.Remove(p("etc/group")))
	check(os.RemoveAll(p("opt/app"))) // then recreated: an opaque dir
	check(os.Mkdir(p("opt/app"), 0o700))
	check(os.WriteFile(p("opt/app/fresh"), []byte("fresh"), 0o600))
	check(os.Remove(p("usr/bin/tool")))
	check(os.Chmod(p("home/u/.profile"), 0o700))
	check(os.Lchown(p("home/u/.profile"), 1000, 2000))
	check(os.Symlink("/etc/passwd", p("usr/bin/pw")))
	check(unix.Mkfifo(p("usr/bin/fifo"), 0o640))
	check(os.WriteFile(p("usr/bin/h1"), []byte("hard"), 0o644))
	check(os.Link(p("usr/bin/h1"), p("usr/bin/h2")))
	check(unix.Setxattr(p("usr/bin/h1"), "user.note", []byte("xattr value"), 0))
	check(os.MkdirAll(p("new/deep/dir"), 0o755))
	check(os.WriteFile(p("new/deep/dir/f"), []byte("deep"), 0o644))
	check(os.Rename(p("srv/www/index.html"), p("srv/www/old.html")))
	check(os.Remove(p("etc/hosts"))) // a file becomes a directory
	check(os.Mkdir(p("etc/hosts"), 0o755))
	check(os.WriteFile(p("etc/hosts/x"), []byte("x"), 0o644))
	check(os.RemoveAll(p("home/u"))) // a directory becomes a file
	check(os.WriteFile(p("home/u"), []byte("u"), 0o644))
	check(os.WriteFile(p("link1"), []byte("changed one side"), 0o644))
}

// chain applies layers A and B into snapshots of s, as an image pull does,
// and returns the committed name of B.
func chain(t *testing.T, s *Overlay, prefix string) string {
	parent := ""
	for i, layer := range [][]byte{layerA(t), layerB(t)} {
		key, name := prefix+"-extract-"+string(rune('A'+i)), prefix+"-"+string(rune('A'+i))
		m, err := s.Prepare(t.Context(), key, parent)
		if err != nil {
			t.Fatal(err)
		}
		up, _ := UpperDir(m)
		lowers, _ := LowerDirs(m)
		mustApply(t, up, layer, WithParents(lowers))
		if err := s.Commit(t.Context(), name, key); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	return parent
}

// viewTree mounts a view of name and describes it, root left out (its
// times belong to the snapshot, not to any layer).
func viewTree(t *testing.T, s *Overlay, name string) map[string]string {
	m, err := s.View(t.Context(), "view-"+name, name)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := MountAll(m, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmount(target) })
	tree := describe(t, target, true)
	delete(tree, ".")
	return tree
}

// TestDiffRoundTrip: layers A and B applied, a container changes its
// rootfs, Diff exports the change; applied onto a fresh A, B chain in
// another store, it gives the container's tree back.
func TestDiffRoundTrip(t *testing.T) {
	requireRoot(t)
	ctx := t.Context()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	top := chain(t, s, "img")
	m, err := s.Prepare(ctx, "container", top)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := MountAll(m, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmount(target) })
	containerChanges(t, target)
	if err := Unmount(target); err != nil {
		t.Fatal(err)
	}

	lowers, _ := LowerDirs(m)
	upper, _ := UpperDir(m)
	var layer bytes.Buffer
	dgst, err := Diff(ctx, lowers, upper, &layer)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if d2, err := Diff(ctx, lowers, upper, &again); err != nil || d2 != dgst || !bytes.Equal(again.Bytes(), layer.Bytes()) {
		t.Fatalf("Diff is not deterministic: %s then %s, %v", dgst, d2, err)
	}
	names := tarNames(t, layer.Bytes())
	for _, want := range []string{
		"etc/", "etc/.wh.group", "etc/hosts/", "etc/hosts/x", "etc/passwd",
		"opt/app/", "opt/app/.wh..wh..opq", "opt/app/fresh",
		"usr/bin/.wh.tool", "usr/bin/fifo", "usr/bin/h1", "usr/bin/h2", "usr/bin/pw",
		"srv/www/.wh.index.html", "srv/www/old.html", "new/deep/dir/f", "home/u", "link1",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("diff lacks %s; it has %v", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "var/") || n == "usr/lib/libx.so" {
			t.Errorf("diff has unchanged %s", n)
		}
	}
	// Whiteouts come before their siblings.
	if i, j := slices.Index(names, "etc/.wh.group"), slices.Index(names, "etc/hosts/"); i > j {
		t.Errorf("whiteout after sibling: %v", names)
	}

	if err := s.Commit(ctx, "committed", "container"); err != nil {
		t.Fatal(err)
	}
	want := viewTree(t, s, "committed")

	// A fresh chain in a fresh store.
	s2, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	top2 := chain(t, s2, "fresh")
	m2, err := s2.Prepare(ctx, "apply-diff", top2)
	if err != nil {
		t.Fatal(err)
	}
	up2, _ := UpperDir(m2)
	low2, _ := LowerDirs(m2)
	res := mustApply(t, up2, layer.Bytes(), WithParents(low2))
	if res.DiffID != dgst {
		t.Errorf("Apply of the diff: diffID %s, Diff said %s", res.DiffID, dgst)
	}
	if err := s2.Commit(ctx, "from-diff", "apply-diff"); err != nil {
		t.Fatal(err)
	}
	got := viewTree(t, s2, "from-diff")
	if !strings.Contains(want["usr/bin/h1"], `user.note="xattr value"`) || !strings.Contains(want["usr/bin/h1"], "nlink=2") {
		t.Errorf("container tree lacks the xattr or hard link: %q", want["usr/bin/h1"])
	}
	sameTree(t, want, got)
}

func tarNames(t *testing.T, b []byte) []string {
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		for k := range h.PAXRecords {
			if strings.Contains(k, "trusted.overlay") {
				t.Errorf("%s carries %s", h.Name, k)
			}
		}
		names = append(names, h.Name)
	}
}

// Without lowers every whiteout is kept; devices and overlay redirects are
// refused with the path.
func TestDiffPlainDir(t *testing.T) {
	requireRoot(t)
	up := t.TempDir()
	os.WriteFile(filepath.Join(up, "f"), []byte("f"), 0o644)
	unix.Mknod(filepath.Join(up, "gone"), unix.S_IFCHR, 0)
	os.Mkdir(filepath.Join(up, "opq"), 0o755)
	unix.Setxattr(filepath.Join(up, "opq"), opaqueXattr, []byte("y"), 0)
	var buf bytes.Buffer
	if _, err := Diff(t.Context(), nil, up, &buf); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tarNames(t, buf.Bytes()), " "); got != ".wh.gone f opq/ opq/.wh..wh..opq" {
		t.Errorf("entries: %s", got)
	}
	// With a lower that lacks "gone", its whiteout hides nothing.
	buf.Reset()
	if _, err := Diff(t.Context(), []string{t.TempDir()}, up, &buf); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tarNames(t, buf.Bytes()), " "); got != "f opq/ opq/.wh..wh..opq" {
		t.Errorf("entries with an empty lower: %s", got)
	}

	unix.Setxattr(filepath.Join(up, "opq"), "trusted.overlay.redirect", []byte("/x"), 0)
	if _, err := Diff(t.Context(), nil, up, io.Discard); err == nil || !strings.Contains(err.Error(), `"opq"`) {
		t.Errorf("redirect: %v", err)
	}
	unix.Removexattr(filepath.Join(up, "opq"), "trusted.overlay.redirect")
	unix.Mknod(filepath.Join(up, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	if _, err := Diff(t.Context(), nil, up, io.Discard); err == nil || !strings.Contains(err.Error(), `"null"`) {
		t.Errorf("device: %v", err)
	}
}
