package daemon

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/gorae/gorae/internal/api"
	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
)

// ContainerInspect is `docker inspect` of a container.
func (d *Daemon) ContainerInspect(ctx context.Context, ref string, size bool) (*container.InspectResponse, error) {
	c, err := d.get(ref)
	if err != nil {
		return nil, err
	}
	c.Lock()
	defer c.Unlock()
	st := c.State
	r := &container.InspectResponse{
		ID:      c.ID,
		Created: c.Created.Format(time.RFC3339Nano),
		Path:    c.Path,
		Args:    c.Args,
		State: &container.State{
			Status:     st.Status,
			Running:    st.Status == container.StateRunning || st.Status == container.StatePaused,
			Paused:     st.Status == container.StatePaused,
			Restarting: st.Status == container.StateRestarting,
			OOMKilled:  st.OOMKilled,
			Dead:       st.Status == container.StateDead,
			Pid:        st.Pid,
			ExitCode:   st.ExitCode,
			Error:      st.Error,
			StartedAt:  dockerTime(st.StartedAt),
			FinishedAt: dockerTime(st.FinishedAt),
			Health:     st.Health,
		},
		Image:           c.Image,
		LogPath:         c.LogPath,
		Name:            c.Name,
		RestartCount:    c.RestartCount,
		Driver:          "overlay2",
		Platform:        "linux",
		ExecIDs:         c.ExecIDs,
		HostConfig:      c.HostConfig,
		Config:          c.Config,
		Mounts:          []container.MountPoint{},
		NetworkSettings: d.networkSettings(c),
	}
	if r.HostConfig != nil && r.HostConfig.NetworkMode == "" {
		hc := *r.HostConfig
		hc.NetworkMode = "none"
		r.HostConfig = &hc
	}
	r.Mounts = mountPoints(c)
	return r, nil
}

// dockerTime formats as Docker does: the zero time is 0001-01-01T00:00:00Z.
func dockerTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// ContainerList is `docker ps`.
func (d *Daemon) ContainerList(ctx context.Context, opts api.ContainerListOptions) ([]container.Summary, error) {
	f := opts.Filters
	for k := range f {
		switch k {
		case "id", "name", "status", "label", "exited", "ancestor", "before", "since", "is-task", "health", "volume", "network", "publish", "expose":
		default:
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter '%s'", k))
		}
	}
	for _, s := range f["status"] {
		if err := container.ValidateContainerState(container.ContainerState(s)); err != nil {
			return nil, errdefs.InvalidParameter(err)
		}
	}
	all := opts.All || len(f["status"]) > 0 || len(f["exited"]) > 0
	var out []container.Summary
	for _, c := range d.containers.List() {
		s := d.summary(c)
		if !all && s.State != container.StateRunning && s.State != container.StatePaused && s.State != container.StateRestarting {
			continue
		}
		if !matchContainer(c, s, f) || !d.matchNetworkFilters(c, s, f) {
			continue
		}
		out = append(out, s)
		if opts.Limit > 0 && len(out) >= opts.Limit {
			break
		}
	}
	if out == nil {
		out = []container.Summary{}
	}
	return out, nil
}

