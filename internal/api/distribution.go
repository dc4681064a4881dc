package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	mregistry "github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/registry"
)

// DistributionBackend is pull, push, login and distribution inspect.
type DistributionBackend interface {
	// ImagePull resolves fromImage[:tag|@digest] in its registry (an
	// error before anything is written is the request's status), then
	// writes Docker's JSON progress stream to w.
	ImagePull(ctx context.Context, fromImage, tag string, platform *ocispec.Platform, auth *registry.AuthConfig, w io.Writer) error
	// ImagePush pushes name:tag (every tag of name if tag is empty),
	// with Docker's JSON progress stream on w.
	ImagePush(ctx context.Context, name, tag string, auth *registry.AuthConfig, w io.Writer) error
	RegistryLogin(ctx context.Context, auth *registry.AuthConfig) (*mregistry.AuthResponse, error)
	DistributionInspect(ctx context.Context, name string, auth *registry.AuthConfig) (*mregistry.DistributionInspect, error)
}

// registryAuth decodes X-Registry-Auth (absent: anonymous).
func registryAuth(r *http.Request) (*registry.AuthConfig, error) {
	a, err := registry.DecodeAuthHeader(r.Header.Get("X-Registry-Auth"))
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	return a, nil
}

// pullImage is POST /images/create?fromImage=&tag=&platform= (docker pull).
func (s *Server) pullImage(w http.ResponseWriter, r *http.Request, fromImage string) error {
	q := form(r)
	platform, err := platformValue(q)
	if err != nil {
		return err
	}
	auth, err := registryAuth(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	out := newFlushWriter(w)
	err = s.b.ImagePull(r.Context(), fromImage, q.Get("tag"), platform, auth, out)
	return progressError(w, out, err)
}

// pushImage is POST /images/{name}/push?tag= (docker push).
func (s *Server) pushImage(w http.ResponseWriter, r *http.Request, name string) error {
	auth, err := registryAuth(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	out := newFlushWriter(w)
	err = s.b.ImagePush(r.Context(), name, form(r).Get("tag"), auth, out)
	return progressError(w, out, err)
}

// postAuth is POST /auth (docker login): the body is an AuthConfig.
func (s *Server) postAuth(w http.ResponseWriter, r *http.Request) error {
	var raw json.RawMessage
	ok, err := s.readJSON(w, r, &raw)
	if err != nil {
		return err
	}
	if !ok {
		return invalidf("auth: send the credentials as a JSON AuthConfig body")
	}
	auth, err := registry.DecodeAuthJSON(raw)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	resp, err := s.b.RegistryLogin(r.Context(), auth)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

// getDistribution is GET /distribution/{name}/json.
func (s *Server) getDistribution(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutSuffix(r.PathValue("name"), "/json")
	if !ok || name == "" {
		writeErrorBody(w, http.StatusNotFound, "page not found")
		return nil
	}
	auth, err := registryAuth(r)
	if err != nil {
		return err
	}
	resp, err := s.b.DistributionInspect(r.Context(), name, auth)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}
