package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func responses(out []DeleteResponse) string {
	var s []string
	for _, r := range out {
		if r.Untagged != "" {
			s = append(s, "U "+r.Untagged)
		}
		if r.Deleted != "" {
			s = append(s, "D "+shortID(r.Deleted))
		}
	}
	return strings.Join(s, "; ")
}

// Docker's rmi, case by case (moby daemon/images/image_delete.go).
func TestDelete(t *testing.T) {
	type usage struct {
		container string
		running   bool
	}
	tests := []struct {
		name  string
		tags  []string
		del   string // "ID" means the image's ID, "SHORT" its 12-digit form
		force bool
		use   *usage
		want  string // responses, with ID for the image's short ID
		err   string
		left  string // names left, if the image stays
	}{
		{name: "one of two tags", tags: []string{"a:1", "a:2"}, del: "a:1", want: "U a:1", left: "a:2"},
		{name: "last tag", tags: []string{"a:1"}, del: "a:1", want: "U a:1; D ID"},
		{name: "bare name is :latest", tags: []string{"a"}, del: "a", want: "U a:latest; D ID"},
		{name: "by ID, one tag", tags: []string{"a:1"}, del: "SHORT", want: "U a:1; D ID"},
		{name: "by ID, untagged", del: "ID", want: "D ID"},
		{name: "by ID, two repos", tags: []string{"a:1", "b:1"}, del: "ID",
			err: "conflict: unable to delete ID (must be forced) - image is referenced in multiple repositories", left: "a:1,b:1"},
		{name: "by ID, two repos, forced", tags: []string{"a:1", "b:1"}, del: "ID", force: true, want: "U a:1; U b:1; D ID"},
		{name: "by ID, two tags of one repo", tags: []string{"a:1", "a:2"}, del: "ID",
			err: "image is referenced in multiple repositories", left: "a:1,a:2"},
		{name: "by ID, stopped container", tags: []string{"a:1"}, del: "ID", use: &usage{"c0ffee0123456789", false},
			err: "conflict: unable to delete ID (must be forced) - image is being used by stopped container c0ffee012345", left: "a:1"},
		{name: "by ID, stopped container, forced", tags: []string{"a:1"}, del: "ID", force: true, use: &usage{"c0ffee", false}, want: "U a:1; D ID"},
		{name: "by ID, running container, forced", tags: []string{"a:1"}, del: "ID", force: true, use: &usage{"c0ffee", true},
			err: "conflict: unable to delete ID (cannot be forced) - image is being used by running container c0ffee", left: "a:1"},
		{name: "last tag, used", tags: []string{"a:1"}, del: "a:1", use: &usage{"c0ffee", false},
			err: `conflict: unable to remove repository reference "a:1" (must force) - container c0ffee is using its referenced image ID`, left: "a:1"},
		{name: "last tag, used, forced: untagged only", tags: []string{"a:1"}, del: "a:1", force: true, use: &usage{"c0ffee", true}, want: "U a:1", left: ""},
		{name: "tag of a used image with another tag", tags: []string{"a:1", "a:2"}, del: "a:1", use: &usage{"c0ffee", true}, want: "U a:1", left: "a:2"},
		{name: "missing", tags: []string{"a:1"}, del: "b:1", err: "no such image: b:1", left: "a:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			img := f.create(f.image(spec{layers: [][]byte{layer("x", 10)}}))
			for _, n := range tc.tags {
				f.tag(n, img.ID)
			}
			del := tc.del
			switch del {
			case "ID":
				del = img.ID.String()
			case "SHORT":
				del = img.ID.Encoded()[:12]
			}
			opts := DeleteOptions{Force: tc.force}
			if tc.use != nil {
				opts.InUse = func(id digest.Digest) (string, bool) {
					if id == img.ID {
						return tc.use.container, tc.use.running
					}
					return "", false
				}
			}
			out, err := f.s.Delete(f.ctx, del, opts)
			short := shortID(img.ID.Encoded())
			if tc.err != "" {
				want := strings.ReplaceAll(tc.err, "ID", short)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Delete = %v, want error %q", err, want)
				}
				if strings.HasPrefix(tc.err, "conflict") && !errors.Is(err, ErrConflict) {
					t.Fatalf("error %v is not ErrConflict", err)
				}
			} else if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if got, want := responses(out), strings.ReplaceAll(tc.want, "ID", short); got != want {
				t.Fatalf("responses %q, want %q", got, want)
			}
			_, gerr := f.s.Get(f.ctx, img.ID.String())
			gone := strings.HasSuffix(tc.want, "D ID")
			if gone != errors.Is(gerr, ErrNotFound) {
				t.Fatalf("image gone = %v, want %v", !gone, gone)
			}
			if !gone && strings.Join(f.names(img.ID), ",") != tc.left {
				t.Fatalf("names left %v, want %q", f.names(img.ID), tc.left)
			}
		})
	}
}