func (d *Daemon) summary(c *ctrstore.Container) container.Summary {
	c.Lock()
	defer c.Unlock()
	cmd := strings.Join(append([]string{c.Path}, c.Args...), " ")
	s := container.Summary{
		ID:      c.ID,
		Names:   []string{c.Name},
		Image:   c.ImageName,
		ImageID: c.Image,
		Command: cmd,
		Created: c.Created.Unix(),
		Labels:  c.Config.Labels,
		State:   c.State.Status,
		Status:  statusText(c.State, time.Now()),
		Ports:   d.portSummaries(c),
		Mounts:  mountPoints(c),
		HostConfig: struct {
			NetworkMode string            `json:",omitempty"`
			Annotations map[string]string `json:",omitempty"`
		}{NetworkMode: string(c.HostConfig.NetworkMode)},
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.NetworkSettings = &container.NetworkSettingsSummary{Networks: d.networkSettings(c).Networks}
	return s
}

// statusText is `docker ps`'s STATUS column: "Up 3 minutes", "Exited (0)
// 2 seconds ago", "Created".
func statusText(st ctrstore.State, now time.Time) string {
	switch st.Status {
	case container.StateRunning:
		up := "Up " + humanDuration(now.Sub(st.StartedAt))
		if st.Health != nil {
			switch st.Health.Status {
			case container.Starting:
				up += " (health: starting)"
			case container.Healthy, container.Unhealthy:
				up += " (" + string(st.Health.Status) + ")"
			}
		}
		return up
	case container.StatePaused:
		return "Up " + humanDuration(now.Sub(st.StartedAt)) + " (Paused)"
	case container.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	case container.StateExited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	case container.StateRemoving:
		return "Removal In Progress"
	case container.StateDead:
		return "Dead"
	}
	return "Created"
}

// humanDuration matches Docker's go-units HumanDuration wording.
func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	m := int(d.Minutes())
	switch {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	h := int(d.Round(time.Hour).Hours())
	switch {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

func matchContainer(c *ctrstore.Container, s container.Summary, f map[string][]string) bool {
	anyOf := func(key string, match func(string) bool) bool {
		vals := f[key]
		if len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if match(v) {
				return true
			}
		}
		return false
	}
	return anyOf("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		anyOf("name", func(v string) bool {
			return strings.Contains(strings.TrimPrefix(c.Name, "/"), strings.TrimPrefix(v, "/"))
		}) &&
		anyOf("status", func(v string) bool { return string(s.State) == v }) &&
		anyOf("exited", func(v string) bool {
			n, err := strconv.Atoi(v)
			return err == nil && s.State == container.StateExited && c.Snapshot().ExitCode == n
		}) &&
		anyOf("volume", func(v string) bool { return usesVolume(c, v) }) &&
		anyOf("health", func(v string) bool {
			h := c.Snapshot().Health
			if h == nil {
				return v == string(container.NoHealthcheck)
			}
			return string(h.Status) == v
		}) &&
		anyOf("ancestor", func(v string) bool {
			return c.ImageName == v || strings.HasPrefix(c.Image, v) || strings.HasPrefix(strings.TrimPrefix(c.Image, "sha256:"), v)
		}) &&
		// labels: every label filter must hold.
		allLabels(s.Labels, f["label"])
}

func allLabels(labels map[string]string, want []string) bool {
	for _, w := range want {
		k, v, hasV := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

// ContainerResize sets the terminal size.
func (d *Daemon) ContainerResize(ctx context.Context, ref string, h, w int) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if !c.Snapshot().IsRunning() {
		return errdefs.Conflict(fmt.Errorf("container %s is not running", c.ID))
	}
	return d.shim(c).Resize(ctx, h, w)
}

// ContainerTop runs ps on the host and keeps the container's processes.
func (d *Daemon) ContainerTop(ctx context.Context, ref, psArgs string) (*container.TopResponse, error) {
	c, err := d.get(ref)
	if err != nil {
		return nil, err
	}
	if !c.Snapshot().IsRunning() {
		return nil, errdefs.Conflict(fmt.Errorf("container %s is not running", c.ID))
	}
	pids, err := d.shim(c).Pids(ctx)
	if err != nil {
		return nil, err
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	out, err := exec.CommandContext(ctx, "ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return nil, errdefs.InvalidParameter(fmt.Errorf("ps %s: %w", psArgs, err))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles := strings.Fields(lines[0])
	col := -1
	for i, t := range titles {
		if t == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, errdefs.InvalidParameter(errors.New("couldn't find PID field in ps output"))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	resp := &container.TopResponse{Titles: titles, Processes: [][]string{}}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
			// The last column (command) keeps its spaces.
			if len(f) > len(titles) {
				f = append(f[:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
			}
			resp.Processes = append(resp.Processes, f)
		}
	}
	return resp, nil
}

// ContainerPrune removes stopped containers.
func (d *Daemon) ContainerPrune(ctx context.Context, filters map[string][]string) (*container.PruneReport, error) {
	rep := &container.PruneReport{ContainersDeleted: []string{}}
	var until time.Time
	if u := filters["until"]; len(u) > 0 {
		t, err := parseTimeFilter(u[0])
		if err != nil {
			return nil, errdefs.InvalidParameter(err)
		}
		until = t
	}
	for _, c := range d.containers.List() {
		if c.Snapshot().IsRunning() || c.Snapshot().Status == container.StateRemoving {
			continue
		}
		if !until.IsZero() && c.Created.After(until) {
			continue
		}
		if !allLabels(c.Config.Labels, filters["label"]) {
			continue
		}
		if err := d.remove(ctx, c, false); err == nil {
			rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		}
	}
	sort.Strings(rep.ContainersDeleted)
	return rep, nil
}

// parseTimeFilter reads Docker's until/since: a unix timestamp, an
// RFC3339 time, or a duration ago ("10m").
func parseTimeFilter(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want a unix timestamp, RFC 3339 time or duration", s)
}
