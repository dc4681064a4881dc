// Package e2e drives a real gorae daemon with the real docker CLI
// (/usr/local/bin/docker), as a user would. Each run gets its own data
// root, exec root and socket; nothing touches a system engine.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorae/gorae/internal/testenv"
)

var (
	gorae      string
	dockerBin  = "/usr/local/bin/docker"
	sock       string
	dataRoot   string
	execRoot   string
	daemon     *testenv.Daemon
	daemonLog  string
	busyboxTar string
	// busyboxRootfs is the tree busybox.tar was made from.
	busyboxRootfs string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if ok, err := testenv.RequireRoot("e2e"); !ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("e2e: skipped, needs root")
		return 0
	}
	if _, err := os.Stat(dockerBin); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "e2e: the docker CLI is missing at", dockerBin)
			return 1
		}
		fmt.Println("e2e: skipped, no docker CLI at", dockerBin)
		return 0
	}
	tmp, err := os.MkdirTemp("", "gorae-e2e-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	if gorae, err = testenv.BuildGorae(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rootfs := filepath.Join(tmp, "rootfs")
	busyboxRootfs = rootfs
	if err := testenv.BusyboxRootfs(rootfs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	busyboxTar = filepath.Join(tmp, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", busyboxTar, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "tar rootfs: %v\n%s", err, out)
		return 1
	}
	dataRoot = filepath.Join(tmp, "data")
	// Short: unix socket paths are limited to 108 bytes.
	execRoot = fmt.Sprintf("/run/gorae-e2e-%d", os.Getpid())
	sock = execRoot + ".sock"
	defer os.RemoveAll(execRoot)
	daemonLog = filepath.Join(tmp, "daemon.log")
	daemon = &testenv.Daemon{Bin: gorae, DataRoot: dataRoot, ExecRoot: execRoot, Sock: sock, Log: daemonLog,
		Args: []string{"--debug", "--registry-serve", "127.0.0.1:0"},
		Net:  &testenv.Net{Bridge: e2eBridge, Flags: networkFlags()}}
	if err := startDaemon(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		dumpLog()
		return 1
	}
	defer daemon.Cleanup()
	defer stopDaemon(true)
	if out, err := docker(nil, "import", busyboxTar, "busybox:latest"); err != nil {
		fmt.Fprintf(os.Stderr, "docker import busybox: %v\n%s", err, out)
		dumpLog()
		return 1
	}
	code := m.Run()
	if code != 0 {
		dumpLog()
	}
	return code
}

func dumpLog() {
	b, _ := os.ReadFile(daemonLog)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	fmt.Fprintf(os.Stderr, "--- daemon log (tail) ---\n%s\n", b)
}

func startDaemon() error {
	return daemon.Start(func() bool { _, err := docker(nil, "version"); return err == nil })
}

// stopDaemon ends the daemon gracefully. Containers keep running under
// their monitors; the final stop removes them first.
func stopDaemon(cleanup bool) {
	if cleanup {
		if out, _ := docker(nil, "ps", "-aq"); len(out) > 0 {
			docker(nil, append([]string{"rm", "-f"}, strings.Fields(out)...)...)
		}
	}
	daemon.Stop()
}

// docker runs the real docker CLI against our daemon.
func docker(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerBin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+os.TempDir()+"/gorae-e2e-docker-config")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(nil, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
