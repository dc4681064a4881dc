package registry

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Docker Hub: references say docker.io, the API lives at registry-1.
const (
	DockerHubDomain   = "docker.io"
	dockerHubEndpoint = "registry-1.docker.io"
	// dockerHubAuthKey is the key the docker CLI stores Docker Hub's
	// credentials under, and the server address `docker login` sends.
	dockerHubAuthKey = "https://index.docker.io/v1/"
)

// endpoint is one registry to talk to for a repository's domain.
type endpoint struct {
	host string // host[:port] of the registry API
	// insecure allows plain HTTP (after HTTPS fails) and, for mirrors
	// given as http:// URLs, means plain HTTP only.
	insecure bool
	mirror   bool
}

// Hosts is how names map to registries: daemon.json's registry-mirrors
// and insecure-registries.
type Hosts struct {
	// Mirrors are tried in order before Docker Hub when pulling a
	// docker.io image ("https://mirror.example:5000", or http:// for a
	// plain-HTTP one). Pushes never go to mirrors.
	Mirrors []string
	// Insecure are registries that may be reached over plain HTTP:
	// host[:port] or CIDR ("10.0.0.0/8"). Loopback (127.0.0.0/8, ::1,
	// localhost) always may, as in Docker.
	Insecure []string
}

// Validate checks the lists as the daemon reads daemon.json.
func (h Hosts) Validate() error {
	for _, m := range h.Mirrors {
		if _, err := mirrorEndpoint(m); err != nil {
			return err
		}
	}
	for _, s := range h.Insecure {
		if strings.Contains(s, "://") {
			return fmt.Errorf("insecure-registries: %q: give host[:port] or a CIDR, without a scheme", s)
		}
		if strings.Contains(s, "/") {
			if _, _, err := net.ParseCIDR(s); err != nil {
				return fmt.Errorf("insecure-registries: %q is not a valid CIDR: %w", s, err)
			}
		}
	}
	return nil
}

func mirrorEndpoint(m string) (endpoint, error) {
	u, err := url.Parse(m)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return endpoint{}, fmt.Errorf("registry-mirrors: %q is not an http:// or https:// URL", m)
	}
	if strings.Trim(u.Path, "/") != "" {
		return endpoint{}, fmt.Errorf("registry-mirrors: %q: a mirror URL has no path", m)
	}
	return endpoint{host: u.Host, insecure: u.Scheme == "http", mirror: true}, nil
}

// endpoints are the registries to try for a repository's domain: for a
// pull of a Docker Hub image the mirrors first, then the registry itself.
func (h Hosts) endpoints(domain string, push bool) []endpoint {
	var out []endpoint
	host := domain
	if domain == DockerHubDomain {
		host = dockerHubEndpoint
		if !push {
			for _, m := range h.Mirrors {
				if ep, err := mirrorEndpoint(m); err == nil {
					out = append(out, ep)
				}
			}
		}
	}
	return append(out, endpoint{host: host, insecure: h.IsInsecure(host)})
}

// IsInsecure reports whether host[:port] may be reached over plain HTTP:
// listed by name (with or without the port), inside a listed CIDR, or
// loopback. Names are not resolved: list a registry by name, or its
// address by IP.
func (h Hosts) IsInsecure(host string) bool {
	name := host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		name = hn
	}
	name = strings.Trim(name, "[]")
	if name == "localhost" {
		return true
	}
	ip := net.ParseIP(name)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, s := range h.Insecure {
		if s == host || s == name {
			return true
		}
		if _, n, err := net.ParseCIDR(s); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// AuthKey is the key under which the docker CLI stores credentials for a
// registry domain (Docker Hub's is its v1 index URL).
func AuthKey(domain string) string {
	if domain == DockerHubDomain || domain == dockerHubEndpoint || domain == "index.docker.io" {
		return dockerHubAuthKey
	}
	return domain
}

// loginDomain turns what `docker login` sends as serveraddress into a
// registry domain: Docker Hub's URL, a host, or a URL of a host.
func loginDomain(server string) string {
	s := strings.TrimSpace(server)
	if s == "" || s == dockerHubAuthKey || strings.Contains(s, "index.docker.io") || s == DockerHubDomain {
		return DockerHubDomain
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Host
	}
	return strings.TrimSuffix(s, "/")
}
