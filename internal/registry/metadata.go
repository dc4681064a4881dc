package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/gorae/gorae/internal/atomicfile"
)

// Source is a repository a blob is known to be in.
type Source struct {
	Registry   string `json:"registry"`   // host[:port] of the registry API
	Repository string `json:"repository"` // path: library/busybox
}

// maxSources bounds what is remembered per blob: the newest are the
// likeliest to still be there.
const maxSources = 16

// Metadata remembers, per blob, the repositories it was pulled from or
// pushed to (Docker's distribution metadata), so a push to the same
// registry can mount the blob from there instead of uploading it.
// On disk: DIR/sha256/<hex>, a JSON list of Sources, newest first,
// replaced atomically (not fsync'd: losing it costs only an upload).
type Metadata struct {
	dir string
	mu  sync.Mutex
}

// OpenMetadata opens (creating) the metadata directory.
func OpenMetadata(dir string) (*Metadata, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("distribution metadata: %w", err)
	}
	return &Metadata{dir: dir}, nil
}

func (m *Metadata) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	return filepath.Join(m.dir, string(d.Algorithm()), d.Encoded()), nil
}

// Sources are the repositories blob d is known to be in, newest first.
func (m *Metadata) Sources(d digest.Digest) []Source {
	if m == nil {
		return nil
	}
	p, err := m.path(d)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.read(p)
}

func (m *Metadata) read(p string) []Source {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var out []Source
	if json.Unmarshal(data, &out) != nil {
		return nil // a damaged record only costs a mount
	}
	return out
}

// Add records that blob d is in src.
func (m *Metadata) Add(d digest.Digest, src Source) error {
	if m == nil {
		return nil
	}
	p, err := m.path(d)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.read(p)
	if len(old) > 0 && old[0] == src {
		return nil
	}
	list := append([]Source{src}, slices.DeleteFunc(old, func(s Source) bool { return s == src })...)
	if len(list) > maxSources {
		list = list[:maxSources]
	}
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteVolatile(p, data, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("distribution metadata of %s: %w", d, err)
	}
	return nil
}
