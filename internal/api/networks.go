package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/gorae/gorae/internal/errdefs"
)

// NetworkBackend is /networks/…; a Backend without it answers 501.
type NetworkBackend interface {
	NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, ref string) (*network.Inspect, error)
	NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error)
	NetworkRemove(ctx context.Context, ref string) error
	NetworkConnect(ctx context.Context, ref string, req network.ConnectRequest) error
	NetworkDisconnect(ctx context.Context, ref string, req network.DisconnectRequest) error
	NetworksPrune(ctx context.Context, filters map[string][]string) (*network.PruneReport, error)
}

func (s *Server) networkRoutes() {
	nb, ok := s.b.(NetworkBackend)
	if !ok {
		err := errdefs.NotImplemented(errors.New("networks are not supported by this backend"))
		for _, p := range []string{"GET /networks", "GET /networks/{id}", "POST /networks/create", "POST /networks/{id}/connect", "POST /networks/{id}/disconnect", "DELETE /networks/{id}", "POST /networks/prune"} {
			s.handle(p, func(http.ResponseWriter, *http.Request) error { return err })
		}
		return
	}
	list := func(w http.ResponseWriter, r *http.Request) error {
		filters, err := filtersValue(form(r))
		if err != nil {
			return err
		}
		l, err := nb.NetworkList(r.Context(), filters)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, nonNil(l))
	}
	s.handle("GET /networks", list)
	s.handle("GET /networks/{$}", list)
	s.handle("GET /networks/{id}", func(w http.ResponseWriter, r *http.Request) error {
		n, err := nb.NetworkInspect(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, n)
	})
	s.handle("POST /networks/create", func(w http.ResponseWriter, r *http.Request) error {
		var req network.CreateRequest
		if _, err := s.readJSON(w, r, &req); err != nil {
			return err
		}
		resp, err := nb.NetworkCreate(r.Context(), req)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, resp)
	})
	s.handle("POST /networks/{id}/connect", func(w http.ResponseWriter, r *http.Request) error {
		var req network.ConnectRequest
		if _, err := s.readJSON(w, r, &req); err != nil {
			return err
		}
		if req.Container == "" {
			return invalidf("no container given to connect")
		}
		if err := nb.NetworkConnect(r.Context(), r.PathValue("id"), req); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
	s.handle("POST /networks/{id}/disconnect", func(w http.ResponseWriter, r *http.Request) error {
		var req network.DisconnectRequest
		if _, err := s.readJSON(w, r, &req); err != nil {
			return err
		}
		if req.Container == "" {
			return invalidf("no container given to disconnect")
		}
		if err := nb.NetworkDisconnect(r.Context(), r.PathValue("id"), req); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
	s.handle("DELETE /networks/{id}", func(w http.ResponseWriter, r *http.Request) error {
		if err := nb.NetworkRemove(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.handle("POST /networks/prune", func(w http.ResponseWriter, r *http.Request) error {
		filters, err := filtersValue(form(r))
		if err != nil {
			return err
		}
		rep, err := nb.NetworksPrune(r.Context(), filters)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, rep)
	})
}

// inspectCompat adds the default bridge's address fields at the top of
// NetworkSettings, where API versions before 1.52 have them and the
// docker CLI's templates ({{.NetworkSettings.IPAddress}}) look.
type inspectCompat struct {
	*container.InspectResponse
	NetworkSettings *networkSettingsCompat `json:"NetworkSettings"`
}

type networkSettingsCompat struct {
	*container.NetworkSettings
	EndpointID  string
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
}

func withNetworkCompat(c *container.InspectResponse) any {
	if c == nil || c.NetworkSettings == nil {
		return c
	}
	ns := &networkSettingsCompat{NetworkSettings: c.NetworkSettings}
	if b := c.NetworkSettings.Networks[network.NetworkBridge]; b != nil && b.IPAddress.IsValid() {
		ns.EndpointID, ns.IPAddress, ns.IPPrefixLen = b.EndpointID, b.IPAddress.String(), b.IPPrefixLen
		if b.Gateway.IsValid() {
			ns.Gateway = b.Gateway.String()
		}
		ns.MacAddress = b.MacAddress.String()
	}
	return inspectCompat{InspectResponse: c, NetworkSettings: ns}
}
