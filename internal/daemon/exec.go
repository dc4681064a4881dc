package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gorae/gorae/internal/api"
	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/monitor"
	"github.com/gorae/gorae/internal/monitor/shimclient"
)

// execInstance is one `docker exec`: created, then started once.
type execInstance struct {
	id, containerID string
	req             container.ExecCreateRequest
	mu              sync.Mutex
	started         bool
	// shimmed is closed once the shim has answered the start (the
	// process and its terminal exist, or the start failed): a resize that
	// races the start waits for it.
	shimmed     chan struct{}
	shimmedOnce sync.Once
	// failed is the exit code of a start that never ran the process
	// (127: not found, 126: cannot be run), as Docker reports it.
	failed *int
}

func (e *execInstance) markShimmed() { e.shimmedOnce.Do(func() { close(e.shimmed) }) }

type execTable struct {
	mu sync.Mutex
	m  map[string]*execInstance
}

func (t *execTable) get(id string) (*execInstance, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("No such exec instance: %s", id))
	}
	return e, nil
}

// ContainerExecCreate is POST /containers/{id}/exec.
func (d *Daemon) ContainerExecCreate(ctx context.Context, ref string, req *container.ExecCreateRequest) (string, error) {
	c, err := d.get(ref)
	if err != nil {
		return "", err
	}
	switch c.Snapshot().Status {
	case container.StateRunning:
	case container.StatePaused:
		return "", errdefs.Conflict(fmt.Errorf("container %s is paused, unpause the container before exec", c.ID))
	default:
		return "", errdefs.Conflict(fmt.Errorf("container %s is not running", c.ID))
	}
	if len(req.Cmd) == 0 {
		return "", errdefs.InvalidParameter(errors.New("No exec command specified"))
	}
	e := &execInstance{id: ctrstore.NewID(), containerID: c.ID, req: *req, shimmed: make(chan struct{})}
	d.execs.mu.Lock()
	d.execs.m[e.id] = e
	d.execs.mu.Unlock()
	c.Lock()
	c.ExecIDs = append(c.ExecIDs, e.id)
	c.Unlock()
	attrs := d.eventAttrs(c)
	attrs["execID"] = e.id
	d.events.publish(events.ContainerEventType, events.Action("exec_create: "+joinArgs(req.Cmd)), c.ID, attrs)
	return e.id, nil
}

