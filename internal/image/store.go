package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Errors of the image store; the daemon maps them to Docker's status codes
// (404, 409, 400).
var (
	ErrNotFound  = errors.New("no such image")
	ErrConflict  = errors.New("conflict")
	ErrAmbiguous = errors.New("ambiguous image ID prefix")
	// ErrNotRunnable says a manifest is not a container image (an
	// artifact such as a Helm chart or a signature).
	ErrNotRunnable = errors.New("not a container image")
)

// Image is one image: Docker's image, whose ID is the digest of its config.
// Values returned by the Store are copies; Config is shared and must not
// be modified.
type Image struct {
	// ID is the config digest, "sha256:…", as Docker's image ID.
	ID digest.Digest
	// Target is what was pulled or loaded: the image manifest, or the
	// index that led to it. RepoDigests name it; push sends it.
	Target ocispec.Descriptor
	// Indexes are the nested indexes between Target and Manifest, if any.
	Indexes []ocispec.Descriptor
	// Manifest is the image manifest of this platform.
	Manifest         ocispec.Descriptor
	ConfigDescriptor ocispec.Descriptor
	// Layers are the layer blobs, compressed, bottom first.
	Layers []ocispec.Descriptor
	// LayerSizes is the unpacked size of each layer, or -1 until Unpack.
	LayerSizes []int64
	// Parent is the local image this one was built or committed on.
	Parent digest.Digest
	// Created is when this store first recorded the image; the config's
	// Created is when it was built.
	Created     time.Time
	LastTagTime time.Time
	// Config is the parsed config.
	Config *Config
}

// ChainIDs are the chain IDs of the image's layers, bottom first.
func (img *Image) ChainIDs() []digest.Digest { return ChainIDs(img.Config.RootFS.DiffIDs) }

// Blobs are every blob of the content store the image needs.
func (img *Image) Blobs() []digest.Digest {
	out := []digest.Digest{img.Target.Digest, img.Manifest.Digest, img.ConfigDescriptor.Digest}
	for _, d := range img.Indexes {
		out = append(out, d.Digest)
	}
	for _, d := range img.Layers {
		out = append(out, d.Digest)
	}
	return out
}

func (img *Image) clone() *Image {
	c := *img
	c.Indexes = slices.Clone(img.Indexes)
	c.Layers = slices.Clone(img.Layers)
	c.LayerSizes = slices.Clone(img.LayerSizes)
	return &c
}

// record is an image as stored in images/<hex>.json (docs/image-store.md):
// descriptors and local facts; the config itself stays in the content
// store.
type record struct {
	ID          digest.Digest        `json:"id"`
	Target      ocispec.Descriptor   `json:"target"`
	Indexes     []ocispec.Descriptor `json:"indexes,omitempty"`
	Manifest    ocispec.Descriptor   `json:"manifest"`
	Config      ocispec.Descriptor   `json:"config"`
	Layers      []ocispec.Descriptor `json:"layers"`
	LayerSizes  []int64              `json:"layerSizes"`
	Parent      digest.Digest        `json:"parent,omitempty"`
	Created     time.Time            `json:"created"`
	LastTagTime time.Time            `json:"lastTagTime,omitzero"`
}

const (
	imagesDir        = "images"
	repositoriesFile = "repositories.json"
	dirMode          = 0o700
)

// Store is the image metadata store: image records and the names that
// point at them, over a content store that holds the blobs. It is safe for
// concurrent use; one process owns a root.
type Store struct {
	root string
	cs   content.Store

	mu     sync.RWMutex
	images map[digest.Digest]*Image
	refs   map[string]refEntry // by normalized reference string

	leaseMu sync.Mutex
	leases  map[*Lease]map[digest.Digest]struct{}

	now func() time.Time
}

