package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gorae/gorae/internal/runtime/initproc"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/runtime/cgroups"
)

func (c *Container) cgroup() (cgroups.Manager, error) {
	if len(c.Cgroups) == 0 {
		return nil, fmt.Errorf("container %s has no cgroup recorded", c.ID)
	}
	return cgroups.Load(c.Cgroups)
}

// Start releases a created container's init to exec the user process and
// runs the poststart hooks.
func Start(ctx context.Context, root, id string) error {
	c, err := Load(root, id)
	if err != nil {
		return err
	}
	return c.start(ctx)
}

func (c *Container) start(ctx context.Context) error {
	switch st := c.Status(); st {
	case StatusCreated:
	case StatusStopped:
		return fmt.Errorf("cannot start container %s: it has stopped", c.ID)
	default:
		return fmt.Errorf("cannot start container %s: it is %s, not created", c.ID, st)
	}
	sock := filepath.Join(c.dir, startSock)
	conn, err := dialUnix(sock)
	if err != nil {
		return fmt.Errorf("start container %s: connect to its init: %w", c.ID, err)
	}
	defer conn.Close()
	// From here the container counts as running, whatever comes.
	os.Remove(sock)
	if _, err := conn.Write([]byte{0}); err != nil {
		return fmt.Errorf("start container %s: %w", c.ID, err)
	}
	msg, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("start container %s: %w", c.ID, err)
	}
	if len(msg) > 0 {
		return fmt.Errorf("start container %s: %s", c.ID, msg)
	}
	if err := initproc.RunHooks(ctx, "poststart", initproc.HooksOf(c.Config).Poststart, c.specState(StatusRunning)); err != nil {
		// runc's rule: a failed poststart hook takes the container down.
		unix.Kill(c.Pid, unix.SIGKILL)
		return err
	}
	return nil
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func Kill(root, id string, sig syscall.Signal, all bool) error {
	c, err := Load(root, id)
	if err != nil {
		return err
	}
	st := c.Status()
	if st == StatusStopped {
		return fmt.Errorf("cannot kill container %s: it is not running", id)
	}
	if all {
		m, err := c.cgroup()
		if err != nil {
			return err
		}
		return m.Kill(sig)
	}
	if err := unix.Kill(c.Pid, sig); err != nil {
		return fmt.Errorf("kill container %s (pid %d) with %s: %w", id, c.Pid, unix.SignalName(sig), err)
	}
	return nil
}

// Delete removes a stopped (or created) container: its processes, cgroup
// and state. With force a running one is killed first.
func Delete(ctx context.Context, root, id string, force bool) error {
	c, err := Load(root, id)
	if err != nil {
		var ne *NotExistError
		if force && errors.As(err, &ne) {
			return nil
		}
		if force {
			// A half-created container (no state.json yet, its creator
			// gone): clean up what can be.
			return os.RemoveAll(containerDir(root, id))
		}
		return err
	}
	return c.destroy(ctx, force)
}

func (c *Container) destroy(ctx context.Context, force bool) error {
	st := c.Status()
	switch st {
	case StatusStopped:
	case StatusCreated:
		c.killAll()
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s: it is %s (stop it first, or use --force)", c.ID, st)
		}
		c.killAll()
	}
	if err := waitGone(c.Pid, c.PidStart, 10*time.Second); err != nil {
		return fmt.Errorf("delete container %s: %w", c.ID, err)
	}
	if m, err := c.cgroup(); err == nil {
		// Without a pid namespace, init's death leaves the rest alive.
		if pids, _ := m.Pids(); len(pids) > 0 {
			m.Kill(unix.SIGKILL)
		}
		if err := m.Destroy(); err != nil {
			return fmt.Errorf("delete container %s: remove cgroup: %w", c.ID, err)
		}
	}
	// runtime-spec: poststop failures are logged; the remaining hooks run
	// and deletion goes on.
	initproc.RunHooksWarn(ctx, "poststop", initproc.HooksOf(c.Config).Poststop, c.specState(StatusStopped), "container", c.ID)
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("delete container %s: remove state %s: %w", c.ID, c.dir, err)
	}
	return nil
}

func (c *Container) killAll() {
	if m, err := c.cgroup(); err == nil {
		if st, err := m.State(); err == nil && st == cgroups.Frozen {
			m.Thaw()
		}
		m.Kill(unix.SIGKILL)
	}
	if processAlive(c.Pid, c.PidStart) {
		unix.Kill(c.Pid, unix.SIGKILL)
	}
}

// waitGone waits for a process that need not be our child to exit.
func waitGone(pid int, start uint64, timeout time.Duration) error {
	if !processAlive(pid, start) {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err == nil {
		defer unix.Close(fd)
		deadline := time.Now().Add(timeout)
		for processAlive(pid, start) {
			left := time.Until(deadline)
			if left <= 0 {
				return fmt.Errorf("pid %d still alive after %s", pid, timeout)
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			unix.Poll(fds, int(min(left, 100*time.Millisecond)/time.Millisecond)+1)
		}
		return nil
	}
	for deadline := time.Now().Add(timeout); processAlive(pid, start); {
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still alive after %s", pid, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Pause freezes every process of the container.
func Pause(root, id string) error {
	c, err := Load(root, id)
	if err != nil {
		return err
	}
	if st := c.Status(); st != StatusRunning {
		return fmt.Errorf("cannot pause container %s: it is %s, not running", id, st)
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	return m.Freeze()
}

// Resume thaws a paused container.
func Resume(root, id string) error {
	c, err := Load(root, id)
	if err != nil {
		return err
	}
	if st := c.Status(); st != StatusPaused {
		return fmt.Errorf("cannot resume container %s: it is %s, not paused", id, st)
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	return m.Thaw()
}

// Pids lists the host pids of the container's processes.
func Pids(root, id string) ([]int, error) {
	c, err := Load(root, id)
	if err != nil {
		return nil, err
	}
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return m.Pids()
}

// Update changes a running container's cgroup limits (`update`). Fields
// left nil keep their values.
func Update(root, id string, r *specs.LinuxResources) error {
	c, err := Load(root, id)
	if err != nil {
		return err
	}
	if st := c.Status(); st == StatusStopped {
		return fmt.Errorf("cannot update container %s: it has stopped", id)
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := m.Set(r); err != nil {
		return fmt.Errorf("update container %s: %w", id, err)
	}
	// Keep the record true to the limits, for a later `state`/inspect.
	if c.Config.Linux == nil {
		c.Config.Linux = &specs.Linux{}
	}
	c.Config.Linux.Resources = mergeResources(c.Config.Linux.Resources, r)
	return c.save()
}

// mergeResources overlays the non-nil parts of upd on base.
func mergeResources(base, upd *specs.LinuxResources) *specs.LinuxResources {
	if base == nil {
		cp := *upd
		return &cp
	}
	out := *base
	if upd.Memory != nil {
		out.Memory = upd.Memory
	}
	if upd.CPU != nil {
		out.CPU = upd.CPU
	}
	if upd.Pids != nil {
		out.Pids = upd.Pids
	}
	if upd.BlockIO != nil {
		out.BlockIO = upd.BlockIO
	}
	if upd.HugepageLimits != nil {
		out.HugepageLimits = upd.HugepageLimits
	}
	if upd.Network != nil {
		out.Network = upd.Network
	}
	if upd.Unified != nil {
		out.Unified = upd.Unified
	}
	if len(upd.Devices) > 0 {
		out.Devices = upd.Devices
	}
	return &out
}
