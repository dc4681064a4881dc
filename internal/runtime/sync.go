package runtime

import (
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The runtime process and the init it spawns talk over a socketpair in
// syncMsgs (wire.go has their form). The child's env names its inherited
// descriptors.
const (
	envInit      = "_GORAE_INIT"       // "create" or "exec"
	envSyncFD    = "_GORAE_SYNC_FD"    // socketpair end
	envStartFD   = "_GORAE_START_FD"   // listening socket `start` connects to (create only)
	envConsoleFD = "_GORAE_CONSOLE_FD" // connected socket the pty master is sent over
	envLogLevel  = "_GORAE_LOG_LEVEL"
)

const (
	msgConfig    = "config"     // parent → child: what to build
	msgCgrouped  = "cgrouped"   // parent → child (create): you are in your cgroup
	msgHooks     = "hooks"      // child → parent: run prestart/createRuntime now
	msgHooksDone = "hooks-done" // parent → child
	msgReady     = "ready"      // child → parent: set up, waiting for start
	msgError     = "error"      // either way: give up, with why
)

type syncMsg struct {
	Type   string
	Error  string
	Config *initConfig
	// Phases are the child's own timings, for --debug.
	Phases []string
}

// initConfig is everything the init process needs; it is computed by the
// parent so the child does no parsing of its own.
type initConfig struct {
	ID     string
	Bundle string
	Rootfs string
	Spec   *specs.Spec
	// Process is what to exec: spec.process for create, the exec process
	// for exec.
	Process *specs.Process
	// Join maps namespace types to paths the child enters itself (all but
	// pid, which the parent enters before spawning because it applies to
	// children only).
	Join map[specs.LinuxNamespaceType]string
	// NewCgroupNS is unshared by the child once the parent has placed it in
	// its cgroup, so the namespace's root is the container's cgroup.
	NewCgroupNS bool
	NewTimeNS   bool
	// NewNetNS: bring up the loopback of the fresh network namespace, as
	// runc does; the kernel creates it down.
	NewNetNS     bool
	NoPivot      bool
	NoNewKeyring bool
	// CgroupPaths are the container's cgroup directories on the host, for
	// mounting a cgroup filesystem without a cgroup namespace.
	CgroupPaths map[string]string
	// IDMapFDs are the inherited descriptors of ID-mapped mount trees
	// (idmap_linux.go), by index in spec.mounts.
	IDMapFDs map[int]int
}

type syncConn struct {
	f *os.File
}

func newSyncConn(f *os.File) *syncConn { return &syncConn{f: f} }

func (s *syncConn) send(m syncMsg) error {
	if err := writeSyncMsg(s.f, &m); err != nil {
		return fmt.Errorf("send %s message to init: %w", m.Type, err)
	}
	return nil
}

func (s *syncConn) recv() (syncMsg, error) {
	return readSyncMsg(s.f)
}

func (s *syncConn) Close() error { return s.f.Close() }

func fdFromEnv(name string) int {
	v := os.Getenv(name)
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}
