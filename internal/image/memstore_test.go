package image

import (
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/content/contenttest"
)

// The test double must keep the content store's promises too, or tests
// over it prove nothing.
func TestMemStoreConformance(t *testing.T) {
	contenttest.Run(t, func(t *testing.T) content.Store { return newMemStore() })
}
