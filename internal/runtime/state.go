package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gorae/gorae/internal/atomicfile"
)

// DefaultRoot is where container state lives unless --root says otherwise.
// It is on tmpfs (/run) on purpose: state must not survive a reboot, as the
// processes it describes do not.
const DefaultRoot = "/run/gorae/runtime"

const (
	stateFile    = "state.json"
	startSock    = "start.sock"
	stateDirMode = 0o711
)

// Status values of runtime-spec's state.
const (
	StatusCreating = "creating"
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusStopped  = "stopped"
	StatusPaused   = "paused"
)

// validIDChar is runc's ID alphabet, [\w+\-.]: a loop, not a regexp, so
// no process pays to compile one at start.
func validIDChar(c rune) bool {
	return c == '_' || c == '+' || c == '-' || c == '.' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// ValidateID refuses IDs that could escape the state root or confuse tools.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id is empty")
	}
	if id == "." || id == ".." || strings.IndexFunc(id, func(c rune) bool { return !validIDChar(c) }) >= 0 {
		return fmt.Errorf("invalid container id %q: use only letters, digits, and _ + - .", id)
	}
	if len(id) > 1024 {
		return fmt.Errorf("invalid container id: %d characters, at most 1024", len(id))
	}
	return nil
}

// Container is the record of one container under the state root: what the
// later commands (start, state, kill, exec, delete) need to find it again.
type Container struct {
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	Rootfs string `json:"rootfs"`
	// Pid is the init process as seen from the runtime's pid namespace, and
	// PidStart its start time in clock ticks since boot (/proc/PID/stat field
	// 22), so a recycled pid is never mistaken for the container.
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pid_start"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Cgroups     map[string]string `json:"cgroup_paths,omitempty"`
	// Config is the spec the container was created with; exec and delete
	// need its process defaults and hooks even if the bundle changed since.
	Config *specs.Spec `json:"config"`

	dir string
}

// containerRecord is a Container as state.json holds it: the spec through
// linuxSpec, so encoding/json builds no tables for the other platforms'
// types (config.go says why that matters).
type containerRecord struct {
	*containerFields
	Config *linuxSpec `json:"config"`
}

// containerFields is Container without its methods, to embed.
type containerFields Container

// Dir is the container's state directory.
func (c *Container) Dir() string { return c.dir }

func containerDir(root, id string) string { return filepath.Join(root, id) }

// Load reads a container's record from the state root.
func Load(root, id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := containerDir(root, id)
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir); serr == nil {
				return nil, fmt.Errorf("container %s is still being created (no %s yet)", id, stateFile)
			}
			return nil, &NotExistError{ID: id}
		}
		return nil, fmt.Errorf("read state of container %s: %w", id, err)
	}
	c := &Container{dir: dir}
	r := containerRecord{containerFields: (*containerFields)(c)}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, stateFile), err)
	}
	c.Config = r.Config.spec()
	return c, nil
}

// NotExistError says a container ID is unknown under the root.
type NotExistError struct{ ID string }

func (e *NotExistError) Error() string { return fmt.Sprintf("container %s does not exist", e.ID) }

// save writes the record crash-safely: a reader sees the old or the new
// file, never half of one.
func (c *Container) save() error {
	b, err := json.Marshal(containerRecord{(*containerFields)(c), linuxSpecOf(c.Config)})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.dir, stateFile), b, 0o600)
}

// writeFileAtomic replaces a state file so no reader sees half of it. No
// fsync: runtime state describes processes that do not survive a reboot
// either, and it lives on tmpfs by default.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return atomicfile.WriteVolatile(path, data, mode)
}

// processAlive reports whether pid is still the process that started at
// start ticks and has not exited (a zombie counts as exited).
func processAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, state, err := procStat(pid)
	if err != nil {
		return false
	}
	if start != 0 && st != start {
		return false
	}
	return state != 'Z' && state != 'X'
}

// procStat returns the start time (field 22) and state (field 3) of pid.
func procStat(pid int) (uint64, byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: parse
	// from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+2:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat start time: %w", pid, err)
	}
	return start, fields[0][0], nil
}

// Status derives the container's status from the live system, never from a
// stored field, so it cannot go stale when processes die behind our back.
func (c *Container) Status() string {
	if !processAlive(c.Pid, c.PidStart) {
		return StatusStopped
	}
	if _, err := os.Lstat(filepath.Join(c.dir, startSock)); err == nil {
		return StatusCreated
	}
	if m, err := c.cgroup(); err == nil {
		if st, err := m.State(); err == nil && st == "FROZEN" {
			return StatusPaused
		}
	}
	return StatusRunning
}

// State is runtime-spec's state, with runc's extra fields that engines read.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs,omitempty"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// State reports the container as `state` prints it.
func (c *Container) State() State {
	st := c.Status()
	pid := c.Pid
	if st == StatusStopped {
		pid = 0
	}
	return State{
		OCIVersion:  specs.Version,
		ID:          c.ID,
		Status:      st,
		Pid:         pid,
		Bundle:      c.Bundle,
		Rootfs:      c.Rootfs,
		Created:     c.Created,
		Owner:       c.Owner,
		Annotations: c.Annotations,
	}
}

// specState is the state handed to hooks on stdin.
func (c *Container) specState(status string) specs.State {
	return specs.State{
		Version:     specs.Version,
		ID:          c.ID,
		Status:      specs.ContainerState(status),
		Pid:         c.Pid,
		Bundle:      c.Bundle,
		Annotations: c.Annotations,
	}
}

// List returns every container under root, skipping entries that are not
// containers (or are half-created by a process that died).
func List(root string) ([]*Container, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}
