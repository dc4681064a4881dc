package initproc

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
	EnvInit      = "_GORAE_INIT"       // "create" or "exec"
	EnvSyncFD    = "_GORAE_SYNC_FD"    // socketpair end
	EnvStartFD   = "_GORAE_START_FD"   // listening socket `start` connects to (create only)
	EnvConsoleFD = "_GORAE_CONSOLE_FD" // connected socket the pty master is sent over
	EnvLogLevel  = "_GORAE_LOG_LEVEL"
	// EnvUserNS says the runtime passed a user namespace (fd 200) for the
	// init program's entry point to join before Go started.
	EnvUserNS = "_GORAE_USERNS"
)

// userNSFD is where the runtime passes the user namespace to join
// (internal/runtime/userns_linux.go).
const userNSFD = 200

const (
	MsgConfig    = "config"     // parent → child: what to build
	MsgCgrouped  = "cgrouped"   // parent → child (create): you are in your cgroup
	MsgHooks     = "hooks"      // child → parent: run prestart/createRuntime now
	MsgHooksDone = "hooks-done" // parent → child
	MsgReady     = "ready"      // child → parent: set up, waiting for start
	MsgError     = "error"      // either way: give up, with why
)

type Msg struct {
	Type   string
	Error  string
	Config *Config
	// Phases are the child's own timings, for --debug.
	Phases []string
}

// Config is everything the init process needs; it is computed by the
// parent so the child does no parsing of its own.
type Config struct {
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

type Conn struct {
	f *os.File
}

func NewConn(f *os.File) *Conn { return &Conn{f: f} }

func (s *Conn) Send(m Msg) error {
	if err := writeSyncMsg(s.f, &m); err != nil {
		return fmt.Errorf("send %s message to init: %w", m.Type, err)
	}
	return nil
}

func (s *Conn) Recv() (Msg, error) {
	return readSyncMsg(s.f)
}

func (s *Conn) Close() error { return s.f.Close() }

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
