package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/reference"
	"github.com/gorae/gorae/internal/content"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions are the options of Import: `docker import`'s arguments.
type ImportOptions struct {
	// Ref is the name to tag the image with ("name" means name:latest),
	// or "" to leave it untagged.
	Ref string
	// Changes are Dockerfile instructions applied to the image's config
	// (--change): CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL,
	// ONBUILD, USER, VOLUME, WORKDIR, as Docker allows them.
	Changes []string
	// Message is the commit message (--message), recorded as the
	// config's comment and its history entry's. The default is Docker's
	// "Imported from " + Source.
	Message string
	// Source names where the tarball came from, for the default message:
	// a URL, or "-" (the default) for a request body or stdin.
	Source string
	// Platform is the platform the image is for; the zero value is this
	// machine's (linux/amd64 here), as Docker's default.
	Platform ocispec.Platform
}

// importGzipLevel is the compression of imported layers: klauspost's
// default level, which is faster than the standard library's and makes
// files of about the same size.
const importGzipLevel = gzip.DefaultCompression

// Import makes a one-layer image of a root filesystem tarball, as `docker
// import` does. r is a tar, plain or compressed with gzip, zstd, bzip2 or
// xz; it is read once, streamed: the layer is compressed with gzip while
// the diff ID (sha256 of the uncompressed tar) and the blob's digest are
// computed, and the tar is checked to be one as it passes. The config
// records the diff ID, the platform, the changes, and a history entry
// with the message; an OCI manifest names the config and the layer. The
// image is recorded, and tagged if opts.Ref names it, as one change.
func Import(ctx context.Context, s *Store, r io.Reader, opts ImportOptions) (*Image, error) {
	var names []reference.Named
	if opts.Ref != "" {
		tag, err := ParseTag(opts.Ref)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		names = append(names, tag)
	}
	platform, err := importPlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	var runConfig ContainerConfig
	if err := ApplyChanges(&runConfig, platform.OS, opts.Changes); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	msg := opts.Message
	if msg == "" {
		src := opts.Source
		if src == "" {
			src = "-"
		}
		msg = "Imported from " + src
	}

	lease := s.Lease()
	defer lease.Release()
	layer, diffID, err := importLayer(ctx, s.cs, lease, r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	created := s.now().UTC()
	cfg := Config{
		Created:      &created,
		Architecture: platform.Architecture,
		Variant:      platform.Variant,
		OS:           platform.OS,
		OSVersion:    platform.OSVersion,
		Config:       runConfig,
		RootFS:       ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History:      []ocispec.History{{Created: &created, Comment: msg}},
		Comment:      msg,
	}
	cfgDesc, err := writeJSONBlob(ctx, s.cs, lease, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return nil, fmt.Errorf("import: write config: %w", err)
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layer},
	}
	mDesc, err := writeJSONBlob(ctx, s.cs, lease, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return nil, fmt.Errorf("import: write manifest: %w", err)
	}
	loaded, err := s.register(ctx, []pendingImage{{target: mDesc, names: names}}, platform, nil)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return loaded[0].Image, nil
}

// importPlatform is the platform an import records: opts' if given (an OS
// and an architecture both), else this machine's.
func importPlatform(p ocispec.Platform) (ocispec.Platform, error) {
	if p.OS == "" && p.Architecture == "" {
		return DefaultPlatform(), nil
	}
	if p.OS == "" || p.Architecture == "" {
		return p, fmt.Errorf("import: platform %q lacks an OS or an architecture: give both, e.g. linux/amd64", FormatPlatform(p))
	}
	p = NormalizePlatform(p)
	if p.Architecture == "arm64" && p.Variant == "v8" {
		// The default variant is not written, as Docker writes none.
		p.Variant = ""
	}
	return p, nil
}

// writeJSONBlob writes v as a blob under the lease and returns its
// descriptor.
func writeJSONBlob(ctx context.Context, cs content.Ingester, lease *Lease, mediaType string, v any) (ocispec.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	lease.Add(d.Digest)
	if _, _, err := content.WriteBlob(ctx, cs, bytes.NewReader(data), d.Size, d.Digest); err != nil {
		return ocispec.Descriptor{}, err
	}
	return d, nil
}

// importLayer streams a root filesystem tarball into the content store as
// a gzip'd layer, in one pass: this goroutine decompresses the input,
// hashes it (the diff ID) and walks its tar headers to check it is a tar;
// another compresses it into the content store, which hashes the
// compressed bytes (the blob's digest) as they are written.
func importLayer(ctx context.Context, cs content.Ingester, lease *Lease, r io.Reader) (ocispec.Descriptor, digest.Digest, error) {
	in, c, err := decompress(ctx, r)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer in.Close()
	w, err := cs.Writer(ctx)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	defer w.Abort()

	pr, pw := io.Pipe()
	compressed := make(chan error, 1)
	store := &firstError{w: w}
	go func() {
		zw, err := gzip.NewWriterLevel(store, importGzipLevel)
		if err == nil {
			_, err = io.CopyBuffer(zw, pr, make([]byte, copyBufferSize))
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
		}
		pr.CloseWithError(err) // a failed compressor stops the reader too
		compressed <- err
	}()

	diff := sha256.New()
	tee := io.TeeReader(&ctxReader{ctx: ctx, r: in}, io.MultiWriter(diff, pw))
	err = checkTar(tee)
	if err == nil {
		// What follows the end-of-archive blocks (a tar's padding) is
		// part of the layer, as it is of Docker's diff ID.
		_, err = io.Copy(io.Discard, tee)
	}
	pw.CloseWithError(err)
	if cerr := <-compressed; err == nil {
		err = cerr
	}
	switch {
	case store.err != nil:
		// The root cause, whatever the reader then saw.
		return ocispec.Descriptor{}, "", fmt.Errorf("write the layer: %w", store.err)
	case ctx.Err() != nil:
		return ocispec.Descriptor{}, "", ctx.Err()
	}
	if err != nil {
		if c != uncompressed {
			err = fmt.Errorf("%w (the input is %s-compressed)", err, c)
		}
		return ocispec.Descriptor{}, "", err
	}
	diffID := digest.NewDigest(digest.SHA256, diff)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: w.Digest(), Size: w.Size()}
	lease.Add(desc.Digest)
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errors.Is(err, content.ErrAlreadyExists) {
		return ocispec.Descriptor{}, "", err
	}
	return desc, diffID, nil
}

// firstError is a writer that remembers its first failure.
type firstError struct {
	w   io.Writer
	err error
}

func (f *firstError) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil && f.err == nil {
		f.err = err
	}
	return n, err
}

// checkTar reads r to the end of its tar archive, failing if it is not
// one. An empty input is an empty archive, as Docker takes it.
func checkTar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the input is not a tar archive (%w): give a tar of a root filesystem, e.g. tar -C DIR -c .", err)
		}
	}
}
