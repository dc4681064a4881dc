package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Bounds on what an archive may make a load hold or follow.
const (
	maxArchiveEntries = 1 << 17 // files in one archive: far more than any image set has
	maxLinkHops       = 64      // symlinks and hard links followed to find one file
)

// legacyLayerMetadata matches the per-layer files of archives written by
// Docker before 25 (<v1 id>/json, <v1 id>/VERSION): nothing reads them, so
// they are not stored.
var legacyLayerMetadata = regexp.MustCompile(`^[0-9a-f]{64}/(json|VERSION)$`)

// Load reads a `docker save` archive or an OCI image layout tar from r, in
// one pass, and records its images and their names, as `docker load`
// does. It accepts what Docker 1.10 and later writes (manifest.json naming
// <id>/layer.tar and <id>.json files, symlinked layers included), what
// Docker 25 and later writes (manifest.json and the OCI layout side by
// side), what skopeo writes (docker-archive:, oci-archive:), and any OCI
// image layout; plain, or compressed with gzip, zstd, bzip2 or xz.
//
// Each file is streamed into the content store as the archive presents
// it, verified against its digest when its name is one
// (blobs/sha256/<hex>); manifest.json and index.json are resolved at the
// end, so they may come first or last. Layers are stored as they come:
// an uncompressed layer stays an uncompressed tar (as Docker's containerd
// store keeps it). A load records all of its images or none: until it
// succeeds its blobs are held by a lease only, so a failed load leaves
// nothing but blobs the next collection removes.
//
// progress, if not nil, receives Docker's lines: "Loaded image: name:tag"
// for each name, "Loaded image ID: sha256:…" for an image without one.
func Load(ctx context.Context, s *Store, r io.Reader, progress func(msg string)) ([]LoadedImage, error) {
	rc, c, err := decompress(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer rc.Close()
	lease := s.Lease()
	defer lease.Release()
	src, err := readArchive(ctx, s.cs, lease, rc)
	if err != nil {
		if c != uncompressed {
			err = fmt.Errorf("%w (the input is %s-compressed)", err, c)
		}
		return nil, fmt.Errorf("load: %w", err)
	}
	out, err := s.loadFrom(ctx, src, lease, progress)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return out, nil
}

// loadSource is what a load reads images from: an archive already
// streamed into the content store, or an OCI layout directory.
type loadSource interface {
	// metadata returns a top-level file of the layout (manifest.json,
	// index.json, oci-layout, repositories), or ok false if absent.
	metadata(name string) (data []byte, ok bool, err error)
	// blob makes the file at the archive path p present in the content
	// store and returns its digest and size.
	blob(ctx context.Context, p string) (digest.Digest, int64, error)
}

// archiveFile is one file of a tar archive as Load found it.
type archiveFile struct {
	typ     byte // tar.TypeReg, tar.TypeSymlink, tar.TypeLink; 0 for anything else
	dgst    digest.Digest
	size    int64
	link    string // the archive path a link points to
	escapes bool   // the link points outside the archive
	target  string // the link as written, for messages
}

// tarSource is an archive whose files are in the content store.
type tarSource struct {
	files map[string]*archiveFile
	meta  map[string][]byte
}

func (t *tarSource) metadata(name string) ([]byte, bool, error) {
	data, ok := t.meta[name]
	return data, ok, nil
}

func (t *tarSource) blob(ctx context.Context, p string) (digest.Digest, int64, error) {
	name, err := cleanArchivePath(p)
	if err != nil {
		return "", 0, err
	}
	for hops := 0; ; hops++ {
		f, ok := t.files[name]
		if !ok {
			if name != p {
				return "", 0, fmt.Errorf("%q (reached as %q) is not in the archive (it is incomplete or damaged: save it again)", name, p)
			}
			return "", 0, fmt.Errorf("%q is not in the archive (it is incomplete or damaged: save it again)", p)
		}
		switch f.typ {
		case tar.TypeReg:
			return f.dgst, f.size, nil
		case tar.TypeSymlink, tar.TypeLink:
			if f.escapes {
				return "", 0, fmt.Errorf("%q is a link to %q, outside the archive: refusing to follow it", name, f.target)
			}
			if hops == maxLinkHops {
				return "", 0, fmt.Errorf("%q: more than %d links to follow (a loop?)", p, maxLinkHops)
			}
			name = f.link
		default:
			return "", 0, fmt.Errorf("%q is not a regular file in the archive", name)
		}
	}
}

// cleanArchivePath is p as a key of the archive: relative, clean, and
// never above the archive's root. An absolute path counts from the root,
// as Docker's untar treats it; one that climbs out is refused.
func cleanArchivePath(p string) (string, error) {
	c := path.Clean("/" + p)
	if c2 := path.Clean(p); c2 == ".." || strings.HasPrefix(c2, "../") {
		return "", fmt.Errorf("archive path %q climbs out of the archive: refusing it (the archive is damaged or hostile)", p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("archive path %q contains a NUL byte", p)
	}
	return strings.TrimPrefix(c, "/"), nil
}

// isLayoutMetadata reports whether name is one of the small top-level
// files a load reads whole.
func isLayoutMetadata(name string) bool {
	switch name {
	case manifestFile, ocispec.ImageIndexFile, ocispec.ImageLayoutFile, legacyRepositoriesFile:
		return true
	}
	return false
}

// digestFromBlobPath is the digest a file's name promises
// (blobs/sha256/<hex>), or "" if its name promises none this store keeps.
func digestFromBlobPath(name string) digest.Digest {
	rest, ok := strings.CutPrefix(name, ocispec.ImageBlobsDir+"/"+string(digest.SHA256)+"/")
	if !ok || strings.Contains(rest, "/") {
		return ""
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, rest)
	if d.Validate() != nil {
		return ""
	}
	return d
}

// readArchive reads a tar in one pass: the top-level metadata files into
// memory (bounded), every other regular file into the content store under
// the lease, links as names of other entries. Nothing is written to the
// filesystem by its name in the archive.
func readArchive(ctx context.Context, cs content.Store, lease *Lease, r io.Reader) (*tarSource, error) {
	src := &tarSource{files: map[string]*archiveFile{}, meta: map[string][]byte{}}
	tr := tar.NewReader(r)
	buf := make([]byte, copyBufferSize)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return nil, errors.New("the archive is empty: expected a docker save archive or an OCI image layout tar")
			}
			return src, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w (expected a docker save archive or an OCI image layout tar)", err)
		}
		if n == maxArchiveEntries {
			return nil, fmt.Errorf("the archive has more than %d entries: refusing it", maxArchiveEntries)
		}
		name, err := cleanArchivePath(hdr.Name)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
			if isLayoutMetadata(name) {
				if hdr.Size > maxArchiveMetadataBytes {
					return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed: refusing it", name, hdr.Size, maxArchiveMetadataBytes)
				}
				data, err := io.ReadAll(tr)
				if err != nil {
					return nil, fmt.Errorf("read %s from the archive: %w", name, err)
				}
				src.meta[name] = data
				delete(src.files, name)
				continue
			}
			if legacyLayerMetadata.MatchString(name) {
				continue
			}
			dgst, err := spool(ctx, cs, lease, tr, hdr.Size, digestFromBlobPath(name), buf)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("archive file %s: %w (the archive is truncated: copy or save it again)", name, err)
			}
			if err != nil {
				return nil, fmt.Errorf("archive file %s: %w", name, err)
			}
			src.files[name] = &archiveFile{typ: tar.TypeReg, dgst: dgst, size: hdr.Size}
		case tar.TypeSymlink:
			f := &archiveFile{typ: tar.TypeSymlink, target: hdr.Linkname}
			t := hdr.Linkname
			if !path.IsAbs(t) {
				t = path.Join(path.Dir(name), t)
			}
			f.link, err = cleanArchivePath(t)
			f.escapes = err != nil || hdr.Linkname == ""
			src.files[name] = f
		case tar.TypeLink:
			f := &archiveFile{typ: tar.TypeLink, target: hdr.Linkname}
			f.link, err = cleanArchivePath(hdr.Linkname)
			f.escapes = err != nil || hdr.Linkname == ""
			src.files[name] = f
		default:
			src.files[name] = &archiveFile{}
		}
		if isLayoutMetadata(name) {
			// A link or device under a metadata file's name: the
			// metadata file is what the archive says last.
			delete(src.meta, name)
		}
	}
}

