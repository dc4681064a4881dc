//go:build embedengine

package main

import (
	_ "embed"
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

var engineDigest string

// execEngine replaces this process with the engine, written once per
// engine digest to a cache directory and reused by every later command.
func execEngine(argv []string) error {
	path, err := engineFile(cacheDir(), engine, engineDigest)
	if err != nil {
		return err
	}
	// The engine hands this small binary to containers as docker-init and
	// to engines as the runtime: it starts faster than the engine.
	self, _ := os.Executable()
	env := append(os.Environ(), "GORAE_FRONT="+self)
	return fmt.Errorf("run the engine %s: %w", path, syscall.Exec(path, argv, env))
}
