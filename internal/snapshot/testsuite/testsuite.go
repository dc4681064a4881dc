// Package testsuite is the conformance suite every gorae snapshotter must
// pass, in the manner of containerd's snapshots/testsuite: it drives the
// Snapshotter interface only, mounting what it returns and checking the
// trees seen through the mounts. It needs root (mounts).
package testsuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gorae/gorae/internal/snapshot"
)

// Opener opens a snapshotter on root. Opening the same root again after
// Close must give back the same store.
type Opener func(ctx context.Context, root string) (snapshot.Snapshotter, error)

// SnapshotterSuite runs the suite against the snapshotter that open makes.
func SnapshotterSuite(t *testing.T, name string, open Opener) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the snapshotter suite mounts and needs root; CI runs as root")
		}
		t.Skip("the snapshotter suite mounts and needs root")
	}
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Basic", checkBasic},
		{"StatActive", checkStatActive},
		{"StatCommitted", checkStatCommitted},
		{"Transitivity", checkTransitivity},
		{"SameKeyTwice", checkSameKeyTwice},
		{"WrongKinds", checkWrongKinds},
		{"RemoveIntermediate", checkRemoveIntermediate},
		{"DeletedFilesInChild", checkDeletedFilesInChild},
		{"RemoveDirectoryInLowerLayer", checkRemoveDirInLower},
		{"LayerFileUpdate", checkLayerFileUpdate},
		{"MoveFileFromLowerLayer", checkMoveFromLower},
		{"Chown", checkChown},
		{"DirectoryPermissionOnCommit", checkDirPermOnCommit},
		{"ViewReadonly", checkViewReadonly},
		{"StatInWalk", checkStatInWalk},
		{"Labels", checkLabels},
		{"Usage", checkUsage},
		{"MountsAgain", checkMountsAgain},
		{"Reopen", checkReopen},
		{"CloseTwice", checkCloseTwice},
		{"ConcurrentPrepare", checkConcurrentPrepare},
		{"128LayersMount", check128Layers},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			e := &env{t: t, ctx: t.Context(), root: filepath.Join(tmp, "root"), work: filepath.Join(tmp, "work"), open: open}
			os.MkdirAll(e.root, 0o700)
			os.MkdirAll(e.work, 0o700)
			s, err := open(e.ctx, e.root)
			if err != nil {
				t.Fatalf("opening %s snapshotter: %v", name, err)
			}
			e.s = s
			t.Cleanup(func() { e.s.Close() })
			c.fn(t, e)
		})
	}
}

type env struct {
	t    *testing.T
	ctx  context.Context
	s    snapshot.Snapshotter
	root string
	work string
	open Opener
	n    int
}

