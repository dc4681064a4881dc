package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// SaveOCILayout writes images into dir as an OCI image layout (oci-layout,
// index.json, blobs/sha256/…), the directory form of what Save writes, as
// `skopeo copy … oci:DIR:TAG` does. dir is created if missing; if it
// already is an OCI layout, the images are added to it: an entry of its
// index.json with the same name (io.containerd.image.name, or else
// org.opencontainers.image.ref.name) is replaced, others are kept, and
// blobs already there are not written again. A directory that is neither
// empty nor a layout is refused. Each file is written under a temporary
// name and renamed, index.json last, so a reader never sees a partial
// blob or an index naming a blob not yet written.
func SaveOCILayout(ctx context.Context, s *Store, names []string, dir string) error {
	ex, err := s.exportPlan(ctx, names)
	if err != nil {
		return err
	}
	defer ex.lease.Release()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save: create OCI layout directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("save: open OCI layout directory: %w", err)
	}
	defer root.Close()
	existing, err := existingLayoutIndex(root, dir)
	if err != nil {
		return err
	}
	blobDir := path.Join(ocispec.ImageBlobsDir, string(digest.SHA256))
	if err := root.MkdirAll(blobDir, 0o755); err != nil {
		return fmt.Errorf("save: create %s in %s: %w", blobDir, dir, err)
	}
	buf := make([]byte, copyBufferSize)
	for _, b := range ex.blobs {
		p := blobPath(b.Digest)
		if fi, err := root.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == b.Size {
			continue // content-addressed: the same name is the same blob
		}
		if err := writeLayoutBlob(ctx, root, s.cs, b, buf); err != nil {
			return fmt.Errorf("save: write %s in %s: %w", p, dir, err)
		}
	}
	idx := ex.index()
	idx.Manifests = mergeIndex(existing, idx.Manifests)
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := writeRootFileAtomic(root, ocispec.ImageLayoutFile, []byte(ociLayoutContent)); err != nil {
		return fmt.Errorf("save: write oci-layout in %s: %w", dir, err)
	}
	if err := writeRootFileAtomic(root, ocispec.ImageIndexFile, data); err != nil {
		return fmt.Errorf("save: write index.json in %s: %w", dir, err)
	}
	return nil
}

