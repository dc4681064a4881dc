package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorae/gorae/internal/atomicfile"
)

// tmpPrefix marks files being written; NewStore removes those a crash left.
const tmpPrefix = atomicfile.TempPrefix

// writeFileAtomic replaces dir/name with data so that after a crash the
// file holds either the old or the new bytes, never a mix.
func writeFileAtomic(dir, name string, data []byte) error {
	return atomicfile.WriteFile(filepath.Join(dir, name), data, 0o600)
}

// removeFileDurable removes dir/name and makes the removal durable before
// returning: the collector may delete the blobs the file referenced as
// soon as it is gone, and a crash must not bring it back.
func removeFileDurable(dir, name string) error {
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", filepath.Join(dir, name), err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// removeTemps removes the temp files a crash left in dir.
func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove stale %s: %w", filepath.Join(dir, e.Name()), err)
			}
		}
	}
	return nil
}
