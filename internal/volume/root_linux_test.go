package volume

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/testenv"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if ok, err := testenv.RequireRoot("volume"); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("needs root (mounts, chown)")
	}
}

// TestLocalDriverTmpfs: type=tmpfs,o=size=… is a tmpfs of that size on
// the volume's directory while a container uses it, and gone after.
func TestLocalDriverTmpfs(t *testing.T) {
	requireRoot(t)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Create("tv", CreateOptions{Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=2m,mode=0700"}}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := s.Mount("tv", "c1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC || st.Blocks*uint64(st.Bsize) != 2<<20 {
		t.Errorf("statfs type %x, %d bytes; want tmpfs of 2 MiB", st.Type, st.Blocks*uint64(st.Bsize))
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := s.Unmount("tv", "c1"); err != nil {
		t.Fatal(err)
	}
	if mounted, _ := (sysMounter{}).mounted(dir); mounted {
		t.Error("still mounted after its last user")
	}
	s.RemoveUser("tv", "c1")
	if err := s.Remove("tv"); err != nil {
		t.Fatal(err)
	}
}

// TestLocalDriverBindDevice: type=none,o=bind,device=DIR shows DIR's
// files; removing the volume while mounted (a crash left it so) keeps
// them.
func TestLocalDriverBindDevice(t *testing.T) {
	requireRoot(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "keep"), []byte("mine"), 0o644)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create("bv", CreateOptions{Options: map[string]string{"type": "none", "device": host, "o": "bind"}}, ""); err != nil {
		t.Fatal(err)
	}
	dir, err := s.Mount("bv", "c1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if b, err := os.ReadFile(filepath.Join(dir, "keep")); string(b) != "mine" {
		t.Fatalf("through the volume: %q %v", b, err)
	}
	// Reopen as after a daemon crash: the store forgets its running
	// users, the mount stays; Remove must not delete through it.
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Remove("bv"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(host, "keep")); string(b) != "mine" {
		t.Errorf("the device's file after remove: %q %v", b, err)
	}
}

// TestCopyUp: the image's files land in an empty volume with owners,
// modes, xattrs, symlinks, devices and hard links; a non-empty volume
// is left alone.
func TestCopyUp(t *testing.T) {
	requireRoot(t)
	src, dst := t.TempDir(), t.TempDir()
	os.Mkdir(filepath.Join(src, "sub"), 0o750)
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("data"), 0o4755)
	os.Chown(filepath.Join(src, "sub", "f"), 1000, 1001)
	unix.Chmod(filepath.Join(src, "sub", "f"), 0o4755)
	os.Link(filepath.Join(src, "sub", "f"), filepath.Join(src, "hard"))
	os.Symlink("sub/f", filepath.Join(src, "link"))
	unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	unix.Lsetxattr(filepath.Join(src, "sub"), "user.k", []byte("v"), 0)
	unix.Chmod(src, 0o1777)
	os.Chown(src, 7, 8)
	if ok, err := CopyUp(src, dst); !ok || err != nil {
		t.Fatalf("copy: %v %v", ok, err)
	}
	st := func(p string) *syscall.Stat_t {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t)
	}
	if f := st("sub/f"); f.Uid != 1000 || f.Gid != 1001 || f.Mode&0o7777 != 0o4755 {
		t.Errorf("sub/f: uid %d gid %d mode %o", f.Uid, f.Gid, f.Mode&0o7777)
	}
	if st("hard").Ino != st("sub/f").Ino {
		t.Error("hard link copied as two files")
	}
	if l, _ := os.Readlink(filepath.Join(dst, "link")); l != "sub/f" {
		t.Errorf("link -> %q", l)
	}
	if n := st("null"); n.Mode&unix.S_IFMT != unix.S_IFCHR || n.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device %o %x", n.Mode, n.Rdev)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(dst, "sub"), "user.k", buf); err == nil && string(buf[:n]) != "v" {
		t.Errorf("xattr %q", buf[:n])
	}
	if r := st("."); r.Uid != 7 || r.Gid != 8 || r.Mode&0o7777 != 0o1777 {
		t.Errorf("volume root: uid %d gid %d mode %o", r.Uid, r.Gid, r.Mode&0o7777)
	}
	// Not empty any more: a second copy does nothing.
	os.WriteFile(filepath.Join(src, "new"), nil, 0o644)
	if ok, err := CopyUp(src, dst); ok || err != nil {
		t.Errorf("copy into a non-empty volume: %v %v", ok, err)
	}
	if ok, err := CopyUp(filepath.Join(src, "missing"), t.TempDir()); ok || err != nil {
		t.Errorf("copy of a missing path: %v %v", ok, err)
	}
}