// mount mounts mounts on a fresh directory, unmounted at cleanup at the
// latest.
func (e *env) mount(mounts []snapshot.Mount) string {
	e.t.Helper()
	e.n++
	target := filepath.Join(e.work, fmt.Sprintf("m%d", e.n))
	if err := os.Mkdir(target, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := snapshot.MountAll(mounts, target); err != nil {
		e.t.Fatalf("mounting %+v: %v", mounts, err)
	}
	e.t.Cleanup(func() { snapshot.Unmount(target) })
	return target
}

func (e *env) unmount(target string) {
	e.t.Helper()
	if err := snapshot.Unmount(target); err != nil {
		e.t.Fatal(err)
	}
}

// layer prepares key on parent, runs change in the mounted snapshot and
// commits it as name.
func (e *env) layer(name, key, parent string, change change) {
	e.t.Helper()
	m, err := e.s.Prepare(e.ctx, key, parent)
	if err != nil {
		e.t.Fatalf("Prepare(%q, %q): %v", key, parent, err)
	}
	target := e.mount(m)
	if err := change(target); err != nil {
		e.t.Fatalf("changing %s: %v", key, err)
	}
	e.unmount(target)
	if err := e.s.Commit(e.ctx, name, key); err != nil {
		e.t.Fatalf("Commit(%q, %q): %v", name, key, err)
	}
}

// view mounts a read-only view of parent and returns its tree.
func (e *env) view(key, parent string) map[string]string {
	e.t.Helper()
	m, err := e.s.View(e.ctx, key, parent)
	if err != nil {
		e.t.Fatalf("View(%q, %q): %v", key, parent, err)
	}
	target := e.mount(m)
	defer e.unmount(target)
	return tree(e.t, target)
}

// expect applies changes to a plain directory: the tree a chain of layers
// with those changes must show.
func (e *env) expect(changes ...change) map[string]string {
	e.t.Helper()
	e.n++
	dir := filepath.Join(e.work, fmt.Sprintf("expect%d", e.n))
	os.Mkdir(dir, 0o755)
	for _, c := range changes {
		if err := c(dir); err != nil {
			e.t.Fatal(err)
		}
	}
	return tree(e.t, dir)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

// change edits a mounted tree.
type change func(root string) error

func writeFile(name, content string, mode os.FileMode) change {
	return func(root string) error {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
		return os.Chmod(p, mode)
	}
}

func mkdir(name string, mode os.FileMode) change {
	return func(root string) error {
		if err := os.MkdirAll(filepath.Join(root, name), mode); err != nil {
			return err
		}
		return os.Chmod(filepath.Join(root, name), mode)
	}
}

func removeAll(name string) change {
	return func(root string) error { return os.RemoveAll(filepath.Join(root, name)) }
}

func rename(from, to string) change {
	return func(root string) error { return os.Rename(filepath.Join(root, from), filepath.Join(root, to)) }
}

func chown(name string, uid, gid int) change {
	return func(root string) error { return os.Lchown(filepath.Join(root, name), uid, gid) }
}

func all(cs ...change) change {
	return func(root string) error {
		for _, c := range cs {
			if err := c(root); err != nil {
				return err
			}
		}
		return nil
	}
}

// tree describes a directory as path → type, mode, owner and content.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return out
}

func sameTree(t *testing.T, want, got map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(want)+len(got))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if want[k] != got[k] {
			t.Errorf("%s: want %q, got %q", k, want[k], got[k])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func checkBasic(t *testing.T, e *env) {
	initial := all(writeFile("foo", "foo\n", 0o777), mkdir("a/b/c", 0o755))
	diff := all(writeFile("bar", "bar\n", 0o777), writeFile("foo", "bar\n", 0o777), removeAll("a/b"))

	e.layer("committed", "preparing", "", initial)
	si, err := e.s.Stat(e.ctx, "committed")
	must(t, err)
	if si.Kind != snapshot.KindCommitted || si.Parent != "" || si.Name != "committed" {
		t.Fatalf("Stat(committed) = %+v", si)
	}
	_, err = e.s.Stat(e.ctx, "preparing")
	wantErr(t, err, snapshot.ErrNotFound, "Stat of a committed key")

	m, err := e.s.Prepare(e.ctx, "next", "committed")
	must(t, err)
	target := e.mount(m)
	sameTree(t, e.expect(initial), tree(t, target))
	must(t, diff(target))
	e.unmount(target)
	ni, err := e.s.Stat(e.ctx, "next")
	must(t, err)
	if ni.Kind != snapshot.KindActive || ni.Parent != "committed" {
		t.Fatalf("Stat(next) = %+v", ni)
	}
	must(t, e.s.Commit(e.ctx, "committed-next", "next"))
	si2, err := e.s.Stat(e.ctx, "committed-next")
	must(t, err)
	if si2.Kind != snapshot.KindCommitted || si2.Parent != "committed" {
		t.Fatalf("Stat(committed-next) = %+v", si2)
	}

	walked := map[string]snapshot.Info{}
	must(t, e.s.Walk(e.ctx, func(_ context.Context, info snapshot.Info) error {
		walked[info.Name] = info
		return nil
	}))
	if len(walked) != 2 || walked["committed"].Kind != snapshot.KindCommitted || walked["committed-next"].Parent != "committed" {
		t.Fatalf("Walk = %+v", walked)
	}

	sameTree(t, e.expect(initial, diff), e.view("view", "committed-next"))
	must(t, e.s.Remove(e.ctx, "view"))
	err = e.s.Remove(e.ctx, "committed")
	wantErr(t, err, snapshot.ErrInUse, "Remove of a parent")
	must(t, e.s.Remove(e.ctx, "committed-next"))
	must(t, e.s.Remove(e.ctx, "committed"))
	_, err = e.s.Stat(e.ctx, "committed")
	wantErr(t, err, snapshot.ErrNotFound, "Stat after Remove")
}

func checkStatActive(t *testing.T, e *env) {
	m, err := e.s.Prepare(e.ctx, "active", "")
	must(t, err)
	target := e.mount(m)
	must(t, os.WriteFile(filepath.Join(target, "foo"), []byte("foo"), 0o644))
	si, err := e.s.Stat(e.ctx, "active")
	must(t, err)
	if si.Name != "active" || si.Kind != snapshot.KindActive || si.Parent != "" || si.Created.IsZero() {
		t.Fatalf("Stat = %+v", si)
	}
}

func checkStatCommitted(t *testing.T, e *env) {
	e.layer("c", "a", "", writeFile("foo", "foo", 0o644))
	si, err := e.s.Stat(e.ctx, "c")
	must(t, err)
	if si.Name != "c" || si.Kind != snapshot.KindCommitted || si.Parent != "" {
		t.Fatalf("Stat = %+v", si)
	}
}

func checkTransitivity(t *testing.T, e *env) {
	e.layer("A", "a", "", writeFile("foo", "foo", 0o644))
	e.layer("B", "b", "A", writeFile("foo", "foo bar", 0o644))
	e.layer("C", "c", "B", writeFile("baz", "baz", 0o644))
	chain := []string{}
	for p := "C"; p != ""; {
		si, err := e.s.Stat(e.ctx, p)
		must(t, err)
		chain = append(chain, si.Name)
		p = si.Parent
	}
	if !slices.Equal(chain, []string{"C", "B", "A"}) {
		t.Fatalf("chain %v", chain)
	}
	sameTree(t, e.expect(writeFile("foo", "foo bar", 0o644), writeFile("baz", "baz", 0o644)), e.view("v", "C"))
}

func checkSameKeyTwice(t *testing.T, e *env) {
	e.layer("base", "b", "", writeFile("f", "f", 0o644))
	_, err := e.s.Prepare(e.ctx, "k", "base")
	must(t, err)
	_, err = e.s.Prepare(e.ctx, "k", "base")
	wantErr(t, err, snapshot.ErrExists, "Prepare twice")
	_, err = e.s.View(e.ctx, "k", "base")
	wantErr(t, err, snapshot.ErrExists, "View on a prepared key")
	_, err = e.s.View(e.ctx, "v", "base")
	must(t, err)
	_, err = e.s.View(e.ctx, "v", "base")
	wantErr(t, err, snapshot.ErrExists, "View twice")
	_, err = e.s.Prepare(e.ctx, "base", "")
	wantErr(t, err, snapshot.ErrExists, "Prepare on a committed name")
}

func checkWrongKinds(t *testing.T, e *env) {
	e.layer("base", "b", "", writeFile("f", "f", 0o644))
	_, err := e.s.Prepare(e.ctx, "active", "base")
	must(t, err)
	_, err = e.s.View(e.ctx, "view", "base")
	must(t, err)
	wantErr(t, e.s.Commit(e.ctx, "x", "view"), snapshot.ErrKind, "Commit of a view")
	wantErr(t, e.s.Commit(e.ctx, "x", "base"), snapshot.ErrKind, "Commit of a committed snapshot")
	wantErr(t, e.s.Commit(e.ctx, "base", "active"), snapshot.ErrExists, "Commit onto an existing name")
	wantErr(t, e.s.Commit(e.ctx, "x", "missing"), snapshot.ErrNotFound, "Commit of a missing key")
	_, err = e.s.Prepare(e.ctx, "p", "active")
	wantErr(t, err, snapshot.ErrKind, "Prepare on an active parent")
	_, err = e.s.Prepare(e.ctx, "p", "missing")
	wantErr(t, err, snapshot.ErrNotFound, "Prepare on a missing parent")
	_, err = e.s.Mounts(e.ctx, "base")
	wantErr(t, err, snapshot.ErrKind, "Mounts of a committed snapshot")
	wantErr(t, e.s.Remove(e.ctx, "missing"), snapshot.ErrNotFound, "Remove of a missing key")
	// The failed calls changed nothing.
	must(t, e.s.Commit(e.ctx, "next", "active"))
}

func checkRemoveIntermediate(t *testing.T, e *env) {
	e.layer("A", "a", "", writeFile("a", "a", 0o644))
	e.layer("B", "b", "A", writeFile("b", "b", 0o644))
	_, err := e.s.Prepare(e.ctx, "c", "B")
	must(t, err)
	wantErr(t, e.s.Remove(e.ctx, "B"), snapshot.ErrInUse, "Remove of B under c")
	wantErr(t, e.s.Remove(e.ctx, "A"), snapshot.ErrInUse, "Remove of A under B")
	must(t, e.s.Remove(e.ctx, "c"))
	must(t, e.s.Remove(e.ctx, "B"))
	must(t, e.s.Remove(e.ctx, "A"))
}

func checkDeletedFilesInChild(t *testing.T, e *env) {
	l1 := all(writeFile("foo", "foo\n", 0o777), writeFile("foobar", "foobar\n", 0o777))
	l2 := removeAll("foobar")
	e.layer("L1", "l1", "", l1)
	e.layer("L2", "l2", "L1", l2)
	e.layer("L3", "l3", "L2", all())
	sameTree(t, e.expect(l1, l2), e.view("v", "L3"))
}

func checkRemoveDirInLower(t *testing.T, e *env) {
	l1 := all(writeFile("lib/a", "a", 0o644), writeFile("lib/sub/b", "b", 0o644), writeFile("keep", "k", 0o644))
	l2 := removeAll("lib")
	l3 := all(mkdir("lib", 0o700), writeFile("lib/new", "new", 0o644))
	e.layer("L1", "l1", "", l1)
	e.layer("L2", "l2", "L1", l2)
	e.layer("L3", "l3", "L2", l3)
	sameTree(t, e.expect(l1, l2, l3), e.view("v", "L3"))
	// Replacing the directory within one layer (an opaque dir in overlay).
	l4 := all(removeAll("lib"), mkdir("lib", 0o755), writeFile("lib/only", "o", 0o644))
	e.layer("L4", "l4", "L1", l4)
	sameTree(t, e.expect(l1, l4), e.view("v4", "L4"))
}

func checkLayerFileUpdate(t *testing.T, e *env) {
	parent := ""
	var changes []change
	for i := range 5 {
		c := all(writeFile("file", fmt.Sprintf("version %d", i), 0o644), writeFile(fmt.Sprintf("f%d", i), "x", 0o600))
		changes = append(changes, c)
		name := fmt.Sprintf("L%d", i)
		e.layer(name, "k"+name, parent, c)
		parent = name
	}
	sameTree(t, e.expect(changes...), e.view("v", parent))
}

func checkMoveFromLower(t *testing.T, e *env) {
	l1 := all(writeFile("dir/a", "a", 0o644), writeFile("b", "b", 0o644))
	l2 := all(rename("b", "dir/b"), rename("dir/a", "a"))
	e.layer("L1", "l1", "", l1)
	e.layer("L2", "l2", "L1", l2)
	sameTree(t, e.expect(l1, l2), e.view("v", "L2"))
}

func checkChown(t *testing.T, e *env) {
	l1 := all(writeFile("f", "f", 0o644), mkdir("d", 0o755))
	l2 := all(chown("f", 1000, 1001), chown("d", 2000, 2001))
	e.layer("L1", "l1", "", l1)
	e.layer("L2", "l2", "L1", l2)
	sameTree(t, e.expect(l1, l2), e.view("v", "L2"))
}

func checkDirPermOnCommit(t *testing.T, e *env) {
	l1 := all(mkdir("d700", 0o700), mkdir("d750", 0o750), mkdir("d777", 0o777), writeFile("d750/f", "f", 0o640))
	e.layer("L1", "l1", "", l1)
	l2 := writeFile("d700/new", "n", 0o600)
	e.layer("L2", "l2", "L1", l2)
	sameTree(t, e.expect(l1, l2), e.view("v", "L2"))
}

func checkViewReadonly(t *testing.T, e *env) {
	e.layer("L1", "l1", "", writeFile("a", "a", 0o644))
	e.layer("L2", "l2", "L1", writeFile("b", "b", 0o644))
	for _, parent := range []string{"", "L1", "L2"} {
		m, err := e.s.View(e.ctx, "view-"+parent, parent)
		must(t, err)
		target := e.mount(m)
		err = os.WriteFile(filepath.Join(target, "new"), []byte("x"), 0o644)
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("writing into a view of %q: got %v, want EROFS", parent, err)
		}
		e.unmount(target)
	}
}

func checkStatInWalk(t *testing.T, e *env) {
	e.layer("L1", "l1", "", writeFile("a", "a", 0o644))
	_, err := e.s.Prepare(e.ctx, "active", "L1")
	must(t, err)
	n := 0
	must(t, e.s.Walk(e.ctx, func(ctx context.Context, info snapshot.Info) error {
		n++
		si, err := e.s.Stat(ctx, info.Name)
		if err != nil {
			return err
		}
		if si.Name != info.Name || si.Kind != info.Kind {
			return fmt.Errorf("Stat(%q) = %+v, Walk gave %+v", info.Name, si, info)
		}
		return nil
	}))
	if n != 2 {
		t.Fatalf("walked %d snapshots, want 2", n)
	}
	stop := errors.New("stop")
	if err := e.s.Walk(e.ctx, func(context.Context, snapshot.Info) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Walk returned %v, want the callback's error", err)
	}
}

func checkLabels(t *testing.T, e *env) {
	_, err := e.s.Prepare(e.ctx, "a", "", snapshot.WithLabels(map[string]string{"one": "1"}))
	must(t, err)
	si, err := e.s.Stat(e.ctx, "a")
	must(t, err)
	if si.Labels["one"] != "1" {
		t.Fatalf("labels %v", si.Labels)
	}
	si.Labels["one"] = "changed" // a copy: must not reach the store
	must(t, e.s.Commit(e.ctx, "A", "a", snapshot.WithLabels(map[string]string{"two": "2"})))
	si, err = e.s.Stat(e.ctx, "A")
	must(t, err)
	if si.Labels["one"] != "1" || si.Labels["two"] != "2" {
		t.Fatalf("labels after commit %v", si.Labels)
	}
}

func checkUsage(t *testing.T, e *env) {
	big := strings.Repeat("x", 1<<20)
	e.layer("L1", "l1", "", all(writeFile("big", big, 0o644), writeFile("small", "s", 0o644)))
	u1, err := e.s.Usage(e.ctx, "L1")
	must(t, err)
	if u1.Size < 1<<20 || u1.Inodes < 3 {
		t.Fatalf("usage of L1 = %+v, want ≥ 1 MiB and ≥ 3 inodes", u1)
	}
	m, err := e.s.Prepare(e.ctx, "active", "L1")
	must(t, err)
	u0, err := e.s.Usage(e.ctx, "active")
	must(t, err)
	if u0.Size >= 1<<20 {
		t.Fatalf("an empty active snapshot uses %+v: the parent was counted", u0)
	}
	target := e.mount(m)
	must(t, os.WriteFile(filepath.Join(target, "more"), bytes.Repeat([]byte("y"), 2<<20), 0o644))
	e.unmount(target)
	u2, err := e.s.Usage(e.ctx, "active")
	must(t, err)
	if u2.Size < 2<<20 || u2.Size >= 3<<20+1<<20 {
		t.Fatalf("usage of active = %+v, want its own 2 MiB only", u2)
	}
	must(t, e.s.Commit(e.ctx, "L2", "active"))
	u3, err := e.s.Usage(e.ctx, "L2")
	must(t, err)
	if u3 != u2 {
		t.Fatalf("usage changed on commit: %+v then %+v", u2, u3)
	}
	_, err = e.s.Usage(e.ctx, "missing")
	wantErr(t, err, snapshot.ErrNotFound, "Usage of a missing key")
}

func checkMountsAgain(t *testing.T, e *env) {
	e.layer("L1", "l1", "", writeFile("a", "a", 0o644))
	e.layer("L2", "l2", "L1", writeFile("b", "b", 0o644))
	for _, c := range []struct {
		key, parent string
		view        bool
	}{{"p0", "", false}, {"p1", "L1", false}, {"p2", "L2", false}, {"v0", "", true}, {"v1", "L1", true}, {"v2", "L2", true}} {
		var m []snapshot.Mount
		var err error
		if c.view {
			m, err = e.s.View(e.ctx, c.key, c.parent)
		} else {
			m, err = e.s.Prepare(e.ctx, c.key, c.parent)
		}
		must(t, err)
		again, err := e.s.Mounts(e.ctx, c.key)
		must(t, err)
		if fmt.Sprint(m) != fmt.Sprint(again) {
			t.Errorf("%s: Mounts = %v, Prepare/View gave %v", c.key, again, m)
		}
	}
}

func checkReopen(t *testing.T, e *env) {
	e.layer("L1", "l1", "", writeFile("a", "a", 0o644))
	_, err := e.s.Prepare(e.ctx, "active", "L1", snapshot.WithLabels(map[string]string{"k": "v"}))
	must(t, err)
	walk := func(s snapshot.Snapshotter) []snapshot.Info {
		var infos []snapshot.Info
		must(t, s.Walk(e.ctx, func(_ context.Context, i snapshot.Info) error { infos = append(infos, i); return nil }))
		return infos
	}
	before := walk(e.s)
	mounts, err := e.s.Mounts(e.ctx, "active")
	must(t, err)
	must(t, e.s.Close())
	s, err := e.open(e.ctx, e.root)
	must(t, err)
	e.s = s
	after := walk(s)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("after reopening:\n%v\nbefore:\n%v", after, before)
	}
	again, err := s.Mounts(e.ctx, "active")
	must(t, err)
	if fmt.Sprint(mounts) != fmt.Sprint(again) {
		t.Fatalf("mounts after reopening %v, before %v", again, mounts)
	}
	target := e.mount(again)
	if b, _ := os.ReadFile(filepath.Join(target, "a")); string(b) != "a" {
		t.Fatal("content lost across reopen")
	}
}

