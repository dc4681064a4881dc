package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/errdefs"
)

// fakeMounter records mounts instead of making them.
type fakeMounter struct {
	mounts map[string]map[string]string
	calls  []string
}

func (f *fakeMounter) mount(opts map[string]string, target string) error {
	f.mounts[target] = opts
	f.calls = append(f.calls, "mount "+filepath.Base(filepath.Dir(target)))
	return nil
}

func (f *fakeMounter) unmount(target string) error {
	delete(f.mounts, target)
	f.calls = append(f.calls, "unmount "+filepath.Base(filepath.Dir(target)))
	return nil
}

func (f *fakeMounter) mounted(target string) (bool, error) { return f.mounts[target] != nil, nil }

func testStore(t *testing.T) (*Store, *fakeMounter, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "volumes")
	m := &fakeMounter{mounts: map[string]map[string]string{}}
	s, err := open(root, m)
	if err != nil {
		t.Fatal(err)
	}
	return s, m, root
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"ab", "data", "my-vol_1.x", "a..", "0" + strings.Repeat("x", 254)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "..", ".a", "-a", "_a", "a/b", "../x", "a b", "a:b", "é1", strings.Repeat("x", 256)} {
		err := ValidateName(bad)
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v, want invalid parameter", bad, err)
		}
	}
}

func TestValidateOptions(t *testing.T) {
	dir := t.TempDir()
	for _, ok := range []map[string]string{
		nil, {},
		{"type": "tmpfs", "device": "tmpfs", "o": "size=10m,uid=1000"},
		{"type": "none", "device": dir, "o": "bind"},
	} {
		if err := ValidateOptions(ok); err != nil {
			t.Errorf("%v refused: %v", ok, err)
		}
	}
	for _, bad := range []map[string]string{
		{"foo": "bar"},
		{"type": "tmpfs"},
		{"device": "tmpfs"},
		{"o": "size=1m"},
		{"size": "10G"},
		{"type": "none", "device": filepath.Join(dir, "missing"), "o": "bind"},
		{"type": "tmpfs", "device": "tmpfs", "o": "rshared"},
	} {
		if err := ValidateOptions(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: %v, want invalid parameter", bad, err)
		}
	}
}

