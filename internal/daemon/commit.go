package daemon

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/gorae/gorae/internal/api"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/snapshot"
)

// ContainerCommit makes an image of the container's changes on top of its
// image (`docker commit`).
func (d *Daemon) ContainerCommit(ctx context.Context, ref string, opts api.CommitOptions) (string, error) {
	c, err := d.get(ref)
	if err != nil {
		return "", err
	}
	parent, err := d.images.Get(ctx, c.Image)
	if err != nil {
		return "", fmt.Errorf("commit %s: its image %s is gone: %w", c.ID, c.Image, err)
	}
	if opts.Pause && c.Snapshot().Status == container.StateRunning {
		if err := d.shim(c).Pause(ctx); err == nil {
			defer d.shim(c).Resume(context.WithoutCancel(ctx))
		}
	}
	mounts, err := d.snapshots.Mounts(ctx, c.ID)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c.ID, err)
	}
	upper, err := snapshot.UpperDir(mounts)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c.ID, err)
	}
	lowers, _ := snapshot.LowerDirs(mounts)
	pr, pw := io.Pipe()
	go func() {
		_, err := snapshot.Diff(ctx, lowers, upper, pw)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	cfg := c.Config
	if opts.Config != nil {
		cfg = mergeCommitConfig(c.Config, opts.Config)
	}
	img, err := image.Commit(ctx, d.images, parent, pr, image.CommitOptions{
		Ref:       importRef(opts.Repo, opts.Tag),
		Config:    toImageConfig(cfg),
		Changes:   opts.Changes,
		Comment:   opts.Comment,
		Author:    opts.Author,
		CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "),
	})
	if err != nil {
		return "", classifyFormatErr(err)
	}
	attrs := d.eventAttrs(c)
	attrs["comment"] = opts.Comment
	d.events.publish(events.ContainerEventType, events.ActionCommit, c.ID, attrs)
	return img.ID.String(), nil
}

// mergeCommitConfig overlays what the client set in its config (POST
// /commit body) on the container's.
func mergeCommitConfig(base, over *container.Config) *container.Config {
	out := *base
	if over.User != "" {
		out.User = over.User
	}
	if len(over.Cmd) > 0 {
		out.Cmd = over.Cmd
	}
	if len(over.Entrypoint) > 0 {
		out.Entrypoint = over.Entrypoint
	}
	if len(over.Env) > 0 {
		out.Env = append(append([]string(nil), base.Env...), over.Env...)
	}
	if over.WorkingDir != "" {
		out.WorkingDir = over.WorkingDir
	}
	if len(over.Labels) > 0 {
		out.Labels = over.Labels
	}
	if len(over.ExposedPorts) > 0 {
		out.ExposedPorts = over.ExposedPorts
	}
	if over.StopSignal != "" {
		out.StopSignal = over.StopSignal
	}
	return &out
}

// toImageConfig is the run config an image records for a container's.
func toImageConfig(c *container.Config) image.ContainerConfig {
	ic := image.ContainerConfig{
		User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir,
		Labels: c.Labels, StopSignal: c.StopSignal, OnBuild: c.OnBuild, Shell: c.Shell,
	}
	if len(c.ExposedPorts) > 0 {
		ic.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			ic.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		ic.Volumes = c.Volumes
	}
	if h := c.Healthcheck; h != nil {
		ic.Healthcheck = &image.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	return ic
}
