package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The files of a docker save archive besides the OCI layout's
// (docs/image-store.md, "Formats").
const (
	manifestFile            = "manifest.json"
	legacyRepositoriesFile  = "repositories"
	annotationImageName     = "io.containerd.image.name" // containerd's, which Docker writes
	ociLayoutContent        = `{"imageLayoutVersion":"` + ocispec.ImageLayoutVersion + `"}`
	saveBlobMode            = 0o644
	saveDirMode             = 0o755
	copyBufferSize          = 1 << 20
	maxArchiveMetadataBytes = 32 << 20 // manifest.json, index.json: generous, but bounded
)

// epoch is the time stamp of every entry Save writes, so that saving the
// same images twice gives the same bytes (Docker 25 stamps its metadata
// files the same way).
var epoch = time.Unix(0, 0).UTC()

// manifestItem is one entry of a docker save archive's manifest.json.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
	Parent   digest.Digest `json:",omitempty"`
	// LayerSources (foreign layers) are read by Docker and never written
	// by gorae, which stores no foreign layers it could not ship.
	LayerSources map[digest.Digest]ocispec.Descriptor `json:",omitempty"`
}

// exportImage is an image to save and the names to save it under.
type exportImage struct {
	img  *Image
	tags []reference.NamedTagged
}

// export is what Save and SaveOCILayout write: the images, their blobs
// once each, and a lease that keeps the blobs until the write is done.
type export struct {
	images []exportImage
	blobs  []ocispec.Descriptor // sorted by digest, each once
	lease  *Lease
}

// Save writes images as `docker save` of Docker 25 and later does: one tar
// holding both the OCI image layout (oci-layout, index.json with
// org.opencontainers.image.ref.name and io.containerd.image.name
// annotations, blobs/sha256/…) and the legacy docker save files
// (manifest.json, whose Config and Layers name the same blobs, and
// repositories). Blobs are written as the store holds them, each once
// however many images share it, streamed from the content store.
//
// names are what `docker save` accepts: name:tag saves that tag, a bare
// name saves every tag of that repository, an ID or ID prefix saves the
// image without names.
func Save(ctx context.Context, s *Store, names []string, w io.Writer) error {
	ex, err := s.exportPlan(ctx, names)
	if err != nil {
		return err
	}
	defer ex.lease.Release()
	tw := tar.NewWriter(w)
	for _, dir := range []string{ocispec.ImageBlobsDir + "/", ocispec.ImageBlobsDir + "/" + string(digest.SHA256) + "/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: saveDirMode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	buf := make([]byte, copyBufferSize)
	for _, b := range ex.blobs {
		if err := writeBlobEntry(ctx, tw, s.cs, b, buf); err != nil {
			return err
		}
	}
	files, err := ex.metadataFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Size: int64(len(f.data)), Mode: saveBlobMode, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("save: write %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return fmt.Errorf("save: write %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("save: finish the archive: %w", err)
	}
	return nil
}

// writeBlobEntry streams one blob into the archive as blobs/sha256/<hex>.
func writeBlobEntry(ctx context.Context, tw *tar.Writer, cs content.Provider, b ocispec.Descriptor, buf []byte) error {
	rc, size, err := content.Open(ctx, cs, b.Digest)
	if err != nil {
		return fmt.Errorf("save: blob %s: %w", b.Digest, err)
	}
	defer rc.Close()
	if size != b.Size {
		return fmt.Errorf("save: blob %s is %d bytes in the content store but its descriptor says %d (the store is damaged: pull or load the image again)", b.Digest, size, b.Size)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: blobPath(b.Digest), Size: size, Mode: saveBlobMode, ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("save: blob %s: %w", b.Digest, err)
	}
	// A plain reader: the copy goes through buf, never through a buffer
	// as large as the blob.
	if _, err := io.CopyBuffer(tw, struct{ io.Reader }{&ctxReader{ctx: ctx, r: rc}}, buf); err != nil {
		return fmt.Errorf("save: blob %s: %w", b.Digest, err)
	}
	return nil
}

// blobPath is where an OCI image layout keeps the blob dgst.
func blobPath(dgst digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, dgst.Algorithm().String(), dgst.Encoded())
}

type namedFile struct {
	name string
	data []byte
}

// metadataFiles are the small files of a docker save archive, in the
// order Docker writes them (lexical, as it tars a directory): index.json,
// manifest.json, oci-layout, repositories.
func (ex *export) metadataFiles() ([]namedFile, error) {
	idx, err := json.Marshal(ex.index())
	if err != nil {
		return nil, err
	}
	saved := map[digest.Digest]bool{}
	for _, e := range ex.images {
		saved[e.img.ID] = true
	}
	items := []manifestItem{}
	repos := map[string]map[string]string{}
	for _, e := range ex.images {
		item := manifestItem{Config: blobPath(e.img.ConfigDescriptor.Digest)}
		for _, l := range e.img.Layers {
			item.Layers = append(item.Layers, blobPath(l.Digest))
		}
		if item.Layers == nil {
			item.Layers = []string{}
		}
		for _, t := range e.tags {
			item.RepoTags = append(item.RepoTags, FamiliarString(t))
			if n := len(e.img.Layers); n > 0 {
				name := reference.FamiliarName(t)
				if repos[name] == nil {
					repos[name] = map[string]string{}
				}
				repos[name][t.Tag()] = e.img.Layers[n-1].Digest.Encoded()
			}
		}
		// A parent is worth recording only if the archive has it.
		if saved[e.img.Parent] {
			item.Parent = e.img.Parent
		}
		items = append(items, item)
	}
	man, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	files := []namedFile{
		{ocispec.ImageIndexFile, idx},
		{manifestFile, append(man, '\n')},
		{ocispec.ImageLayoutFile, []byte(ociLayoutContent)},
	}
	if len(repos) > 0 {
		data, err := json.Marshal(repos)
		if err != nil {
			return nil, err
		}
		files = append(files, namedFile{legacyRepositoriesFile, append(data, '\n')})
	}
	return files, nil
}

