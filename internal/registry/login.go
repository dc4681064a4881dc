package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/image"
)

// Login checks auth against the registry it names (ServerAddress; Docker
// Hub if empty), as `docker login` asks the daemon to: the credentials
// must get a token from the registry's token server (bearer) or be
// accepted by the registry itself (basic). It returns an identity token
// when the token server issued a refresh token for an identity token
// given (none otherwise: the CLI then stores the password).
func (c *Client) Login(ctx context.Context, auth *AuthConfig) (identityToken string, err error) {
	domain := loginDomain(auth.ServerAddress)
	ep := c.Hosts.endpoints(domain, true)[0]
	// No repository scope: the token server checks who we are, not what
	// we may do.
	r, err := c.open(ctx, ep, domain, "", auth, "")
	if err != nil {
		return "", fmt.Errorf("login to %s: %w", domain, err)
	}
	resp, err := r.do(ctx, http.MethodGet, "https://"+ep.host+"/v2/", nil, nil, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("login to %s: %w", domain, err)
	}
	resp.Body.Close()
	return auth.IdentityToken, nil
}

// Inspect answers GET /distribution/{name}/json: the descriptor of what
// ref names in the registry and, for an index, the platforms it has.
// Nothing is stored.
func (c *Client) Inspect(ctx context.Context, ref reference.Named, auth *AuthConfig) (ocispec.Descriptor, []ocispec.Platform, error) {
	domain, path := splitName(ref)
	ep := c.Hosts.endpoints(domain, false)
	r, err := c.open(ctx, ep[len(ep)-1], domain, path, auth, "pull")
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	tagOrDigest, want := RefTarget(ref)
	desc, data, err := r.getManifest(ctx, c, tagOrDigest, want)
	if err != nil {
		return desc, nil, err
	}
	var platforms []ocispec.Platform
	if image.IsManifest(desc.MediaType) {
		// Docker reports a single image's platform from its config.
		m, err := image.ParseManifest(desc.MediaType, data)
		if err != nil {
			return desc, nil, fmt.Errorf("%s: manifest %s: %w", r, desc.Digest, err)
		}
		cfg, err := r.getSmallBlob(ctx, m.Config, image.MaxConfigSize)
		if err != nil {
			return desc, nil, err
		}
		var img ocispec.Image
		if json.Unmarshal(cfg, &img) == nil && img.OS != "" {
			platforms = append(platforms, img.Platform)
		}
	} else if image.IsIndex(desc.MediaType) {
		idx, err := image.ParseIndex(desc.MediaType, data)
		if err != nil {
			return desc, nil, fmt.Errorf("%s: index %s: %w", r, desc.Digest, err)
		}
		for _, m := range idx.Manifests {
			if m.Platform != nil && !image.IsAttestation(m) {
				platforms = append(platforms, *m.Platform)
			}
		}
	}
	return desc, platforms, nil
}

// getSmallBlob reads a config-sized blob, verified, into memory.
func (r *repo) getSmallBlob(ctx context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("%s: blob %s is %d bytes, more than the %d allowed", r, desc.Digest, desc.Size, limit)
	}
	resp, err := r.do(ctx, http.MethodGet, r.url("blobs/"+desc.Digest.String()), nil, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, desc.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != desc.Size || desc.Digest.Algorithm().FromBytes(data) != desc.Digest {
		return nil, fmt.Errorf("%s: blob %s: verification failed (the registry sent other bytes)", r, desc.Digest)
	}
	return data, nil
}