func TestDeleteRemovesDigestNamesWithLastTag(t *testing.T) {
	f := newFixture(t)
	img := f.create(f.image(spec{layers: [][]byte{layer("x", 10)}}))
	f.tag("busybox", img.ID)
	f.tag("busybox@"+img.Manifest.Digest.String(), img.ID)
	f.tag("other@"+img.Manifest.Digest.String(), img.ID)
	out, err := f.s.Delete(f.ctx, "busybox", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// busybox's digest name goes with its last tag; other's stays, so
	// the image stays.
	if got := responses(out); got != "U busybox:latest; U busybox@"+img.Manifest.Digest.String() {
		t.Fatalf("responses %q", got)
	}
	if strings.Join(f.names(img.ID), ",") != "other@"+img.Manifest.Digest.String() {
		t.Fatalf("names %v", f.names(img.ID))
	}
}

func TestDeleteParents(t *testing.T) {
	f := newFixture(t)
	base := f.create(f.image(spec{layers: [][]byte{layer("base", 10)}}))
	mid := f.create(f.image(spec{layers: [][]byte{layer("base", 10), layer("mid", 10)}}), WithParent(base.ID))
	top := f.create(f.image(spec{layers: [][]byte{layer("base", 10), layer("mid", 10), layer("top", 10)}}), WithParent(mid.ID))
	f.tag("top", top.ID)
	f.tag("base", base.ID)

	// A parent with children cannot go, forced or not.
	for _, force := range []bool{false, true} {
		_, err := f.s.Delete(f.ctx, mid.ID.String(), DeleteOptions{Force: force})
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "(cannot be forced) - image has dependent child images") {
			t.Fatalf("delete of a parent (force %v) = %v", force, err)
		}
	}
	// Intermediate images are hidden from List without All.
	sums, _ := f.s.List(f.ctx, ListOptions{})
	if len(sums) != 2 {
		t.Fatalf("List shows %d images, want 2 (intermediate hidden)", len(sums))
	}
	if sums, _ = f.s.List(f.ctx, ListOptions{All: true}); len(sums) != 3 {
		t.Fatalf("List -a shows %d images, want 3", len(sums))
	}
	// Removing top removes the untagged mid, and stops at the tagged base.
	out, err := f.s.Delete(f.ctx, "top", DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "U top:latest; D " + shortID(top.ID.String()) + "; D " + shortID(mid.ID.String())
	if got := responses(out); got != want {
		t.Fatalf("responses %q, want %q", got, want)
	}
	if _, err := f.s.Get(f.ctx, "base"); err != nil {
		t.Fatal("the tagged parent went too")
	}
}

func TestDeleteNoPrune(t *testing.T) {
	f := newFixture(t)
	base := f.create(f.image(spec{layers: [][]byte{layer("base", 10)}}))
	top := f.create(f.image(spec{layers: [][]byte{layer("base", 10), layer("top", 10)}}), WithParent(base.ID))
	if _, err := f.s.Delete(f.ctx, top.ID.String(), DeleteOptions{NoPrune: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Get(f.ctx, base.ID.String()); err != nil {
		t.Fatal("NoPrune removed the parent")
	}
}

func TestPrune(t *testing.T) {
	f := newFixture(t)
	tagged := f.create(f.image(spec{layers: [][]byte{layer("shared", 1000), layer("t", 100)}}))
	dangling := f.create(f.image(spec{layers: [][]byte{layer("shared", 1000), layer("d", 300)}}))
	used := f.create(f.image(spec{layers: [][]byte{layer("u", 100)}}))
	digestOnly := f.create(f.image(spec{layers: [][]byte{layer("g", 100)}}))
	f.tag("keep", tagged.ID)
	f.tag("dig@"+digestOnly.Manifest.Digest.String(), digestOnly.ID)
	inUse := func(id digest.Digest) (string, bool) {
		if id == used.ID {
			return "c0ffee", false
		}
		return "", false
	}
	rep, err := f.s.Prune(f.ctx, PruneOptions{InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for _, r := range rep.ImagesDeleted {
		deleted[r.Deleted] = true
	}
	if !deleted[dangling.ID.String()] || !deleted[digestOnly.ID.String()] || deleted[tagged.ID.String()] || deleted[used.ID.String()] {
		t.Fatalf("pruned %v", rep.ImagesDeleted)
	}
	// Freed: dangling's own layer, config and manifest; digestOnly's
	// likewise; never the shared layer.
	if _, err := f.cs.Info(f.ctx, tagged.Layers[0].Digest); err != nil {
		t.Fatal("shared layer collected")
	}
	if _, err := f.cs.Info(f.ctx, dangling.Layers[1].Digest); err == nil {
		t.Fatal("dangling image's own layer kept")
	}
	min := uint64(300 + 100 + dangling.Manifest.Size + dangling.ConfigDescriptor.Size)
	if rep.SpaceReclaimed < min {
		t.Fatalf("SpaceReclaimed %d, want at least %d", rep.SpaceReclaimed, min)
	}
	// All: tagged images go too, used ones stay.
	rep, err = f.s.Prune(f.ctx, PruneOptions{All: true, InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	if imgs := f.s.Images(); len(imgs) != 1 || imgs[0].ID != used.ID {
		t.Fatalf("after prune -a: %d images", len(imgs))
	}
	if err := f.s.Verify(f.ctx); err != nil {
		t.Fatal(err)
	}
}
