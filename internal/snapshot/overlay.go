package snapshot

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Overlay is the overlayfs snapshotter. Committed snapshots are plain
// directories; a rootfs is one overlay mount of its chain, so preparing one
// copies nothing.
type Overlay struct {
	root  string // ROOT
	snaps string // ROOT/snapshots
	extra []string

	mu      sync.Mutex
	lock    *os.File
	recs    map[string]*record // by key or name
	nextID  uint64
	closing bool
}

var _ Snapshotter = (*Overlay)(nil)

// Open opens (creating if needed) the snapshot store at root and finishes
// whatever a crash left half-done. One process at a time may have a root
// open.
func Open(root string) (*Overlay, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	// The paths end up in overlay's option string, where these separate
	// options and layers.
	if strings.ContainsAny(root, ",:\\") {
		return nil, fmt.Errorf("snapshot store %s: the path may not contain ',', ':' or '\\' (overlay mount options cannot carry them); choose another data root", root)
	}
	snaps := filepath.Join(root, "snapshots")
	if err := os.MkdirAll(snaps, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	lock, err := lockRoot(root)
	if err != nil {
		return nil, err
	}
	recs, maxID, err := loadSnapshots(snaps)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("opening snapshot store %s: %w", root, err)
	}
	return &Overlay{
		root:   root,
		snaps:  snaps,
		extra:  overlayDefaults(),
		lock:   lock,
		recs:   recs,
		nextID: maxID + 1,
	}, nil
}

// overlayDefaults turns off the overlay features that would make an upper
// directory something other than a plain tree of changes (redirect_dir and
// metacopy keep data in lower layers, which Diff cannot export; index ties a
// lower layer to one upper). They are off by default unless the kernel was
// built or booted otherwise, and naming an option an old kernel does not
// know fails the mount, so only what is on is turned off. A module not yet
// loaded shows no parameters: then all three are named (kernels from 4.19
// know them).
func overlayDefaults() []string {
	const params = "/sys/module/overlay/parameters/"
	features := []string{"index", "redirect_dir", "metacopy"}
	var opts []string
	if _, err := os.Stat(params); err != nil {
		for _, f := range features {
			opts = append(opts, f+"=off")
		}
		return opts
	}
	for _, f := range features {
		b, err := os.ReadFile(params + f)
		if err == nil && strings.TrimSpace(string(b)) == "Y" {
			opts = append(opts, f+"=off")
		}
	}
	return opts
}

// Close releases the store's lock. Further calls fail with ErrClosed.
func (s *Overlay) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	s.closing = true
	return s.lock.Close()
}

func (s *Overlay) dir(id string) string { return filepath.Join(s.snaps, id) }

// get returns the record for key; the caller holds s.mu.
func (s *Overlay) get(key string) (*record, error) {
	if s.closing {
		return nil, ErrClosed
	}
	r, ok := s.recs[key]
	if !ok {
		return nil, fmt.Errorf("snapshot %q: %w", key, ErrNotFound)
	}
	return r, nil
}

func (s *Overlay) Stat(ctx context.Context, key string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(key)
	if err != nil {
		return Info{}, err
	}
	return r.info(), nil
}

func (s *Overlay) Usage(ctx context.Context, key string) (Usage, error) {
	s.mu.Lock()
	r, err := s.get(key)
	var id string
	var u *Usage
	if err == nil {
		id, u = r.ID, r.Usage
	}
	s.mu.Unlock()
	if err != nil {
		return Usage{}, err
	}
	if u != nil {
		return *u, nil
	}
	return diskUsage(ctx, filepath.Join(s.dir(id), fsDir))
}

func (s *Overlay) Mounts(ctx context.Context, key string) ([]Mount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(key)
	if err != nil {
		return nil, err
	}
	if r.Kind == KindCommitted.String() {
		return nil, fmt.Errorf("snapshot %q is committed: mount it through View or Prepare: %w", key, ErrKind)
	}
	return s.mounts(r)
}

// mounts renders the mounts of an active or view snapshot; s.mu is held.
func (s *Overlay) mounts(r *record) ([]Mount, error) {
	var lowers []string
	for p := r.Parent; p != ""; {
		pr, ok := s.recs[p]
		if !ok {
			return nil, fmt.Errorf("snapshot %q: parent %q is missing from the store (damaged store; remove %q)", r.Name, p, r.Name)
		}
		lowers = append(lowers, filepath.Join(s.dir(pr.ID), fsDir))
		p = pr.Parent
	}
	own := filepath.Join(s.dir(r.ID), fsDir)
	if r.Kind == KindView.String() {
		switch len(lowers) {
		case 0:
			return []Mount{{Type: "bind", Source: own, Options: []string{"bind", "ro"}}}, nil
		case 1:
			return []Mount{{Type: "bind", Source: lowers[0], Options: []string{"bind", "ro"}}}, nil
		}
		opts := append(slices.Clone(s.extra), "lowerdir="+strings.Join(lowers, ":"))
		return []Mount{{Type: "overlay", Source: "overlay", Options: append([]string{"ro"}, opts...)}}, nil
	}
	if len(lowers) == 0 {
		return []Mount{{Type: "bind", Source: own, Options: []string{"bind", "rw"}}}, nil
	}
	opts := append(slices.Clone(s.extra),
		"lowerdir="+strings.Join(lowers, ":"),
		"upperdir="+own,
		"workdir="+filepath.Join(s.dir(r.ID), workDir))
	return []Mount{{Type: "overlay", Source: "overlay", Options: opts}}, nil
}

