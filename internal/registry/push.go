package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
)

// PushResult is what a push made the registry hold.
type PushResult struct {
	Digest digest.Digest // of the manifest (or index) pushed
	Size   int64
}

// maxMountSources bounds the repositories a push asks pull access to for
// mounts: every scope is a word in the token request.
const maxMountSources = 8

// Push uploads the manifest or index desc, with every blob it needs, from
// the content store to ref (name:tag; a bare name pushes by digest only).
// Layers go Uploads at a time; one the registry has already is skipped
// (HEAD), one known to be in another repository of the same registry is
// mounted from there, others are uploaded, and each becomes known as
// being in ref's repository for later mounts. progress gets each layer's
// steps, possibly from several goroutines at once (serialised here).
func (c *Client) Push(ctx context.Context, ref reference.Named, desc ocispec.Descriptor, auth *AuthConfig, progress func(Progress)) (*PushResult, error) {
	domain, path := splitName(ref)
	ep := c.Hosts.endpoints(domain, true)[0]
	pl := &pushPlan{c: c}
	if err := pl.collect(ctx, desc, 0); err != nil {
		return nil, err
	}
	var from []string
	for _, l := range pl.layers {
		for _, s := range c.Metadata.Sources(l.Digest) {
			if s.Registry == ep.host && s.Repository != path && !slices.Contains(from, s.Repository) && len(from) < maxMountSources {
				from = append(from, s.Repository)
			}
		}
	}
	r, err := c.open(ctx, ep, domain, path, auth, "pull,push", from...)
	if err != nil {
		return nil, err
	}
	rep := serialised(progress)
	for _, l := range pl.layers {
		rep.send(ShortID(l.Digest), ActionPreparing)
	}
	n := orDefault(c.Uploads, defaultUploads)
	for i, l := range pl.layers {
		if i >= n {
			rep.send(ShortID(l.Digest), ActionWaiting)
		}
	}
	err = parallel(ctx, n, pl.layers, func(ctx context.Context, l ocispec.Descriptor) error {
		return c.pushBlob(ctx, r, l, rep)
	})
	if err != nil {
		return nil, err
	}
	if err := parallel(ctx, n, pl.configs, func(ctx context.Context, d ocispec.Descriptor) error {
		return c.pushBlob(ctx, r, d, nil)
	}); err != nil {
		return nil, err
	}
	// Manifests bottom up: an index may name only manifests the registry
	// has.
	for i, m := range pl.manifests {
		tagOrDigest := m.desc.Digest.String()
		if t, ok := ref.(reference.Tagged); ok && i == len(pl.manifests)-1 {
			tagOrDigest = t.Tag()
		}
		if err := c.putManifest(ctx, r, m.desc, m.data, tagOrDigest); err != nil {
			return nil, err
		}
	}
	return &PushResult{Digest: desc.Digest, Size: desc.Size}, nil
}

func serialised(progress func(Progress)) reporter {
	if progress == nil {
		return nil
	}
	ch := make(chan struct{}, 1)
	return func(p Progress) {
		ch <- struct{}{}
		defer func() { <-ch }()
		progress(p)
	}
}

// pushPlan is everything one push uploads, in the order it must.
type pushPlan struct {
	c         *Client
	layers    []ocispec.Descriptor
	configs   []ocispec.Descriptor
	manifests []pushManifest // children before their index
	seen      map[digest.Digest]bool
}

type pushManifest struct {
	desc ocispec.Descriptor
	data []byte
}

func (pl *pushPlan) collect(ctx context.Context, desc ocispec.Descriptor, depth int) error {
	if pl.seen == nil {
		pl.seen = map[digest.Digest]bool{}
	}
	data, err := content.ReadBlob(ctx, pl.c.Content, desc.Digest, image.MaxManifestSize)
	if err != nil {
		return fmt.Errorf("push: manifest %s: %w", desc.Digest, err)
	}
	switch {
	case image.IsIndex(desc.MediaType):
		if depth == 4 {
			return fmt.Errorf("push: index %s: %w: nested too deep", desc.Digest, image.ErrInvalidManifest)
		}
		idx, err := image.ParseIndex(desc.MediaType, data)
		if err != nil {
			return fmt.Errorf("push: index %s: %w", desc.Digest, err)
		}
		for _, m := range idx.Manifests {
			if err := pl.collect(ctx, m, depth+1); err != nil {
				return err
			}
		}
	case image.IsManifest(desc.MediaType):
		m, err := image.ParseManifest(desc.MediaType, data)
		if err != nil {
			return fmt.Errorf("push: manifest %s: %w", desc.Digest, err)
		}
		for _, l := range m.Layers {
			if !pl.seen[l.Digest] {
				pl.seen[l.Digest] = true
				pl.layers = append(pl.layers, l)
			}
		}
		if !pl.seen[m.Config.Digest] {
			pl.seen[m.Config.Digest] = true
			pl.configs = append(pl.configs, m.Config)
		}
	default:
		return fmt.Errorf("push: %s has media type %q, not a manifest or index", desc.Digest, desc.MediaType)
	}
	pl.manifests = append(pl.manifests, pushManifest{desc: desc, data: data})
	return nil
}

