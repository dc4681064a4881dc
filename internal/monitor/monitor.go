// Package monitor is `gorae shim`: one small process per container that
// outlives the daemon. It runs the OCI runtime, owns the container's stdio,
// writes its json-file log, reaps its init and keeps the exit status, and
// serves the daemon (or a restarted daemon: live-restore) over a unix socket
// in the container's directory.
package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gorae/gorae/internal/atomicfile"
)

// Files in the container directory (Config.Dir).
const (
	ConfigFile = "shim.json"
	SocketFile = "shim.sock"
	ExitFile   = "exit.json"
	PidFile    = "init.pid"
	runtimeLog = "runtime.log"
	consoleSck = "console.sock"
)

// Config is what the daemon tells the shim; written to Dir/shim.json.
type Config struct {
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	// Dir holds the socket, exit status and pid file; the daemon's
	// directory for this container.
	Dir string `json:"dir"`
	// Runtime is the runtime's argv prefix: ["/usr/bin/runc"] or
	// ["/usr/bin/gorae", "runtime"].
	Runtime []string `json:"runtime"`
	// BuiltinRuntime runs gorae's own runtime inside the shim instead of
	// exec'ing Runtime for every operation (Runtime still names it, for
	// humans and for `exec`).
	BuiltinRuntime bool              `json:"builtin_runtime,omitempty"`
	RuntimeRoot    string            `json:"runtime_root"`
	LogPath        string            `json:"log_path,omitempty"`
	LogOpts        map[string]string `json:"log_opts,omitempty"`
	// OpenStdin keeps a stdin pipe for attach; StdinOnce closes it after
	// the first attached client detaches.
	OpenStdin bool `json:"open_stdin,omitempty"`
	StdinOnce bool `json:"stdin_once,omitempty"`
	// Debug: the shim logs at debug level to shim.log, the runtime's
	// phase timings included (daemon --debug).
	Debug bool `json:"debug,omitempty"`
}

// Exit is a container's end, as recorded in Dir/exit.json.
type Exit struct {
	Code     int       `json:"code"`
	Signal   int       `json:"signal,omitempty"`
	ExitedAt time.Time `json:"exited_at"`
	// OOMKilled is filled by the daemon from cgroup stats; the shim
	// cannot tell an OOM kill from any other SIGKILL.
	OOMKilled bool `json:"oom_killed,omitempty"`
}

// State is what GET /state answers.
type State struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"` // created, running, stopped
	Exit   *Exit  `json:"exit,omitempty"`
	Tty    bool   `json:"tty"`
}

// WriteConfig stores c in its directory, crash-safely.
func WriteConfig(c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.Dir, ConfigFile), b)
}

// ReadConfig loads Dir/shim.json.
func ReadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("read shim config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if c.ID == "" || c.Bundle == "" || len(c.Runtime) == 0 {
		return nil, errors.New("shim config: id, bundle and runtime are required")
	}
	c.Dir = dir
	return &c, nil
}

// ReadExit returns the recorded exit, or nil if the container has not
// exited (or its shim died before recording it).
func ReadExit(dir string) (*Exit, error) {
	b, err := os.ReadFile(filepath.Join(dir, ExitFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e Exit
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, ExitFile), err)
	}
	return &e, nil
}

func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o600)
}
