package daemon

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	voltypes "github.com/moby/moby/api/types/volume"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/volume"
)

func volumeAPI(v *volume.Volume) *voltypes.Volume {
	return &voltypes.Volume{
		Name: v.Name, Driver: v.Driver, Labels: v.Labels, Options: v.Options, Mountpoint: v.Mountpoint(),
		CreatedAt: v.CreatedAt.Local().Format(time.RFC3339), Scope: "local",
	}
}

// VolumeCreate is `docker volume create`: an existing volume of that
// name is returned as it is, as Docker does.
func (d *Daemon) VolumeCreate(ctx context.Context, req voltypes.CreateRequest) (*voltypes.Volume, error) {
	v, created, err := d.volumes.Create(req.Name, volume.CreateOptions{Driver: req.Driver, Options: req.DriverOpts, Labels: req.Labels}, "")
	if err != nil {
		return nil, err
	}
	if created {
		d.events.publish(events.VolumeEventType, events.ActionCreate, v.Name, map[string]string{"driver": v.Driver})
	}
	return volumeAPI(v), nil
}

// VolumeInspect is `docker volume inspect`.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (*voltypes.Volume, error) {
	v, err := d.volumes.Get(name)
	if err != nil {
		return nil, err
	}
	return volumeAPI(v), nil
}

// VolumeRemove is `docker volume rm`: a volume a container uses (running
// or not) stays, with 409 and the containers named.
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	v, err := d.volumes.Get(name)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err := d.volumes.Remove(name); err != nil {
		return err
	}
	d.events.publish(events.VolumeEventType, events.ActionDestroy, name, map[string]string{"driver": v.Driver})
	return nil
}

// VolumeList is `docker volume ls` with Docker's filters.
func (d *Daemon) VolumeList(ctx context.Context, filters map[string][]string) (*voltypes.ListResponse, error) {
	match, err := volumeFilter(filters, "name", "label", "dangling", "driver")
	if err != nil {
		return nil, err
	}
	resp := &voltypes.ListResponse{Volumes: []voltypes.Volume{}}
	for _, v := range d.volumes.List() {
		if match(v, len(d.volumes.Users(v.Name))) {
			resp.Volumes = append(resp.Volumes, *volumeAPI(v))
		}
	}
	return resp, nil
}

// VolumePrune removes volumes no container uses: since API 1.42 only
// anonymous ones, unless the filter all=true asks for named ones too.
func (d *Daemon) VolumePrune(ctx context.Context, filters map[string][]string) (*voltypes.PruneReport, error) {
	match, err := volumeFilter(filters, "label", "label!", "all")
	if err != nil {
		return nil, err
	}
	all := false
	for _, v := range filters["all"] {
		if all, err = strconv.ParseBool(v); err != nil {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter 'all=%s': want true or false", v))
		}
	}
	rep := &voltypes.PruneReport{VolumesDeleted: []string{}}
	for _, v := range d.volumes.List() {
		if len(d.volumes.Users(v.Name)) > 0 || (!all && !v.Anonymous()) || !match(v, 0) {
			continue
		}
		size, _ := d.volumes.Size(v.Name)
		if err := d.VolumeRemove(ctx, v.Name, false); err != nil {
			continue // taken into use meanwhile
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	d.events.publish(events.VolumeEventType, events.ActionPrune, "", map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)})
	return rep, nil
}

// volumeFilter checks the filter keys allowed and returns the predicate
// of Docker's semantics: name and driver match as regular expressions
// (or exactly), every label (key or key=value) must be present, none of
// label!, dangling=true keeps only unused volumes.
func volumeFilter(f map[string][]string, allowed ...string) (func(v *volume.Volume, users int) bool, error) {
	for k := range f {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter '%s'", k))
		}
	}
	dangling := -1
	for _, v := range f["dangling"] {
		switch strings.ToLower(v) {
		case "true", "1":
			dangling = 1
		case "false", "0":
			dangling = 0
		default:
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter 'dangling=%s'", v))
		}
	}
	matchAny := func(key, s string) bool {
		vals := f[key]
		if len(vals) == 0 {
			return true
		}
		for _, p := range vals {
			if p == s {
				return true
			}
			if ok, err := regexp.MatchString(p, s); err == nil && ok {
				return true
			}
		}
		return false
	}
	hasLabel := func(v *volume.Volume, l string) bool {
		k, val, withVal := strings.Cut(l, "=")
		got, ok := v.Labels[k]
		return ok && (!withVal || got == val)
	}
	return func(v *volume.Volume, users int) bool {
		if dangling == 1 && users > 0 || dangling == 0 && users == 0 {
			return false
		}
		for _, l := range f["label"] {
			if !hasLabel(v, l) {
				return false
			}
		}
		for _, l := range f["label!"] {
			if hasLabel(v, l) {
				return false
			}
		}
		return matchAny("name", v.Name) && matchAny("driver", v.Driver)
	}, nil
}

// volumeUsage is system df's volumes: sizes and how many containers use
// each.
func (d *Daemon) volumeUsage() *voltypes.DiskUsage {
	du := &voltypes.DiskUsage{Items: []voltypes.Volume{}}
	for _, v := range d.volumes.List() {
		size, err := d.volumes.Size(v.Name)
		if err != nil {
			size = -1
		}
		refs := int64(len(d.volumes.Users(v.Name)))
		item := volumeAPI(v)
		item.UsageData = &voltypes.UsageData{RefCount: refs, Size: size}
		du.Items = append(du.Items, *item)
		du.TotalCount++
		if size > 0 {
			du.TotalSize += size
		}
		if refs > 0 {
			du.ActiveCount++
		} else if size > 0 {
			du.Reclaimable += size
		}
	}
	return du
}
