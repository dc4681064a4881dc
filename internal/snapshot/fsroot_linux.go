package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync/atomic"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// fsRoot does filesystem work inside one directory and nowhere else. Every
// path is resolved by the kernel with the directory as "/" (openat2
// RESOLVE_IN_ROOT): "..", absolute symlinks and symlink chains all stay
// inside. The final component of a path is then acted on with an *at call
// that does not follow it, so a symlink planted by an earlier entry is
// replaced, never written through.
type fsRoot struct {
	fd int // the root directory, O_RDONLY

	// One cached parent directory: layer tars list a directory's entries
	// together, so most entries reuse the previous entry's parent.
	cacheRel string
	cacheFd  int

	// implied gives the attributes of a directory created because an
	// entry needs it as a parent; nil means 0755 root:root.
	implied func(rel string) dirAttrs
}

// inRootResolve is how paths are resolved inside a root: openat2 where the
// kernel has it (5.6+), else securejoin's userspace walk. Tests swap it to
// run the hostile-layer cases under both.
var inRootResolve func(root int, rel string, flags int) (int, error)

func init() { inRootResolve = resolveOpenat2 }

var noOpenat2 atomic.Bool

func openFSRoot(dir string) (*fsRoot, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return &fsRoot{fd: fd, cacheFd: -1}, nil
}

func (r *fsRoot) Close() error {
	r.dropCache()
	return unix.Close(r.fd)
}

func (r *fsRoot) dropCache() {
	if r.cacheFd >= 0 {
		unix.Close(r.cacheFd)
	}
	r.cacheRel, r.cacheFd = "", -1
}

const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

