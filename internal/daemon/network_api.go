package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/gorae/gorae/internal/errdefs"
	gnet "github.com/gorae/gorae/internal/network"
)

// The Engine API's /networks, over internal/network.

func networkDriverName(n *gnet.Network) string { return n.Driver }

func (d *Daemon) networkBase(n *gnet.Network) network.Network {
	out := network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: networkDriverName(n),
		EnableIPv4: n.IsBridge(), Internal: n.Internal, Attachable: n.Attachable,
		IPAM:    network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{}},
		Options: n.Options, Labels: n.Labels,
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if n.Subnet.IsValid() {
		out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	return out
}

func (d *Daemon) networkInspect(n *gnet.Network) *network.Inspect {
	out := &network.Inspect{Network: d.networkBase(n), Containers: map[string]network.EndpointResource{}}
	for id, ep := range n.Endpoints {
		r := network.EndpointResource{Name: ep.Name, EndpointID: ep.ID, IPv4Address: netip.PrefixFrom(ep.Addr, n.PrefixLen())}
		if mac, err := net.ParseMAC(ep.MAC); err == nil {
			r.MacAddress = network.HardwareAddr(mac)
		}
		out.Containers[id] = r
	}
	return out
}

// NetworkList is GET /networks.
func (d *Daemon) NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error) {
	for k, vs := range filters {
		switch k {
		case "name", "id", "driver", "label", "scope":
		case "type":
			for _, v := range vs {
				if v != "custom" && v != "builtin" {
					return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter: 'type'='%s'", v))
				}
			}
		case "dangling":
			for _, v := range vs {
				if _, err := strconv.ParseBool(v); err != nil {
					return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter: 'dangling'='%s'", v))
				}
			}
		default:
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter '%s'", k))
		}
	}
	out := []network.Summary{}
	for _, n := range d.net.List() {
		if matchNetwork(n, filters) {
			out = append(out, network.Summary{Network: d.networkBase(n)})
		}
	}
	return out, nil
}

func matchNetwork(n *gnet.Network, f map[string][]string) bool {
	anyOf := func(key string, match func(string) bool) bool {
		if len(f[key]) == 0 {
			return true
		}
		for _, v := range f[key] {
			if match(v) {
				return true
			}
		}
		return false
	}
	return anyOf("name", func(v string) bool { return strings.Contains(n.Name, v) }) &&
		anyOf("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
		anyOf("driver", func(v string) bool { return n.Driver == v }) &&
		anyOf("scope", func(v string) bool { return v == "local" }) &&
		anyOf("type", func(v string) bool { return (v == "builtin") == n.Predefined }) &&
		anyOf("dangling", func(v string) bool {
			b, _ := strconv.ParseBool(v)
			return b == (len(n.Endpoints) == 0 && !n.Predefined)
		}) &&
		allLabels(n.Labels, f["label"])
}

// NetworkInspect is GET /networks/{id}.
func (d *Daemon) NetworkInspect(ctx context.Context, ref string) (*network.Inspect, error) {
	n, err := d.net.Get(ref)
	if err != nil {
		return nil, err
	}
	return d.networkInspect(n), nil
}

// NetworkCreate is POST /networks/create.
func (d *Daemon) NetworkCreate(ctx context.Context, req network.CreateRequest) (*network.CreateResponse, error) {
	if req.Name == "" {
		return nil, errdefs.InvalidParameter(errors.New("network name is required"))
	}
	if req.EnableIPv6 != nil && *req.EnableIPv6 {
		return nil, errdefs.InvalidParameter(errors.New("IPv6 networks are not supported by gorae yet"))
	}
	if req.Scope != "" && req.Scope != "local" {
		return nil, errdefs.InvalidParameter(fmt.Errorf("scope %q is not supported (local only)", req.Scope))
	}
	if req.ConfigOnly || req.ConfigFrom != nil || req.Ingress {
		return nil, errdefs.InvalidParameter(errors.New("config-only, config-from and ingress networks are not supported by gorae"))
	}
	cr := gnet.CreateRequest{Name: req.Name, Driver: req.Driver, Internal: req.Internal, Attachable: req.Attachable, Labels: req.Labels, Options: req.Options}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return nil, errdefs.InvalidParameter(fmt.Errorf("IPAM driver %q is not supported (default only)", req.IPAM.Driver))
		}
		switch len(req.IPAM.Config) {
		case 0:
		case 1:
			c := req.IPAM.Config[0]
			if c.Subnet.IsValid() {
				cr.Subnet = c.Subnet.String()
			}
			if c.IPRange.IsValid() {
				cr.IPRange = c.IPRange.String()
			}
			if c.Gateway.IsValid() {
				cr.Gateway = c.Gateway.String()
			}
		default:
			return nil, errdefs.InvalidParameter(errors.New("gorae networks have one IPv4 subnet: give one --subnet"))
		}
	}
	n, err := d.net.Create(cr)
	if err != nil {
		return nil, err
	}
	d.events.publish(events.NetworkEventType, events.ActionCreate, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return &network.CreateResponse{ID: n.ID}, nil
}