// existingLayoutIndex returns the entries of dir's index.json if dir is an
// OCI layout, nothing if it is empty, and an error otherwise.
func existingLayoutIndex(root *os.Root, dir string) ([]ocispec.Descriptor, error) {
	layout, err := root.ReadFile(ocispec.ImageLayoutFile)
	if errors.Is(err, fs.ErrNotExist) {
		f, err := root.Open(".")
		if err != nil {
			return nil, fmt.Errorf("save: read %s: %w", dir, err)
		}
		defer f.Close()
		if names, _ := f.Readdirnames(1); len(names) > 0 {
			return nil, fmt.Errorf("save: %s is not empty and not an OCI image layout (no oci-layout file): refusing to write into it; name an empty or new directory", dir)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("save: read oci-layout in %s: %w", dir, err)
	}
	if err := checkLayoutVersion(layout); err != nil {
		return nil, fmt.Errorf("save: %s: %w", dir, err)
	}
	data, err := readRootFile(root, ocispec.ImageIndexFile, maxArchiveMetadataBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("save: %s: %w", dir, err)
	}
	idx, err := ParseIndex("", data)
	if err != nil {
		return nil, fmt.Errorf("save: index.json in %s: %w (move it away, or name another directory)", dir, err)
	}
	return idx.Manifests, nil
}

// mergeIndex keeps the entries of old that none of added replaces: same
// image name, or, for an entry without one, the same ref.name.
func mergeIndex(old, added []ocispec.Descriptor) []ocispec.Descriptor {
	replaced := func(d ocispec.Descriptor) bool {
		for _, a := range added {
			if n := d.Annotations[annotationImageName]; n != "" {
				if n == a.Annotations[annotationImageName] {
					return true
				}
				continue
			}
			if r := d.Annotations[ocispec.AnnotationRefName]; r != "" && r == a.Annotations[ocispec.AnnotationRefName] {
				return true
			}
			if len(d.Annotations) == 0 && len(a.Annotations) == 0 && d.Digest == a.Digest {
				return true // the same unnamed image
			}
		}
		return false
	}
	var out []ocispec.Descriptor
	for _, d := range old {
		if !replaced(d) {
			out = append(out, d)
		}
	}
	return append(out, added...)
}

// writeLayoutBlob streams a blob to its place in the layout.
func writeLayoutBlob(ctx context.Context, root *os.Root, cs content.Provider, b ocispec.Descriptor, buf []byte) error {
	rc, size, err := content.Open(ctx, cs, b.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	if size != b.Size {
		return fmt.Errorf("blob %s is %d bytes in the content store but its descriptor says %d (the store is damaged: pull or load the image again)", b.Digest, size, b.Size)
	}
	return writeRootAtomic(root, blobPath(b.Digest), 0o444, func(w io.Writer) error {
		_, err := io.CopyBuffer(w, struct{ io.Reader }{&ctxReader{ctx: ctx, r: rc}}, buf)
		return err
	})
}

func writeRootFileAtomic(root *os.Root, name string, data []byte) error {
	return writeRootAtomic(root, name, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeRootAtomic writes name inside root through a temporary file in the
// same directory: written, fsync'd, renamed.
func writeRootAtomic(root *os.Root, name string, mode os.FileMode, write func(io.Writer) error) error {
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(path.Dir(name), tmpPrefix+path.Base(name)+"-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}

// readRootFile reads a small file inside root, bounded.
func readRootFile(root *os.Root, name string, limit int64) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed: refusing it", name, fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s grew past %d bytes while read: refusing it", name, limit)
	}
	return data, nil
}

// LoadOCILayout loads the images of an OCI image layout directory (what
// `skopeo copy … oci:DIR:TAG` and SaveOCILayout write), or of an unpacked
// docker save archive, as Load loads them from a tar: every image its
// index.json (or manifest.json) lists, with the names its annotations
// give. Only the blobs those images need are read, each verified against
// its digest as it is copied into the content store. Nothing outside dir
// is read: paths and symlinks that lead out are refused.
func LoadOCILayout(ctx context.Context, s *Store, dir string, progress func(msg string)) ([]LoadedImage, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("load: open %s: %w", dir, err)
	}
	defer root.Close()
	lease := s.Lease()
	defer lease.Release()
	src := &dirSource{root: root, cs: s.cs, lease: lease, cache: map[string]dirBlob{}, buf: make([]byte, copyBufferSize)}
	out, err := s.loadFrom(ctx, src, lease, progress)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	return out, nil
}

// dirSource is a layout directory; its files are copied into the content
// store when first asked for.
type dirSource struct {
	root  *os.Root
	cs    content.Store
	lease *Lease
	cache map[string]dirBlob
	buf   []byte
}

type dirBlob struct {
	dgst digest.Digest
	size int64
}

func (d *dirSource) metadata(name string) ([]byte, bool, error) {
	data, err := readRootFile(d.root, name, maxArchiveMetadataBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func (d *dirSource) blob(ctx context.Context, p string) (digest.Digest, int64, error) {
	name, err := cleanArchivePath(p)
	if err != nil {
		return "", 0, err
	}
	if b, ok := d.cache[name]; ok {
		return b.dgst, b.size, nil
	}
	f, err := d.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, fmt.Errorf("%q is not in the directory", p)
	}
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%q is not a regular file", p)
	}
	dgst, err := spool(ctx, d.cs, d.lease, f, fi.Size(), digestFromBlobPath(name), d.buf)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", name, err)
	}
	d.cache[name] = dirBlob{dgst, fi.Size()}
	return dgst, fi.Size(), nil
}
