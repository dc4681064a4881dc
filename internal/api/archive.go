package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/container"
)

// pathStatHeader carries a path's stat as Docker sends it: base64 JSON.
const pathStatHeader = "X-Docker-Container-Path-Stat"

func setPathStat(w http.ResponseWriter, st *container.PathStat) {
	b, _ := json.Marshal(st)
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
}

func archivePath(r *http.Request) (string, error) {
	p := form(r).Get("path")
	if p == "" {
		return "", invalidf("path is required")
	}
	return p, nil
}

// statArchivePath reads ?path= and sets the stat header for it.
func (s *Server) statArchivePath(w http.ResponseWriter, r *http.Request) (string, error) {
	p, err := archivePath(r)
	if err != nil {
		return "", err
	}
	st, err := s.b.ContainerStatPath(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return "", err
	}
	setPathStat(w, st)
	return p, nil
}

// headContainerArchive is HEAD /containers/{id}/archive: the stat only.
func (s *Server) headContainerArchive(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.statArchivePath(w, r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getContainerArchive is GET /containers/{id}/archive: a tar of the path.
func (s *Server) getContainerArchive(w http.ResponseWriter, r *http.Request) error {
	p, err := s.statArchivePath(w, r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if err := s.b.ContainerArchivePath(r.Context(), r.PathValue("id"), p, w); err != nil {
		s.log.Warn("api: archive failed after the header", "container", r.PathValue("id"), "path", p, "err", err)
	}
	return nil
}

// putContainerArchive is PUT /containers/{id}/archive: a tar unpacked
// into the directory path.
func (s *Server) putContainerArchive(w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	q := form(r)
	if err := s.b.ContainerExtractToDir(r.Context(), r.PathValue("id"), p, boolValue(q, "noOverwriteDirNonDir"), r.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getContainerChanges is GET /containers/{id}/changes (`docker diff`).
func (s *Server) getContainerChanges(w http.ResponseWriter, r *http.Request) error {
	changes, err := s.b.ContainerChanges(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, changes)
}
