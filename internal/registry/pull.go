package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
)

// Lease protects blobs from garbage collection while a pull writes them
// and until the image that references them is recorded (image.Lease).
type Lease interface {
	Add(dgsts ...digest.Digest)
}

// PullOptions are the settings of a pull.
type PullOptions struct {
	// Platform is the image to take from an index (default: the
	// daemon's, linux/amd64 here).
	Platform ocispec.Platform
	Auth     *AuthConfig
	// Lease, if set, gets every blob before it is written.
	Lease Lease
}

// Pulled is an image whose manifests and config are in the content store
// and whose layers Fetch brings.
type Pulled struct {
	// Target is what the reference names: a manifest, or an index.
	Target ocispec.Descriptor
	// Manifest is the image manifest for the platform; Target itself
	// unless Target is an index.
	Manifest ocispec.Descriptor
	Config   ocispec.Descriptor
	Layers   []ocispec.Descriptor
	// From is where it was pulled from (a mirror's host for a mirror).
	From Source

	c     *Client
	r     *repo
	lease Lease
}

// acceptManifests is every manifest kind we can use, best first.
var acceptManifests = []string{
	ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest,
	image.MediaTypeDockerManifestList, image.MediaTypeDockerManifest,
}

// Resolve finds the image ref names (name:tag or name@digest) and brings
// its manifests and config into the content store, verified: everything
// but the layers, so that errors a user must act on (no such image, no
// access, no such platform) come before any progress is shown. For a
// Docker Hub image the mirrors are tried first, then Docker Hub.
func (c *Client) Resolve(ctx context.Context, ref reference.Named, opts PullOptions) (*Pulled, error) {
	if opts.Platform.OS == "" {
		opts.Platform = image.DefaultPlatform()
	}
	if opts.Lease == nil {
		opts.Lease = noLease{}
	}
	domain, path := splitName(ref)
	eps := c.Hosts.endpoints(domain, false)
	for _, ep := range eps[:len(eps)-1] { // the mirrors: any failure falls through
		if p, err := c.resolveAt(ctx, ep, domain, path, ref, opts); err == nil || ctx.Err() != nil {
			return p, err
		}
	}
	return c.resolveAt(ctx, eps[len(eps)-1], domain, path, ref, opts)
}

type noLease struct{}

func (noLease) Add(...digest.Digest) {}