// spool streams r (size bytes) into the content store, verified against
// expected if given, and returns its digest. The blob is added to the
// lease before it can become visible, so no collection can take it
// before the load has recorded it.
func spool(ctx context.Context, cs content.Store, lease *Lease, r io.Reader, size int64, expected digest.Digest, buf []byte) (digest.Digest, error) {
	if expected != "" {
		lease.Add(expected)
	}
	w, err := cs.Writer(ctx, content.WithExpected(expected, size))
	if errors.Is(err, content.ErrAlreadyExists) {
		info, err := cs.Info(ctx, expected)
		if err != nil {
			return "", err
		}
		if info.Size != size {
			return "", fmt.Errorf("%w: it is %d bytes, but blob %s is %d", content.ErrSizeMismatch, size, expected, info.Size)
		}
		return expected, nil
	}
	if err != nil {
		return "", err
	}
	defer w.Abort()
	if _, err := io.CopyBuffer(w, struct{ io.Reader }{&ctxReader{ctx: ctx, r: r}}, buf); err != nil {
		return "", err
	}
	dgst := w.Digest()
	lease.Add(dgst)
	if err := w.Commit(ctx, size, expected); err != nil && !errors.Is(err, content.ErrAlreadyExists) {
		return "", err
	}
	return dgst, nil
}

