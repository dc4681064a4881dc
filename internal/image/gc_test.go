package image

import (
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestGC(t *testing.T) {
	f := newFixture(t)
	a := f.create(f.image(spec{layers: [][]byte{layer("shared", 1000), layer("a", 100)}}))
	b := f.create(f.image(spec{layers: [][]byte{layer("shared", 1000), layer("b", 200)}}))
	stray := f.blob("application/octet-stream", []byte("stray"))
	leased := f.blob("application/octet-stream", []byte("leased"))
	kept := f.blob("application/octet-stream", []byte("kept"))
	lease := f.s.Lease()
	lease.Add(leased.Digest)

	if _, err := f.s.Delete(f.ctx, b.ID.String(), DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := f.s.GC(f.ctx, GCOptions{Keep: []digest.Digest{kept.Digest}})
	if err != nil {
		t.Fatal(err)
	}
	gone := map[digest.Digest]bool{}
	for _, d := range res.Deleted {
		gone[d] = true
	}
	want := []digest.Digest{stray.Digest, b.Layers[1].Digest, b.Manifest.Digest, b.ConfigDescriptor.Digest}
	if len(res.Deleted) != len(want) {
		t.Fatalf("deleted %v, want %v", res.Deleted, want)
	}
	var bytes int64
	for _, d := range want {
		if !gone[d] {
			t.Fatalf("%s not collected", d)
		}
		info, err := f.cs.Info(f.ctx, d)
		if err == nil {
			t.Fatalf("%s still present: %+v", d, info)
		}
	}
	bytes = stray.Size + b.Layers[1].Size + b.Manifest.Size + b.ConfigDescriptor.Size
	if res.Reclaimed != bytes {
		t.Fatalf("reclaimed %d, want %d", res.Reclaimed, bytes)
	}
	for _, d := range append(a.Blobs(), leased.Digest, kept.Digest) {
		if _, err := f.cs.Info(f.ctx, d); err != nil {
			t.Fatalf("%s collected: %v", d, err)
		}
	}
	// Released, the leased blob is garbage.
	lease.Release()
	lease.Add(kept.Digest) // no effect after release
	res, _ = f.s.GC(f.ctx, GCOptions{})
	if len(res.Deleted) != 2 {
		t.Fatalf("second GC deleted %v, want the leased and kept blobs", res.Deleted)
	}
	if err := f.s.Verify(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.blobCount(); n != len(a.Blobs())-1 { // Target == Manifest
		t.Fatalf("%d blobs left, want %d", n, len(a.Blobs())-1)
	}
}

// Pulls that lease their blobs survive collections running alongside.
func TestGCConcurrentWithPulls(t *testing.T) {
	f := newFixture(t)
	stop := make(chan struct{})
	gcDone := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if _, err := f.s.GC(f.ctx, GCOptions{}); err != nil {
				gcDone <- err
				return
			}
		}
	}()
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := range 8 {
				lease := f.s.Lease()
				m, err := writeTestImage(f.ctx, f.cs, lease, [][]byte{layer("base", 4096), randomBytes(1000 + w*100 + i)})
				if err == nil {
					var img *Image
					if img, err = f.s.Create(f.ctx, m); err == nil {
						ref, _ := ParseReference(fmt.Sprintf("w%d:%d", w, i))
						err = f.s.Tag(f.ctx, ref, img.ID)
					}
				}
				lease.Release()
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatal(err)
	}
	if n := len(f.s.Images()); n != 32 {
		t.Fatalf("%d images, want 32", n)
	}
	if err := f.s.Verify(f.ctx); err != nil {
		t.Fatal(err)
	}
}
