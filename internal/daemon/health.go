package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/monitor"
	"github.com/gorae/gorae/internal/monitor/shimclient"
)

// Docker's healthcheck defaults.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	healthLogLength       = 5
	healthOutputMax       = 4096
)

// healthTest is the probe's argv, or nil when the container has none.
func healthTest(h *container.HealthConfig) []string {
	if h == nil || len(h.Test) == 0 {
		return nil
	}
	switch h.Test[0] {
	case "NONE":
		return nil
	case "CMD":
		return h.Test[1:]
	case "CMD-SHELL":
		if len(h.Test) < 2 {
			return nil
		}
		return []string{"/bin/sh", "-c", h.Test[1]}
	}
	return nil
}

// startHealthcheck runs the container's probe on its schedule while the
// container runs, recording State.Health as Docker does.
func (d *Daemon) startHealthcheck(c *ctrstore.Container, m *shimclient.Client, startedAt time.Time) {
	h := c.Config.Healthcheck
	argv := healthTest(h)
	if argv == nil {
		return
	}
	interval, timeout, retries := h.Interval, h.Timeout, h.Retries
	if interval <= 0 {
		interval = defaultHealthInterval
	}
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	if retries <= 0 {
		retries = defaultHealthRetries
	}
	c.Lock()
	c.State.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
	c.Unlock()
	go func() {
		first := interval
		if h.StartInterval > 0 && h.StartPeriod > 0 {
			first = h.StartInterval
		}
		timer := time.NewTimer(first)
		defer timer.Stop()
		for range timer.C {
			st := c.Snapshot()
			if st.Status != container.StateRunning || !st.StartedAt.Equal(startedAt) {
				return
			}
			res := d.probe(m, c, argv, timeout)
			d.recordHealth(c, res, retries, startedAt.Add(h.StartPeriod))
			next := interval
			if h.StartInterval > 0 && time.Now().Before(startedAt.Add(h.StartPeriod)) {
				next = h.StartInterval
			}
			timer.Reset(next)
		}
	}()
}

// probe runs the test once as an exec and returns its result.
func (d *Daemon) probe(m *shimclient.Client, c *ctrstore.Container, argv []string, timeout time.Duration) *container.HealthcheckResult {
	res := &container.HealthcheckResult{Start: time.Now().UTC()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, err := d.execProcess(c, container.ExecCreateRequest{Cmd: argv}, false)
	if err != nil {
		res.End, res.ExitCode, res.Output = time.Now().UTC(), -1, err.Error()
		return res
	}
	id := "health-" + ctrstore.NewID()[:16]
	conn, err := m.Exec(ctx, monitor.ExecRequest{ID: id, Process: p})
	if err != nil {
		res.End, res.ExitCode, res.Output = time.Now().UTC(), -1, err.Error()
		return res
	}
	out := demux(conn, healthOutputMax)
	conn.Close()
	res.End = time.Now().UTC()
	if ctx.Err() != nil {
		res.ExitCode, res.Output = -1, "Health check exceeded timeout ("+timeout.String()+")"
		return res
	}
	res.Output = out
	if st, err := m.ExecState(context.Background(), id); err == nil && st.ExitCode != nil {
		res.ExitCode = *st.ExitCode
	} else {
		res.ExitCode = -1
	}
	return res
}

// demux reads a multiplexed stream to its end and returns up to max bytes
// of its payload (stdout and stderr together).
func demux(r io.Reader, max int) string {
	var out bytes.Buffer
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		if room := int64(max - out.Len()); room > 0 {
			io.CopyN(&out, r, min(n, room))
			n -= min(n, room)
		}
		io.CopyN(io.Discard, r, n)
	}
	return out.String()
}

func (d *Daemon) recordHealth(c *ctrstore.Container, res *container.HealthcheckResult, retries int, startPeriodEnd time.Time) {
	c.Lock()
	h := c.State.Health
	if h == nil {
		c.Unlock()
		return
	}
	old := h.Status
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogLength {
		h.Log = h.Log[len(h.Log)-healthLogLength:]
	}
	if res.ExitCode == 0 {
		h.Status, h.FailingStreak = container.Healthy, 0
	} else if time.Now().After(startPeriodEnd) || h.Status != container.Starting {
		// Failures during the start period do not count.
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = container.Unhealthy
		}
	}
	status := h.Status
	c.Unlock()
	if err := d.containers.Save(c); err != nil {
		slog.Warn("save health", "container", c.ID, "err", err)
	}
	if status != old {
		d.events.publish(events.ContainerEventType, events.Action("health_status: "+string(status)), c.ID, d.eventAttrs(c))
	}
}
