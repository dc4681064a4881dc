package snapshot

import (
	"context"
	"errors"
	"maps"
	"time"
)

// Kind says what a snapshot is for.
type Kind uint8

const (
	KindUnknown   Kind = iota
	KindView           // read-only view of a committed parent; never committed
	KindActive         // writable; can be committed once
	KindCommitted      // immutable; the only kind that can be a parent
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "view"
	case KindActive:
		return "active"
	case KindCommitted:
		return "committed"
	}
	return "unknown"
}

// ParseKind is the inverse of Kind.String; anything else is KindUnknown.
func ParseKind(s string) Kind {
	switch s {
	case "view":
		return KindView
	case "active":
		return KindActive
	case "committed":
		return KindCommitted
	}
	return KindUnknown
}

// Info describes one snapshot. Name is the key of an active or view snapshot
// and the name of a committed one: both share one namespace.
type Info struct {
	Kind    Kind
	Name    string
	Parent  string            // name of the committed parent; "" for none
	Labels  map[string]string // free-form, set at creation
	Created time.Time
	Updated time.Time
}

// Usage is the disk use of a snapshot's own directory, parents excluded.
type Usage struct {
	Size   int64 `json:"size"`   // bytes allocated on disk (st_blocks*512), each inode once
	Inodes int64 `json:"inodes"` // distinct inodes, the directory itself included
}

// Opt sets properties of a snapshot when it is created.
type Opt func(*Info) error

// WithLabels adds labels to the snapshot being created.
func WithLabels(labels map[string]string) Opt {
	return func(info *Info) error {
		if info.Labels == nil {
			info.Labels = make(map[string]string, len(labels))
		}
		maps.Copy(info.Labels, labels)
		return nil
	}
}

// WalkFunc is called by Walk once per snapshot.
type WalkFunc func(context.Context, Info) error

// Snapshotter stores filesystem trees as chains of layers: committed
// snapshots are immutable layers, an active snapshot is a writable layer on
// top of a committed parent, a view a read-only one.
//
// The life of an image layer: Prepare(key, parentChainID) → apply the layer
// into UpperDir(mounts) → Commit(chainID, key). The life of a container's
// rootfs: Prepare(containerID, imageChainID) → Mount → run → Unmount →
// Remove(containerID), or Diff + Commit to make a new image.
type Snapshotter interface {
	// Stat returns the info of any snapshot by key or name.
	Stat(ctx context.Context, key string) (Info, error)

	// Usage returns the disk use of the snapshot's own layer. For an active
	// snapshot it walks the layer, so it takes time proportional to what the
	// container wrote; for a committed one it was measured at Commit.
	Usage(ctx context.Context, key string) (Usage, error)

	// Mounts returns the mounts of an active or view snapshot again, as
	// Prepare or View returned them.
	Mounts(ctx context.Context, key string) ([]Mount, error)

	// Prepare creates an active (writable) snapshot on top of parent, which
	// must be committed ("" for an empty tree). It copies nothing: its cost
	// does not depend on the size of the parent chain.
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error)

	// View creates a read-only snapshot of parent ("" for an empty tree).
	View(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error)

	// Commit turns the active snapshot key into the committed snapshot name
	// with the same parent; key no longer exists afterwards. The active
	// snapshot must not be mounted.
	Commit(ctx context.Context, name, key string, opts ...Opt) error

	// Remove deletes a snapshot. A committed snapshot that is the parent of
	// another cannot be removed (ErrInUse): remove the children first.
	Remove(ctx context.Context, key string) error

	// Walk calls fn for every snapshot, in name order.
	Walk(ctx context.Context, fn WalkFunc) error

	// Close releases the store; calling it twice is fine.
	Close() error
}

// Errors that callers tell apart with errors.Is; the errors returned wrap
// them with the key and what to do.
var (
	ErrNotFound = errors.New("snapshot not found")
	ErrExists   = errors.New("snapshot already exists")
	// ErrInUse: the snapshot is a parent of other snapshots.
	ErrInUse = errors.New("snapshot in use")
	// ErrKind: the operation does not apply to this kind of snapshot
	// (committing a view, preparing on an active parent, ...).
	ErrKind   = errors.New("wrong kind of snapshot")
	ErrClosed = errors.New("snapshotter closed")
)
