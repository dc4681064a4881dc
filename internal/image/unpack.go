package image

import (
	"context"
	"fmt"
	"io"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
)

// LayerStore is what Unpack needs from the snapshotter: unpacked layers
// named by chain ID. internal/snapshot's overlay snapshotter and Apply
// implement it through a small adapter in the daemon.
type LayerStore interface {
	// LayerSize reports the size of the unpacked layer chainID, with ok
	// false if it is not unpacked.
	LayerSize(ctx context.Context, chainID digest.Digest) (size int64, ok bool, err error)
	// ApplyLayer unpacks blob (a tar, gzip'd or zstd'd) on top of the
	// layer parent ("" for the bottom one) as chainID. It computes the
	// diff ID (sha256 of the uncompressed tar, read to its end) while
	// unpacking, and commits the layer only if verify(diffID) returns nil;
	// otherwise it discards it and returns verify's error. It returns the
	// unpacked size.
	ApplyLayer(ctx context.Context, chainID, parent digest.Digest, blob io.Reader, verify func(diffID digest.Digest) error) (size int64, err error)
}

// Unpack makes sure every layer of image id is unpacked in ls, applying
// those that are not, bottom first, each once however many images share
// it; and records their sizes, which List and Inspect report. A layer
// whose content does not match its config's diff ID is refused, so a
// chain ID always names the layers its name promises.
func (s *Store) Unpack(ctx context.Context, id digest.Digest, ls LayerStore) error {
	img, err := s.Get(ctx, id.String())
	if err != nil {
		return err
	}
	chain := img.ChainIDs()
	diffIDs := img.Config.RootFS.DiffIDs
	sizes := make([]int64, len(chain))
	for i, c := range chain {
		size, ok, err := ls.LayerSize(ctx, c)
		if err != nil {
			return fmt.Errorf("unpack image %s: layer %d (%s): %w", id, i, c, err)
		}
		if !ok {
			if size, err = s.applyLayer(ctx, ls, img, i, chain, diffIDs); err != nil {
				return err
			}
		}
		sizes[i] = size
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.images[id]
	if !ok {
		return nil // deleted meanwhile; its layers are the snapshotter's to collect
	}
	updated := cur.clone()
	updated.LayerSizes = sizes
	if err := s.writeImage(updated); err != nil {
		return err
	}
	s.images[id] = updated
	return nil
}

func (s *Store) applyLayer(ctx context.Context, ls LayerStore, img *Image, i int, chain, diffIDs []digest.Digest) (int64, error) {
	var parent digest.Digest
	if i > 0 {
		parent = chain[i-1]
	}
	layer := img.Layers[i]
	rc, _, err := content.Open(ctx, s.cs, layer.Digest)
	if err != nil {
		return 0, fmt.Errorf("unpack image %s: layer %d: %w (pull the image again)", img.ID, i, err)
	}
	defer rc.Close()
	want := diffIDs[i]
	size, err := ls.ApplyLayer(ctx, chain[i], parent, rc, func(got digest.Digest) error {
		if got != want {
			return fmt.Errorf("layer %d (%s) unpacks to diff ID %s, but the image config says %s: %w",
				i, layer.Digest, got, want, &content.DigestMismatchError{Expected: want, Actual: got})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("unpack image %s: %w", img.ID, err)
	}
	return size, nil
}