func checkCloseTwice(t *testing.T, e *env) {
	must(t, e.s.Close())
	must(t, e.s.Close())
	_, err := e.s.Stat(e.ctx, "x")
	wantErr(t, err, snapshot.ErrClosed, "Stat after Close")
}

func checkConcurrentPrepare(t *testing.T, e *env) {
	e.layer("base", "b", "", writeFile("f", "f", 0o644))
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	mounts := make([][]snapshot.Mount, n)
	for i := range n {
		wg.Go(func() {
			mounts[i], errs[i] = e.s.Prepare(e.ctx, fmt.Sprintf("c%d", i), "base")
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		must(t, errs[i])
		up := fmt.Sprint(mounts[i])
		if seen[up] {
			t.Fatalf("two snapshots share mounts %s", up)
		}
		seen[up] = true
	}
}

// 128 layers: more than fit in one page of overlay options with absolute
// paths.
func check128Layers(t *testing.T, e *env) {
	const n = 128
	parent := ""
	var changes []change
	for i := range n {
		c := all(writeFile(fmt.Sprintf("layer-%03d", i), "x", 0o644), writeFile("shared", fmt.Sprintf("from %d", i), 0o644))
		changes = append(changes, c)
		name := fmt.Sprintf("L%03d", i)
		m, err := e.s.Prepare(e.ctx, "k"+name, parent)
		must(t, err)
		// Write straight into the upper dir: mounting 128 times would only
		// test the same thing slower.
		up, err := snapshot.UpperDir(m)
		must(t, err)
		must(t, c(up))
		must(t, e.s.Commit(e.ctx, name, "k"+name))
		parent = name
	}
	sameTree(t, e.expect(changes...), e.view("top", parent))
	m, err := e.s.Prepare(e.ctx, "container", parent)
	must(t, err)
	target := e.mount(m)
	must(t, os.WriteFile(filepath.Join(target, "new"), []byte("n"), 0o644))
	if b, _ := os.ReadFile(filepath.Join(target, "shared")); string(b) != fmt.Sprintf("from %d", n-1) {
		t.Fatalf("shared = %q", b)
	}
}