func TestCreateGetRemove(t *testing.T) {
	s, _, root := testStore(t)
	v, created, err := s.Create("data", CreateOptions{Labels: map[string]string{"a": "b"}}, "")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if v.Mountpoint() != filepath.Join(root, "data", "_data") || v.Driver != DefaultDriver || v.CreatedAt.IsZero() {
		t.Errorf("volume %+v at %s", v, v.Mountpoint())
	}
	if fi, err := os.Stat(v.Mountpoint()); err != nil || !fi.IsDir() {
		t.Fatalf("no _data: %v", err)
	}
	// The same name again is the same volume.
	if again, created, err := s.Create("data", CreateOptions{}, ""); err != nil || created || again != v {
		t.Errorf("create again: %v %v", created, err)
	}
	if _, _, err := s.Create("data", CreateOptions{Driver: "nfs"}, ""); !errdefs.IsConflict(err) {
		t.Errorf("other driver: %v", err)
	}
	if _, _, err := s.Create("other", CreateOptions{Driver: "nfs"}, ""); !errdefs.IsNotFound(err) {
		t.Errorf("unknown driver: %v", err)
	}
	// A failed create leaves no directory.
	if _, _, err := s.Create("bad", CreateOptions{Options: map[string]string{"type": "tmpfs"}}, ""); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad options: %v", err)
	}
	if _, _, err := s.Create("x/../../y", CreateOptions{}, ""); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bad name: %v", err)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 || ents[0].Name() != "data" {
		t.Errorf("root holds %v", ents)
	}
	// Records survive a reopen.
	s2, err := open(root, &fakeMounter{mounts: map[string]map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get("data")
	if err != nil || got.Labels["a"] != "b" || !got.CreatedAt.Equal(v.CreatedAt) || got.Mountpoint() != v.Mountpoint() {
		t.Errorf("after reopen: %+v %v", got, err)
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errdefs.IsNotFound(err) {
		t.Errorf("get after remove: %v", err)
	}
	if err := s.Remove("data"); !errdefs.IsNotFound(err) {
		t.Errorf("remove twice: %v", err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("root holds %v after remove", ents)
	}
}

func TestRandomNameAndAnonymous(t *testing.T) {
	s, _, _ := testStore(t)
	v, _, err := s.Create("", CreateOptions{Labels: map[string]string{AnonymousLabel: ""}}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Name) != 64 || !v.Anonymous() {
		t.Errorf("anonymous volume %q anonymous=%v", v.Name, v.Anonymous())
	}
}

func TestUsersBlockRemove(t *testing.T) {
	s, _, _ := testStore(t)
	if _, _, err := s.Create("data", CreateOptions{}, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("data", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("nope", "c2"); !errdefs.IsNotFound(err) {
		t.Errorf("user of a missing volume: %v", err)
	}
	err := s.Remove("data")
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "volume is in use - [c1, c2]") {
		t.Errorf("remove in use: %v", err)
	}
	s.RemoveUser("data", "c1")
	s.RemoveUser("data", "c1")
	if u := s.Users("data"); len(u) != 1 || u[0] != "c2" {
		t.Errorf("users %v", u)
	}
	s.RemoveUser("data", "c2")
	if err := s.Remove("data"); err != nil {
		t.Errorf("remove unused: %v", err)
	}
}

// TestDeviceMountRefcount: the device of a volume with options is
// mounted for the first running user and unmounted after the last.
func TestDeviceMountRefcount(t *testing.T) {
	s, m, _ := testStore(t)
	opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
	if _, _, err := s.Create("tv", CreateOptions{Options: opts}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create("plain", CreateOptions{}, ""); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"c1", "c2", "c1"} {
		if _, err := s.Mount("tv", u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Mount("plain", "c1"); err != nil {
		t.Fatal(err)
	}
	s.Unmount("tv", "c1")
	if got := strings.Join(m.calls, ","); got != "mount tv" {
		t.Errorf("after one of two users left: %s", got)
	}
	s.Unmount("tv", "c2")
	s.Unmount("tv", "c2")
	s.Unmount("plain", "c1")
	if got := strings.Join(m.calls, ","); got != "mount tv,unmount tv" {
		t.Errorf("calls %s", got)
	}
	if _, err := s.Mount("nope", "c1"); !errdefs.IsNotFound(err) {
		t.Errorf("mount of a missing volume: %v", err)
	}
}

// TestRemoveNeverThroughAMount: a device left mounted (a crash) is
// unmounted before the directory goes, so a bind device's files stay.
func TestRemoveNeverThroughAMount(t *testing.T) {
	s, m, root := testStore(t)
	v, _, err := s.Create("bv", CreateOptions{}, "")
	if err != nil {
		t.Fatal(err)
	}
	m.mounts[v.Mountpoint()] = map[string]string{"type": "none"}
	// A half-removed volume from a crash, still mounted.
	left := filepath.Join(root, ".tmp-rm-old-1234")
	os.MkdirAll(filepath.Join(left, "_data"), 0o755)
	m.mounts[filepath.Join(left, "_data")] = map[string]string{}
	if err := s.Remove("bv"); err != nil {
		t.Fatal(err)
	}
	if _, err := open(root, m); err != nil {
		t.Fatal(err)
	}
	if len(m.mounts) != 0 {
		t.Errorf("still mounted: %v", m.mounts)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("leftover not cleared: %v", err)
	}
}

func TestSize(t *testing.T) {
	s, _, _ := testStore(t)
	v, _, _ := s.Create("sz", CreateOptions{}, "")
	os.WriteFile(filepath.Join(v.Mountpoint(), "a"), make([]byte, 1000), 0o644)
	os.Mkdir(filepath.Join(v.Mountpoint(), "d"), 0o755)
	os.WriteFile(filepath.Join(v.Mountpoint(), "d", "b"), make([]byte, 24), 0o644)
	os.Link(filepath.Join(v.Mountpoint(), "a"), filepath.Join(v.Mountpoint(), "d", "hard"))
	if n, err := s.Size("sz"); err != nil || n != 1024 {
		t.Errorf("size %d %v, want 1024", n, err)
	}
}