// loadSession resolves the images of one source.
type loadSession struct {
	s        *Store
	src      loadSource
	lease    *Lease
	platform ocispec.Platform
	progress func(string)
}

// indexTarget is one entry of index.json and what it resolved to.
type indexTarget struct {
	desc   ocispec.Descriptor
	config digest.Digest
	layers []digest.Digest
	names  []reference.Named
	err    error
}

// loadFrom resolves the images src holds and records them.
func (s *Store) loadFrom(ctx context.Context, src loadSource, lease *Lease, progress func(string)) ([]LoadedImage, error) {
	l := &loadSession{s: s, src: src, lease: lease, platform: DefaultPlatform(), progress: progress}
	if l.progress == nil {
		l.progress = func(string) {}
	}
	pending, err := l.plan(ctx)
	if err != nil {
		return nil, err
	}
	return s.register(ctx, pending, l.platform, progress)
}

// plan reads manifest.json and index.json and works out the images to
// record. With manifest.json (any docker save archive) its entries are the
// images, as for Docker; index.json, which Docker 25 and later write
// alongside, contributes the manifest of an entry whose config and layers
// it matches, so that a saved image comes back with the manifest digest it
// had. Without manifest.json (an OCI layout), index.json's entries are the
// images, each of which must be complete.
func (l *loadSession) plan(ctx context.Context) ([]pendingImage, error) {
	if data, ok, err := l.src.metadata(ocispec.ImageLayoutFile); err != nil {
		return nil, err
	} else if ok {
		if err := checkLayoutVersion(data); err != nil {
			return nil, err
		}
	}
	manifestData, hasManifest, err := l.src.metadata(manifestFile)
	if err != nil {
		return nil, err
	}
	indexData, hasIndex, err := l.src.metadata(ocispec.ImageIndexFile)
	if err != nil {
		return nil, err
	}
	if !hasManifest && !hasIndex {
		if _, ok, _ := l.src.metadata(legacyRepositoriesFile); ok {
			return nil, errors.New("the archive has a repositories file but no manifest.json: it was written by a Docker older than 1.10, whose format gorae does not read (load it into such a Docker and save it again)")
		}
		return nil, errors.New("neither manifest.json nor index.json found: not a docker save archive or an OCI image layout")
	}
	var targets []indexTarget
	if hasIndex {
		idx, err := ParseIndex("", indexData)
		if err != nil {
			if !hasManifest {
				return nil, fmt.Errorf("index.json: %w", err)
			}
			idx = &ocispec.Index{} // Docker reads only manifest.json; so may we
		}
		for i, d := range idx.Manifests {
			t := l.resolveIndexEntry(ctx, d)
			if t.err != nil && !hasManifest {
				return nil, fmt.Errorf("index.json entry %d (%s): %w", i, d.Digest, t.err)
			}
			targets = append(targets, t)
		}
	}
	if !hasManifest {
		if len(targets) == 0 {
			return nil, errors.New("index.json lists no images")
		}
		pending := make([]pendingImage, len(targets))
		for i, t := range targets {
			pending[i] = pendingImage{target: plainDescriptor(t.desc), names: t.names}
		}
		return pending, nil
	}
	var items []manifestItem
	if err := json.Unmarshal(manifestData, &items); err != nil {
		return nil, fmt.Errorf("manifest.json is not a docker save manifest (%v): the archive is damaged", err)
	}
	if len(items) == 0 {
		return nil, errors.New("manifest.json lists no images")
	}
	pending := make([]pendingImage, len(items))
	for i, item := range items {
		p, err := l.fromManifestItem(ctx, item, targets)
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d (config %q): %w", i, item.Config, err)
		}
		pending[i] = p
	}
	return pending, nil
}

