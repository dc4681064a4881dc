package api

import (
	"context"
	"errors"
	"testing"

	"github.com/moby/moby/api/types/volume"

	"github.com/gorae/gorae/internal/errdefs"
)

func (f *fakeBackend) VolumeList(ctx context.Context, filters map[string][]string) (*volume.ListResponse, error) {
	if err := f.record("VolumeList", filters); err != nil {
		return nil, err
	}
	return &volume.ListResponse{Volumes: []volume.Volume{{Name: "data", Driver: "local", Scope: "local"}}}, nil
}

func (f *fakeBackend) VolumeInspect(ctx context.Context, name string) (*volume.Volume, error) {
	if err := f.record("VolumeInspect", name); err != nil {
		return nil, err
	}
	if name != "data" {
		return nil, errdefs.NotFound(errors.New("get " + name + ": no such volume"))
	}
	return &volume.Volume{Name: "data", Driver: "local", Scope: "local"}, nil
}

func (f *fakeBackend) VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error) {
	if err := f.record("VolumeCreate", req); err != nil {
		return nil, err
	}
	return &volume.Volume{Name: req.Name, Driver: "local", Scope: "local", Labels: req.Labels, Options: req.DriverOpts}, nil
}

func (f *fakeBackend) VolumeRemove(ctx context.Context, name string, force bool) error {
	return f.record("VolumeRemove", name, force)
}

func (f *fakeBackend) VolumePrune(ctx context.Context, filters map[string][]string) (*volume.PruneReport, error) {
	if err := f.record("VolumePrune", filters); err != nil {
		return nil, err
	}
	return &volume.PruneReport{VolumesDeleted: []string{}}, nil
}

func TestVolumeRoutes(t *testing.T) {
	runRouteCases(t, []routeCase{
		{"GET", "/volumes", "", 200, "VolumeList", []any{map[string][]string(nil)}},
		{"GET", "/volumes?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D", "", 200, "VolumeList", []any{map[string][]string{"dangling": {"true"}}}},
		{"GET", "/volumes/data", "", 200, "VolumeInspect", []any{"data"}},
		{"GET", "/volumes/nope", "", 404, "VolumeInspect", nil},
		{"POST", "/volumes/create", `{"Name":"v1","Labels":{"a":"b"},"DriverOpts":{"type":"tmpfs"}}`, 201, "VolumeCreate",
			[]any{volume.CreateRequest{Name: "v1", Labels: map[string]string{"a": "b"}, DriverOpts: map[string]string{"type": "tmpfs"}}}},
		{"POST", "/volumes/create", `{"Name":`, 400, "", nil},
		{"POST", "/volumes/create", `{"Name":"c","ClusterVolumeSpec":{}}`, 503, "", nil},
		{"PUT", "/volumes/data?version=1", `{}`, 503, "VolumeInspect", nil},
		{"PUT", "/volumes/nope?version=1", `{}`, 404, "VolumeInspect", nil},
		{"DELETE", "/volumes/data?force=1", "", 204, "VolumeRemove", []any{"data", true}},
		{"DELETE", "/volumes/data", "", 204, "VolumeRemove", []any{"data", false}},
		{"POST", "/volumes/prune", "", 200, "VolumePrune", []any{map[string][]string(nil)}},
		// Before 1.42 prune took named volumes too.
		{"POST", "/v1.41/volumes/prune", "", 200, "VolumePrune", []any{map[string][]string{"all": {"true"}}}},
		{"POST", "/v1.41/volumes/prune?filters=%7B%22all%22%3A%7B%22false%22%3Atrue%7D%7D", "", 200, "VolumePrune", []any{map[string][]string{"all": {"false"}}}},
	})
}
