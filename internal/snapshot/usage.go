package snapshot

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
)

// diskUsage measures a layer directory as du does: blocks allocated, each
// hard-linked inode counted once. Symlinks are not followed.
func diskUsage(ctx context.Context, dir string) (Usage, error) {
	var u Usage
	type inode struct{ dev, ino uint64 }
	seen := make(map[inode]struct{})
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat data", path)
		}
		if st.Nlink > 1 && !d.IsDir() {
			k := inode{st.Dev, st.Ino}
			if _, dup := seen[k]; dup {
				return nil
			}
			seen[k] = struct{}{}
		}
		u.Inodes++
		u.Size += st.Blocks * 512
		return nil
	})
	if err != nil {
		return Usage{}, fmt.Errorf("measuring disk use of %s: %w", dir, err)
	}
	return u, nil
}
