package daemon

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/moby/moby/api/types/container"

	"github.com/gorae/gorae/internal/snapshot"
)

// ContainerChanges is `docker diff`: what the container's writable layer
// holds, read from the overlay upper directory: a whiteout is a deletion,
// a path its image also has is a change, anything else an addition.
func (d *Daemon) ContainerChanges(ctx context.Context, ref string) ([]container.FilesystemChange, error) {
	c, err := d.get(ref)
	if err != nil {
		return nil, err
	}
	mounts, err := d.snapshots.Mounts(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	upper, err := snapshot.UpperDir(mounts)
	if err != nil {
		return nil, err
	}
	lowers, _ := snapshot.LowerDirs(mounts)
	inImage := func(rel string) bool {
		for _, l := range lowers {
			if _, err := os.Lstat(filepath.Join(l, rel)); err == nil {
				return true
			}
		}
		return false
	}
	changes := []container.FilesystemChange{}
	err = filepath.WalkDir(upper, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == upper {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		path := "/" + rel
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 0 {
			changes = append(changes, container.FilesystemChange{Kind: container.ChangeDelete, Path: path})
			return nil
		}
		kind := container.ChangeAdd
		if inImage(rel) {
			kind = container.ChangeModify
		}
		changes = append(changes, container.FilesystemChange{Kind: kind, Path: path})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, nil
}
