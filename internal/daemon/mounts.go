package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/volume"
)

// createMounts resolves the container's mounts at create, as Docker's
// registerMountPoints: --volumes-from first, then -v and --mount (which
// replace what they cover), then an anonymous volume for each of the
// config's and image's VOLUME paths still uncovered. Everything is parsed
// before anything is made; the undo removes the volumes it made.
func (d *Daemon) createMounts(ctx context.Context, c *ctrstore.Container) (undo func(), err error) {
	hc, cfg := c.HostConfig, c.Config
	if hc.VolumeDriver != "" && hc.VolumeDriver != volume.DefaultDriver {
		return nil, errdefs.NotFound(fmt.Errorf("error looking up volume plugin %s: plugin %q not found (gorae has only the local driver)", hc.VolumeDriver, hc.VolumeDriver))
	}
	byDest := map[string]*volume.MountPoint{}
	explicit := map[string]bool{}
	for _, spec := range hc.VolumesFrom {
		ref, mode, err := volume.ParseVolumesFrom(spec)
		if err != nil {
			return nil, err
		}
		src, err := d.get(ref)
		if err != nil {
			return nil, err
		}
		ro := strings.Contains(","+mode+",", ",ro,")
		for _, m := range src.MountPoints {
			cp := *m
			cp.RW = m.RW && !ro
			cp.CopyData = false
			cp.Mode = ""
			byDest[cp.Destination] = &cp
		}
	}
	add := func(mp *volume.MountPoint) error {
		if explicit[mp.Destination] {
			return errdefs.InvalidParameter(fmt.Errorf("Duplicate mount point: %s", mp.Destination))
		}
		explicit[mp.Destination] = true
		byDest[mp.Destination] = mp
		return nil
	}
	for _, b := range hc.Binds {
		mp, err := volume.ParseBind(b)
		if err != nil {
			return nil, err
		}
		if err := add(mp); err != nil {
			return nil, err
		}
	}
	for _, m := range hc.Mounts {
		mp, err := volume.ParseMount(m)
		if err != nil {
			return nil, err
		}
		if mp.Type == mount.TypeBind && !mp.CreateSource {
			if _, err := os.Stat(mp.Source); err != nil {
				return nil, errdefs.InvalidParameter(fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", mp.Source))
			}
		}
		if err := add(mp); err != nil {
			return nil, err
		}
	}
	for dest, opts := range hc.Tmpfs {
		if !path.IsAbs(dest) {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid tmpfs mount: mount path %q must be absolute", dest))
		}
		if explicit[path.Clean(dest)] {
			return nil, errdefs.InvalidParameter(fmt.Errorf("Duplicate mount point: %s", path.Clean(dest)))
		}
		if _, err := volume.TmpfsOptions(opts); err != nil {
			return nil, err
		}
		delete(byDest, path.Clean(dest))
	}
	for dest := range cfg.Volumes {
		if !path.IsAbs(dest) {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid volume: mount path %q must be absolute", dest))
		}
		dest = path.Clean(dest)
		if _, ok := byDest[dest]; ok || hasKey(hc.Tmpfs, dest) {
			continue
		}
		byDest[dest] = &volume.MountPoint{Type: mount.TypeVolume, Destination: dest, Driver: volume.DefaultDriver, RW: true, CopyData: true, Spec: mount.Mount{Type: mount.TypeVolume, Target: dest}}
	}

	var made, used []string
	undo = func() {
		for _, n := range used {
			d.volumes.RemoveUser(n, c.ID)
		}
		for _, n := range made {
			if err := d.volumes.Remove(n); err == nil {
				d.events.publish(events.VolumeEventType, events.ActionDestroy, n, map[string]string{"driver": volume.DefaultDriver})
			}
		}
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	dests := make([]string, 0, len(byDest))
	for dest := range byDest {
		dests = append(dests, dest)
	}
	sort.Strings(dests)
	var mps []*volume.MountPoint
	for _, dest := range dests {
		mp := byDest[dest]
		if mp.Type == mount.TypeVolume {
			v, created, err := d.volumes.Create(mp.Name, volumeCreateOptions(mp), c.ID)
			if err != nil {
				return nil, err
			}
			used = append(used, v.Name)
			if created {
				made = append(made, v.Name)
				d.events.publish(events.VolumeEventType, events.ActionCreate, v.Name, map[string]string{"driver": v.Driver})
			}
			mp.Name, mp.Driver, mp.Source = v.Name, v.Driver, v.Mountpoint()
			// Docker's default label mode for local volumes named in -v
			// or --mount.
			if explicit[dest] && mp.Mode == "" {
				mp.Mode = "z"
			}
		}
		mps = append(mps, mp)
	}
	c.MountPoints = mps
	return undo, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// volumeCreateOptions are a mount's wishes for a volume it creates:
// labels and driver options from --mount, Docker's anonymous label when
// it has no name.
func volumeCreateOptions(mp *volume.MountPoint) volume.CreateOptions {
	o := volume.CreateOptions{Driver: volume.DefaultDriver}
	if vo := mp.Spec.VolumeOptions; vo != nil {
		o.Labels = vo.Labels
		if vo.DriverConfig != nil {
			o.Options = vo.DriverConfig.Options
		}
	}
	if mp.Name == "" {
		labels := map[string]string{volume.AnonymousLabel: ""}
		for k, v := range o.Labels {
			labels[k] = v
		}
		o.Labels = labels
	}
	return o
}

// mountVolumes readies the container's mounts for a start and returns
// them as OCI mounts: volumes mounted (their driver's device, if any)
// and filled with the image's content when empty, missing -v sources
// made, tmpfs options merged. rootfs is the container's mounted root.
func (d *Daemon) mountVolumes(c *ctrstore.Container, rootfs string) (_ []specs.Mount, retErr error) {
	defer func() {
		if retErr != nil {
			d.unmountVolumes(c)
		}
	}()
	var out []specs.Mount
	for _, mp := range c.MountPoints {
		switch mp.Type {
		case mount.TypeVolume:
			dir, err := d.volumes.Mount(mp.Name, c.ID)
			if err != nil {
				return nil, err
			}
			if mp.CopyData {
				src, err := securejoin.SecureJoin(rootfs, mp.Destination)
				if err != nil {
					return nil, err
				}
				if _, err := volume.CopyUp(src, dir); err != nil {
					return nil, err
				}
			}
			out = append(out, bindSpec(dir, mp))
		case mount.TypeBind:
			if _, err := os.Stat(mp.Source); errors.Is(err, os.ErrNotExist) {
				if !mp.CreateSource {
					return nil, errdefs.InvalidParameter(fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", mp.Source))
				}
				// Docker makes a missing -v source directory.
				if err := os.MkdirAll(mp.Source, 0o755); err != nil {
					return nil, fmt.Errorf("create bind source %s: %w", mp.Source, err)
				}
			}
			out = append(out, bindSpec(mp.Source, mp))
		case mount.TypeTmpfs:
			opts, err := volume.TmpfsOptions(mp.TmpfsData)
			if err != nil {
				return nil, err
			}
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts})
		}
	}
	for dest, data := range c.HostConfig.Tmpfs {
		opts, err := volume.TmpfsOptions(data)
		if err != nil {
			return nil, err
		}
		out = append(out, specs.Mount{Destination: path.Clean(dest), Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	return out, nil
}

func bindSpec(src string, mp *volume.MountPoint) specs.Mount {
	opts := []string{"rbind"}
	if mp.Spec.BindOptions != nil && mp.Spec.BindOptions.NonRecursive {
		opts[0] = "bind"
	}
	if !mp.RW {
		opts = append(opts, "ro")
	}
	prop := string(mp.Propagation)
	if prop == "" {
		prop = string(mount.PropagationRPrivate)
	}
	return specs.Mount{Destination: mp.Destination, Type: "bind", Source: src, Options: append(opts, prop)}
}

// unmountVolumes ends a run's use of the container's volumes.
func (d *Daemon) unmountVolumes(c *ctrstore.Container) {
	for _, mp := range c.MountPoints {
		if mp.Type == mount.TypeVolume {
			if err := d.volumes.Unmount(mp.Name, c.ID); err != nil {
				slog.Warn("unmount volume", "container", c.ID, "volume", mp.Name, "err", err)
			}
		}
	}
}

// releaseMounts forgets a removed container's volumes; with rmVolumes
// (`rm -v`, `--rm`) its anonymous volumes go too, unless another
// container still uses them.
func (d *Daemon) releaseMounts(c *ctrstore.Container, rmVolumes bool) {
	d.unmountVolumes(c)
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume {
			continue
		}
		d.volumes.RemoveUser(mp.Name, c.ID)
		if !rmVolumes || !mp.Anonymous() {
			continue
		}
		err := d.volumes.Remove(mp.Name)
		switch {
		case err == nil:
			d.events.publish(events.VolumeEventType, events.ActionDestroy, mp.Name, map[string]string{"driver": mp.Driver})
		case !errdefs.IsConflict(err) && !errdefs.IsNotFound(err):
			slog.Warn("remove anonymous volume", "container", c.ID, "volume", mp.Name, "err", err)
		}
	}
}

// restoreVolumeUsers replays the container records into the volume
// store at daemon start: who uses which volume, and which of them run
// (their volumes' devices stay mounted); devices left mounted for no one
// are unmounted.
func (d *Daemon) restoreVolumeUsers() {
	for _, c := range d.containers.List() {
		if c.MountPoints == nil {
			legacyMountPoints(c)
		}
		running := c.Snapshot().IsRunning()
		for _, mp := range c.MountPoints {
			if mp.Type != mount.TypeVolume {
				continue
			}
			if err := d.volumes.AddUser(mp.Name, c.ID); err != nil {
				slog.Warn("container uses a volume that is gone", "container", c.ID, "volume", mp.Name)
				continue
			}
			if running {
				if _, err := d.volumes.Mount(mp.Name, c.ID); err != nil {
					slog.Warn("remount volume of a running container", "container", c.ID, "volume", mp.Name, "err", err)
				}
			}
		}
	}
	d.volumes.UnmountIdle()
}

// legacyMountPoints gives a record made before volumes existed (binds
// and tmpfs mounts kept only in its HostConfig) its mount points, so its
// mounts survive the upgrade. It could hold no volumes then.
func legacyMountPoints(c *ctrstore.Container) {
	hc := c.HostConfig
	if hc == nil {
		return
	}
	var mps []*volume.MountPoint
	for _, b := range hc.Binds {
		if mp, err := volume.ParseBind(b); err == nil && mp.Type == mount.TypeBind {
			mps = append(mps, mp)
		}
	}
	for _, m := range hc.Mounts {
		if mp, err := volume.ParseMount(m); err == nil && mp.Type != mount.TypeVolume {
			mps = append(mps, mp)
		}
	}
	c.MountPoints = mps
}

// mountPoints is inspect's and ps's Mounts: Docker's fields, by
// destination.
func mountPoints(c *ctrstore.Container) []container.MountPoint {
	out := make([]container.MountPoint, 0, len(c.MountPoints))
	for _, mp := range c.MountPoints {
		out = append(out, container.MountPoint{
			Type: mp.Type, Name: mp.Name, Source: mp.Source, Destination: mp.Destination, Driver: mp.Driver,
			Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation,
		})
	}
	return out
}

// usesVolume is ps's volume= filter: a volume name, a bind source or a
// destination.
func usesVolume(c *ctrstore.Container, v string) bool {
	for _, mp := range c.MountPoints {
		if mp.Destination == v || (mp.Name != "" && mp.Name == v) || (mp.Name == "" && mp.Source == v) {
			return true
		}
	}
	return false
}

// bindVolumesAt mounts a stopped container's volumes and binds onto its
// root mounted at dir, for docker cp; the release undoes it.
func (d *Daemon) bindVolumesAt(c *ctrstore.Container, dir string) (release func(), err error) {
	user := "cp-" + ctrstore.NewID()[:12]
	var targets []string
	var mounted []string
	release = func() {
		for i := len(targets) - 1; i >= 0; i-- {
			unix.Unmount(targets[i], unix.MNT_DETACH)
		}
		for _, n := range mounted {
			d.volumes.Unmount(n, user)
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	for _, mp := range c.MountPoints {
		src := mp.Source
		switch mp.Type {
		case mount.TypeVolume:
			if src, err = d.volumes.Mount(mp.Name, user); err != nil {
				return nil, err
			}
			mounted = append(mounted, mp.Name)
		case mount.TypeBind:
			if _, err := os.Stat(src); err != nil {
				continue
			}
		default:
			continue
		}
		target, err := securejoin.SecureJoin(dir, mp.Destination)
		if err != nil {
			return nil, err
		}
		if err := makeMountpoint(src, target); err != nil {
			return nil, err
		}
		if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return nil, fmt.Errorf("bind %s on %s: %w", src, target, err)
		}
		targets = append(targets, target)
		if !mp.RW {
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return nil, fmt.Errorf("remount %s read-only: %w", target, err)
			}
		}
	}
	return release, nil
}

// makeMountpoint makes target ready to take a bind of src: a directory,
// or for a file an empty file.
func makeMountpoint(src, target string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", target, err)
	}
	return nil
}
