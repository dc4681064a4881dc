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

// initBin is cmd/gorae-init, the container's init, embedded the same way.
//
//go:embed init.bin
var initBin []byte

var engineDigest, shimDigest, initDigest string

// initProgram is the container's init, written to the cache the first
// time a command starts one (runtime.FindInitBinary).
func initProgram() (string, error) {
	return engineFile(cacheDir(), "init", initBin, initDigest)
}

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
	initPath, wroteInit, err := engineFileWrote(dir, "init", initBin, initDigest)
	if err != nil {
		return err
	}
	if wroteEngine || wroteShim || wroteInit {
		pruneCache(dir, path, shimPath, initPath)
	}
	// The engine hands this small binary to containers as docker-init and
	// to engines as the runtime, runs shimPath as each container's monitor,
	// and its shims start initPath as containers' inits: all start faster
	// and weigh less than the engine.
	self, _ := os.Executable()
	env := append(os.Environ(), "GORAE_FRONT="+self, "GORAE_SHIM="+shimPath, "GORAE_INIT="+initPath)
	err = syscall.Exec(path, argv, env)
	if errors.Is(err, syscall.ENOENT) {
		// Another build's front pruned it between our write and exec.
		if path, err = engineFile(dir, "engine", engine, engineDigest); err == nil {
			err = syscall.Exec(path, argv, env)
		}
	}
	return fmt.Errorf("run the engine %s: %w", path, err)
}