func resolveOpenat2(root int, rel string, flags int) (int, error) {
	if noOpenat2.Load() {
		return resolveSecurejoin(root, rel, flags)
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	for {
		fd, err := unix.Openat2(root, rel, &how)
		// EAGAIN: a concurrent rename elsewhere on the filesystem made the
		// kernel unsure; it asks to retry.
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if errors.Is(err, unix.ENOSYS) {
			noOpenat2.Store(true)
			return resolveSecurejoin(root, rel, flags)
		}
		return fd, err
	}
}

// resolveSecurejoin is the fallback for kernels without openat2: securejoin
// walks the path one component at a time with O_PATH|O_NOFOLLOW and checks
// each step, so the same paths resolve to the same places.
func resolveSecurejoin(root int, rel string, flags int) (int, error) {
	// An *os.File closes its fd when collected: give it a copy.
	dup, err := dupCloexec(root)
	if err != nil {
		return -1, err
	}
	rootFile := os.NewFile(uintptr(dup), "root")
	defer rootFile.Close()
	h, err := pathrs.OpenatInRoot(rootFile, rel)
	if err != nil {
		return -1, unwrapErrno(err)
	}
	defer h.Close()
	if flags&unix.O_DIRECTORY != 0 {
		var st unix.Stat_t
		if err := unix.Fstat(int(h.Fd()), &st); err != nil {
			return -1, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return -1, unix.ENOTDIR
		}
	}
	if flags&unix.O_PATH != 0 {
		return dupCloexec(int(h.Fd()))
	}
	f, err := pathrs.Reopen(h, flags&^unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return -1, unwrapErrno(err)
	}
	fd, err := dupCloexec(int(f.Fd()))
	f.Close()
	return fd, err
}

// dupCloexec is dup(2) with close-on-exec, so no descriptor leaks into
// processes the daemon starts.
func dupCloexec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// unwrapErrno digs the errno out of an error so callers can compare it.
func unwrapErrno(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// openDir opens directory rel inside the root (following symlinks, inside)
// as an O_PATH descriptor the caller closes.
func (r *fsRoot) openDir(rel string) (int, error) {
	if rel == "" {
		return dupCloexec(r.fd)
	}
	return inRootResolve(r.fd, rel, unix.O_PATH|unix.O_DIRECTORY)
}

// parent returns a descriptor of directory rel, creating it and its
// parents when missing. The descriptor belongs to the cache: use it before
// the next call, do not close it.
func (r *fsRoot) parent(rel string) (int, error) { return r.cachedDir(rel, true) }

// lookup is parent without creating anything.
func (r *fsRoot) lookup(rel string) (int, error) { return r.cachedDir(rel, false) }

func (r *fsRoot) cachedDir(rel string, create bool) (int, error) {
	if rel == "" {
		return r.fd, nil
	}
	if r.cacheFd >= 0 && r.cacheRel == rel {
		return r.cacheFd, nil
	}
	fd, err := r.openDir(rel)
	if create && (err == unix.ENOENT || err == unix.ENOTDIR) {
		fd, err = r.mkdirAll(rel)
	}
	if err != nil {
		return -1, err
	}
	r.dropCache()
	r.cacheRel, r.cacheFd = rel, fd
	return fd, nil
}

// dirAttrs are the attributes of a directory the layer implies but does not
// list (a/b/c with no a/ entry).
type dirAttrs struct {
	mode     uint32
	uid, gid int
}

// mkdirAll creates the missing directories of rel one component at a time,
// each resolved afresh from the root. A whiteout in the way becomes an
// opaque directory: the layer hid the lower one, then put a new one there.
func (r *fsRoot) mkdirAll(rel string) (int, error) {
	cur, err := dupCloexec(r.fd)
	if err != nil {
		return -1, err
	}
	done := ""
	for comp := range strings.SplitSeq(rel, "/") {
		next := path.Join(done, comp)
		fd, err := inRootResolve(r.fd, next, unix.O_PATH|unix.O_DIRECTORY)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			fd, err = r.mkdirIn(cur, comp, next)
		}
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur, done = fd, next
	}
	return cur, nil
}

// mkdirIn makes the implied directory name in parent pfd (rel is its path,
// for messages and attributes) and opens it.
func (r *fsRoot) mkdirIn(pfd int, name, rel string) (int, error) {
	opaque := false
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !isWhiteout(&st) {
			return -1, fmt.Errorf("%s is a %s, not a directory", rel, typeName(st.Mode))
		}
		if err := unix.Unlinkat(pfd, name, 0); err != nil {
			return -1, fmt.Errorf("unlink whiteout %s: %w", rel, err)
		}
		opaque = true
	}
	a := dirAttrs{mode: 0o755}
	if r.implied != nil {
		a = r.implied(rel)
	}
	if err := unix.Mkdirat(pfd, name, 0o700); err != nil {
		return -1, fmt.Errorf("mkdir %s: %w", rel, err)
	}
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, a.uid, a.gid); err != nil {
		return -1, fmt.Errorf("chown %s: %w", rel, err)
	}
	if err := unix.Fchmod(fd, a.mode); err != nil {
		return -1, fmt.Errorf("chmod %s: %w", rel, err)
	}
	if opaque {
		if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
			return -1, fmt.Errorf("marking %s opaque: %w", rel, err)
		}
	}
	return unix.Openat(pfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// removeAt removes name in pfd, recursively for a directory, never
// following a symlink. Cached descriptors may point into what it removed,
// so it drops them.
func (r *fsRoot) removeAt(pfd int, name string) error {
	// The cached directory may lie inside what goes, unless it is pfd
	// itself, which the caller still uses.
	if pfd != r.cacheFd {
		r.dropCache()
	}
	err := unix.Unlinkat(pfd, name, 0)
	if err == unix.EISDIR {
		err = removeAllAt(pfd, name)
	}
	if err == unix.ENOENT {
		return nil
	}
	return err
}

func removeAllAt(pfd int, name string) error {
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	for {
		names, err := f.Readdirnames(256)
		for _, n := range names {
			e := unix.Unlinkat(fd, n, 0)
			if e == unix.EISDIR {
				e = removeAllAt(fd, n)
			}
			if e != nil && e != unix.ENOENT {
				return e
			}
		}
		if err != nil {
			break
		}
	}
	return unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR)
}

// isWhiteout says whether st is an overlay whiteout: a char device 0/0.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		return "char device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "file of unknown type"
}
