package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// cacheDir is root's /var/cache/gorae, or the user's cache directory.
func cacheDir() string {
	if os.Geteuid() == 0 {
		return "/var/cache/gorae"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gorae")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("gorae-%d", os.Geteuid()))
}

// engineFile returns the path of the named embedded binary in dir, writing it
// there first unless a complete copy, owned by us and writable by no one
// else, is already there. Writes are crash-safe: temp file, fsync,
// rename, so a killed extraction leaves no half binary under the name.
func engineFile(dir, name string, bin []byte, digest string) (string, error) {
	if len(digest) < 16 {
		return "", fmt.Errorf("this gorae was built without its %s's digest: build it with `make build`", name)
	}
	path := filepath.Join(dir, name+"-"+digest[:16])
	if fi, err := os.Stat(path); err == nil && trusted(fi) && fi.Size() == int64(len(bin)) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the cache %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return "", fmt.Errorf("write the %s to %s: %w", name, dir, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(bin)
	if err == nil {
		err = f.Chmod(0o755)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("write the %s to %s: %w", name, path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return path, nil
}

// trusted: a file we would exec must be ours and not writable by others.
func trusted(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid() && fi.Mode().Perm()&0o022 == 0 && fi.Mode().IsRegular()
}
