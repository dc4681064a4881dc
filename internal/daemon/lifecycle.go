package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/monitor"
	"github.com/gorae/gorae/internal/monitor/shimclient"
	"github.com/gorae/gorae/internal/runtime"
	"github.com/gorae/gorae/internal/runtime/cgroups"
	"github.com/gorae/gorae/internal/snapshot"
)

func (d *Daemon) get(ref string) (*ctrstore.Container, error) { return d.containers.Get(ref) }

func (d *Daemon) shim(c *ctrstore.Container) *shimclient.Client {
	return &shimclient.Client{Dir: d.containerDir(c.ID)}
}

// ContainerStart runs a created or stopped container.
func (d *Daemon) ContainerStart(ctx context.Context, ref string) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	st := c.Snapshot()
	switch st.Status {
	case container.StateRunning, container.StateRestarting:
		return errdefs.NotModified(fmt.Errorf("container %s is already running", ref))
	case container.StatePaused:
		return errdefs.Conflict(fmt.Errorf("cannot start a paused container, try unpause instead"))
	case container.StateRemoving, container.StateDead:
		return errdefs.Conflict(fmt.Errorf("container %s is marked for removal and cannot be started", ref))
	}
	if err := d.startRecovering(ctx, c); err != nil {
		d.failAttaches(c.ID)
		// Docker records a start that could not exec as an exit: 127
		// for a missing program, 126 for one that cannot run.
		code := 128
		switch msg := err.Error(); {
		case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
			code = 127
		case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
			code = 126
		}
		c.SetStopped(code, false, time.Now().UTC(), err.Error())
		if c.HostConfig.AutoRemove {
			// `docker run --rm` waits for the removal even when the
			// start failed.
			d.remove(context.WithoutCancel(ctx), c, true)
		} else {
			d.containers.Save(c)
		}
		return err
	}
	return nil
}

// startRecovering is start with a bug in it turned into a failed start:
// the API would recover the panic, but the container would stay Created
// and `docker run --rm`, waiting for its removal, would wait for ever.
func (d *Daemon) startRecovering(ctx context.Context, c *ctrstore.Container) (err error) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("panic while starting a container (a bug: please report it)", "container", c.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error starting container %s: %v", c.ID, p)
		}
	}()
	return d.start(ctx, c)
}

