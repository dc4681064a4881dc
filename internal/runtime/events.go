package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/gorae/gorae/internal/runtime/cgroups"
)

// Stats reads the container's cgroup counters.
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// Watch reports a running container's cgroup statistics every interval
// (onStats) and each OOM kill as it is counted (onOOM), until ctx ends or
// the container stops. OOM kills are found by polling the kernel's counter
// (memory.oom_control on v1, memory.events on v2) a few times a second,
// which works the same on both hierarchies and needs no eventfd per kind.
func Watch(ctx context.Context, root, id string, interval time.Duration, onStats func(*cgroups.Stats) error, onOOM func() error) error {
	c, err := Load(root, id)
	if err != nil {
		return err
	}
	if c.Status() == StatusStopped {
		return fmt.Errorf("container %s is not running", id)
	}
	poll := 200 * time.Millisecond
	if interval < poll {
		poll = interval
	}
	var oomKills uint64
	if st, err := c.Stats(); err == nil {
		oomKills = st.Memory.OOMKill
	}
	next := time.Now()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		st, err := c.Stats()
		if err != nil {
			if c.Status() == StatusStopped {
				return nil
			}
			return err
		}
		if st.Memory.OOMKill > oomKills {
			oomKills = st.Memory.OOMKill
			if err := onOOM(); err != nil {
				return err
			}
		}
		if !time.Now().Before(next) {
			if err := onStats(st); err != nil {
				return err
			}
			next = next.Add(interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if c.Status() == StatusStopped {
			return nil
		}
	}
}