// NetworkRemove is DELETE /networks/{id}.
func (d *Daemon) NetworkRemove(ctx context.Context, ref string) error {
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	// Stopped containers may still name it, as with Docker: their
	// next start fails with "network not found".
	if err := d.net.Remove(n.ID); err != nil {
		return err
	}
	d.events.publish(events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return nil
}

// NetworkConnect is POST /networks/{id}/connect.
func (d *Daemon) NetworkConnect(ctx context.Context, ref string, req network.ConnectRequest) error {
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	c, err := d.get(req.Container)
	if err != nil {
		return err
	}
	es := req.EndpointConfig
	if es == nil {
		es = &network.EndpointSettings{}
	}
	if !n.IsBridge() {
		return errdefs.Forbidden(fmt.Errorf("container cannot be disconnected from or connected to network %s (driver %s)", n.Name, n.Driver))
	}
	mode := c.HostConfig.NetworkMode
	if mode.IsHost() || mode.IsNone() || mode.IsContainer() {
		return errdefs.Forbidden(fmt.Errorf("container sharing network namespace with another container or host cannot be connected to any other network"))
	}
	if err := checkEndpoint(n, es); err != nil {
		return err
	}
	c.Lock()
	_, on := c.Networks[n.Name]
	c.Unlock()
	if on {
		return errdefs.Forbidden(fmt.Errorf("endpoint with name %s already exists in network %s", strings.TrimPrefix(c.Name, "/"), n.Name))
	}
	if c.Snapshot().IsRunning() {
		er := gnet.EndpointRequest{Network: n.ID, Aliases: es.Aliases}
		if es.IPAMConfig != nil {
			er.Addr = es.IPAMConfig.IPv4Address
		}
		if err := d.net.Connect(c.ID, strings.TrimPrefix(c.Name, "/"), er); err != nil {
			return err
		}
	}
	e := *es
	e.NetworkID = n.ID
	c.Lock()
	if c.Networks == nil {
		c.Networks = map[string]*network.EndpointSettings{}
	}
	c.Networks[n.Name] = &e
	c.Unlock()
	if err := d.containers.Save(c); err != nil {
		return err
	}
	d.events.publish(events.NetworkEventType, events.ActionConnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// NetworkDisconnect is POST /networks/{id}/disconnect.
func (d *Daemon) NetworkDisconnect(ctx context.Context, ref string, req network.DisconnectRequest) error {
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	c, err := d.get(req.Container)
	if err != nil {
		return err
	}
	c.Lock()
	_, on := c.Networks[n.Name]
	c.Unlock()
	if !on && !req.Force {
		return errdefs.Forbidden(fmt.Errorf("container %s is not connected to network %s", strings.TrimPrefix(c.Name, "/"), n.Name))
	}
	if !n.IsBridge() {
		return errdefs.Forbidden(fmt.Errorf("container cannot be disconnected from network %s (driver %s)", n.Name, n.Driver))
	}
	if _, _, ok := d.net.Endpoint(c.ID, n.ID); ok {
		if err := d.net.Disconnect(c.ID, n.ID); err != nil {
			return err
		}
	}
	c.Lock()
	delete(c.Networks, n.Name)
	c.Unlock()
	if err := d.containers.Save(c); err != nil {
		return err
	}
	d.events.publish(events.NetworkEventType, events.ActionDisconnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// NetworksPrune is POST /networks/prune: user networks no container names.
func (d *Daemon) NetworksPrune(ctx context.Context, filters map[string][]string) (*network.PruneReport, error) {
	for k := range filters {
		if k != "label" && k != "label!" && k != "until" {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter '%s'", k))
		}
	}
	used := map[string]bool{}
	for _, c := range d.containers.List() {
		c.Lock()
		for _, es := range c.Networks {
			used[es.NetworkID] = true
		}
		c.Unlock()
	}
	rep := &network.PruneReport{NetworksDeleted: []string{}}
	for _, n := range d.net.List() {
		if n.Predefined || used[n.ID] || len(n.Endpoints) > 0 || !allLabels(n.Labels, filters["label"]) {
			continue
		}
		if len(filters["label!"]) > 0 && allLabels(n.Labels, filters["label!"]) {
			continue
		}
		if err := d.net.Remove(n.ID); err != nil {
			continue
		}
		d.events.publish(events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	return rep, nil
}
