package snapshot_test

import (
	"context"
	"testing"

	"github.com/gorae/gorae/internal/snapshot"
	"github.com/gorae/gorae/internal/snapshot/testsuite"
)

func TestOverlaySuite(t *testing.T) {
	testsuite.SnapshotterSuite(t, "overlay", func(_ context.Context, root string) (snapshot.Snapshotter, error) {
		return snapshot.Open(root)
	})
}
