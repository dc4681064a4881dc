package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// ApplyResult says what Apply read.
type ApplyResult struct {
	// DiffID is the sha256 of the uncompressed tar, trailing padding
	// included: what an image config's rootfs.diff_ids lists.
	DiffID digest.Digest
	// Size is the length of the uncompressed tar in bytes.
	Size int64
	// Compression is what the blob was compressed with.
	Compression Compression
}

// ApplyOpt changes how Apply works.
type ApplyOpt func(*applyConfig)

type applyConfig struct {
	parents   []string
	readAhead bool
}

// WithParents names the layers under dir, topmost first (LowerDirs of the
// snapshot's mounts). A directory the layer needs but does not list (a/b/f
// without a/b/) then takes its mode and owner from the layer that has it,
// so it does not mask them in the merged view.
func WithParents(lowers []string) ApplyOpt {
	return func(c *applyConfig) { c.parents = lowers }
}

// Tuned on the benchmark (docs/snapshot.md): chunks big enough that the
// handoff between goroutines costs nothing, few enough to stay in cache.
const (
	readAheadChunk = 512 << 10
	readAheadDepth = 4
	copyBuffer     = 256 << 10
)

// Apply unpacks the layer blob r (a tar, gzip'd tar or zstd'd tar: told by
// its magic number) into dir, converting OCI whiteouts into overlay ones, and
// returns its diffID, computed in the same pass. dir is meant to be the
// upper directory of a freshly prepared snapshot (UpperDir).
//
// Nothing is written outside dir: every path is resolved with dir as its
// root, and names that climb out with "..", hardlinks to files the layer
// did not create, and device nodes other than whiteouts are refused with an
// error naming the entry. On error dir holds part of the layer; remove the
// snapshot.
func Apply(ctx context.Context, dir string, r io.Reader, opts ...ApplyOpt) (ApplyResult, error) {
	cfg := applyConfig{readAhead: true}
	for _, o := range opts {
		o(&cfg)
	}
	root, err := openFSRoot(dir)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("applying layer: %w", err)
	}
	defer root.Close()
	a := &applier{ctx: ctx, root: root, buf: make([]byte, copyBuffer)}
	defer a.closeLowers()
	for _, p := range cfg.parents {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return ApplyResult{}, fmt.Errorf("applying layer: parent layer %s: %w", p, err)
		}
		a.lowers = append(a.lowers, fd)
	}
	root.implied = a.impliedDir

	src, comp, err := decompress(r)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("applying layer to %s: %w", dir, err)
	}
	defer src.Close()
	var in io.Reader = src
	if cfg.readAhead {
		ra := newReadAhead(src, readAheadChunk, readAheadDepth)
		defer ra.Close()
		in = ra
	}
	hr := &hashReader{r: in, h: sha256.New()}
	tr := tar.NewReader(hr)
	last := "(none)"
	for {
		if err := ctx.Err(); err != nil {
			return ApplyResult{}, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ApplyResult{}, fmt.Errorf("applying layer (%s) to %s: reading the tar after entry %q: %w", comp, dir, last, err)
		}
		last = hdr.Name
		if err := a.entry(hdr, tr); err != nil {
			return ApplyResult{}, fmt.Errorf("applying layer to %s: entry %q: %w", dir, hdr.Name, err)
		}
	}
	// The diffID covers the whole stream, zero padding after the end
	// marker included; reading to the end also checks the gzip CRC.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return ApplyResult{}, fmt.Errorf("applying layer (%s) to %s: reading past the tar's end: %w", comp, dir, err)
	}
	if err := a.setDirTimes(); err != nil {
		return ApplyResult{}, fmt.Errorf("applying layer to %s: %w", dir, err)
	}
	return ApplyResult{DiffID: digest.NewDigest(digest.SHA256, hr.h), Size: hr.n, Compression: comp}, nil
}

// hashReader hashes and counts what passes through it.
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

type applier struct {
	ctx    context.Context
	root   *fsRoot
	lowers []int
	buf    []byte
	dirs   []dirTime // set once their contents are in place
}

type dirTime struct {
	rel          string
	atime, mtime time.Time
}

