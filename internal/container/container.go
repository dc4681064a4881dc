// Package container holds the engine's container records: their Docker
// configuration, their state machine, and their store on disk.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	ctr "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/gorae/gorae/internal/volume"
)

// State is a container's lifecycle state, as `docker inspect` shows it.
type State struct {
	Status     ctr.ContainerState `json:"Status"`
	Pid        int                `json:"Pid"`
	ExitCode   int                `json:"ExitCode"`
	Error      string             `json:"Error"`
	OOMKilled  bool               `json:"OOMKilled"`
	StartedAt  time.Time          `json:"StartedAt"`
	FinishedAt time.Time          `json:"FinishedAt"`
	Health     *ctr.Health        `json:"Health,omitempty"`
}

// Container is one container's record. Its exported fields are its
// on-disk form; mu guards them and the waiters.
type Container struct {
	ID      string    `json:"ID"`
	Name    string    `json:"Name"` // with Docker's leading "/"
	Created time.Time `json:"Created"`
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	// Image is the image ID (sha256:…); ImageName is what the user typed.
	Image      string          `json:"Image"`
	ImageName  string          `json:"ImageName"`
	Config     *ctr.Config     `json:"Config"`
	HostConfig *ctr.HostConfig `json:"HostConfig"`
	State      State           `json:"State"`
	// Runtime names the OCI runtime: "gorae", "runc", "crun" or a
	// daemon.json runtimes key.
	Runtime      string   `json:"Runtime"`
	RestartCount int      `json:"RestartCount"`
	LogPath      string   `json:"LogPath"`
	ExecIDs      []string `json:"ExecIDs,omitempty"`
	// MountPoints are the container's volumes, binds and tmpfs mounts
	// (not --tmpfs), resolved at create.
	MountPoints []*volume.MountPoint `json:"MountPoints,omitempty"`
	// HasBeenStarted and ManuallyStopped drive the restart policies
	// (unless-stopped) across daemon restarts.
	HasBeenStarted  bool `json:"HasBeenStartedBefore"`
	ManuallyStopped bool `json:"HasBeenManuallyStopped"`
	// Networks are the networks the container joins when it starts, by
	// name, with what was asked (aliases, --ip); the live addresses are
	// the network manager's (internal/network).
	Networks map[string]*network.EndpointSettings `json:"Networks,omitempty"`

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every state change
	removed chan struct{}
}

// New makes a record in state "created".
func New(id, name string) *Container {
	return &Container{
		ID:      id,
		Name:    name,
		Created: time.Now().UTC(),
		State:   State{Status: ctr.StateCreated},
		changed: make(chan struct{}),
		removed: make(chan struct{}),
	}
}

func (c *Container) init() {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	if c.removed == nil {
		c.removed = make(chan struct{})
	}
}

// NewID returns a random 64-hex container ID, as Docker's.
func NewID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Lock and Unlock guard the record while a caller changes several fields.
func (c *Container) Lock()   { c.mu.Lock() }
func (c *Container) Unlock() { c.mu.Unlock() }

// Snapshot returns a copy of the state, safe to read without the lock.
func (c *Container) Snapshot() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.State
}

// notify wakes every waiter; called with mu held.
func (c *Container) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// SetRunning records a start.
func (c *Container) SetRunning(pid int, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.State = State{Status: ctr.StateRunning, Pid: pid, StartedAt: at, Health: c.State.Health}
	c.HasBeenStarted = true
	c.ManuallyStopped = false
	c.notify()
}

// SetStopped records an exit.
func (c *Container) SetStopped(code int, oom bool, at time.Time, errMsg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.State.Status = ctr.StateExited
	c.State.Pid = 0
	c.State.ExitCode = code
	c.State.OOMKilled = oom
	c.State.FinishedAt = at
	c.State.Error = errMsg
	c.notify()
}

// SetStatus moves to a state with no other data (paused, restarting,
// removing, dead, running after unpause).
func (c *Container) SetStatus(s ctr.ContainerState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.State.Status = s
	c.notify()
}

// SetRemoved wakes the "removed" waiters; the record is gone.
func (c *Container) SetRemoved() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.removed:
	default:
		close(c.removed)
	}
	c.notify()
}

// IsRunning is true while the container's process exists (paused counts).
func (s State) IsRunning() bool {
	return s.Status == ctr.StateRunning || s.Status == ctr.StatePaused || s.Status == ctr.StateRestarting
}

// Wait blocks until cond holds ("not-running", "next-exit", "removed")
// and returns the exit code then.
func (c *Container) Wait(done <-chan struct{}, cond ctr.WaitCondition) (int, bool) {
	c.mu.Lock()
	if cond == ctr.WaitConditionNotRunning && !c.State.IsRunning() && c.State.Status != ctr.StateCreated {
		code := c.State.ExitCode
		c.mu.Unlock()
		return code, true
	}
	if cond == "" || cond == ctr.WaitConditionNotRunning {
		// Docker: a created container is "not running" only once it has
		// run and stopped; waiting on it waits for its next exit.
		cond = ctr.WaitConditionNextExit
	}
	startedAt := c.State.FinishedAt
	for {
		ch, removed := c.changed, c.removed
		st := c.State
		c.mu.Unlock()
		switch cond {
		case ctr.WaitConditionNextExit:
			if st.Status == ctr.StateExited && st.FinishedAt != startedAt {
				return st.ExitCode, true
			}
		case ctr.WaitConditionRemoved:
			select {
			case <-removed:
				return st.ExitCode, true
			default:
			}
		}
		select {
		case <-ch:
		case <-removed:
			if cond != ctr.WaitConditionRemoved {
				return st.ExitCode, true
			}
		case <-done:
			return 0, false
		}
		c.mu.Lock()
	}
}