// start mounts the rootfs, writes the bundle, spawns the monitor, connects
// waiting attaches, and runs the process.
func (d *Daemon) start(ctx context.Context, c *ctrstore.Container) (retErr error) {
	// done: the start went through. Every undo below runs unless it did,
	// on an error and on a panic alike (a panic's error is only made by
	// the caller's recover, after these have run).
	done := false
	phase, phases := phaseTimer()
	defer func() {
		if retErr == nil {
			slog.Debug("container started", "container", c.ID, "phases", phases())
		}
	}()
	dir := d.containerDir(c.ID)
	// A previous run's monitor directory goes; its exit is recorded.
	os.RemoveAll(dir)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o711); err != nil {
		return fmt.Errorf("create bundle for %s: %w", c.ID, err)
	}
	mounts, err := d.snapshots.Mounts(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("container layer of %s: %w", c.ID, err)
	}
	if err := snapshot.MountAll(mounts, rootfs); err != nil {
		return fmt.Errorf("mount rootfs of %s: %w", c.ID, err)
	}
	phase("rootfs")
	defer func() {
		if !done {
			snapshot.Unmount(rootfs)
			os.RemoveAll(dir)
		}
	}()
	user, err := resolveUser(rootfs, c.Config.User, c.HostConfig.GroupAdd)
	if err != nil {
		return err
	}
	netns, etcMounts, err := d.setupNetwork(c)
	if err != nil {
		return err
	}
	phase("network")
	defer func() {
		if !done {
			d.teardownNetwork(c)
		}
	}()
	userMounts, err := d.mountVolumes(c, rootfs)
	if err != nil {
		return err
	}
	defer func() {
		if !done {
			d.unmountVolumes(c)
		}
	}()
	in := d.specInput(c.ID, rootfs, c.Config, c.HostConfig, user)
	in.NetNS, in.EtcMounts, in.Mounts = netns, etcMounts, userMounts
	spec, err := renderSpec(in)
	if err != nil {
		return err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("write bundle of %s: %w", c.ID, err)
	}
	phase("bundle")
	argv, err := d.runtimeArgv(c.Runtime)
	if err != nil {
		return err
	}
	mcfg := &monitor.Config{
		Debug: d.cfg.Debug,
		ID:    c.ID, Bundle: dir, Dir: dir, Runtime: argv, RuntimeRoot: d.runtimeRoot(),
		OpenStdin: c.Config.OpenStdin, StdinOnce: c.Config.StdinOnce,
	}
	// Our own runtime runs inside the monitor: three process starts fewer
	// per container (create, start, delete).
	if _, custom := d.cfg.Runtimes[c.Runtime]; c.Runtime == "gorae" && !custom {
		mcfg.BuiltinRuntime = true
	}
	if c.HostConfig.LogConfig.Type != "none" {
		mcfg.LogPath = c.LogPath
		mcfg.LogOpts = c.HostConfig.LogConfig.Config
		if len(mcfg.LogOpts) == 0 {
			mcfg.LogOpts = d.cfg.LogOpts
		}
	}
	m, err := shimclient.Spawn(ctx, d.shimBinary(), mcfg)
	if err != nil {
		return errdefs.InvalidParameter(fmt.Errorf("failed to create task for container: %w", err))
	}
	phase("created")
	defer func() {
		if !done {
			m.Delete(context.WithoutCancel(ctx), true)
		}
	}()
	d.connectAttaches(ctx, c, m)
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("start container %s: %w", c.ID, err)
	}
	phase("started")
	st, err := m.State(ctx)
	if err != nil {
		return err
	}
	startedAt := time.Now().UTC()
	c.SetRunning(st.Pid, startedAt)
	d.startHealthcheck(c, m, startedAt)
	if err := d.containers.Save(c); err != nil {
		slog.Error("save container state", "container", c.ID, "err", err)
	}
	d.events.publish(events.ContainerEventType, events.ActionStart, c.ID, d.eventAttrs(c))
	d.watch(c, m)
	done = true
	return nil
}

// phaseTimer records how long each step of a start took, for --debug:
// where a `docker run`'s time goes.
func phaseTimer() (mark func(string), report func() string) {
	start, last := time.Now(), time.Now()
	var b strings.Builder
	mark = func(name string) {
		now := time.Now()
		fmt.Fprintf(&b, "%s=%s ", name, now.Sub(last).Round(10*time.Microsecond))
		last = now
	}
	report = func() string { return b.String() + "total=" + time.Since(start).Round(10*time.Microsecond).String() }
	return mark, report
}

// watch waits, in the background, for the container to exit, records
// it, and applies auto-remove and the restart policy.
func (d *Daemon) watch(c *ctrstore.Container, m *shimclient.Client) {
	d.mu.Lock()
	if d.watching[c.ID] {
		d.mu.Unlock()
		return
	}
	d.watching[c.ID] = true
	d.mu.Unlock()
	go func() {
		defer func() {
			d.mu.Lock()
			delete(d.watching, c.ID)
			d.mu.Unlock()
		}()
		ctx := context.Background()
		exit, err := m.Wait(ctx)
		if err != nil {
			// The monitor is gone (killed?): the exit it may have
			// recorded is all we can know.
			exit, _ = monitor.ReadExit(d.containerDir(c.ID))
			if exit == nil {
				exit = &monitor.Exit{Code: 255, ExitedAt: time.Now().UTC()}
			}
		}
		d.handleExit(ctx, c, m, exit)
	}()
}