func (a *applier) closeLowers() {
	for _, fd := range a.lowers {
		unix.Close(fd)
	}
}

func (a *applier) entry(hdr *tar.Header, data io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	e, err := parseEntryName(hdr.Name)
	if err != nil {
		return err
	}
	switch e.kind {
	case entryIgnored:
		return nil
	case entryOpaque:
		return a.opaque(e.dir)
	case entryWhiteout:
		return a.whiteout(e.dir, e.base)
	}
	if e.base == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("names the layer root but is not a directory (type %q)", hdr.Typeflag)
		}
		return a.rootDir(hdr)
	}
	if err := checkOwner(hdr); err != nil {
		return err
	}
	rel := path.Join(e.dir, e.base)
	switch hdr.Typeflag {
	case tar.TypeChar, tar.TypeBlock:
		if hdr.Typeflag == tar.TypeChar && hdr.Devmajor == 0 && hdr.Devminor == 0 {
			return a.whiteout(e.dir, e.base) // already in overlay's form
		}
		kind := map[byte]string{tar.TypeChar: "char", tar.TypeBlock: "block"}[hdr.Typeflag]
		return fmt.Errorf("is a %s device %d:%d: image layers may not create device nodes "+
			"(a container's devices come from the runtime, not its image); only 0:0 char devices, overlay whiteouts, are accepted",
			kind, hdr.Devmajor, hdr.Devminor)
	case tar.TypeLink:
		return a.hardlink(e, rel, hdr)
	case tar.TypeDir, tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	pfd, err := a.root.parent(e.dir)
	if err != nil {
		return fmt.Errorf("parent directory %q: %w", e.dir, err)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.dir(pfd, e.base, rel, hdr)
	case tar.TypeSymlink:
		return a.symlink(pfd, e.base, hdr)
	case tar.TypeFifo:
		return a.fifo(pfd, e.base, hdr)
	}
	return a.file(pfd, e.base, hdr, data)
}

// checkOwner refuses ids the kernel cannot store: -1 would mean "leave
// unchanged" to chown, and larger ones wrap.
func checkOwner(hdr *tar.Header) error {
	if hdr.Uid < 0 || hdr.Gid < 0 || hdr.Uid >= 1<<32-1 || hdr.Gid >= 1<<32-1 {
		return fmt.Errorf("owner %d:%d is not a valid uid:gid", hdr.Uid, hdr.Gid)
	}
	return nil
}

// clear makes way for a new entry name in pfd: a later entry replaces an
// earlier one, except that a directory over a directory merges. It reports
// whether name was a whiteout (a directory replacing one must be opaque)
// and whether a directory stays.
func (a *applier) clear(pfd int, name string, keepDir bool) (wasWhiteout, isDir bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, false, nil
		}
		return false, false, fmt.Errorf("stat: %w", err)
	}
	if keepDir && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return false, true, nil
	}
	if err := a.root.removeAt(pfd, name); err != nil {
		return false, false, fmt.Errorf("replacing the earlier %s: %w", typeName(st.Mode), err)
	}
	return isWhiteout(&st), false, nil
}

func (a *applier) rootDir(hdr *tar.Header) error {
	if err := checkOwner(hdr); err != nil {
		return err
	}
	if err := setOwnerMode(a.root.fd, hdr); err != nil {
		return err
	}
	if err := setXattrs(a.root.fd, hdr); err != nil {
		return err
	}
	a.dirs = append(a.dirs, dirTime{"", atime(hdr), hdr.ModTime})
	return nil
}

func (a *applier) dir(pfd int, name, rel string, hdr *tar.Header) error {
	wasWhiteout, isDir, err := a.clear(pfd, name, true)
	if err != nil {
		return err
	}
	if !isDir {
		if err := unix.Mkdirat(pfd, name, 0o700); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	if err := setOwnerMode(fd, hdr); err != nil {
		return err
	}
	if err := setXattrs(fd, hdr); err != nil {
		return err
	}
	if wasWhiteout {
		if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("marking opaque: %w", err)
		}
	}
	a.dirs = append(a.dirs, dirTime{rel, atime(hdr), hdr.ModTime})
	return nil
}

