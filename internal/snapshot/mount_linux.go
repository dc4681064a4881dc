package snapshot

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

var mountFlags = map[string]uintptr{
	"ro":     unix.MS_RDONLY,
	"rw":     0,
	"bind":   unix.MS_BIND,
	"rbind":  unix.MS_BIND | unix.MS_REC,
	"nosuid": unix.MS_NOSUID,
	"nodev":  unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC,
}

// MountAll performs mounts onto target, in order. (The type Mount takes the
// name Mount.) A read-only bind mount is a bind followed by a read-only
// remount, as the kernel wants.
func MountAll(mounts []Mount, target string) error {
	target, err := filepath.Abs(target)
	if err != nil {
		return fmt.Errorf("mount on %s: %w", target, err)
	}
	for i, m := range mounts {
		if err := mountOne(m, target); err != nil {
			for range i {
				unix.Unmount(target, unix.MNT_DETACH) // undo the ones stacked before
			}
			return err
		}
	}
	return nil
}

func mountOne(m Mount, target string) error {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		if f, ok := mountFlags[o]; ok {
			flags |= f
		} else {
			data = append(data, o)
		}
	}
	fstype := m.Type
	if flags&unix.MS_BIND != 0 || m.Type == "bind" {
		flags |= unix.MS_BIND
		if err := unix.Mount(m.Source, target, "", flags&^unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("mount(bind %s on %s): %w", m.Source, target, err)
		}
		if flags&(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC) == 0 {
			return nil
		}
		// Bind ignores the other flags; they only take effect on a remount.
		if err := unix.Mount("", target, "", flags&^unix.MS_REC|unix.MS_REMOUNT, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("mount(remount read-only %s): %w", target, err)
		}
		return nil
	}
	opts := strings.Join(data, ",")
	if len(opts) < unix.Getpagesize() {
		if err := unix.Mount(m.Source, target, fstype, flags, opts); err != nil {
			return fmt.Errorf("mount(%s on %s, %d bytes of options): %w%s", fstype, target, len(opts), err, hint(fstype))
		}
		return nil
	}
	return mountCompact(m.Source, target, fstype, flags, data)
}

// mountCompact mounts an overlay whose options do not fit in the one page the
// kernel copies from mount(2) (about 60 layers with absolute paths): it
// rewrites the layer paths relative to their common directory and mounts
// from a thread whose working directory is that directory. The thread
// unshares its fs struct first so the rest of the process keeps its cwd, and
// is never handed back to the Go scheduler (it exits with the goroutine).
func mountCompact(source, target, fstype string, flags uintptr, data []string) error {
	dir, rel, err := relativeLayers(data)
	if err != nil {
		return fmt.Errorf("mount(%s on %s): %w", fstype, target, err)
	}
	opts := strings.Join(rel, ",")
	if len(opts) >= unix.Getpagesize() {
		return fmt.Errorf("mount(%s on %s): options are %d bytes even relative to %s, more than the kernel's %d-byte page: too many layers",
			fstype, target, len(opts), dir, unix.Getpagesize())
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread's cwd is private now
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS) for a long overlay mount: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- fmt.Errorf("chdir %s for a long overlay mount: %w", dir, err)
			return
		}
		if err := unix.Mount(source, target, fstype, flags, opts); err != nil {
			errc <- fmt.Errorf("mount(%s on %s, %d bytes of options relative to %s): %w%s", fstype, target, len(opts), dir, err, hint(fstype))
			return
		}
		errc <- nil
	}()
	return <-errc
}

// hint says where the kernel explains a failed overlay mount: it logs the
// reason, mount(2) only returns EINVAL.
func hint(fstype string) string {
	if fstype != "overlay" {
		return ""
	}
	return " (the kernel log says why: dmesg | grep overlayfs; a data root on overlayfs itself cannot hold upper directories)"
}

// relativeLayers rewrites lowerdir, upperdir and workdir relative to the
// longest directory all of them share.
func relativeLayers(data []string) (string, []string, error) {
	var paths []string
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			if strings.Contains(v, `\`) {
				return "", nil, fmt.Errorf("cannot shorten an escaped lowerdir")
			}
			paths = append(paths, strings.Split(v, ":")...)
		case "upperdir", "workdir":
			paths = append(paths, v)
		}
	}
	if len(paths) == 0 {
		return "", nil, fmt.Errorf("options exceed a page and name no layer directories")
	}
	common := filepath.Dir(paths[0])
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return "", nil, fmt.Errorf("layer path %q is not absolute", p)
		}
		for common != "/" && !strings.HasPrefix(p, common+"/") {
			common = filepath.Dir(common)
		}
	}
	rel := func(p string) string {
		if common == "/" {
			return p[1:]
		}
		return p[len(common)+1:]
	}
	out := make([]string, 0, len(data))
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			ls := strings.Split(v, ":")
			for i := range ls {
				ls[i] = rel(ls[i])
			}
			o = "lowerdir=" + strings.Join(ls, ":")
		case "upperdir", "workdir":
			o = k + "=" + rel(v)
		}
		out = append(out, o)
	}
	return common, out, nil
}

// Unmount unmounts target. A target that is not mounted is not an error, so
// cleanups can call it unconditionally. A busy mount is retried for a second
// (a process may be exiting) before giving up.
func Unmount(target string) error {
	var err error
	for range 20 {
		err = unix.Unmount(target, 0)
		if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("umount %s: %w (processes still using it? see fuser -vm %s)", target, err, target)
}
