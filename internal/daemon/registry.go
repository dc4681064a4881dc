package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/distribution/reference"
	mregistry "github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/registry"
)

// distribution is the daemon's registry client, made on first use from
// daemon.json's registry-mirrors and insecure-registries.
type distribution struct {
	once   sync.Once
	client *registry.Client
	err    error
}

func (d *Daemon) registryClient() (*registry.Client, error) {
	d.dist.once.Do(func() {
		hosts := registry.Hosts{Mirrors: d.cfg.RegistryMirrors, Insecure: d.cfg.InsecureRegistries}
		if err := hosts.Validate(); err != nil {
			d.dist.err = errdefs.InvalidParameter(fmt.Errorf("daemon.json: %w", err))
			return
		}
		meta, err := registry.OpenMetadata(filepath.Join(d.cfg.DataRoot, "image", "distribution"))
		if err != nil {
			d.dist.err = err
			return
		}
		d.dist.client = &registry.Client{Content: d.content, Hosts: hosts, Metadata: meta, UserAgent: "gorae/" + EngineVersion}
	})
	return d.dist.client, d.dist.err
}

// registryErr classifies a registry client error in Docker's words, for
// ref (the familiar name the user gave).
func registryErr(ref reference.Named, err error) error {
	name := reference.FamiliarName(ref)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, image.ErrNoMatchingPlatform):
		return errdefs.NotFound(err)
	case errors.Is(err, image.ErrNotRunnable):
		return errdefs.InvalidParameter(err)
	case errors.Is(err, registry.ErrNotFound) && isManifestUnknown(err):
		return errdefs.NotFound(fmt.Errorf("manifest for %s not found: %w", reference.FamiliarString(ref), err))
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrUnauthorized), errors.Is(err, registry.ErrDenied):
		return errdefs.NotFound(fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w", name, err))
	}
	return err
}

func isManifestUnknown(err error) bool {
	return registry.HasCode(err, "MANIFEST_UNKNOWN")
}

// RegistryLogin is POST /auth (`docker login`): the credentials are
// checked against the registry; nothing is stored by the daemon.
func (d *Daemon) RegistryLogin(ctx context.Context, auth *registry.AuthConfig) (*mregistry.AuthResponse, error) {
	c, err := d.registryClient()
	if err != nil {
		return nil, err
	}
	tok, err := c.Login(ctx, auth)
	if err != nil {
		if errors.Is(err, registry.ErrUnauthorized) || errors.Is(err, registry.ErrDenied) {
			return nil, errdefs.Unauthorized(err)
		}
		return nil, err
	}
	return &mregistry.AuthResponse{Status: "Login Succeeded", IdentityToken: tok}, nil
}

// DistributionInspect is GET /distribution/{name}/json: what the
// registry holds under the name, without pulling it.
func (d *Daemon) DistributionInspect(ctx context.Context, name string, auth *registry.AuthConfig) (*mregistry.DistributionInspect, error) {
	ref, err := image.ParseReference(name)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	c, err := d.registryClient()
	if err != nil {
		return nil, err
	}
	desc, platforms, err := c.Inspect(ctx, ref, auth)
	if err != nil {
		if errors.Is(err, registry.ErrUnauthorized) || errors.Is(err, registry.ErrDenied) {
			return nil, errdefs.Unauthorized(err)
		}
		return nil, registryErr(ref, err)
	}
	if platforms == nil {
		platforms = []ocispec.Platform{}
	}
	return &mregistry.DistributionInspect{Descriptor: desc, Platforms: platforms}, nil
}

// registryServiceConfig is `docker info`'s "Insecure Registries" and
// "Registry Mirrors".
func (d *Daemon) registryServiceConfig() *mregistry.ServiceConfig {
	mirrors := append([]string{}, d.cfg.RegistryMirrors...)
	sc := &mregistry.ServiceConfig{
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		IndexConfigs: map[string]*mregistry.IndexInfo{
			registry.DockerHubDomain: {Name: registry.DockerHubDomain, Mirrors: mirrors, Secure: true, Official: true},
		},
		Mirrors: mirrors,
	}
	for _, s := range d.cfg.InsecureRegistries {
		if p, err := netip.ParsePrefix(s); err == nil {
			sc.InsecureRegistryCIDRs = append(sc.InsecureRegistryCIDRs, p)
		} else {
			sc.IndexConfigs[s] = &mregistry.IndexInfo{Name: s, Mirrors: []string{}}
		}
	}
	return sc
}