func (d *Daemon) handleExit(ctx context.Context, c *ctrstore.Container, m *shimclient.Client, exit *monitor.Exit) {
	oom := exit.Signal == int(syscall.SIGKILL) && d.oomKilled(c)
	m.Delete(ctx, true)
	snapshot.Unmount(filepath.Join(d.containerDir(c.ID), "rootfs"))
	d.unmountVolumes(c)
	d.teardownNetwork(c)
	c.SetStopped(exit.Code, oom, exit.ExitedAt, "")
	attrs := d.eventAttrs(c)
	attrs["exitCode"] = strconv.Itoa(exit.Code)
	d.events.publish(events.ContainerEventType, events.ActionDie, c.ID, attrs)
	if oom {
		d.events.publish(events.ContainerEventType, events.ActionOOM, c.ID, d.eventAttrs(c))
	}
	if c.HostConfig.AutoRemove {
		// We are the watcher: remove without waiting for ourselves.
		if err := d.removeNow(ctx, c, true); err != nil {
			slog.Error("auto-remove", "container", c.ID, "err", err)
		}
		return
	}
	d.containers.Save(c)
	if d.shouldRestart(c, exit.Code) {
		c.Lock()
		c.RestartCount++
		n := c.RestartCount
		c.Unlock()
		c.SetStatus(container.StateRestarting)
		// Docker backs off 100ms doubling, reset after 10s of running.
		delay := 100 * time.Millisecond << min(n-1, 10)
		time.AfterFunc(delay, func() {
			if c.Snapshot().Status != container.StateRestarting {
				return
			}
			if err := d.start(context.Background(), c); err != nil {
				slog.Error("restart", "container", c.ID, "err", err)
				c.SetStopped(exit.Code, false, time.Now().UTC(), err.Error())
				d.containers.Save(c)
			}
		})
	}
}

func (d *Daemon) shouldRestart(c *ctrstore.Container, code int) bool {
	c.Lock()
	defer c.Unlock()
	p := c.HostConfig.RestartPolicy
	if c.ManuallyStopped {
		return false
	}
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		return true
	case container.RestartPolicyOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// oomKilled asks the memory cgroup whether the kernel's OOM killer acted.
func (d *Daemon) oomKilled(c *ctrstore.Container) bool {
	m, err := cgroups.New("/gorae/" + c.ID)
	if err != nil {
		return false
	}
	st, err := m.Stats()
	return err == nil && st.Memory.OOMKill > 0
}

// ContainerStop sends the stop signal, waits, then kills.
func (d *Daemon) ContainerStop(ctx context.Context, ref, signal string, timeout *int) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if !c.Snapshot().IsRunning() {
		return errdefs.NotModified(fmt.Errorf("container %s is already stopped", ref))
	}
	c.Lock()
	c.ManuallyStopped = true
	c.Unlock()
	return d.stop(ctx, c, signal, timeout)
}

func (d *Daemon) stop(ctx context.Context, c *ctrstore.Container, signal string, timeout *int) error {
	if signal == "" {
		signal = c.Config.StopSignal
	}
	if signal == "" {
		signal = "SIGTERM"
	}
	secs := 10
	if c.Config.StopTimeout != nil {
		secs = *c.Config.StopTimeout
	}
	if timeout != nil {
		secs = *timeout
	}
	if c.Snapshot().Status == container.StateRestarting {
		c.SetStopped(c.Snapshot().ExitCode, false, time.Now().UTC(), "")
		return d.containers.Save(c)
	}
	m := d.shim(c)
	if c.Snapshot().Status == container.StatePaused {
		m.Resume(ctx)
	}
	if secs != 0 {
		if err := m.Kill(ctx, signal, false); err != nil && !isNotRunning(err) {
			return err
		}
	}
	if secs > 0 || secs < 0 {
		wctx := ctx
		if secs > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, time.Duration(secs)*time.Second)
			defer cancel()
		}
		if _, ok := c.Wait(wctx.Done(), container.WaitConditionNotRunning); ok {
			return nil
		}
	}
	if err := m.Kill(ctx, "KILL", true); err != nil && !isNotRunning(err) {
		return err
	}
	c.Wait(ctx.Done(), container.WaitConditionNotRunning)
	return nil
}

func isNotRunning(err error) bool {
	var me *shimclient.Error
	return errors.As(err, &me) && me.Status == 409
}

