package runtime

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// protectedExe opens the init binary so that a container cannot overwrite
// it through /proc/<init>/exe (CVE-2019-5736): init runs inside the
// container's pid namespace before it execs the user's process, and a
// container process could open its exe then and write to it once every
// runtime process has exited. The binary is opened through a read-only
// overlayfs mount that is attached nowhere (so nothing else sees it);
// writes through it fail with EROFS. Kernels without the new mount API or
// overlayfs get a sealed memfd copy instead, as runc does. The returned
// path is for exec.Cmd (a /proc/self/fd link, resolved during execve);
// release closes it once the init has been spawned.
func protectedExe(bin, stateDir string) (path string, release func(), err error) {
	real, err := os.Readlink(bin)
	if err != nil || !filepath.IsAbs(real) {
		real, err = filepath.EvalSymlinks(bin)
	}
	if err == nil {
		if f, err := overlayExe(real, filepath.Join(stateDir, "empty")); err == nil {
			return fdPath(f), func() { f.Close() }, nil
		}
	}
	// Also when our binary was replaced on disk while we run: /proc/self/exe
	// still opens.
	f, err := memfdExe(bin)
	if err != nil {
		return "", nil, err
	}
	return fdPath(f), func() { f.Close() }, nil
}

func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// overlayExe: overlayfs needs two lower layers when it has no upper one;
// the second is an empty directory of ours.
func overlayExe(real, empty string) (*os.File, error) {
	dir, name := filepath.Split(real)
	if strings.ContainsAny(dir, ":,\\") {
		return nil, fmt.Errorf("overlay cannot name %q as a layer", dir)
	}
	if err := os.MkdirAll(empty, 0o700); err != nil {
		return nil, err
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "lowerdir", strings.TrimSuffix(dir, "/")+":"+empty); err != nil {
		return nil, fmt.Errorf("overlay lowerdir %s: %w", dir, err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("create overlay of %s: %w", dir, err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay of %s: %w", dir, err)
	}
	defer unix.Close(mfd)
	// The open file keeps the detached mount alive; nothing else does.
	fd, err := unix.Openat(mfd, name, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in its overlay: %w", name, err)
	}
	return os.NewFile(uintptr(fd), real), nil
}

func memfdExe(bin string) (*os.File, error) {
	src, err := os.Open(bin)
	if err != nil {
		return nil, fmt.Errorf("open the runtime binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("gorae-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd for the runtime binary: %w", err)
	}
	f := os.NewFile(uintptr(fd), "gorae-init")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy the runtime binary to a memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal the runtime binary's memfd: %w", err)
	}
	return f, nil
}

// exeClearOfChildFDs keeps cmd.Path, a /proc/self/fd link, naming the
// binary in the child until execve. Go's child dup2s ExtraFiles onto 3, 4, …
// and first moves its error pipe (and any file in the way) to the numbers
// just above the highest descriptor it passes, so a link in either range
// would name another file; the ID-mapped mount trees, opened just before
// the binary, made that happen. The descriptor is moved above both ranges
// with room to spare; done closes the copy once the child has exec'd.
func exeClearOfChildFDs(cmd *exec.Cmd) (done func(), err error) {
	const prefix = "/proc/self/fd/"
	n, perr := strconv.Atoi(strings.TrimPrefix(cmd.Path, prefix))
	if perr != nil || !strings.HasPrefix(cmd.Path, prefix) {
		return func() {}, nil
	}
	files := append([]*os.File(nil), cmd.ExtraFiles...)
	for _, s := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		if f, ok := s.(*os.File); ok {
			files = append(files, f)
		}
	}
	highest := 2 + len(cmd.ExtraFiles)
	for _, f := range files {
		if f != nil && int(f.Fd()) > highest {
			highest = int(f.Fd())
		}
	}
	floor := highest + len(files) + 16
	if n >= floor {
		return func() {}, nil
	}
	fd, err := unix.FcntlInt(uintptr(n), unix.F_DUPFD_CLOEXEC, floor)
	if err != nil {
		return nil, fmt.Errorf("move the init binary's descriptor past the inherited ones: %w", err)
	}
	cmd.Path = prefix + strconv.Itoa(fd)
	return func() { unix.Close(fd) }, nil
}
