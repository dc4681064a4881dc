package daemon

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/registry"
)

// pullRef is the reference POST /images/create?fromImage=&tag= names:
// the tag may be a tag or a digest; none means latest (pulling every tag,
// Docker's -a, is not supported).
func pullRef(fromImage, tag string) (reference.Named, error) {
	s := fromImage
	switch {
	case strings.Contains(tag, ":"):
		s += "@" + tag
	case tag != "":
		s += ":" + tag
	}
	ref, err := image.ParseReference(s)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	return ref, nil
}

// ImagePull is `docker pull` (POST /images/create?fromImage=): the image
// is resolved in the registry first, so a missing image or a refused
// login is an HTTP error; then Docker's progress stream goes to w while
// the layers download and unpack.
func (d *Daemon) ImagePull(ctx context.Context, fromImage, tag string, platform *ocispec.Platform, auth *registry.AuthConfig, w io.Writer) error {
	ref, err := pullRef(fromImage, tag)
	if err != nil {
		return err
	}
	c, err := d.registryClient()
	if err != nil {
		return err
	}
	p := image.DefaultPlatform()
	if platform != nil {
		p = image.NormalizePlatform(*platform)
	}
	lease := d.images.Lease()
	defer lease.Release()
	pulled, err := c.Resolve(ctx, ref, registry.PullOptions{Platform: p, Auth: auth, Lease: lease})
	if err != nil {
		return registryErr(ref, err)
	}
	out := &progressOut{w: w}
	tagOrDigest, _ := registry.RefTarget(ref)
	out.status(tagOrDigest, "Pulling from "+reference.Path(ref))
	if err := d.finishPull(ctx, ref, pulled, p, out); err != nil {
		out.error(registryErr(ref, err))
	}
	return nil
}

// finishPull downloads the layers, records and names the image and
// unpacks it, reporting each step on out.
func (d *Daemon) finishPull(ctx context.Context, ref reference.Named, pulled *registry.Pulled, p ocispec.Platform, out *progressOut) error {
	// Up to date: the name already points at what the registry has.
	var prev digest.Digest
	if old, err := d.images.Get(ctx, ref.String()); err == nil && old.Target.Digest == pulled.Target.Digest {
		prev = old.ID
	}
	fetchProgress := func(pr registry.Progress) { out.layer(pr.ID, pr.Action, pr.Current, pr.Total) }
	if err := pulled.Fetch(ctx, fetchProgress); err != nil {
		return err
	}
	img, err := d.images.Create(ctx, pulled.Target, image.WithPlatform(p))
	if err != nil {
		return err
	}
	if _, digested := ref.(reference.Digested); !digested {
		if err := d.images.Tag(ctx, ref, img.ID); err != nil {
			return err
		}
	}
	canonical, err := reference.WithDigest(reference.TrimNamed(ref), pulled.Target.Digest)
	if err == nil {
		if err := d.images.Tag(ctx, canonical, img.ID); err != nil {
			return err
		}
	}
	if err := d.images.Unpack(ctx, img.ID, d.extractProgress(img, out)); err != nil {
		return err
	}
	out.status("", "Digest: "+pulled.Target.Digest.String())
	if prev == img.ID {
		out.status("", "Status: Image is up to date for "+reference.FamiliarString(ref))
	} else {
		out.status("", "Status: Downloaded newer image for "+reference.FamiliarString(ref))
	}
	d.events.publish(events.ImageEventType, events.ActionPull, reference.FamiliarString(ref), map[string]string{"name": reference.FamiliarString(ref)})
	return nil
}

// extractProgress is the daemon's layer store, reporting Docker's
// "Extracting" bytes and "Pull complete" for each layer it unpacks.
func (d *Daemon) extractProgress(img *image.Image, out *progressOut) image.LayerStore {
	ids := map[digest.Digest]ocispec.Descriptor{}
	for i, c := range img.ChainIDs() {
		ids[c] = img.Layers[i]
	}
	return &reportingLayers{LayerStore: layerStore{d.snapshots}, layers: ids, out: out}
}

type reportingLayers struct {
	image.LayerStore
	layers map[digest.Digest]ocispec.Descriptor // by chain ID
	out    *progressOut
}

func (r *reportingLayers) ApplyLayer(ctx context.Context, chainID, parent digest.Digest, blob io.Reader, verify func(digest.Digest) error) (int64, error) {
	desc := r.layers[chainID]
	id := registry.ShortID(desc.Digest)
	cr := &countingReader{r: blob, step: 1 << 20, report: func(n int64) { r.out.layer(id, "Extracting", n, desc.Size) }}
	size, err := r.LayerStore.ApplyLayer(ctx, chainID, parent, cr, verify)
	if err == nil {
		r.out.layer(id, "Pull complete", 0, 0)
	}
	return size, err
}

// countingReader reports the bytes read through it, every step bytes.
type countingReader struct {
	r      io.Reader
	n      int64
	last   int64
	step   int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n-c.last >= c.step || (errors.Is(err, io.EOF) && c.n != c.last) {
		c.last = c.n
		c.report(c.n)
	}
	return n, err
}