func (s *Overlay) Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error) {
	return s.create(ctx, KindActive, key, parent, opts)
}

func (s *Overlay) View(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error) {
	return s.create(ctx, KindView, key, parent, opts)
}

func (s *Overlay) create(ctx context.Context, kind Kind, key, parent string, opts []Opt) ([]Mount, error) {
	if key == "" {
		return nil, fmt.Errorf("snapshot key may not be empty")
	}
	info := Info{Kind: kind, Name: key, Parent: parent}
	for _, o := range opts {
		if err := o(&info); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrClosed
	}
	if _, ok := s.recs[key]; ok {
		return nil, fmt.Errorf("snapshot %q: %w", key, ErrExists)
	}
	var parentID string
	if parent != "" {
		p, ok := s.recs[parent]
		if !ok {
			return nil, fmt.Errorf("parent snapshot %q: %w", parent, ErrNotFound)
		}
		if p.Kind != KindCommitted.String() {
			return nil, fmt.Errorf("parent snapshot %q is %s; only committed snapshots can be parents (commit it first): %w", parent, p.Kind, ErrKind)
		}
		parentID = p.ID
	}
	now := time.Now().UTC()
	r := &record{
		ID: strconv.FormatUint(s.nextID, 10), Kind: kind.String(), Name: key,
		Parent: parent, ParentID: parentID, Labels: maps.Clone(info.Labels), Created: now, Updated: now,
	}
	s.nextID++
	dir := s.dir(r.ID)
	if err := s.makeDirs(dir, kind, r); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating snapshot %q in %s: %w", key, dir, err)
	}
	s.recs[key] = r
	return s.mounts(r)
}

func (s *Overlay) makeDirs(dir string, kind Kind, r *record) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, fsDir), 0o755); err != nil {
		return err
	}
	if kind == KindActive {
		if err := os.Mkdir(filepath.Join(dir, workDir), 0o700); err != nil {
			return err
		}
	}
	if err := writeRecord(dir, r); err != nil {
		return err
	}
	return syncDir(s.snaps)
}

func (s *Overlay) Commit(ctx context.Context, name, key string, opts ...Opt) error {
	if name == "" {
		return fmt.Errorf("commit of %q: name may not be empty", key)
	}
	s.mu.Lock()
	r, err := s.get(key)
	if err == nil && r.Kind != KindActive.String() {
		err = fmt.Errorf("commit of %q: it is %s, only active snapshots can be committed: %w", key, r.Kind, ErrKind)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// Measure and flush without the lock: both take time in the size of
	// the layer.
	dir := s.dir(r.ID)
	usage, err := diskUsage(ctx, filepath.Join(dir, fsDir))
	if err != nil {
		return fmt.Errorf("commit of %q: %w", key, err)
	}
	if err := syncFS(filepath.Join(dir, fsDir)); err != nil {
		return fmt.Errorf("commit of %q: %w", key, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, err := s.get(key); err != nil || cur != r {
		return fmt.Errorf("commit of %q: removed or committed concurrently: %w", key, ErrNotFound)
	}
	if _, ok := s.recs[name]; ok {
		return fmt.Errorf("commit of %q as %q: %w", key, name, ErrExists)
	}
	info := r.info()
	for _, o := range opts {
		if err := o(&info); err != nil {
			return err
		}
	}
	nr := *r
	nr.Kind, nr.Name, nr.Labels, nr.Usage = KindCommitted.String(), name, info.Labels, &usage
	nr.Updated = time.Now().UTC()
	if err := writeRecord(dir, &nr); err != nil {
		return fmt.Errorf("commit of %q: %w", key, err)
	}
	delete(s.recs, key)
	s.recs[name] = &nr
	// The work dir is overlay's scratch space; a committed layer is never
	// an upper again. A crash before this line is cleaned up by Open.
	os.RemoveAll(filepath.Join(dir, workDir))
	return nil
}

func (s *Overlay) Remove(ctx context.Context, key string) error {
	s.mu.Lock()
	r, err := s.get(key)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var children []string
	for _, c := range s.recs {
		if c.Parent == key {
			children = append(children, c.Name)
		}
	}
	if len(children) > 0 {
		s.mu.Unlock()
		slices.Sort(children)
		return fmt.Errorf("cannot remove snapshot %q: it is the parent of %s; remove those first: %w", key, strings.Join(children, ", "), ErrInUse)
	}
	// One rename makes the snapshot disappear; the slow delete follows.
	dir := s.dir(r.ID)
	gone := filepath.Join(s.snaps, removingPfx+r.ID)
	if err := os.Rename(dir, gone); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("removing snapshot %q: %w", key, err)
	}
	delete(s.recs, key)
	err = syncDir(s.snaps)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("removing snapshot %q: %w", key, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("snapshot %q is removed but deleting %s failed: %w (the next Open retries)", key, gone, err)
	}
	return nil
}

func (s *Overlay) Walk(ctx context.Context, fn WalkFunc) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	infos := make([]Info, 0, len(s.recs))
	for _, r := range s.recs {
		infos = append(infos, r.info())
	}
	s.mu.Unlock()
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, info); err != nil {
			return err
		}
	}
	return nil
}
