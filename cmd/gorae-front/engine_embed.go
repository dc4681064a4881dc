//go:build embedengine

package main

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// engine is cmd/gorae, built first by scripts/build.sh, which also sets
// engineDigest to its sha256. The build points engine.bin at it with
// -overlay, so the source tree never holds the binary.
//
//go:embed engine.bin
var engine []byte

// shim is cmd/gorae-shim, the per-container monitor, embedded the same way.
//
//go:embed shim.bin
var shim []byte

var engineDigest, shimDigest string

// execEngine replaces this process with the engine, written (with the
// shim) once per digest to a cache directory and reused by every later
// command.
func execEngine(argv []string) error {
	dir := cacheDir()
	path, wroteEngine, err := engineFileWrote(dir, "engine", engine, engineDigest)
	if err != nil {
		return err
	}
	shimPath, wroteShim, err := engineFileWrote(dir, "shim", shim, shimDigest)
	if err != nil {
		return err
	}
	if wroteEngine || wroteShim {
		pruneCache(dir, path, shimPath)
	}
	// The engine hands this small binary to containers as docker-init and
	// to engines as the runtime, and runs shimPath as each container's
	// monitor: both start faster and weigh less than the engine.
	self, _ := os.Executable()
	env := append(os.Environ(), "GORAE_FRONT="+self, "GORAE_SHIM="+shimPath)
	err = syscall.Exec(path, argv, env)
	if errors.Is(err, syscall.ENOENT) {
		// Another build's front pruned it between our write and exec.
		if path, err = engineFile(dir, "engine", engine, engineDigest); err == nil {
			err = syscall.Exec(path, argv, env)
		}
	}
	return fmt.Errorf("run the engine %s: %w", path, err)
}