// NewStore opens (creating if needed) the image store at root, over the
// blobs of cs, and loads it. Temp files of interrupted writes are removed;
// references to images whose record is gone (which gorae's write order
// never leaves, but a hand edit can) are dropped.
func NewStore(ctx context.Context, root string, cs content.Store) (*Store, error) {
	s := &Store{
		root:   root,
		cs:     cs,
		images: map[digest.Digest]*Image{},
		refs:   map[string]refEntry{},
		leases: map[*Lease]map[digest.Digest]struct{}{},
		now:    time.Now,
	}
	if err := os.MkdirAll(filepath.Join(root, imagesDir), dirMode); err != nil {
		return nil, fmt.Errorf("image store: create %s: %w", root, err)
	}
	for _, dir := range []string{root, filepath.Join(root, imagesDir)} {
		if err := removeTemps(dir); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	if err := s.loadImages(ctx); err != nil {
		return nil, err
	}
	if err := s.loadRefs(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) loadImages(ctx context.Context) error {
	dir := filepath.Join(s.root, imagesDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("image store: read %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("image store: read %s: %w", p, err)
		}
		var r record
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("image store: %s is corrupt (%v): move it away to start without that image", p, err)
		}
		if r.ID.Validate() != nil || r.ID.Encoded()+".json" != name {
			return fmt.Errorf("image store: %s holds image %q, not the one its name says: move it away to start without it", p, r.ID)
		}
		img, err := s.fromRecord(ctx, &r)
		if err != nil {
			return fmt.Errorf("image store: %s: %w (move it away to start without that image)", p, err)
		}
		s.images[img.ID] = img
	}
	return nil
}

func (s *Store) fromRecord(ctx context.Context, r *record) (*Image, error) {
	data, err := content.ReadBlob(ctx, s.cs, r.Config.Digest, MaxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("config of image %s: %w", r.ID, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config of image %s: %w", r.ID, err)
	}
	sizes := r.LayerSizes
	if len(sizes) != len(r.Layers) {
		sizes = unknownSizes(len(r.Layers))
	}
	return &Image{
		ID: r.ID, Target: r.Target, Indexes: r.Indexes, Manifest: r.Manifest, ConfigDescriptor: r.Config,
		Layers: r.Layers, LayerSizes: sizes, Parent: r.Parent, Created: r.Created, LastTagTime: r.LastTagTime,
		Config: cfg,
	}, nil
}

func unknownSizes(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// writeImage persists img's record; the caller holds s.mu.
func (s *Store) writeImage(img *Image) error {
	r := record{
		ID: img.ID, Target: img.Target, Indexes: img.Indexes, Manifest: img.Manifest, Config: img.ConfigDescriptor,
		Layers: img.Layers, LayerSizes: img.LayerSizes, Parent: img.Parent, Created: img.Created, LastTagTime: img.LastTagTime,
	}
	data, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(s.root, imagesDir), img.ID.Encoded()+".json", append(data, '\n')); err != nil {
		return fmt.Errorf("image store: record image %s: %w", img.ID, err)
	}
	return nil
}

// CreateOpt sets an option of Create.
type CreateOpt func(*createOpts)

type createOpts struct {
	platform ocispec.Platform
	parent   digest.Digest
}

// WithPlatform picks which image of an index to record (default:
// DefaultPlatform).
func WithPlatform(p ocispec.Platform) CreateOpt {
	return func(o *createOpts) { o.platform = p }
}

// WithParent records the local image this one was built or committed on.
func WithParent(id digest.Digest) CreateOpt {
	return func(o *createOpts) { o.parent = id }
}

// maxIndexDepth bounds indexes of indexes: a hostile chain must end.
const maxIndexDepth = 4

// Create records the image whose manifest, or index, target is; every blob
// it needs (the manifest chain, config, layers) must already be in the
// content store, verified. From an index it records the image for the
// platform asked for. Creating an image that exists updates its target,
// keeping its names and local facts. It returns the image, which is
// untagged until Tag names it.
func (s *Store) Create(ctx context.Context, target ocispec.Descriptor, opts ...CreateOpt) (*Image, error) {
	o := createOpts{platform: DefaultPlatform()}
	for _, opt := range opts {
		opt(&o)
	}
	// Under the lock throughout: the collector must not delete a blob
	// between the check that it is present and the record that keeps it.
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.resolveTarget(ctx, target, o.platform)
	if err != nil {
		return nil, err
	}
	if o.parent != "" {
		if _, ok := s.images[o.parent]; !ok {
			return nil, fmt.Errorf("image store: parent %s of image %s: %w", o.parent, img.ID, ErrNotFound)
		}
		// Parents form chains, never loops: delete and history walk them.
		for p := o.parent; p != ""; p = s.images[p].Parent {
			if p == img.ID {
				return nil, fmt.Errorf("image store: image %s cannot have %s as parent: it is its own ancestor", img.ID, o.parent)
			}
			if _, ok := s.images[p]; !ok {
				break
			}
		}
	}
	if old, ok := s.images[img.ID]; ok {
		img.Created, img.LastTagTime, img.Parent = old.Created, old.LastTagTime, old.Parent
		if slices.Equal(old.Config.RootFS.DiffIDs, img.Config.RootFS.DiffIDs) {
			img.LayerSizes = old.LayerSizes
		}
	} else {
		img.Created = s.now().UTC()
	}
	if o.parent != "" {
		img.Parent = o.parent
	}
	if err := s.writeImage(img); err != nil {
		return nil, err
	}
	s.images[img.ID] = img
	return img.clone(), nil
}

// resolveTarget reads the manifest chain from target down to the image's
// manifest and config, checking every blob as it goes.
func (s *Store) resolveTarget(ctx context.Context, target ocispec.Descriptor, platform ocispec.Platform) (*Image, error) {
	img := &Image{Target: target}
	desc := target
	for depth := 0; ; depth++ {
		data, err := s.readManifestBlob(ctx, desc)
		if err != nil {
			return nil, err
		}
		mt := desc.MediaType
		if mt == "" {
			if mt, err = DetectMediaType(data); err != nil {
				return nil, fmt.Errorf("image store: %s: %w", desc.Digest, err)
			}
			desc.MediaType = mt
			if depth == 0 {
				img.Target.MediaType = mt
			}
		}
		if IsManifest(mt) {
			img.Manifest = desc
			m, err := ParseManifest(mt, data)
			if err != nil {
				return nil, fmt.Errorf("image store: manifest %s: %w", desc.Digest, err)
			}
			return s.resolveManifest(ctx, img, m)
		}
		if !IsIndex(mt) {
			return nil, fmt.Errorf("image store: %s has media type %q: %w (expected an image manifest or index)", desc.Digest, mt, ErrNotRunnable)
		}
		if depth == maxIndexDepth {
			return nil, fmt.Errorf("image store: %s: %w: indexes nested more than %d deep", target.Digest, ErrInvalidManifest, maxIndexDepth)
		}
		idx, err := ParseIndex(mt, data)
		if err != nil {
			return nil, fmt.Errorf("image store: index %s: %w", desc.Digest, err)
		}
		if depth > 0 {
			img.Indexes = append(img.Indexes, desc)
		}
		if desc, err = SelectManifest(idx, platform); err != nil {
			return nil, fmt.Errorf("image store: index %s: %w", target.Digest, err)
		}
	}
}

// readManifestBlob reads a manifest or index and checks it is the size its
// descriptor says (the content store has already checked the digest).
func (s *Store) readManifestBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("image store: %w: digest %q: %v", ErrInvalidManifest, desc.Digest, err)
	}
	data, err := content.ReadBlob(ctx, s.cs, desc.Digest, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("image store: manifest %s: %w", desc.Digest, err)
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("image store: manifest %s is %d bytes but its descriptor says %d: %w", desc.Digest, len(data), desc.Size, ErrInvalidManifest)
	}
	return data, nil
}

