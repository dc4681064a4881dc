// Package atomicfile writes files crash-safely: a reader, or the next
// start after a kill -9 or power cut, sees the old content or the new,
// never a mix or an empty file.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// TempPrefix begins the name of every temporary file WriteFile makes; a
// store removes such leftovers of a crash when it opens.
const TempPrefix = ".tmp-"

// WriteFile writes data to a temporary file beside path, fsyncs it,
// renames it over path and fsyncs the directory, so the rename itself is
// durable.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, true)
}

// WriteVolatile is WriteFile without the fsyncs, for state that lives on
// tmpfs or must not outlive a reboot anyway (the runtime's container
// state): readers still never see a partial file, and a start is spared
// two disk flushes.
func WriteVolatile(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, false)
}

func write(path string, data []byte, mode os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Chmod(mode)
	}
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or unlink in dir durable. Filesystems with
// nothing to sync (tmpfs) return no error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
