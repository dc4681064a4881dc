package snapshot

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Diff writes, as an uncompressed OCI layer tar, what the overlay upper
// directory upper changed relative to its lower layers (topmost first) and
// returns the tar's digest, the new layer's diffID. Whiteouts become
// .wh.NAME, opaque directories get a .wh..wh..opq entry; the order is
// fixed (directory before its entries, whiteouts first, then by name), so
// the same upper gives the same diffID.
//
// Everything is read through directory descriptors, never following a
// symlink, so a container still running cannot redirect the walk to host
// files; pausing it gives a consistent layer.
func Diff(ctx context.Context, lower []string, upper string, w io.Writer) (digest.Digest, error) {
	h := sha256.New()
	d := &differ{
		ctx:   ctx,
		tw:    tar.NewWriter(io.MultiWriter(w, h)),
		links: make(map[inodeKey]string),
		buf:   make([]byte, copyBuffer),
	}
	for _, l := range lower {
		fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", fmt.Errorf("diff of %s: lower layer %s: %w", upper, l, err)
		}
		defer unix.Close(fd)
		d.lowers = append(d.lowers, fd)
	}
	fd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("diff: %w", err)
	}
	defer unix.Close(fd)
	if err := d.walk(fd, ""); err != nil {
		return "", fmt.Errorf("diff of %s: %w", upper, err)
	}
	if err := d.tw.Close(); err != nil {
		return "", fmt.Errorf("diff of %s: %w", upper, err)
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

type inodeKey struct{ dev, ino uint64 }

type differ struct {
	ctx    context.Context
	tw     *tar.Writer
	lowers []int
	links  map[inodeKey]string // first tar name of each hard-linked inode
	buf    []byte
}

type child struct {
	name string
	st   unix.Stat_t
}

// walk writes the entries of directory fd (tar path rel) and below.
func (d *differ) walk(fd int, rel string) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", rel, err)
	}
	slices.Sort(names)
	var whiteouts, entries []child
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if err == unix.ENOENT {
				continue // deleted meanwhile
			}
			return fmt.Errorf("stat %q: %w", path.Join(rel, n), err)
		}
		if isWhiteout(&st) {
			whiteouts = append(whiteouts, child{n, st})
		} else {
			entries = append(entries, child{n, st})
		}
	}
	for _, c := range whiteouts {
		if !d.inLowers(path.Join(rel, c.name)) {
			continue // hides nothing
		}
		if err := d.tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: whiteoutName(rel, c.name),
			ModTime: mtime(&c.st),
		}); err != nil {
			return err
		}
	}
	for _, c := range entries {
		if err := d.entry(fd, rel, c); err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) entry(pfd int, dir string, c child) error {
	rel := path.Join(dir, c.name)
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(c.st.Mode & 0o7777),
		Uid:     int(c.st.Uid),
		Gid:     int(c.st.Gid),
		ModTime: mtime(&c.st),
	}
	switch c.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		fd, err := unix.Openat(pfd, c.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %q: %w", rel, err)
		}
		defer unix.Close(fd)
		opaque, err := d.xattrs(hdr, fd, "")
		if err != nil {
			return fmt.Errorf("%q: %w", rel, err)
		}
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
		if err := d.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if opaque {
			if err := d.tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeReg, Name: opaqueName(rel), ModTime: hdr.ModTime,
			}); err != nil {
				return err
			}
		}
		return d.walk(fd, rel)

	case unix.S_IFREG:
		return d.file(pfd, c, hdr)

	case unix.S_IFLNK:
		target, err := readlinkat(pfd, c.name)
		if err != nil {
			return fmt.Errorf("readlink %q: %w", rel, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		if _, err := d.xattrs(hdr, -1, fmt.Sprintf("/proc/self/fd/%d/%s", pfd, c.name)); err != nil {
			return fmt.Errorf("%q: %w", rel, err)
		}
		return d.tw.WriteHeader(hdr)

	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
		return d.tw.WriteHeader(hdr)

	case unix.S_IFSOCK:
		return nil // a tar cannot hold one; a live socket is not content anyway

	case unix.S_IFCHR, unix.S_IFBLK:
		return fmt.Errorf("%q is a device node (%d:%d): layers may not carry device nodes; delete it from the container before committing",
			rel, unix.Major(c.st.Rdev), unix.Minor(c.st.Rdev))
	}
	return fmt.Errorf("%q is of unknown type %o", rel, c.st.Mode&unix.S_IFMT)
}