// checkLayoutVersion checks the oci-layout file.
func checkLayoutVersion(data []byte) error {
	var layout ocispec.ImageLayout
	if err := json.Unmarshal(data, &layout); err != nil {
		return fmt.Errorf("oci-layout is not valid JSON (%v): not an OCI image layout", err)
	}
	if !strings.HasPrefix(layout.Version, "1.") {
		return fmt.Errorf("oci-layout says imageLayoutVersion %q; gorae reads version 1.x", layout.Version)
	}
	return nil
}

// resolveIndexEntry checks that an index.json entry is a complete image in
// the source and finds its names.
func (l *loadSession) resolveIndexEntry(ctx context.Context, d ocispec.Descriptor) indexTarget {
	t := indexTarget{desc: d}
	t.config, t.layers, t.err = l.walk(ctx, d, 0)
	if t.err == nil {
		t.names, t.err = l.namesFromAnnotations(d, t.config)
	}
	return t
}

// walk follows a descriptor from index.json down to an image manifest
// (choosing this platform's from an index), requires every blob it names
// to be in the source, and returns the config and layer digests.
func (l *loadSession) walk(ctx context.Context, d ocispec.Descriptor, depth int) (digest.Digest, []digest.Digest, error) {
	data, err := l.readDocument(ctx, d, MaxManifestSize)
	if err != nil {
		return "", nil, err
	}
	mt := d.MediaType
	if mt == "" {
		if mt, err = DetectMediaType(data); err != nil {
			return "", nil, fmt.Errorf("%s: %w", d.Digest, err)
		}
	}
	switch {
	case IsIndex(mt):
		if depth == maxIndexDepth {
			return "", nil, fmt.Errorf("%w: indexes nested more than %d deep", ErrInvalidManifest, maxIndexDepth)
		}
		idx, err := ParseIndex(mt, data)
		if err != nil {
			return "", nil, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		sel, err := SelectManifest(idx, l.platform)
		if err != nil {
			return "", nil, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		return l.walk(ctx, sel, depth+1)
	case IsManifest(mt):
		m, err := ParseManifest(mt, data)
		if err != nil {
			return "", nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		if _, err := l.fetch(ctx, m.Config); err != nil {
			return "", nil, fmt.Errorf("config of manifest %s: %w", d.Digest, err)
		}
		layers := make([]digest.Digest, len(m.Layers))
		for i, ld := range m.Layers {
			if _, err := l.fetch(ctx, ld); err != nil {
				return "", nil, fmt.Errorf("layer %d of manifest %s: %w", i, d.Digest, err)
			}
			layers[i] = ld.Digest
		}
		return m.Config.Digest, layers, nil
	}
	return "", nil, fmt.Errorf("%s has media type %q: %w (expected an image manifest or index)", d.Digest, mt, ErrNotRunnable)
}

// fetch makes the blob d names present from the source's
// blobs/<alg>/<hex>, checking it is the blob d describes.
func (l *loadSession) fetch(ctx context.Context, d ocispec.Descriptor) (digest.Digest, error) {
	if err := d.Digest.Validate(); err != nil {
		return "", fmt.Errorf("%w: digest %q: %v", ErrInvalidManifest, d.Digest, err)
	}
	if d.Digest.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("blob %s: only sha256 blobs are supported", d.Digest)
	}
	got, size, err := l.src.blob(ctx, blobPath(d.Digest))
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if got != d.Digest {
		return "", fmt.Errorf("blob %s: %w", d.Digest, &content.DigestMismatchError{Expected: d.Digest, Actual: got})
	}
	if size != d.Size {
		return "", fmt.Errorf("blob %s is %d bytes but its descriptor says %d: %w", d.Digest, size, d.Size, ErrInvalidManifest)
	}
	return got, nil
}

// readDocument fetches a manifest or index and reads it, bounded.
func (l *loadSession) readDocument(ctx context.Context, d ocispec.Descriptor, limit int64) ([]byte, error) {
	dgst, err := l.fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	return content.ReadBlob(ctx, l.s.cs, dgst, limit)
}

// namesFromAnnotations are the names an index.json entry gives its image,
// as Docker's containerd image store reads them: containerd's
// io.containerd.image.name (a full reference, which Docker writes), else
// OCI's org.opencontainers.image.ref.name read as an image name. So a
// ref.name that is only a tag names a repository of that name: "test",
// what `skopeo copy … oci:DIR:test` writes, loads as test:latest, as it
// does into Docker. A ref.name that is no image name ("v1.0+x") names
// nothing; the image is loaded by ID, and progress says so.
func (l *loadSession) namesFromAnnotations(d ocispec.Descriptor, id digest.Digest) ([]reference.Named, error) {
	if n := d.Annotations[annotationImageName]; n != "" {
		ref, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			return nil, fmt.Errorf("annotation %s %q: %w", annotationImageName, n, &ReferenceError{Input: n, Err: err})
		}
		return []reference.Named{reference.TagNameOnly(ref)}, nil
	}
	n := d.Annotations[ocispec.AnnotationRefName]
	if n == "" {
		return nil, nil
	}
	ref, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		l.progress(fmt.Sprintf("index.json names image %s %q, which is not an image name: it is loaded without a name (gorae tag %s NAME:TAG)", id, n, shortID(id.String())))
		return nil, nil
	}
	return []reference.Named{reference.TagNameOnly(ref)}, nil
}

