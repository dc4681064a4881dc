package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
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
// the layers download and unpack. A bare name without a tag is Docker's
// `pull -a`: every tag of the repository.
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
	refs := []reference.Named{ref}
	if named, err := reference.ParseNormalizedNamed(fromImage); err == nil && tag == "" && reference.IsNameOnly(named) {
		tags, err := c.Tags(ctx, named, auth)
		if err != nil {
			return registryErr(named, err)
		}
		if len(tags) == 0 {
			return errdefs.NotFound(fmt.Errorf("%s has no tags to pull", reference.FamiliarName(named)))
		}
		refs = refs[:0]
		for _, t := range tags {
			if r, err := reference.WithTag(named, t); err == nil {
				refs = append(refs, r)
			}
		}
		ref = named
	}
	out := &progressOut{w: w}
	newer := false
	for i, r := range refs {
		updated, err := d.pullOne(ctx, c, r, p, auth, out, i == 0)
		if err != nil {
			if i == 0 && !out.started() {
				return registryErr(r, err)
			}
			out.error(registryErr(r, err))
			return nil
		}
		newer = newer || updated
	}
	if newer {
		out.status("", "Status: Downloaded newer image for "+reference.FamiliarString(ref))
	} else {
		out.status("", "Status: Image is up to date for "+reference.FamiliarString(ref))
	}
	return nil
}

// pullOne pulls one name:tag or name@digest, reporting on out, and says
// whether the name now points at something new. With resolveFirst an
// error before anything is written is returned as is (the request's
// status).
func (d *Daemon) pullOne(ctx context.Context, c *registry.Client, ref reference.Named, p ocispec.Platform, auth *registry.AuthConfig, out *progressOut, resolveFirst bool) (bool, error) {
	lease := d.images.Lease()
	defer lease.Release()
	pulled, err := c.Resolve(ctx, ref, registry.PullOptions{Platform: p, Auth: auth, Lease: lease})
	if err != nil {
		return false, err
	}
	tagOrDigest, _ := registry.RefTarget(ref)
	out.status(tagOrDigest, "Pulling from "+reference.Path(ref))
	// Up to date: the name already points at what the registry has.
	var prev digest.Digest
	if old, err := d.images.Get(ctx, ref.String()); err == nil && old.Target.Digest == pulled.Target.Digest {
		prev = old.ID
	}
	un, err := d.startUnpacker(ctx, pulled, out)
	if err != nil {
		return false, err
	}
	fetchErr := pulled.Fetch(ctx, func(pr registry.Progress) { out.layer(pr.ID, pr.Action, pr.Current, pr.Total) }, un.present)
	if err := un.wait(fetchErr); err != nil {
		return false, err
	}
	img, err := d.images.Create(ctx, pulled.Target, image.WithPlatform(p))
	if err != nil {
		return false, err
	}
	if _, digested := ref.(reference.Digested); !digested {
		if err := d.images.Tag(ctx, ref, img.ID); err != nil {
			return false, err
		}
	}
	if canonical, err := reference.WithDigest(reference.TrimNamed(ref), pulled.Target.Digest); err == nil {
		if err := d.images.Tag(ctx, canonical, img.ID); err != nil {
			return false, err
		}
	}
	// Every layer is unpacked by now; this records their sizes (and
	// unpacks again any that a concurrent rmi collected meanwhile).
	if err := d.images.Unpack(ctx, img.ID, layerStore{d.snapshots}); err != nil {
		return false, err
	}
	out.status("", "Digest: "+pulled.Target.Digest.String())
	d.events.publish(events.ImageEventType, events.ActionPull, reference.FamiliarString(ref), map[string]string{"name": reference.FamiliarString(ref)})
	return prev != img.ID, nil
}

// unpacker unpacks a pull's layers, bottom first, each as soon as it and
// those below it are in the content store, while the others download:
// Docker's "Extracting" and "Pull complete". The image is not recorded
// yet; its final Unpack checks every layer again.
type unpacker struct {
	ready  map[digest.Digest]chan struct{}
	once   map[digest.Digest]*sync.Once
	cancel context.CancelFunc
	done   chan error
}

func (d *Daemon) startUnpacker(ctx context.Context, pulled *registry.Pulled, out *progressOut) (*unpacker, error) {
	data, err := content.ReadBlob(ctx, d.content, pulled.Config.Digest, image.MaxConfigSize)
	if err != nil {
		return nil, err
	}
	cfg, err := image.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", pulled.Config.Digest, err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(pulled.Layers) {
		return nil, fmt.Errorf("%w: manifest %s has %d layers but its config lists %d diff_ids", image.ErrInvalidManifest, pulled.Manifest.Digest, len(pulled.Layers), len(diffIDs))
	}
	ctx, cancel := context.WithCancel(ctx)
	u := &unpacker{ready: map[digest.Digest]chan struct{}{}, once: map[digest.Digest]*sync.Once{}, cancel: cancel, done: make(chan error, 1)}
	for _, l := range pulled.Layers {
		u.ready[l.Digest] = make(chan struct{})
		u.once[l.Digest] = &sync.Once{}
	}
	ls := layerStore{d.snapshots}
	chain := image.ChainIDs(diffIDs)
	go func() {
		u.done <- func() error {
			for i, l := range pulled.Layers {
				select {
				case <-u.ready[l.Digest]:
				case <-ctx.Done():
					return ctx.Err()
				}
				if _, ok, err := ls.LayerSize(ctx, chain[i]); err != nil || ok {
					continue // unpacked before (or unknowable: the final Unpack will say)
				}
				var parent digest.Digest
				if i > 0 {
					parent = chain[i-1]
				}
				if err := u.apply(ctx, d, ls, l, chain[i], parent, diffIDs[i], out); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	return u, nil
}

func (u *unpacker) apply(ctx context.Context, d *Daemon, ls layerStore, l ocispec.Descriptor, chainID, parent, diffID digest.Digest, out *progressOut) error {
	rc, _, err := content.Open(ctx, d.content, l.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	id := registry.ShortID(l.Digest)
	cr := &countingReader{r: rc, step: 1 << 20, report: func(n int64) { out.layer(id, "Extracting", n, l.Size) }}
	_, err = ls.ApplyLayer(ctx, chainID, parent, cr, func(got digest.Digest) error {
		if got != diffID {
			return fmt.Errorf("layer %s unpacks to diff ID %s, but the image config says %s: %w", l.Digest, got, diffID,
				&content.DigestMismatchError{Expected: diffID, Actual: got})
		}
		return nil
	})
	if err != nil {
		return err
	}
	out.layer(id, "Pull complete", 0, 0)
	return nil
}

// present is Fetch's callback: layer dgst is in the content store.
func (u *unpacker) present(dgst digest.Digest) {
	if o, ok := u.once[dgst]; ok {
		o.Do(func() { close(u.ready[dgst]) })
	}
}

// wait ends the unpacking: at once if the fetch failed, else when every
// layer is unpacked.
func (u *unpacker) wait(fetchErr error) error {
	if fetchErr != nil {
		u.cancel()
		<-u.done
		return fetchErr
	}
	err := <-u.done
	u.cancel()
	return err
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