func (a *applier) file(pfd int, name string, hdr *tar.Header, data io.Reader) error {
	if _, _, err := a.clear(pfd, name, false); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer unix.Close(fd)
	sparse := isSparse(hdr)
	n, err := io.CopyBuffer(&fileWriter{ctx: a.ctx, fd: fd, sparse: sparse}, data, a.buf)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("content truncated: the header says %d bytes, the layer ends after %d", hdr.Size, n)
		}
		return fmt.Errorf("writing content: %w", err)
	}
	if sparse {
		if err := unix.Ftruncate(fd, n); err != nil {
			return fmt.Errorf("truncate sparse file to %d: %w", n, err)
		}
	}
	if err := setOwnerMode(fd, hdr); err != nil {
		return err
	}
	if err := setXattrs(fd, hdr); err != nil {
		return err
	}
	return setTimes(pfd, name, atime(hdr), hdr.ModTime)
}

func (a *applier) symlink(pfd int, name string, hdr *tar.Header) error {
	if _, _, err := a.clear(pfd, name, false); err != nil {
		return err
	}
	// The target is stored as text and never followed here; later entries
	// that go through the link resolve it inside the root.
	if err := unix.Symlinkat(hdr.Linkname, pfd, name); err != nil {
		return fmt.Errorf("symlink to %q: %w", hdr.Linkname, err)
	}
	if err := unix.Fchownat(pfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("lchown: %w", err)
	}
	if xattrs := layerXattrs(hdr); len(xattrs) > 0 {
		// No fd-based call for a symlink's xattrs; go through the parent's
		// descriptor, whose /proc link is already resolved.
		p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, name)
		for _, x := range xattrs {
			if err := unix.Lsetxattr(p, x.name, x.value, 0); err != nil {
				return fmt.Errorf("setting xattr %s: %w", x.name, err)
			}
		}
	}
	return setTimes(pfd, name, atime(hdr), hdr.ModTime)
}