// pushBlob makes the registry hold blob desc in r's repository: already
// there, mounted, or uploaded.
func (c *Client) pushBlob(ctx context.Context, r *repo, desc ocispec.Descriptor, rep reporter) error {
	id := ShortID(desc.Digest)
	err := c.retry(ctx, func() error {
		if ok, err := r.hasBlob(ctx, desc.Digest); err != nil {
			return err
		} else if ok {
			rep.send(id, ActionLayerExists)
			return nil
		}
		var location string
		for _, s := range c.Metadata.Sources(desc.Digest) {
			if s.Registry != r.ep.host || s.Repository == r.path {
				continue
			}
			mounted, loc, err := r.startUpload(ctx, desc.Digest, s.Repository)
			if err != nil {
				return err
			}
			if mounted {
				rep.send(id, ActionMountedFrom+s.Repository)
				return nil
			}
			location = loc // the registry declined the mount and began an upload
			break
		}
		if location == "" {
			var err error
			if _, location, err = r.startUpload(ctx, "", ""); err != nil {
				return err
			}
		}
		return c.upload(ctx, r, location, desc, rep)
	}, func(delay time.Duration) {
		rep.send(id, ActionRetryingPrefix+" in "+strconv.Itoa(int(delay.Round(time.Second)/time.Second))+" seconds")
	})
	if err != nil {
		return fmt.Errorf("push blob %s to %s: %w", desc.Digest, r, err)
	}
	_ = c.Metadata.Add(desc.Digest, Source{Registry: r.ep.host, Repository: r.path})
	return nil
}

// hasBlob asks the registry (HEAD) whether it has the blob.
func (r *repo) hasBlob(ctx context.Context, d digest.Digest) (bool, error) {
	resp, err := r.do(ctx, http.MethodHead, r.url("blobs/"+d.String()), nil, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// startUpload POSTs blobs/uploads/: with mount and from, a cross-
// repository mount that the registry may grant (201) or turn into an
// upload (202); without, a new upload. It returns the upload's location.
func (r *repo) startUpload(ctx context.Context, mount digest.Digest, from string) (mounted bool, location string, err error) {
	u := r.url("blobs/uploads/")
	if mount != "" {
		u += "?" + url.Values{"mount": {mount.String()}, "from": {from}}.Encode()
	}
	resp, err := r.do(ctx, http.MethodPost, u, nil, nil, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return true, "", nil
	}
	loc, err := resp.Location()
	if err != nil {
		return false, "", fmt.Errorf("%s: the registry began an upload without saying where (Location): %w", r, err)
	}
	return false, loc.String(), nil
}

// upload sends the whole blob in one PUT to the upload's location (the
// spec's monolithic upload), streamed from the content store.
func (c *Client) upload(ctx context.Context, r *repo, location string, desc ocispec.Descriptor, rep reporter) error {
	u, err := url.Parse(location)
	if err != nil {
		return fmt.Errorf("%s: upload location %q: %w", r, location, err)
	}
	q := u.Query()
	q.Set("digest", desc.Digest.String())
	u.RawQuery = q.Encode()
	rc, size, err := content.Open(ctx, c.Content, desc.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	if size != desc.Size {
		return fmt.Errorf("blob %s is %d bytes in the content store but the manifest says %d", desc.Digest, size, desc.Size)
	}
	var body io.Reader = rc
	if rep != nil {
		body = io.TeeReader(rc, &countWriter{r: rep, id: ShortID(desc.Digest), action: ActionPushing, total: size})
	}
	resp, err := r.do(ctx, http.MethodPut, u.String(), body, func(req *http.Request) {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	rep.send(ShortID(desc.Digest), ActionPushed)
	return nil
}

// putManifest PUTs a manifest or index under a tag or its digest.
func (c *Client) putManifest(ctx context.Context, r *repo, desc ocispec.Descriptor, data []byte, tagOrDigest string) error {
	return c.retry(ctx, func() error {
		resp, err := r.do(ctx, http.MethodPut, r.url("manifests/"+tagOrDigest), bytes.NewReader(data), func(req *http.Request) {
			req.Header.Set("Content-Type", desc.MediaType)
		}, http.StatusCreated, http.StatusOK)
		if err != nil {
			return fmt.Errorf("push manifest %s to %s: %w", desc.Digest, r, err)
		}
		resp.Body.Close()
		return nil
	}, nil)
}

// Complete reports whether the content store holds every blob desc (a
// manifest or index) needs, i.e. whether all of it can be pushed. A pull
// keeps one platform of an index; pushing the index then is impossible.
func (c *Client) Complete(ctx context.Context, desc ocispec.Descriptor) bool {
	pl := &pushPlan{c: c}
	if pl.collect(ctx, desc, 0) != nil {
		return false
	}
	for _, b := range append(pl.layers, pl.configs...) {
		if info, err := c.Content.Info(ctx, b.Digest); err != nil || info.Size != b.Size {
			return false
		}
	}
	return true
}