func joinArgs(a []string) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// execProcess is the container's own process settings with what the
// exec asks for on top, as Docker does.
func (d *Daemon) execProcess(c *ctrstore.Container, req container.ExecCreateRequest, tty bool) (*specs.Process, error) {
	b, err := os.ReadFile(filepath.Join(d.containerDir(c.ID), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("exec in %s: read its bundle: %w", c.ID, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil || spec.Process == nil {
		return nil, fmt.Errorf("exec in %s: parse its bundle: %v", c.ID, err)
	}
	p := *spec.Process
	p.Args = req.Cmd
	p.Terminal = tty
	p.Env = append(append([]string(nil), p.Env...), req.Env...)
	if req.WorkingDir != "" {
		p.Cwd = req.WorkingDir
	}
	if req.ConsoleSize != nil {
		p.ConsoleSize = &specs.Box{Height: req.ConsoleSize[0], Width: req.ConsoleSize[1]}
	} else {
		p.ConsoleSize = nil
	}
	if req.User != "" {
		u, err := resolveUser(filepath.Join(d.containerDir(c.ID), "rootfs"), req.User, nil)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if req.Privileged {
		p.Capabilities = &specs.LinuxCapabilities{Bounding: allCaps, Effective: allCaps, Permitted: allCaps}
	}
	return &p, nil
}

// ContainerExecStart is POST /exec/{id}/start.
func (d *Daemon) ContainerExecStart(ctx context.Context, id string, opts api.ExecStartOptions) error {
	e, err := d.execs.get(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errdefs.Conflict(fmt.Errorf("Error: Exec command %s is already running", id))
	}
	e.started = true
	e.mu.Unlock()
	defer e.markShimmed()
	c, err := d.get(e.containerID)
	if err != nil {
		return err
	}
	if !c.Snapshot().IsRunning() {
		return errdefs.Conflict(fmt.Errorf("container %s is not running", c.ID))
	}
	tty := e.req.Tty || opts.Tty
	p, err := d.execProcess(c, e.req, tty)
	if err != nil {
		return err
	}
	stdin := opts.Stdin
	if !e.req.AttachStdin {
		stdin = nil
	}
	conn, err := d.shim(c).Exec(ctx, monitor.ExecRequest{ID: id, Process: p, Stdin: stdin != nil && !opts.Detach})
	e.markShimmed()
	if err != nil {
		code := 126
		if msg := err.Error(); strings.Contains(msg, "not found") || strings.Contains(msg, "no such file") {
			code = 127
		}
		e.mu.Lock()
		e.failed = &code
		e.mu.Unlock()
		var me *shimclient.Error
		if errors.As(err, &me) && me.Status == 400 {
			return errdefs.InvalidParameter(err)
		}
		return err
	}
	attrs := d.eventAttrs(c)
	attrs["execID"] = id
	d.events.publish(events.ContainerEventType, events.Action("exec_start: "+joinArgs(e.req.Cmd)), c.ID, attrs)
	if opts.Detach {
		go func() {
			io.Copy(io.Discard, conn)
			conn.Close()
		}()
		return nil
	}
	defer conn.Close()
	return pipeAttach(ctx, conn, api.AttachOptions{
		Stdin: stdin, Stdout: opts.Stdout, UseStdout: e.req.AttachStdout, UseStderr: e.req.AttachStderr,
		Stream: true, DetachKeys: e.req.DetachKeys,
	}, tty)
}

// ContainerExecInspect is GET /exec/{id}/json.
func (d *Daemon) ContainerExecInspect(ctx context.Context, id string) (*container.ExecInspectResponse, error) {
	e, err := d.execs.get(id)
	if err != nil {
		return nil, err
	}
	r := &container.ExecInspectResponse{
		ID: id, ContainerID: e.containerID, OpenStdin: e.req.AttachStdin, OpenStdout: e.req.AttachStdout,
		OpenStderr: e.req.AttachStderr, DetachKeys: []byte(e.req.DetachKeys),
		ProcessConfig: &container.ExecProcessConfig{Tty: e.req.Tty, User: e.req.User},
	}
	if len(e.req.Cmd) > 0 {
		r.ProcessConfig.Entrypoint, r.ProcessConfig.Arguments = e.req.Cmd[0], e.req.Cmd[1:]
	}
	c, err := d.get(e.containerID)
	if err != nil {
		return r, nil
	}
	e.mu.Lock()
	r.ExitCode = e.failed
	e.mu.Unlock()
	if st, err := d.shim(c).ExecState(ctx, id); err == nil {
		r.Running, r.Pid, r.ExitCode = st.Running, st.Pid, st.ExitCode
	}
	return r, nil
}

// ContainerExecResize is POST /exec/{id}/resize.
func (d *Daemon) ContainerExecResize(ctx context.Context, id string, h, w int) error {
	e, err := d.execs.get(id)
	if err != nil {
		return err
	}
	c, err := d.get(e.containerID)
	if err != nil {
		return err
	}
	// The API answers a start (101) before the daemon has even marked the
	// exec started, and the docker CLI resizes at once: wait for the shim to
	// answer the start, up to 10 s like dockerd.
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-e.shimmed:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errdefs.Conflict(fmt.Errorf("resize exec %s: timeout waiting for the exec to start; start it first", id))
	}
	e.mu.Lock()
	failed := e.failed != nil
	e.mu.Unlock()
	if failed {
		return errdefs.InvalidParameter(fmt.Errorf("resize exec %s: the exec process is not started (its start failed)", id))
	}
	return d.shim(c).ExecResize(ctx, id, h, w)
}