func (c *Client) resolveAt(ctx context.Context, ep endpoint, domain, path string, ref reference.Named, opts PullOptions) (*Pulled, error) {
	r, err := c.open(ctx, ep, domain, path, opts.Auth, "pull")
	if err != nil {
		return nil, err
	}
	p := &Pulled{c: c, r: r, lease: opts.Lease, From: Source{Registry: ep.host, Repository: path}}
	tagOrDigest, want := RefTarget(ref)
	desc, data, err := r.fetchManifest(ctx, c, tagOrDigest, want, opts.Lease)
	if err != nil {
		return nil, err
	}
	p.Target = desc
	for depth := 0; ; depth++ {
		if image.IsManifest(desc.MediaType) {
			break
		}
		if !image.IsIndex(desc.MediaType) || depth == 4 {
			return nil, fmt.Errorf("%s: %s has media type %q: %w (not an image gorae can run)", r, desc.Digest, desc.MediaType, image.ErrNotRunnable)
		}
		idx, err := image.ParseIndex(desc.MediaType, data)
		if err != nil {
			return nil, fmt.Errorf("%s: index %s: %w", r, desc.Digest, err)
		}
		child, err := image.SelectManifest(idx, opts.Platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", FamiliarName(ref), err)
		}
		if desc, data, err = r.fetchManifest(ctx, c, child.Digest.String(), child.Digest, opts.Lease); err != nil {
			return nil, err
		}
		if desc.Size != child.Size {
			return nil, fmt.Errorf("%s: manifest %s is %d bytes but its index says %d: %w", r, child.Digest, desc.Size, child.Size, image.ErrInvalidManifest)
		}
	}
	p.Manifest = desc
	m, err := runnableManifest(desc, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	p.Config, p.Layers = m.Config, m.Layers
	if _, err := p.fetchBlob(ctx, m.Config, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// fetchManifest is getManifest, then stores what it got.
func (r *repo) fetchManifest(ctx context.Context, c *Client, tagOrDigest string, want digest.Digest, lease Lease) (ocispec.Descriptor, []byte, error) {
	desc, data, err := r.getManifest(ctx, c, tagOrDigest, want)
	if err != nil {
		return desc, nil, err
	}
	lease.Add(desc.Digest)
	if _, _, err := content.WriteBlob(ctx, c.Content, bytes.NewReader(data), desc.Size, desc.Digest); err != nil {
		return desc, nil, fmt.Errorf("store manifest %s: %w", desc.Digest, err)
	}
	return desc, data, nil
}

// getManifest GETs a manifest or index by tag or digest. want, if set, is
// the digest it must have; by tag, its digest is that of the bytes
// received (what Docker records as RepoDigest).
func (r *repo) getManifest(ctx context.Context, c *Client, tagOrDigest string, want digest.Digest) (ocispec.Descriptor, []byte, error) {
	var desc ocispec.Descriptor
	var data []byte
	var contentType string
	err := c.retry(ctx, func() error {
		resp, err := r.do(ctx, http.MethodGet, r.url("manifests/"+tagOrDigest), nil, func(req *http.Request) {
			for _, a := range acceptManifests {
				req.Header.Add("Accept", a)
			}
		}, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.ContentLength > image.MaxManifestSize {
			return fmt.Errorf("%s: manifest %s is %d bytes, more than the %d allowed", r, tagOrDigest, resp.ContentLength, image.MaxManifestSize)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, image.MaxManifestSize+1))
		if err != nil {
			return err
		}
		if len(data) > image.MaxManifestSize {
			return fmt.Errorf("%s: manifest %s is more than the %d bytes allowed", r, tagOrDigest, image.MaxManifestSize)
		}
		contentType = resp.Header.Get("Content-Type")
		return nil
	}, nil)
	if err != nil {
		return desc, nil, err
	}
	if desc, err = describeManifest(contentType, data, want); err != nil {
		return desc, nil, fmt.Errorf("%s: %s: %w", r, tagOrDigest, err)
	}
	return desc, data, nil
}

// describeManifest is the descriptor of a manifest a registry sent: its
// digest (which must be want, if given), size, and media type (the
// Content-Type, or what the document says it is when that is not a
// manifest type: registries that predate OCI may serve application/json).
func describeManifest(contentType string, data []byte, want digest.Digest) (ocispec.Descriptor, error) {
	var desc ocispec.Descriptor
	desc.MediaType, _, _ = mime.ParseMediaType(contentType)
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	desc.Digest, desc.Size = alg.FromBytes(data), int64(len(data))
	if want != "" && desc.Digest != want {
		return desc, fmt.Errorf("manifest verification failed for digest %s: the registry sent %s (nothing was stored)", want, desc.Digest)
	}
	if !image.IsManifest(desc.MediaType) && !image.IsIndex(desc.MediaType) {
		mt, err := image.DetectMediaType(data)
		if err != nil {
			return desc, err
		}
		desc.MediaType = mt
	}
	return desc, nil
}

// runnableManifest parses an image manifest and refuses one gorae could
// not run (an artifact), before any layer moves.
func runnableManifest(desc ocispec.Descriptor, data []byte) (*ocispec.Manifest, error) {
	m, err := image.ParseManifest(desc.MediaType, data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if !image.IsConfig(m.Config.MediaType) {
		return nil, fmt.Errorf("manifest %s: %w: its config is %q (an artifact, not an image gorae can run)", desc.Digest, image.ErrNotRunnable, m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if !image.IsLayer(l.MediaType) {
			return nil, fmt.Errorf("manifest %s: %w: layer %d has media type %q, which gorae cannot unpack", desc.Digest, image.ErrNotRunnable, i, l.MediaType)
		}
	}
	if m.Config.Size > image.MaxConfigSize {
		return nil, fmt.Errorf("manifest %s: config %s is %d bytes, more than the %d allowed", desc.Digest, m.Config.Digest, m.Config.Size, image.MaxConfigSize)
	}
	return m, nil
}

// Fetch brings the layers into the content store, Downloads at a time,
// each skipped if already there, retried if the connection fails, and
// verified against its digest before it becomes visible. progress gets
// each layer's steps (serialised here); present, if set, is told each
// layer's digest as soon as the layer is in the content store, so the
// caller can unpack it while later ones download.
func (p *Pulled) Fetch(ctx context.Context, progress func(Progress), present func(digest.Digest)) error {
	if present == nil {
		present = func(digest.Digest) {}
	}
	rep := reporter(progress)
	if rep != nil {
		var mu sync.Mutex
		rep = func(pr Progress) {
			mu.Lock()
			defer mu.Unlock()
			progress(pr)
		}
	}
	var todo []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, l := range p.Layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			todo = append(todo, l)
		}
	}
	// Docker's order: every layer announced, then those that exist say
	// so, then the downloads.
	var missing []ocispec.Descriptor
	for _, l := range todo {
		p.lease.Add(l.Digest)
		if info, err := p.c.Content.Info(ctx, l.Digest); err == nil && info.Size == l.Size {
			rep.send(ShortID(l.Digest), ActionAlreadyExists)
			present(l.Digest)
			continue
		}
		rep.send(ShortID(l.Digest), ActionPullingLayer)
		missing = append(missing, l)
	}
	n := orDefault(p.c.Downloads, defaultDownloads)
	for i, l := range missing {
		if i >= n {
			rep.send(ShortID(l.Digest), ActionWaiting)
		}
	}
	return parallel(ctx, n, missing, func(ctx context.Context, l ocispec.Descriptor) error {
		if _, err := p.fetchBlob(ctx, l, rep); err != nil {
			return err
		}
		present(l.Digest)
		return nil
	})
}

// fetchBlob streams one blob into the content store. It returns false
// if the blob was there already.
func (p *Pulled) fetchBlob(ctx context.Context, desc ocispec.Descriptor, rep reporter) (bool, error) {
	p.lease.Add(desc.Digest)
	id := ShortID(desc.Digest)
	fetched := false
	err := p.c.retry(ctx, func() error {
		w, err := p.c.Content.Writer(ctx, content.WithExpected(desc.Digest, desc.Size))
		if errors.Is(err, content.ErrAlreadyExists) {
			return nil
		}
		if err != nil {
			return err
		}
		defer w.Abort()
		resp, err := p.r.do(ctx, http.MethodGet, p.r.url("blobs/"+desc.Digest.String()), nil, nil, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.ContentLength >= 0 && resp.ContentLength != desc.Size {
			return fmt.Errorf("%s: blob %s is %d bytes but the manifest says %d: %w", p.r, desc.Digest, resp.ContentLength, desc.Size,
				&content.SizeMismatchError{Expected: desc.Size, Actual: resp.ContentLength})
		}
		var src io.Reader = resp.Body
		if rep != nil {
			src = io.TeeReader(resp.Body, &countWriter{r: rep, id: id, action: ActionDownloading, total: desc.Size})
		}
		n, err := io.CopyBuffer(w, src, make([]byte, 256<<10))
		if err != nil {
			return fmt.Errorf("%s: download blob %s: %w", p.r, desc.Digest, err)
		}
		if n < desc.Size {
			return fmt.Errorf("%s: blob %s: %w after %d of %d bytes", p.r, desc.Digest, errTruncated, n, desc.Size)
		}
		rep.send(id, ActionVerifying)
		if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errors.Is(err, content.ErrAlreadyExists) {
			var dm *content.DigestMismatchError
			if errors.As(err, &dm) {
				return fmt.Errorf("filesystem layer verification failed for digest %s: %s sent %s (nothing was stored): %w", desc.Digest, p.r, dm.Actual, err)
			}
			return fmt.Errorf("%s: blob %s: %w", p.r, desc.Digest, err)
		}
		fetched = true
		return nil
	}, func(delay time.Duration) {
		rep.send(id, ActionRetryingPrefix+" in "+strconv.Itoa(int(delay.Round(time.Second)/time.Second))+" seconds")
	})
	if err != nil {
		return false, err
	}
	if rep != nil {
		rep.send(id, ActionDownloaded)
	}
	if !p.r.ep.mirror {
		_ = p.c.Metadata.Add(desc.Digest, p.From)
	}
	return fetched, nil
}

// FamiliarName is the short name Docker shows (busybox, me/app).
func FamiliarName(ref reference.Named) string { return reference.FamiliarName(ref) }