// index is the OCI layout's index.json: one entry per name, each the
// image's manifest annotated with its full name (containerd's annotation)
// and its tag (OCI's ref.name), as Docker writes it; an image saved
// without names gets one entry without annotations.
func (ex *export) index() ocispec.Index {
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	for _, e := range ex.images {
		for _, t := range e.tags {
			d := manifestDescriptor(e.img)
			d.Annotations = map[string]string{annotationImageName: t.String(), ocispec.AnnotationRefName: t.Tag()}
			idx.Manifests = append(idx.Manifests, d)
		}
		if len(e.tags) == 0 {
			idx.Manifests = append(idx.Manifests, manifestDescriptor(e.img))
		}
	}
	return idx
}

// manifestDescriptor is the descriptor of img's manifest with its
// platform, for an index.
func manifestDescriptor(img *Image) ocispec.Descriptor {
	c := img.Config
	return ocispec.Descriptor{
		MediaType: img.Manifest.MediaType,
		Digest:    img.Manifest.Digest,
		Size:      img.Manifest.Size,
		Platform:  &ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion},
	}
}

// exportPlan resolves names as `docker save` does and takes a lease on
// every blob to write, checking that each is present.
//
// The manifest written is the image's own (the one of its platform); an
// index it was pulled through is not, as its other platforms' blobs are
// not in the store.
func (s *Store) exportPlan(ctx context.Context, names []string) (*export, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("save: no image named: name at least one image or image ID")
	}
	images, err := s.resolveExportNames(names)
	if err != nil {
		return nil, err
	}
	ex := &export{images: images, lease: s.Lease()}
	seen := map[digest.Digest]bool{}
	add := func(d ocispec.Descriptor) {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			ex.blobs = append(ex.blobs, d)
		}
	}
	for _, e := range images {
		add(e.img.Manifest)
		add(e.img.ConfigDescriptor)
		for _, l := range e.img.Layers {
			add(l)
		}
	}
	slices.SortFunc(ex.blobs, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	for _, b := range ex.blobs {
		ex.lease.Add(b.Digest)
	}
	// Checked after the lease: a collection either kept them or has
	// already deleted them, which is then reported here, before the
	// archive is begun.
	for _, b := range ex.blobs {
		if _, err := s.cs.Info(ctx, b.Digest); err != nil {
			ex.lease.Release()
			return nil, fmt.Errorf("save: %w (the image was removed meanwhile, or its blobs are missing: pull or load it again)", err)
		}
	}
	return ex, nil
}

// resolveExportNames is Docker's parseNames: which images to save, each
// with the tags to save it under, in the order first named.
func (s *Store) resolveExportNames(names []string) ([]exportImage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []exportImage
	index := map[digest.Digest]int{}
	add := func(img *Image, tag reference.NamedTagged) {
		i, ok := index[img.ID]
		if !ok {
			i = len(out)
			index[img.ID] = i
			out = append(out, exportImage{img: img.clone()})
		}
		if tag != nil && !slices.ContainsFunc(out[i].tags, func(t reference.NamedTagged) bool { return t.String() == tag.String() }) {
			out[i].tags = append(out[i].tags, tag)
		}
	}
	for _, name := range names {
		ref, err := reference.ParseAnyReference(name)
		if err != nil {
			return nil, fmt.Errorf("save: %w", &ReferenceError{Input: name, Err: err})
		}
		named, isNamed := ref.(reference.Named)
		if isNamed && reference.FamiliarName(named) == string(digest.SHA256) {
			isNamed = false // "sha256:3f57…": an ID prefix, not a repository
		}
		if isNamed && reference.IsNameOnly(named) {
			// A repository: every tag of it (a digest name saves the
			// image without a tag), or else an ID prefix that happens
			// to parse as a name ("3f57").
			var found bool
			for _, e := range s.sortedRefs() {
				if e.ref.Name() != named.Name() {
					continue
				}
				found = true
				tagged, ok := e.ref.(reference.NamedTagged)
				if _, canonical := e.ref.(reference.Canonical); canonical || !ok {
					tagged = nil
				}
				add(s.images[e.id], tagged)
			}
			if found {
				continue
			}
		}
		img, err := s.lookup(name)
		if err != nil {
			return nil, fmt.Errorf("save: %w", err)
		}
		var tag reference.NamedTagged
		if isNamed {
			// The tag is saved only if the name is one (not an ID
			// prefix that lookup fell back to).
			t, ok := reference.TagNameOnly(named).(reference.NamedTagged)
			_, canonical := named.(reference.Canonical)
			if e, isRef := s.refs[reference.TagNameOnly(named).String()]; ok && !canonical && isRef && e.id == img.ID {
				tag = t
			}
		}
		add(img, tag)
	}
	return out, nil
}

// sortedRefs are the store's names sorted as `docker images` sorts them;
// the caller holds s.mu.
func (s *Store) sortedRefs() []refEntry {
	out := make([]refEntry, 0, len(s.refs))
	for _, e := range s.refs {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b refEntry) int { return strings.Compare(FamiliarString(a.ref), FamiliarString(b.ref)) })
	return out
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
