// Package testenv builds what the root tests drive: the gorae binary and
// a busybox root filesystem made from the host's busybox-static, so every
// suite gets them the same way and nothing is downloaded.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BuildGorae builds gorae as `make build` does, static, into dir and
// returns its path.
func BuildGorae(dir string) (string, error) {
	bin := filepath.Join(dir, "gorae")
	// What ships: the front with the engine embedded (scripts/build.sh).
	build := exec.Command("sh", "scripts/build.sh", bin)
	build.Dir = RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build gorae: %v\n%s", err, out)
	}
	return bin, nil
}

// BusyboxRootfs makes a busybox root filesystem at dir.
func BusyboxRootfs(dir string) error {
	script := filepath.Join(RepoRoot(), "scripts", "busybox-rootfs.sh")
	if out, err := exec.Command("sh", script, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("busybox rootfs: %v\n%s", err, out)
	}
	return nil
}

// RequireRoot reports whether root tests may run: as root yes; otherwise
// they skip, except under CI=true, where skipping is a failure (the
// returned error says so).
func RequireRoot(suite string) (bool, error) {
	if os.Geteuid() == 0 {
		return true, nil
	}
	if os.Getenv("CI") == "true" {
		return false, fmt.Errorf("%s: must run as root in CI", suite)
	}
	return false, nil
}