func (a *applier) fifo(pfd int, name string, hdr *tar.Header) error {
	if _, _, err := a.clear(pfd, name, false); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFIFO|0o600, 0); err != nil {
		return fmt.Errorf("mkfifo: %w", err)
	}
	if err := unix.Fchownat(pfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	// chmod after chown: chown clears set-id bits.
	if err := unix.Fchmodat(pfd, name, uint32(hdr.Mode)&0o7777, 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return setTimes(pfd, name, atime(hdr), hdr.ModTime)
}

// hardlink links name to a file the layer created earlier. The target path
// is resolved inside the root like any other, so "/etc/passwd" means the
// layer's etc/passwd; if the layer made none the link is refused.
func (a *applier) hardlink(e layerEntry, rel string, hdr *tar.Header) error {
	target, err := cleanRel(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	if target == "" {
		return fmt.Errorf("hardlink to the layer root")
	}
	if target == rel {
		return nil // a link to itself: already there
	}
	tdir, tbase := path.Split(target)
	tfd, err := a.root.openDir(strings.TrimSuffix(tdir, "/"))
	if err != nil {
		return fmt.Errorf("hardlink target %q is not in this layer (a layer may only link to files it creates): %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	pfd, err := a.root.parent(e.dir)
	if err != nil {
		return fmt.Errorf("parent directory %q: %w", e.dir, err)
	}
	if _, _, err := a.clear(pfd, e.base, false); err != nil {
		return err
	}
	if err := unix.Linkat(tfd, tbase, pfd, e.base, 0); err != nil {
		if err == unix.ENOENT {
			return fmt.Errorf("hardlink target %q is not in this layer (a layer may only link to files it creates)", hdr.Linkname)
		}
		return fmt.Errorf("hardlink to %q: %w", hdr.Linkname, err)
	}
	return nil
}

// whiteout hides name in the layers below: an overlay whiteout, unless the
// layer itself already put something there, which the whiteout does not
// hide (it applies to lower layers only).
func (a *applier) whiteout(dir, name string) error {
	pfd, err := a.root.parent(dir)
	if err != nil {
		return fmt.Errorf("parent directory %q: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return nil
	} else if err != unix.ENOENT {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("creating the overlay whiteout (char device 0:0) for %s: %w", name, err)
	}
	return nil
}

// opaque hides what the layers below have in dir.
func (a *applier) opaque(dir string) error {
	pfd, err := a.root.parent(dir)
	if err != nil {
		return fmt.Errorf("directory %q: %w", dir, err)
	}
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("marking %q opaque: %w", dir, err)
	}
	return nil
}

// impliedDir gives a directory the layer needs but does not list the mode,
// owner and times it has in the topmost parent layer that has it.
func (a *applier) impliedDir(rel string) dirAttrs {
	def := dirAttrs{mode: 0o755}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for _, lfd := range a.lowers {
		fd, err := unix.Openat2(lfd, rel, &how)
		if err == unix.ENOENT {
			continue
		}
		if err != nil {
			return def // hidden behind a symlink or worse: keep defaults
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return def // a file or whiteout hides anything further down
		}
		// Its times too, so the merged view shows the directory as the
		// lower layer has it; stamped at the end like listed directories.
		a.dirs = append(a.dirs, dirTime{rel,
			time.Unix(st.Atim.Sec, st.Atim.Nsec), time.Unix(st.Mtim.Sec, st.Mtim.Nsec)})
		return dirAttrs{mode: st.Mode & 0o7777, uid: int(st.Uid), gid: int(st.Gid)}
	}
	return def
}

// setDirTimes stamps directories last, since creating their entries moved
// their mtimes. A later entry of the same directory wins.
func (a *applier) setDirTimes() error {
	for _, d := range a.dirs {
		if d.rel == "" {
			if err := unix.UtimesNanoAt(a.root.fd, ".", timespecs(d.atime, d.mtime), 0); err != nil {
				return fmt.Errorf("setting times of the layer root: %w", err)
			}
			continue
		}
		dir, base := path.Split(d.rel)
		pfd, err := a.root.lookup(strings.TrimSuffix(dir, "/"))
		if err != nil {
			continue // replaced by a later entry
		}
		if err := setTimes(pfd, base, d.atime, d.mtime); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: %w", d.rel, err)
		}
	}
	return nil
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func timespecs(atime, mtime time.Time) []unix.Timespec {
	return []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: mtime.Unix(), Nsec: int64(mtime.Nanosecond())},
	}
}

func setTimes(pfd int, name string, atime, mtime time.Time) error {
	if err := unix.UtimesNanoAt(pfd, name, timespecs(atime, mtime), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// setOwnerMode sets owner then mode (chown clears set-id bits).
func setOwnerMode(fd int, hdr *tar.Header) error {
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("chmod %o: %w", hdr.Mode&0o7777, err)
	}
	return nil
}

type xattr struct {
	name  string
	value []byte
}

// layerXattrs lists the entry's extended attributes (PAX SCHILY.xattr.*),
// leaving out overlay's own: a layer must not be able to forge whiteouts,
// redirects or metacopy markers in our upper directories.
func layerXattrs(hdr *tar.Header) []xattr {
	var xs []xattr
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || strings.HasPrefix(name, overlayXattrs) {
			continue
		}
		xs = append(xs, xattr{name, []byte(v)})
	}
	return xs
}

func setXattrs(fd int, hdr *tar.Header) error {
	for _, x := range layerXattrs(hdr) {
		if err := unix.Fsetxattr(fd, x.name, x.value, 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", x.name, err)
		}
	}
	return nil
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// fileWriter writes an entry's content: in the copy buffer's large
// writes (os.File's ReadFrom would go through 32 KiB), checking the context
// between writes, and for a sparse file turning zero runs into holes so it
// stays sparse on disk (lastlog, say). Go's tar reader hands holes over as
// zeros (it does not export the sparse map), so a tiny layer can declare a
// huge sparse file that costs CPU, not disk; the context bounds that.
type fileWriter struct {
	ctx    context.Context
	fd     int
	sparse bool
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	if w.sparse && allZero(p) {
		if _, err := unix.Seek(w.fd, int64(len(p)), io.SeekCurrent); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	n := 0
	for n < len(p) {
		m, err := unix.Write(w.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

var zeros = make([]byte, copyBuffer)

// allZero is a memcmp against zeros: holes come by in whole buffers.
func allZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeros))
		if !bytes.Equal(p[:n], zeros[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}