// file writes a regular file, or a hard link to one already written.
func (d *differ) file(pfd int, c child, hdr *tar.Header) error {
	rel := hdr.Name
	if c.st.Nlink > 1 {
		k := inodeKey{c.st.Dev, c.st.Ino}
		if first, ok := d.links[k]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return d.tw.WriteHeader(hdr)
		}
		d.links[k] = rel
	}
	// O_NONBLOCK: should a fifo have been swapped in since the stat, the
	// open must not hang; fstat then tells.
	fd, err := unix.Openat(pfd, c.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %q: %w", rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Ino != c.st.Ino {
		return fmt.Errorf("%q changed during the diff; pause the container while committing", rel)
	}
	if _, err := d.xattrs(hdr, fd, ""); err != nil {
		return fmt.Errorf("%q: %w", rel, err)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	if err := d.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyBuffer(d.tw, io.LimitReader(onlyReader{f}, st.Size), d.buf)
	if err != nil {
		return fmt.Errorf("reading %q: %w", rel, err)
	}
	if n != st.Size {
		return fmt.Errorf("%q shrank during the diff; pause the container while committing", rel)
	}
	return nil
}

// onlyReader hides os.File's WriteTo, which would bypass the copy buffer.
type onlyReader struct{ io.Reader }

// xattrs copies an inode's extended attributes into hdr and reports
// whether it is an opaque directory. fd reads them, or lpath (a symlink,
// through /proc) when fd is -1. Overlay's own attributes are bookkeeping,
// not content; redirect and metacopy mean content lives elsewhere, which
// this diff cannot follow.
func (d *differ) xattrs(hdr *tar.Header, fd int, lpath string) (opaque bool, err error) {
	names, err := listXattrs(fd, lpath)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		v, err := getXattr(fd, lpath, n)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("xattr %s: %w", n, err)
		}
		switch n {
		case opaqueXattr:
			opaque = string(v) == "y"
			continue
		case overlayXattrs + "redirect", overlayXattrs + "metacopy":
			return false, fmt.Errorf("has %s: the overlay was mounted with redirect_dir or metacopy, whose upper directories cannot be diffed (mount with redirect_dir=off,metacopy=off)", n)
		}
		if strings.HasPrefix(n, overlayXattrs) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string)
		}
		hdr.PAXRecords["SCHILY.xattr."+n] = string(v)
	}
	return opaque, nil
}

// inLowers says whether rel exists in any lower layer, looked up as overlay
// does, component by component without following symlinks. Unsure answers
// are yes: an extra whiteout hides nothing, a missing one resurrects a file.
func (d *differ) inLowers(rel string) bool {
	if len(d.lowers) == 0 {
		return true
	}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for _, lfd := range d.lowers {
		fd, err := unix.Openat2(lfd, rel, &how)
		switch err {
		case nil:
			unix.Close(fd)
			return true
		case unix.ENOENT, unix.ENOTDIR:
			continue
		}
		return true
	}
	return false
}

// mtime is the inode's mtime in whole seconds, as Docker writes layers.
func mtime(st *unix.Stat_t) time.Time {
	return time.Unix(st.Mtim.Sec, 0)
}

func readNames(fd int) ([]string, error) {
	dup, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

func listXattrs(fd int, path string) ([]string, error) {
	list := func(dest []byte) (int, error) {
		if fd >= 0 {
			return unix.Flistxattr(fd, dest)
		}
		return unix.Llistxattr(path, dest)
	}
	for {
		n, err := list(nil)
		if err != nil || n == 0 {
			if err == unix.ENOTSUP {
				err = nil
			}
			return nil, err
		}
		buf := make([]byte, n)
		n, err = list(buf)
		if err == unix.ERANGE {
			continue // grew in between
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		slices.Sort(names)
		return names, nil
	}
}

func getXattr(fd int, path, name string) ([]byte, error) {
	get := func(dest []byte) (int, error) {
		if fd >= 0 {
			return unix.Fgetxattr(fd, name, dest)
		}
		return unix.Lgetxattr(path, name, dest)
	}
	for {
		n, err := get(nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = get(buf)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
