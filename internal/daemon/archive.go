package daemon

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/moby/api/types/container"

	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/snapshot"
)

// containerRoot is the container's filesystem on the host, volumes and
// binds included: the running container's root as its own mount
// namespace sees it, or its layer mounted for the call with its volumes
// bound on top.
func (d *Daemon) containerRoot(ctx context.Context, c *ctrstore.Container) (string, func(), error) {
	if st := c.Snapshot(); st.IsRunning() && st.Pid > 0 {
		return fmt.Sprintf("/proc/%d/root", st.Pid), func() {}, nil
	}
	dir, err := os.MkdirTemp(d.cfg.ExecRoot, "cp-")
	if err != nil {
		return "", nil, err
	}
	mounts, err := d.snapshots.Mounts(ctx, c.ID)
	if err == nil {
		err = snapshot.MountAll(mounts, dir)
	}
	if err != nil {
		os.Remove(dir)
		return "", nil, fmt.Errorf("mount the filesystem of %s: %w", c.ID, err)
	}
	unbind, err := d.bindVolumesAt(c, dir)
	if err != nil {
		snapshot.Unmount(dir)
		os.Remove(dir)
		return "", nil, fmt.Errorf("mount the volumes of %s: %w", c.ID, err)
	}
	return dir, func() { unbind(); snapshot.Unmount(dir); os.Remove(dir) }, nil
}

// resolveIn is path inside root, symlinks followed as the container would
// (never out of root); the last element is not followed.
func resolveIn(root, p string) (string, error) {
	p = filepath.Clean("/" + p)
	dir, err := securejoin.SecureJoin(root, filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(p)), nil
}

func pathStat(full, name string) (*container.PathStat, error) {
	fi, err := os.Lstat(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.NotFound(fmt.Errorf("Could not find the file %s in container", name))
		}
		return nil, err
	}
	st := &container.PathStat{Name: filepath.Base(name), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if fi.Mode()&os.ModeSymlink != 0 {
		st.LinkTarget, _ = os.Readlink(full)
	}
	return st, nil
}

// ContainerStatPath is HEAD /containers/{id}/archive.
func (d *Daemon) ContainerStatPath(ctx context.Context, ref, p string) (*container.PathStat, error) {
	c, err := d.get(ref)
	if err != nil {
		return nil, err
	}
	root, release, err := d.containerRoot(ctx, c)
	if err != nil {
		return nil, err
	}
	defer release()
	full, err := resolveIn(root, p)
	if err != nil {
		return nil, err
	}
	return pathStat(full, p)
}

// ContainerArchivePath is GET /containers/{id}/archive: path as a tar
// whose top entry is its base name (`docker cp CONTAINER:PATH …`).
func (d *Daemon) ContainerArchivePath(ctx context.Context, ref, p string, w io.Writer) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	root, release, err := d.containerRoot(ctx, c)
	if err != nil {
		return err
	}
	defer release()
	full, err := resolveIn(root, p)
	if err != nil {
		return err
	}
	if _, err := pathStat(full, p); err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	base := filepath.Base(filepath.Clean("/" + p))
	if base == "/" {
		base = "."
	}
	err = filepath.WalkDir(full, func(f string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(full, f)
		name := filepath.Join(base, rel)
		fi, err := de.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			link, _ = os.Readlink(f)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil // sockets and the like: not archivable, skipped
		}
		hdr.Name = name
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			fh, err := os.Open(f)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, fh)
			fh.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive %s of %s: %w", p, c.ID, err)
	}
	return tw.Close()
}

// ContainerExtractToDir is PUT /containers/{id}/archive: a tar unpacked
// into the directory path (`docker cp … CONTAINER:PATH`). Every entry is
// resolved inside the container's root; devices are refused.
func (d *Daemon) ContainerExtractToDir(ctx context.Context, ref, p string, noOverwriteDirNonDir bool, r io.Reader) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if c.HostConfig.ReadonlyRootfs {
		return errdefs.Forbidden(errors.New("container rootfs is marked read-only"))
	}
	root, release, err := d.containerRoot(ctx, c)
	if err != nil {
		return err
	}
	defer release()
	dst, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
		return errdefs.InvalidParameter(fmt.Errorf("extraction point is not a directory: %s", p))
	}
	tr := tar.NewReader(r)
	var dirTimes []func()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("read the archive: %w", err))
		}
		name := filepath.Join(p, hdr.Name)
		target, err := resolveIn(root, name)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(target, root) {
			return errdefs.InvalidParameter(fmt.Errorf("archive entry %q leaves the container", hdr.Name))
		}
		if fi, err := os.Lstat(target); err == nil && noOverwriteDirNonDir && fi.IsDir() != (hdr.Typeflag == tar.TypeDir) {
			return errdefs.InvalidParameter(fmt.Errorf("cannot overwrite %s with %s of another kind", name, hdr.Name))
		}
		mode := os.FileMode(hdr.Mode).Perm() | os.FileMode(hdr.Mode)&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			os.Chmod(target, mode)
			t := hdr.ModTime
			dirTimes = append(dirTimes, func() { os.Chtimes(target, t, t) })
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(target), 0o755)
			os.Remove(target)
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL|syscall.O_NOFOLLOW, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
			os.Chmod(target, mode)
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(target), 0o755)
			os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		default:
			return errdefs.InvalidParameter(fmt.Errorf("archive entry %q: type %q is not copied into containers", hdr.Name, string(hdr.Typeflag)))
		}
		os.Lchown(target, hdr.Uid, hdr.Gid)
		if hdr.Typeflag != tar.TypeDir {
			t := hdr.ModTime
			if t.IsZero() {
				t = time.Now()
			}
			if hdr.Typeflag != tar.TypeSymlink {
				os.Chtimes(target, t, t)
			}
		}
	}
	for i := len(dirTimes) - 1; i >= 0; i-- {
		dirTimes[i]()
	}
	return nil
}
