package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"

	"github.com/gorae/gorae/internal/api"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/snapshot"
)

// imageErr classifies the image store's errors for the API.
func imageErr(ref string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, image.ErrNotFound):
		return errdefs.NotFound(fmt.Errorf("No such image: %s", ref))
	case errors.Is(err, image.ErrConflict):
		return errdefs.Conflict(err)
	case errors.Is(err, image.ErrAmbiguous), errors.Is(err, image.ErrInvalidReference):
		return errdefs.InvalidParameter(err)
	}
	return err
}

// ImageList is `docker images`.
func (d *Daemon) ImageList(ctx context.Context, opts api.ImageListOptions) ([]image.Summary, error) {
	filter, err := d.imageFilter(ctx, opts.Filters)
	if err != nil {
		return nil, err
	}
	out, err := d.images.List(ctx, image.ListOptions{All: opts.All, Filter: filter})
	if err != nil {
		return nil, err
	}
	counts := d.containersPerImage()
	for i := range out {
		out[i].Containers = int64(counts[out[i].ID])
	}
	return out, nil
}

func (d *Daemon) containersPerImage() map[string]int {
	m := map[string]int{}
	for _, c := range d.containers.List() {
		m[c.Image]++
	}
	return m
}

// ImageInspect is `docker image inspect`.
func (d *Daemon) ImageInspect(ctx context.Context, ref string) (*image.InspectResponse, error) {
	r, err := d.images.Inspect(ctx, ref)
	return r, imageErr(ref, err)
}

// ImageHistory is `docker history`.
func (d *Daemon) ImageHistory(ctx context.Context, ref string) ([]image.HistoryItem, error) {
	h, err := d.images.History(ctx, ref)
	return h, imageErr(ref, err)
}

// ImageTag is `docker tag`.
func (d *Daemon) ImageTag(ctx context.Context, ref, repo, tag string) error {
	img, err := d.images.Get(ctx, ref)
	if err != nil {
		return imageErr(ref, err)
	}
	target := repo
	if tag != "" {
		target += ":" + tag
	}
	named, err := image.ParseTag(target)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	if err := d.images.Tag(ctx, named, img.ID); err != nil {
		return imageErr(ref, err)
	}
	d.events.publish(events.ImageEventType, events.ActionTag, img.ID.String(), map[string]string{"name": image.FamiliarString(named)})
	return nil
}

// inUse tells the image store which container uses an image.
func (d *Daemon) inUse(id digest.Digest) (string, bool) {
	for _, c := range d.containers.List() {
		if c.Image == id.String() {
			return c.ID, c.Snapshot().IsRunning()
		}
	}
	return "", false
}

// ImageRemove is `docker rmi`.
func (d *Daemon) ImageRemove(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error) {
	resp, err := d.images.Delete(ctx, ref, image.DeleteOptions{Force: force, NoPrune: noPrune, InUse: d.inUse})
	if err != nil {
		return nil, imageErr(ref, err)
	}
	for _, r := range resp {
		switch {
		case r.Untagged != "":
			d.events.publish(events.ImageEventType, events.ActionUnTag, r.Untagged, map[string]string{"name": r.Untagged})
		case r.Deleted != "":
			d.events.publish(events.ImageEventType, events.ActionDelete, r.Deleted, map[string]string{"name": r.Deleted})
		}
	}
	// Docker frees a removed image's layers at once: collect the blobs
	// and unpacked layers nothing references any more.
	if _, err := d.images.GC(ctx, image.GCOptions{}); err != nil {
		slog.Warn("collect unreferenced blobs after rmi", "err", err)
	}
	d.gcSnapshots(ctx)
	return resp, nil
}

// ImagePrune is `docker image prune`.
func (d *Daemon) ImagePrune(ctx context.Context, filters map[string][]string) (*image.PruneReport, error) {
	opts := image.PruneOptions{InUse: d.inUse}
	for k, vals := range filters {
		switch k {
		case "dangling":
			for _, v := range vals {
				opts.All = strings.EqualFold(v, "false") || v == "0"
			}
		case "label", "until":
		default:
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter '%s'", k))
		}
	}
	if labels := filters["label"]; len(labels) > 0 {
		opts.Filter = func(img *image.Image) bool {
			if img.Config == nil {
				return false
			}
			return allLabels(img.Config.Config.Labels, labels)
		}
	}
	rep, err := d.images.Prune(ctx, opts)
	if err != nil {
		return nil, err
	}
	d.gcSnapshots(ctx)
	d.events.publish(events.ImageEventType, events.ActionPrune, "", map[string]string{})
	return rep, nil
}

// gcSnapshots removes unpacked layers no image references any more and
// no other snapshot builds on; containers hold their own active
// snapshots, whose parents therefore stay.
func (d *Daemon) gcSnapshots(ctx context.Context) {
	keep := d.images.ReferencedChainIDs()
	for {
		var all []snapshot.Info
		d.snapshots.Walk(ctx, func(_ context.Context, in snapshot.Info) error {
			all = append(all, in)
			return nil
		})
		hasChild := map[string]bool{}
		for _, in := range all {
			if in.Parent != "" {
				hasChild[in.Parent] = true
			}
		}
		removed := 0
		for _, in := range all {
			if in.Kind != snapshot.KindCommitted || hasChild[in.Name] {
				continue
			}
			if _, ok := keep[digest.Digest(in.Name)]; ok {
				continue
			}
			if d.snapshots.Remove(ctx, in.Name) == nil {
				removed++
			}
		}
		if removed == 0 {
			return
		}
	}
}

func pathMatch(pattern, name string) (bool, error) { return path.Match(pattern, name) }
