package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/gorae/gorae/internal/errdefs"
)

// The fake's networks: "n1" exists, everything else is unknown.

func (f *fakeBackend) NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error) {
	if err := f.record("NetworkList", filters); err != nil {
		return nil, err
	}
	return nil, nil
}

func (f *fakeBackend) NetworkInspect(ctx context.Context, ref string) (*network.Inspect, error) {
	if err := f.record("NetworkInspect", ref); err != nil {
		return nil, err
	}
	if ref != "n1" {
		return nil, errdefs.NotFound(fmt.Errorf("network %s not found", ref))
	}
	return &network.Inspect{Network: network.Network{Name: "n1", ID: "n1id"}}, nil
}

func (f *fakeBackend) NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error) {
	if err := f.record("NetworkCreate", req); err != nil {
		return nil, err
	}
	if req.Name == "n1" {
		return nil, errdefs.Conflict(errors.New("network with name n1 already exists"))
	}
	return &network.CreateResponse{ID: "newid"}, nil
}

func (f *fakeBackend) NetworkRemove(ctx context.Context, ref string) error {
	return f.record("NetworkRemove", ref)
}

func (f *fakeBackend) NetworkConnect(ctx context.Context, ref string, req network.ConnectRequest) error {
	return f.record("NetworkConnect", ref, req)
}

func (f *fakeBackend) NetworkDisconnect(ctx context.Context, ref string, req network.DisconnectRequest) error {
	return f.record("NetworkDisconnect", ref, req)
}

func (f *fakeBackend) NetworksPrune(ctx context.Context, filters map[string][]string) (*network.PruneReport, error) {
	if err := f.record("NetworksPrune", filters); err != nil {
		return nil, err
	}
	return &network.PruneReport{NetworksDeleted: []string{}}, nil
}

func TestNetworkRoutes(t *testing.T) {
	f := newFake()
	s := NewServer(f, Options{})
	for _, c := range []struct {
		method, path, body string
		code               int
	}{
		{"GET", "/networks", "", 200},
		{"GET", "/v1.50/networks/", "", 200},
		{"GET", "/networks/n1", "", 200},
		{"GET", "/networks/nope", "", 404},
		{"POST", "/networks/create", `{"Name":"n2","IPAM":{"Config":[{"Subnet":"10.9.0.0/24"}]}}`, 201},
		{"POST", "/networks/create", `{"Name":"n1"}`, 409},
		{"POST", "/networks/create", `{"Name":"n3","IPAM":{"Config":[{"Subnet":"10.9.300.0/24"}]}}`, 400},
		{"POST", "/networks/n1/connect", `{"Container":"c1"}`, 200},
		{"POST", "/networks/n1/connect", `{}`, 400},
		{"POST", "/networks/n1/disconnect", `{"Container":"c1","Force":true}`, 200},
		{"DELETE", "/networks/n1", "", 204},
		{"POST", "/networks/prune", "", 200},
	} {
		rec := request(t, s, c.method, c.path, c.body)
		if rec.Code != c.code {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, rec.Code, c.code, rec.Body)
		}
	}
	if rec := request(t, s, "GET", "/networks", ""); rec.Body.String() != "[]\n" {
		t.Errorf("empty list: %q, want []", rec.Body)
	}
}

func TestInspectNetworkCompat(t *testing.T) {
	ip := netip.MustParseAddr("10.1.0.2")
	c := &container.InspectResponse{ID: "x", NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
		"bridge": {IPAddress: ip, Gateway: netip.MustParseAddr("10.1.0.1"), IPPrefixLen: 24},
	}}}
	b, err := json.Marshal(withNetworkCompat(c))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID              string `json:"Id"`
		NetworkSettings struct {
			IPAddress, Gateway string
			IPPrefixLen        int
			Networks           map[string]any
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "x" || got.NetworkSettings.IPAddress != "10.1.0.2" || got.NetworkSettings.Gateway != "10.1.0.1" || got.NetworkSettings.IPPrefixLen != 24 || got.NetworkSettings.Networks["bridge"] == nil {
		t.Errorf("compat inspect: %s", b)
	}
}