// ContainerRestart stops (if running) and starts.
func (d *Daemon) ContainerRestart(ctx context.Context, ref, signal string, timeout *int) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if c.Snapshot().IsRunning() {
		if err := d.stop(ctx, c, signal, timeout); err != nil {
			return err
		}
	}
	// The watcher records the exit; wait until it has.
	for i := 0; i < 500 && c.Snapshot().IsRunning(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	d.events.publish(events.ContainerEventType, events.ActionRestart, c.ID, d.eventAttrs(c))
	return d.ContainerStart(ctx, c.ID)
}

// ContainerKill signals the container's init.
func (d *Daemon) ContainerKill(ctx context.Context, ref, signal string) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "KILL"
	}
	if _, err := runtime.ParseSignal(signal); err != nil {
		return errdefs.InvalidParameter(err)
	}
	if !c.Snapshot().IsRunning() {
		return errdefs.Conflict(fmt.Errorf("cannot kill container: %s: container %s is not running", ref, c.ID))
	}
	if err := d.shim(c).Kill(ctx, signal, false); err != nil {
		if isNotRunning(err) {
			return errdefs.Conflict(fmt.Errorf("cannot kill container: %s: container %s is not running", ref, c.ID))
		}
		return err
	}
	attrs := d.eventAttrs(c)
	attrs["signal"] = signal
	d.events.publish(events.ContainerEventType, events.ActionKill, c.ID, attrs)
	return nil
}

// ContainerPause freezes the container.
func (d *Daemon) ContainerPause(ctx context.Context, ref string) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	switch c.Snapshot().Status {
	case container.StatePaused:
		return errdefs.Conflict(fmt.Errorf("container %s is already paused", c.ID))
	case container.StateRunning:
	default:
		return errdefs.Conflict(fmt.Errorf("container %s is not running", c.ID))
	}
	if err := d.shim(c).Pause(ctx); err != nil {
		return err
	}
	c.SetStatus(container.StatePaused)
	d.containers.Save(c)
	d.events.publish(events.ContainerEventType, events.ActionPause, c.ID, d.eventAttrs(c))
	return nil
}

// ContainerUnpause thaws it.
func (d *Daemon) ContainerUnpause(ctx context.Context, ref string) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if c.Snapshot().Status != container.StatePaused {
		return errdefs.Conflict(fmt.Errorf("container %s is not paused", c.ID))
	}
	if err := d.shim(c).Resume(ctx); err != nil {
		return err
	}
	c.SetStatus(container.StateRunning)
	d.containers.Save(c)
	d.events.publish(events.ContainerEventType, events.ActionUnPause, c.ID, d.eventAttrs(c))
	return nil
}

// ContainerWait reports when cond holds.
func (d *Daemon) ContainerWait(ctx context.Context, ref string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	c, err := d.get(ref)
	if err != nil {
		return nil, err
	}
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return nil, errdefs.InvalidParameter(fmt.Errorf("invalid condition: %q", cond))
	}
	ch := make(chan container.WaitResponse, 1)
	go func() {
		code, ok := c.Wait(ctx.Done(), cond)
		if !ok {
			close(ch)
			return
		}
		resp := container.WaitResponse{StatusCode: int64(code)}
		if msg := c.Snapshot().Error; msg != "" {
			resp.Error = &container.WaitExitError{Message: msg}
		}
		ch <- resp
	}()
	return ch, nil
}

// ContainerRemove deletes a container (force: kill it first).
func (d *Daemon) ContainerRemove(ctx context.Context, ref string, force, removeVolumes bool) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	st := c.Snapshot()
	if st.IsRunning() {
		if !force {
			verb := "stop"
			if st.Status == container.StatePaused {
				verb = "unpause and then stop"
			}
			return errdefs.Conflict(fmt.Errorf("cannot remove container %q: container is %s: %s the container before attempting removal or force remove", c.Name, st.Status, verb))
		}
		c.Lock()
		c.ManuallyStopped = true
		c.Unlock()
		zero := 0
		if err := d.stop(ctx, c, "KILL", &zero); err != nil {
			return err
		}
	}
	if st.Status == container.StateRemoving {
		return errdefs.Conflict(fmt.Errorf("removal of container %s is already in progress", c.ID))
	}
	return d.remove(ctx, c, removeVolumes)
}