func (s *Store) resolveManifest(ctx context.Context, img *Image, m *ocispec.Manifest) (*Image, error) {
	mdgst := img.Manifest.Digest
	if !IsConfig(m.Config.MediaType) {
		return nil, fmt.Errorf("image store: manifest %s: %w: its config is %q (an artifact, not an image gorae can run)", mdgst, ErrNotRunnable, m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if !IsLayer(l.MediaType) {
			return nil, fmt.Errorf("image store: manifest %s: %w: layer %d has media type %q, which gorae cannot unpack", mdgst, ErrNotRunnable, i, l.MediaType)
		}
	}
	data, err := content.ReadBlob(ctx, s.cs, m.Config.Digest, MaxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("image store: config of manifest %s: %w", mdgst, err)
	}
	if int64(len(data)) != m.Config.Size {
		return nil, fmt.Errorf("image store: config %s is %d bytes but manifest %s says %d: %w", m.Config.Digest, len(data), mdgst, m.Config.Size, ErrInvalidManifest)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("image store: config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image store: %w: manifest %s has %d layers but its config lists %d diff_ids", ErrInvalidManifest, mdgst, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		info, err := s.cs.Info(ctx, l.Digest)
		if err != nil {
			return nil, fmt.Errorf("image store: layer %d of manifest %s: %w", i, mdgst, err)
		}
		if info.Size != l.Size {
			return nil, fmt.Errorf("image store: layer %d (%s) is %d bytes but manifest %s says %d: %w", i, l.Digest, info.Size, mdgst, l.Size, ErrInvalidManifest)
		}
	}
	img.ID = m.Config.Digest
	img.ConfigDescriptor = m.Config
	img.Layers = m.Layers
	img.LayerSizes = unknownSizes(len(m.Layers))
	img.Config = cfg
	return img, nil
}

// Get finds an image as Docker's daemon does: by reference ("busybox",
// "busybox:1.36", "busybox@sha256:…"), by full ID ("sha256:…" or 64 hex
// digits), or by a unique prefix of its ID ("3f57").
func (s *Store) Get(ctx context.Context, refOrID string) (*Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	img, err := s.lookup(refOrID)
	if err != nil {
		return nil, err
	}
	return img.clone(), nil
}

// lookup is Get under s.mu.
func (s *Store) lookup(refOrID string) (*Image, error) {
	ref, err := reference.ParseAnyReference(refOrID)
	if err != nil {
		return nil, &ReferenceError{Input: refOrID, Err: err}
	}
	if named, ok := ref.(reference.Named); ok {
		if e, ok := s.refs[reference.TagNameOnly(named).String()]; ok {
			return s.images[e.id], nil
		}
	} else if d, ok := ref.(reference.Digested); ok {
		if img, ok := s.images[d.Digest()]; ok {
			return img, nil
		}
		return nil, notFound(refOrID)
	}
	return s.searchID(refOrID)
}

// searchID finds the image whose ID starts with prefix (with or without
// "sha256:").
func (s *Store) searchID(prefix string) (*Image, error) {
	hex := strings.TrimPrefix(prefix, string(digest.SHA256)+":")
	if hex == "" || strings.Trim(hex, "0123456789abcdef") != "" {
		return nil, notFound(prefix)
	}
	var found *Image
	for id, img := range s.images {
		if strings.HasPrefix(id.Encoded(), hex) {
			if found != nil {
				return nil, fmt.Errorf("%w %q: it matches more than one image; give more of the ID", ErrAmbiguous, prefix)
			}
			found = img
		}
	}
	if found == nil {
		return nil, notFound(prefix)
	}
	return found, nil
}

func notFound(what string) error {
	return fmt.Errorf("%w: %s", ErrNotFound, what)
}

// Images returns every image, in no order.
func (s *Store) Images() []*Image {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Image, 0, len(s.images))
	for _, img := range s.images {
		out = append(out, img.clone())
	}
	return out
}

// children are the images whose parent is id; the caller holds s.mu.
func (s *Store) children(id digest.Digest) []digest.Digest {
	var out []digest.Digest
	for cid, img := range s.images {
		if img.Parent == id {
			out = append(out, cid)
		}
	}
	slices.Sort(out)
	return out
}

// ReferencedChainIDs are the chain IDs of every image's layers: the
// unpacked layers the snapshotter must keep.
func (s *Store) ReferencedChainIDs() map[digest.Digest]struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[digest.Digest]struct{}{}
	for _, img := range s.images {
		for _, c := range img.ChainIDs() {
			out[c] = struct{}{}
		}
	}
	return out
}

// Verify checks that every image's blobs are present, as the store
// promises after any crash, and returns one error per image that lacks
// one (nil if all is well). Only a store edited by hand, or a filesystem
// that lost fsync'd data, fails it.
func (s *Store) Verify(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var errs []error
	for _, img := range s.images {
		for _, b := range img.Blobs() {
			if _, err := s.cs.Info(ctx, b); err != nil {
				errs = append(errs, fmt.Errorf("image %s: %w (pull or load it again)", img.ID, err))
				break
			}
		}
	}
	for key, e := range s.refs {
		if _, ok := s.images[e.id]; !ok {
			errs = append(errs, fmt.Errorf("reference %s points to missing image %s", key, e.id))
		}
	}
	return errors.Join(errs...)
}
