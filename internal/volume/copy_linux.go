package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// CopyUp gives an empty volume directory dst the content of src (the
// image's files at the mount's destination), as Docker does at first
// mount: ownership, modes, extended attributes, times, symlinks, device
// nodes and hard links kept; dst takes src's own owner and mode. A dst
// that holds anything, or a src that does not exist, is left alone.
func CopyUp(src, dst string) (copied bool, err error) {
	ents, err := os.ReadDir(dst)
	if err != nil {
		return false, fmt.Errorf("copy image content into volume %s: %w", dst, err)
	}
	if len(ents) > 0 {
		return false, nil
	}
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, nil
	}
	c := copier{links: map[[2]uint64]string{}}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			return nil
		}
		return c.copyEntry(p, filepath.Join(dst, rel))
	})
	if err == nil {
		err = copyMeta(src, dst, fi, true)
	}
	// Directory times last: writing into a directory changes its mtime.
	for i := len(c.dirs) - 1; err == nil && i >= 0; i-- {
		err = setTimes(c.dirs[i][1], c.dirs[i][0])
	}
	if err == nil {
		err = setTimes(dst, src)
	}
	if err != nil {
		return false, fmt.Errorf("copy image content %s into volume %s: %w", src, dst, err)
	}
	return true, nil
}

type copier struct {
	links map[[2]uint64]string // (dev, ino) of a multiply-linked file → its copy
	dirs  [][2]string          // src, dst of every directory
}

func (c *copier) copyEntry(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := c.links[key]; ok {
			return os.Link(first, dst)
		}
		c.links[key] = dst
	}
	switch mode := fi.Mode(); {
	case mode.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		c.dirs = append(c.dirs, [2]string{src, dst})
	case mode.IsRegular():
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	default: // devices, fifos, sockets
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", dst, err)
		}
	}
	if err := copyMeta(src, dst, fi, false); err != nil {
		return err
	}
	if fi.IsDir() {
		return nil
	}
	return setTimes(dst, src)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// *os.File to *os.File: copy_file_range where the kernel can.
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyMeta gives dst src's owner, mode and extended attributes. The
// owner goes first: chown clears setuid bits.
func copyMeta(src, dst string, fi os.FileInfo, isRoot bool) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", dst, err)
		}
	}
	if isRoot {
		return nil
	}
	return copyXattrs(src, dst)
}

func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		return nil // no xattrs, or a filesystem without them
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(src, buf); err != nil {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(src, name, val); err != nil {
			continue
		}
		// Like Docker, an attribute the volume's filesystem refuses
		// (trusted.* without the right, overlay's own) does not fail
		// the copy.
		unix.Lsetxattr(dst, name, val[:n], 0)
	}
	return nil
}

func setTimes(dst, src string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", dst, err)
	}
	return nil
}