// remove deletes the container; rmVolumes takes its anonymous volumes
// with it.
func (d *Daemon) remove(ctx context.Context, c *ctrstore.Container, rmVolumes bool) error {
	c.SetStatus(container.StateRemoving)
	// Wait for the watcher to have recorded the exit.
	d.waitWatcher(c)
	return d.removeNow(ctx, c, rmVolumes)
}

// waitWatcher waits (a while) for the goroutine that records c's exit.
func (d *Daemon) waitWatcher(c *ctrstore.Container) {
	for i := 0; i < 500; i++ {
		d.mu.Lock()
		w := d.watching[c.ID]
		d.mu.Unlock()
		if !w {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeNow removes the container's files, layer and record; the caller
// knows no watcher is busy with it (or is that watcher).
func (d *Daemon) removeNow(ctx context.Context, c *ctrstore.Container, rmVolumes bool) error {
	c.SetStatus(container.StateRemoving)
	dir := d.containerDir(c.ID)
	snapshot.Unmount(filepath.Join(dir, "rootfs"))
	os.RemoveAll(dir)
	d.teardownNetwork(c)
	if err := d.snapshots.Remove(ctx, c.ID); err != nil && !errors.Is(err, snapshot.ErrNotFound) {
		c.SetStatus(container.StateDead)
		d.containers.Save(c)
		return fmt.Errorf("remove container layer of %s: %w", c.ID, err)
	}
	if err := d.containers.Delete(c); err != nil {
		return err
	}
	d.releaseMounts(c, rmVolumes)
	d.events.publish(events.ContainerEventType, events.ActionDestroy, c.ID, d.eventAttrs(c))
	return nil
}

// ContainerRename gives a container a new name.
func (d *Daemon) ContainerRename(ctx context.Context, ref, newName string) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	name, err := ctrstore.NormalizeName(newName)
	if err != nil {
		return err
	}
	if name == c.Name {
		return errdefs.InvalidParameter(errors.New("renaming a container with the same name as its current name"))
	}
	if err := d.containers.Rename(c, name); err != nil {
		return err
	}
	d.events.publish(events.ContainerEventType, events.ActionRename, c.ID, d.eventAttrs(c))
	return d.containers.Save(c)
}

// restore adopts what ran while no daemon was there: containers whose
// monitor is alive are watched again; those whose monitor is gone are
// marked exited with what it recorded.
func (d *Daemon) restore(ctx context.Context) {
	for _, c := range d.containers.List() {
		st := c.Snapshot()
		if !st.IsRunning() && st.Status != container.StateRemoving {
			continue
		}
		m := d.shim(c)
		ms, err := m.State(ctx)
		if err == nil && ms.Status != "stopped" {
			if st.Status == container.StateRestarting {
				c.SetStatus(container.StateRunning)
			}
			d.watch(c, m)
			d.startHealthcheck(c, m, st.StartedAt)
			continue
		}
		exit, _ := monitor.ReadExit(d.containerDir(c.ID))
		if err == nil && ms.Exit != nil {
			exit = ms.Exit
		}
		if exit == nil {
			exit = &monitor.Exit{Code: 255, ExitedAt: time.Now().UTC()}
		}
		if st.Status == container.StateRemoving {
			d.remove(ctx, c, false)
			continue
		}
		d.handleExit(ctx, c, m, exit)
	}
	// Containers with a restart policy start again with the daemon
	// (unless stopped by hand).
	for _, c := range d.containers.List() {
		st := c.Snapshot()
		if st.IsRunning() || !c.HasBeenStarted {
			continue
		}
		p := c.HostConfig.RestartPolicy.Name
		// always restarts even a container stopped by hand, once the
		// daemon starts again; unless-stopped does not.
		if p == container.RestartPolicyAlways || (p == container.RestartPolicyUnlessStopped && !c.ManuallyStopped) {
			go func() {
				if err := d.start(context.Background(), c); err != nil {
					slog.Error("start on daemon start", "container", c.ID, "err", err)
				}
			}()
		}
	}
}
