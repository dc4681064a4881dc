package daemon

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/api/types/events"

	"github.com/gorae/gorae/internal/snapshot"
)

// ContainerExport writes the container's whole filesystem as a tar
// (`docker export`): the image's layers and the container's changes,
// merged, read through a private read-only view.
func (d *Daemon) ContainerExport(ctx context.Context, ref string, w io.Writer) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(d.cfg.ExecRoot, "export-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	mounts, err := d.snapshots.Mounts(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("export %s: %w", c.ID, err)
	}
	if err := snapshot.MountAll(readOnly(mounts), dir); err != nil {
		return fmt.Errorf("export %s: mount rootfs: %w", c.ID, err)
	}
	defer snapshot.Unmount(dir)
	// A plain directory diffed against nothing is the full tree.
	if _, err := snapshot.Diff(ctx, nil, dir, w); err != nil {
		return fmt.Errorf("export %s: %w", c.ID, err)
	}
	d.events.publish(events.ContainerEventType, events.ActionExport, c.ID, d.eventAttrs(c))
	return nil
}

// readOnly turns an active snapshot's overlay mount into a read-only
// view of the same layers: lowerdir = upper + lowers, no workdir.
func readOnly(ms []snapshot.Mount) []snapshot.Mount {
	upper, err := snapshot.UpperDir(ms)
	if err != nil {
		return ms
	}
	lowers, _ := snapshot.LowerDirs(ms)
	layers := append([]string{upper}, lowers...)
	if len(layers) == 1 {
		return []snapshot.Mount{{Type: "bind", Source: upper, Options: []string{"rbind", "ro"}}}
	}
	lowerOpt := "lowerdir="
	for i, l := range layers {
		if i > 0 {
			lowerOpt += ":"
		}
		lowerOpt += l
	}
	return []snapshot.Mount{{Type: "overlay", Source: "overlay", Options: []string{lowerOpt}}}
}
