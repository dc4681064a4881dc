package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/volume"

	"github.com/gorae/gorae/internal/errdefs"
)

// VolumeBackend is /volumes/…
type VolumeBackend interface {
	// VolumeList applies Docker's filters: name, label, dangling, driver.
	VolumeList(ctx context.Context, filters map[string][]string) (*volume.ListResponse, error)
	VolumeInspect(ctx context.Context, name string) (*volume.Volume, error)
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error)
	// VolumeRemove refuses a volume in use; force makes an unknown name
	// no error.
	VolumeRemove(ctx context.Context, name string, force bool) error
	// VolumePrune removes unused anonymous volumes, or every unused one
	// with the filter all=true; label filters narrow it.
	VolumePrune(ctx context.Context, filters map[string][]string) (*volume.PruneReport, error)
}

func (s *Server) volumeRoutes() {
	s.handle("GET /volumes", s.getVolumesList)
	s.handle("GET /volumes/{name}", s.getVolumeByName)
	s.handle("POST /volumes/create", s.postVolumesCreate)
	s.handle("PUT /volumes/{name}", s.putVolume)
	s.handle("DELETE /volumes/{name}", s.deleteVolume)
	s.handle("POST /volumes/prune", s.postVolumesPrune)
}

func (s *Server) getVolumesList(w http.ResponseWriter, r *http.Request) error {
	filters, err := filtersValue(form(r))
	if err != nil {
		return err
	}
	resp, err := s.b.VolumeList(r.Context(), filters)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) getVolumeByName(w http.ResponseWriter, r *http.Request) error {
	v, err := s.b.VolumeInspect(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) postVolumesCreate(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if _, err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.ClusterVolumeSpec != nil {
		return errdefs.Unavailable(errors.New("cluster volumes need a swarm, which gorae does not have"))
	}
	v, err := s.b.VolumeCreate(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// putVolume is Docker's answer for a daemon without a swarm: only
// cluster volumes can be updated.
func (s *Server) putVolume(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.b.VolumeInspect(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	return errdefs.Unavailable(errors.New("volume update only valid for cluster volumes, but swarm is not enabled"))
}

func (s *Server) deleteVolume(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.b.VolumeRemove(r.Context(), r.PathValue("name"), boolValue(form(r), "force")))
}

func (s *Server) postVolumesPrune(w http.ResponseWriter, r *http.Request) error {
	filters, err := filtersValue(form(r))
	if err != nil {
		return err
	}
	// Before API 1.42 prune removed named volumes too.
	if versionLess(version(r), "1.42") {
		if filters == nil {
			filters = map[string][]string{}
		}
		if _, ok := filters["all"]; !ok {
			filters["all"] = []string{"true"}
		}
	}
	rep, err := s.b.VolumePrune(r.Context(), filters)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}
