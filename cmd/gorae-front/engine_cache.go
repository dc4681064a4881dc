package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	path, _, err := engineFileWrote(dir, name, bin, digest)
	return path, err
}

// engineFileWrote is engineFile, also saying whether it wrote the file.
func engineFileWrote(dir, name string, bin []byte, digest string) (string, bool, error) {
	if len(digest) < 16 {
		return "", false, fmt.Errorf("this gorae was built without its %s's digest: build it with `make build`", name)
	}
	path := filepath.Join(dir, name+"-"+digest[:16])
	if fi, err := os.Stat(path); err == nil && trusted(fi) && fi.Size() == int64(len(bin)) {
		return path, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("create the cache %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return "", false, fmt.Errorf("write the %s to %s: %w", name, dir, err)
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
		return "", false, fmt.Errorf("write the %s to %s: %w", name, path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return path, true, nil
}

// pruneCache removes the binaries of other builds that no process runs,
// so upgrades and rebuilds do not pile up copies. It runs only after a new
// build was written. A daemon of an older build keeps its engine (it runs
// it) and, if its shim file is gone, runs its own engine as the shim.
func pruneCache(dir string, keep ...string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	inUse := map[string]bool{}
	for _, k := range keep {
		inUse[filepath.Base(k)] = true
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		exe, err := os.Readlink("/proc/" + p.Name() + "/exe")
		if err == nil && filepath.Dir(exe) == dir {
			inUse[filepath.Base(strings.TrimSuffix(exe, " (deleted)"))] = true
		}
	}
	for _, e := range ents {
		n := e.Name()
		if (strings.HasPrefix(n, "engine-") || strings.HasPrefix(n, "shim-") || strings.HasPrefix(n, "init-")) && !inUse[n] {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// trusted: a file we would exec must be ours and not writable by others.
func trusted(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid() && fi.Mode().Perm()&0o022 == 0 && fi.Mode().IsRegular()
}
