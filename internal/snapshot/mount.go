package snapshot

import (
	"fmt"
	"strings"
)

// Mount is one mount(2) to perform, as the snapshotter describes a snapshot.
// Type is "overlay" or "bind"; Options are mount flags (ro, rw, bind, nosuid,
// nodev, noexec) and filesystem data (lowerdir=…, upperdir=…, workdir=…).
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// Option returns the value of a key=value option and whether it is present.
func (m Mount) Option(key string) (string, bool) {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

func (m Mount) readOnly() bool {
	for _, o := range m.Options {
		if o == "ro" {
			return true
		}
	}
	return false
}

// UpperDir returns the writable directory of an active snapshot's mounts:
// where a layer is applied (Apply) and what Diff reads. Writing there
// directly, not through a mount, is what lets Apply create overlay whiteouts.
func UpperDir(mounts []Mount) (string, error) {
	if len(mounts) != 1 {
		return "", fmt.Errorf("snapshot mounts: want one mount, got %d", len(mounts))
	}
	m := mounts[0]
	switch m.Type {
	case "overlay":
		if up, ok := m.Option("upperdir"); ok {
			return up, nil
		}
		return "", fmt.Errorf("overlay mount has no upperdir: it is a read-only view, not an active snapshot")
	case "bind":
		if m.readOnly() {
			return "", fmt.Errorf("bind mount of %s is read-only: it is a view, not an active snapshot", m.Source)
		}
		return m.Source, nil
	}
	return "", fmt.Errorf("snapshot mounts: unknown mount type %q", m.Type)
}

// LowerDirs returns the read-only layer directories of a snapshot's mounts,
// topmost first: the lowers Diff compares an upper against.
func LowerDirs(mounts []Mount) ([]string, error) {
	if len(mounts) != 1 {
		return nil, fmt.Errorf("snapshot mounts: want one mount, got %d", len(mounts))
	}
	m := mounts[0]
	switch m.Type {
	case "overlay":
		v, ok := m.Option("lowerdir")
		if !ok {
			return nil, fmt.Errorf("overlay mount has no lowerdir")
		}
		return strings.Split(v, ":"), nil
	case "bind":
		if m.readOnly() {
			return []string{m.Source}, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("snapshot mounts: unknown mount type %q", m.Type)
}
