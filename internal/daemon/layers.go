package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/snapshot"
)

// layerStore unpacks image layers into committed snapshots named by
// chain ID, so each layer is unpacked once however many images share it.
type layerStore struct{ sn *snapshot.Overlay }

var _ image.LayerStore = layerStore{}

func (l layerStore) LayerSize(ctx context.Context, chainID digest.Digest) (int64, bool, error) {
	if _, err := l.sn.Stat(ctx, chainID.String()); err != nil {
		if errors.Is(err, snapshot.ErrNotFound) {
			return 0, false, nil
		}
		return 0, false, err
	}
	u, err := l.sn.Usage(ctx, chainID.String())
	if err != nil {
		return 0, true, nil
	}
	return u.Size, true, nil
}

func (l layerStore) ApplyLayer(ctx context.Context, chainID, parent digest.Digest, blob io.Reader, verify func(diffID digest.Digest) error) (int64, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	key := "extract-" + hex.EncodeToString(rnd[:]) + "-" + chainID.Encoded()[:12]
	parentKey := ""
	if parent != "" {
		parentKey = parent.String()
	}
	mounts, err := l.sn.Prepare(ctx, key, parentKey)
	if err != nil {
		return 0, fmt.Errorf("prepare layer %s: %w", chainID, err)
	}
	ok := false
	defer func() {
		if !ok {
			l.sn.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	upper, err := snapshot.UpperDir(mounts)
	if err != nil {
		return 0, err
	}
	lowers, _ := snapshot.LowerDirs(mounts)
	res, err := snapshot.Apply(ctx, upper, blob, snapshot.WithParents(lowers))
	if err != nil {
		return 0, fmt.Errorf("unpack layer %s: %w", chainID, err)
	}
	if err := verify(res.DiffID); err != nil {
		return 0, err
	}
	if err := l.sn.Commit(ctx, chainID.String(), key); err != nil {
		if errors.Is(err, snapshot.ErrExists) {
			// Unpacked concurrently by another create: theirs is as good.
			return res.Size, nil
		}
		return 0, fmt.Errorf("commit layer %s: %w", chainID, err)
	}
	ok = true
	return res.Size, nil
}
