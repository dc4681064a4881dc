package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

// ping is GET and HEAD /_ping: clients read the headers to negotiate the
// version and pick a builder (1: the classic builder; gorae has no
// BuildKit).
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	_, err := w.Write([]byte("OK"))
	return err
}

// getVersion is GET /version. The API versions are this package's to
// state, whatever the Backend says.
func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) error {
	v := s.b.Version(r.Context())
	v.APIVersion, v.MinAPIVersion = APIVersion, MinAPIVersion
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) getInfo(w http.ResponseWriter, r *http.Request) error {
	info, err := s.b.Info(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info)
}

// legacyEvent is an event as API versions before 1.52 send it: with the
// deprecated status, id and from fields that older clients still read.
type legacyEvent struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

func eventForVersion(m events.Message, v string) any {
	if !versionLess(v, "1.52") {
		return m
	}
	l := legacyEvent{Message: m}
	switch m.Type {
	case events.ContainerEventType:
		l.Status, l.ID, l.From = string(m.Action), m.Actor.ID, m.Actor.Attributes["image"]
	case events.ImageEventType:
		l.Status, l.ID = string(m.Action), m.Actor.ID
	}
	return l
}

// getEvents is GET /events: one JSON message per line, each flushed, until
// until passes, the client goes or the server stops.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	since, err := timeValue(q, "since")
	if err != nil {
		return err
	}
	until, err := timeValue(q, "until")
	if err != nil {
		return err
	}
	if !until.IsZero() && until.Before(since) {
		return invalidf("`since` time (%s) cannot be after `until` time (%s)", q.Get("since"), q.Get("until"))
	}
	filters, err := filtersValue(q)
	if err != nil {
		return err
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	ch, err := s.b.Events(ctx, since, until, filters)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	out := newFlushWriter(w)
	out.Flush()
	enc := json.NewEncoder(out)
	v := version(r)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			if err := enc.Encode(eventForVersion(m, v)); err != nil {
				return nil // the client went away
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// legacyDiskUsage is /system/df as API versions before 1.52 send it, a
// flat list per kind; the Backend answers in the newer, grouped form.
type legacyDiskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

// getDiskUsage is GET /system/df[?type=image&type=container…].
func (s *Server) getDiskUsage(w http.ResponseWriter, r *http.Request) error {
	du, err := s.b.DiskUsage(r.Context())
	if err != nil {
		return err
	}
	want := func(kind system.DiskUsageObject) bool {
		types := form(r)["type"]
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if t == string(kind) {
				return true
			}
		}
		return false
	}
	if !versionLess(version(r), "1.52") {
		return writeJSON(w, http.StatusOK, du)
	}
	var l legacyDiskUsage
	if du.ImageUsage != nil && want(system.ImageObject) {
		l.LayersSize, l.Images = du.ImageUsage.TotalSize, du.ImageUsage.Items
	}
	if du.ContainerUsage != nil && want(system.ContainerObject) {
		l.Containers = du.ContainerUsage.Items
	}
	if du.VolumeUsage != nil && want(system.VolumeObject) {
		l.Volumes = du.VolumeUsage.Items
	}
	if du.BuildCacheUsage != nil && want(system.BuildCacheObject) {
		l.BuildCache = du.BuildCacheUsage.Items
	}
	// Empty lists, not null: clients range over them.
	l.Images = nonNil(l.Images)
	l.Containers = nonNil(l.Containers)
	l.Volumes = nonNil(l.Volumes)
	l.BuildCache = nonNil(l.BuildCache)
	return writeJSON(w, http.StatusOK, l)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// streamContext is the context of a long response: it ends with the
// request or when the server stops.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.streams, cancel)
	return ctx, func() { stop(); cancel() }
}