// fromManifestItem turns one manifest.json entry into an image to record.
func (l *loadSession) fromManifestItem(ctx context.Context, item manifestItem, targets []indexTarget) (pendingImage, error) {
	var p pendingImage
	cfgDgst, cfgSize, err := l.src.blob(ctx, item.Config)
	if err != nil {
		return p, fmt.Errorf("config: %w", err)
	}
	data, err := content.ReadBlob(ctx, l.s.cs, cfgDgst, MaxConfigSize)
	if err != nil {
		return p, fmt.Errorf("config %q: %w", item.Config, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return p, fmt.Errorf("config %q: %w", item.Config, err)
	}
	if len(item.Layers) != len(cfg.RootFS.DiffIDs) {
		return p, fmt.Errorf("%w: it lists %d layers but its config has %d diff_ids", ErrInvalidManifest, len(item.Layers), len(cfg.RootFS.DiffIDs))
	}
	layers := make([]ocispec.Descriptor, len(item.Layers))
	layerDigests := make([]digest.Digest, len(item.Layers))
	for i, lp := range item.Layers {
		d, size, err := l.src.blob(ctx, lp)
		if err != nil {
			return p, fmt.Errorf("layer %d: %w", i, err)
		}
		layers[i] = ocispec.Descriptor{Digest: d, Size: size}
		layerDigests[i] = d
	}
	for _, t := range item.RepoTags {
		ref, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return p, fmt.Errorf("RepoTags entry %q: %w", t, &ReferenceError{Input: t, Err: err})
		}
		tagged, ok := ref.(reference.NamedTagged)
		if _, canonical := ref.(reference.Canonical); !ok || canonical {
			return p, fmt.Errorf("RepoTags entry %q: %w", t, &ReferenceError{Input: t, Err: errors.New("not a name:tag")})
		}
		p.names = append(p.names, tagged)
	}
	if item.Parent != "" {
		if err := item.Parent.Validate(); err != nil {
			return p, fmt.Errorf("Parent %q: %v", item.Parent, err)
		}
		p.parent = item.Parent
	}
	// Docker 25 and later write the same image into index.json: keep
	// the manifest it came with.
	for _, t := range targets {
		if t.err != nil || t.config != cfgDgst || !slices.Equal(t.layers, layerDigests) {
			continue
		}
		if p.target.Digest == "" {
			p.target = plainDescriptor(t.desc)
		}
		for _, n := range t.names {
			if !slices.ContainsFunc(p.names, func(m reference.Named) bool { return m.String() == n.String() }) {
				p.names = append(p.names, n)
			}
		}
	}
	if p.target.Digest != "" {
		return p, nil
	}
	for i := range layers {
		if layers[i].MediaType, err = l.layerMediaType(ctx, layers[i].Digest, cfg.RootFS.DiffIDs[i]); err != nil {
			return p, fmt.Errorf("layer %d (%q): %w", i, item.Layers[i], err)
		}
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDgst, Size: cfgSize},
		Layers:    layers,
	}
	mdata, err := json.Marshal(m)
	if err != nil {
		return p, err
	}
	p.target = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mdata), Size: int64(len(mdata))}
	l.lease.Add(p.target.Digest)
	if _, _, err := content.WriteBlob(ctx, l.s.cs, strings.NewReader(string(mdata)), p.target.Size, p.target.Digest); err != nil {
		return p, fmt.Errorf("write its manifest: %w", err)
	}
	return p, nil
}

// layerMediaType tells a legacy archive's layer's media type from its
// first bytes. An uncompressed layer is its own diff: its digest must be
// the config's diff_id (a compressed one is checked when it is unpacked).
func (l *loadSession) layerMediaType(ctx context.Context, dgst, diffID digest.Digest) (string, error) {
	rc, _, err := content.Open(ctx, l.s.cs, dgst)
	if err != nil {
		return "", err
	}
	head := make([]byte, len(magicXz))
	n, _ := io.ReadFull(rc, head)
	rc.Close()
	switch c := detectCompression(head[:n]); c {
	case compressedGzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case compressedZstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	case compressedBzip2, compressedXz:
		return "", fmt.Errorf("the layer is %s-compressed, and image layers are tar, gzip or zstd (decompress the layer, or load the image into Docker and save it again)", c)
	}
	if dgst != diffID {
		return "", fmt.Errorf("the layer is an uncompressed tar, so its digest %s should be the diff_id %s its config gives: %w", dgst, diffID, &content.DigestMismatchError{Expected: diffID, Actual: dgst})
	}
	return ocispec.MediaTypeImageLayer, nil
}

// plainDescriptor is d without the annotations and platform an index
// entry carries: what an image record keeps as its target.
func plainDescriptor(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}
