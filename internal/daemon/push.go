package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/registry"
)

// ImagePush is `docker push` (POST /images/{name}/push?tag=): the tag
// given, or every tag of the repository when none is. Progress and
// errors go to w as Docker's JSON stream, ending with
// "TAG: digest: sha256:… size: N" and an aux message with the digest.
func (d *Daemon) ImagePush(ctx context.Context, name, tag string, auth *registry.AuthConfig, w io.Writer) error {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return errdefs.InvalidParameter(&image.ReferenceError{Input: name, Err: err})
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.InvalidParameter(fmt.Errorf("cannot push a digest reference (%s): push a tag", name))
	}
	if tag != "" {
		if named, err = reference.WithTag(reference.TrimNamed(named), tag); err != nil {
			return errdefs.InvalidParameter(&image.ReferenceError{Input: name + ":" + tag, Err: err})
		}
	}
	refs := d.tagsToPush(named)
	if len(refs) == 0 {
		return errdefs.NotFound(fmt.Errorf("An image does not exist locally with the tag: %s", reference.FamiliarString(named)))
	}
	c, err := d.registryClient()
	if err != nil {
		return err
	}
	out := &progressOut{w: w}
	out.status("", "The push refers to repository ["+named.Name()+"]")
	for _, ref := range refs {
		if err := d.pushOne(ctx, c, ref, auth, out); err != nil {
			out.error(err)
			return nil
		}
	}
	return nil
}

// tagsToPush is named if it has a tag, else every tag of its repository.
func (d *Daemon) tagsToPush(named reference.Named) []reference.NamedTagged {
	if t, ok := named.(reference.NamedTagged); ok {
		if _, err := d.images.Get(context.Background(), t.String()); err != nil {
			return nil
		}
		return []reference.NamedTagged{t}
	}
	var out []reference.NamedTagged
	for _, img := range d.images.Images() {
		for _, r := range d.images.References(img.ID) {
			if t, ok := r.(reference.NamedTagged); ok && r.Name() == named.Name() {
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, func(a, b reference.NamedTagged) int { return strings.Compare(a.Tag(), b.Tag()) })
	return out
}

func (d *Daemon) pushOne(ctx context.Context, c *registry.Client, ref reference.NamedTagged, auth *registry.AuthConfig, out *progressOut) error {
	img, err := d.images.Get(ctx, ref.String())
	if err != nil {
		return imageErr(reference.FamiliarString(ref), err)
	}
	// The index that was pulled, if all of it is here; else this
	// platform's manifest.
	desc := img.Manifest
	if image.IsIndex(img.Target.MediaType) && c.Complete(ctx, img.Target) {
		desc = img.Target
	}
	res, err := c.Push(ctx, ref, desc, auth, func(p registry.Progress) { out.layer(p.ID, p.Action, p.Current, p.Total) })
	if err != nil {
		if errors.Is(err, registry.ErrUnauthorized) || errors.Is(err, registry.ErrDenied) {
			return fmt.Errorf("push access denied for %s (docker login %s): %w", reference.FamiliarName(ref), reference.Domain(ref), err)
		}
		return err
	}
	out.status("", fmt.Sprintf("%s: digest: %s size: %d", ref.Tag(), res.Digest, res.Size))
	out.aux(struct {
		Tag    string
		Digest string
		Size   int64
	}{ref.Tag(), res.Digest.String(), res.Size})
	if canonical, err := reference.WithDigest(reference.TrimNamed(ref), res.Digest); err == nil {
		_ = d.images.Tag(ctx, canonical, img.ID) // RepoDigests; the push itself succeeded
	}
	d.events.publish(events.ImageEventType, events.ActionPush, reference.FamiliarString(ref), map[string]string{"name": reference.FamiliarString(ref)})
	return nil
}
