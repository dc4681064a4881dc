package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
)

// progressLine writes one Docker JSON progress message.
func progressLine(w io.Writer, status string) {
	b, _ := json.Marshal(map[string]string{"status": status})
	w.Write(append(b, '\r', '\n'))
	if f, ok := w.(interface{ Flush() }); ok {
		f.Flush()
	}
}

func progressError(w io.Writer, err error) {
	b, _ := json.Marshal(map[string]any{"errorDetail": map[string]string{"message": err.Error()}, "error": err.Error()})
	w.Write(append(b, '\r', '\n'))
}

// importRef joins repo and tag as Docker's API allows: the repo may carry
// the tag itself (`docker import f.tar me/img:v1` sends repo=me/img:v1).
func importRef(repo, tag string) string {
	if repo == "" {
		return ""
	}
	if tag != "" {
		return repo + ":" + tag
	}
	return repo
}

// ImageImport is `docker import`.
func (d *Daemon) ImageImport(ctx context.Context, src io.Reader, repo, tag string, changes []string, message string, platform *ocispec.Platform, w io.Writer) error {
	opts := image.ImportOptions{Ref: importRef(repo, tag), Changes: changes, Message: message}
	if platform != nil {
		opts.Platform = *platform
	}
	img, err := image.Import(ctx, d.images, src, opts)
	if err != nil {
		err = classifyFormatErr(err)
		if errdefs.IsInvalidParameter(err) {
			return err
		}
		progressError(w, err)
		return nil
	}
	d.events.publish(events.ImageEventType, events.ActionImport, img.ID.String(), map[string]string{"name": opts.Ref})
	progressLine(w, img.ID.String())
	return nil
}

// ImageSave is `docker save`.
func (d *Daemon) ImageSave(ctx context.Context, refs []string, w io.Writer) error {
	for _, r := range refs {
		if _, err := d.images.Get(ctx, r); err != nil {
			return imageErr(r, err)
		}
	}
	if err := image.Save(ctx, d.images, refs, w); err != nil {
		return err
	}
	for _, r := range refs {
		d.events.publish(events.ImageEventType, events.ActionSave, r, map[string]string{"name": r})
	}
	return nil
}

// ImageLoad is `docker load`.
func (d *Daemon) ImageLoad(ctx context.Context, r io.Reader, quiet bool, w io.Writer) error {
	progress := func(msg string) {
		if !quiet {
			progressLine(w, msg)
		}
	}
	loaded, err := image.Load(ctx, d.images, r, progress)
	if err != nil {
		progressError(w, classifyFormatErr(err))
		return nil
	}
	for _, l := range loaded {
		if len(l.Tags) == 0 {
			progressLine(w, "Loaded image ID: "+l.Image.ID.String())
		}
		for _, t := range l.Tags {
			progressLine(w, "Loaded image: "+t)
		}
		d.events.publish(events.ImageEventType, events.ActionLoad, l.Image.ID.String(), map[string]string{"name": strings.Join(l.Tags, ",")})
	}
	return nil
}

func classifyFormatErr(err error) error {
	if errors.Is(err, image.ErrInvalidReference) {
		return errdefs.InvalidParameter(err)
	}
	return err
}

// imageFilter builds the image list filter from Docker's filters:
// dangling, label, reference, before, since.
func (d *Daemon) imageFilter(ctx context.Context, f map[string][]string) (func(*image.Image) bool, error) {
	var checks []func(*image.Image) bool
	for k, vals := range f {
		switch k {
		case "dangling":
			want := false
			for _, v := range vals {
				switch strings.ToLower(v) {
				case "true", "1":
					want = true
				case "false", "0":
				default:
					return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter 'dangling=%s'", v))
				}
			}
			checks = append(checks, func(img *image.Image) bool { return (len(d.images.References(img.ID)) == 0) == want })
		case "label":
			checks = append(checks, func(img *image.Image) bool {
				return img.Config != nil && allLabels(img.Config.Config.Labels, vals)
			})
		case "reference":
			checks = append(checks, func(img *image.Image) bool {
				for _, ref := range d.images.References(img.ID) {
					fam := image.FamiliarString(ref)
					for _, v := range vals {
						if matchReference(v, fam) {
							return true
						}
					}
				}
				return false
			})
		case "before", "since":
			var pivot time.Time
			for _, v := range vals {
				img, err := d.images.Get(ctx, v)
				if err != nil {
					return nil, imageErr(v, err)
				}
				pivot = img.Created
			}
			before := k == "before"
			checks = append(checks, func(img *image.Image) bool {
				if before {
					return img.Created.Before(pivot)
				}
				return img.Created.After(pivot)
			})
		case "until":
		default:
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid filter '%s'", k))
		}
	}
	if len(checks) == 0 {
		return nil, nil
	}
	return func(img *image.Image) bool {
		for _, c := range checks {
			if !c(img) {
				return false
			}
		}
		return true
	}, nil
}

// matchReference applies `docker images REPO[:TAG]` patterns: a bare
// repository matches all its tags; path.Match globs are allowed.
func matchReference(pattern, familiar string) bool {
	repo, tag, _ := strings.Cut(familiar, ":")
	if !strings.Contains(pattern, ":") {
		ok, _ := pathMatch(pattern, repo)
		return ok
	}
	ok, _ := pathMatch(pattern, repo+":"+tag)
	return ok
}
