package server

import (
	"context"
	"errors"
	"io"
	"mime"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
)

// Storage is what the registry serves from: repositories of manifests,
// tags and blobs. The handler validates names, digests and manifests
// before it calls; an implementation reports what the client got wrong
// as *Error (MANIFEST_UNKNOWN …) and anything else as a plain error (500).
//
// FS is the read-write implementation on the filesystem; a read-only one
// (the daemon's own image store) implements Storage alone, and the
// handler answers writes to it with UNSUPPORTED.
type Storage interface {
	// Repositories lists every repository, sorted.
	Repositories(ctx context.Context) ([]string, error)
	// Tags lists the tags of repo, sorted; NAME_UNKNOWN if there is no
	// such repository.
	Tags(ctx context.Context, repo string) ([]string, error)
	// Manifest returns the manifest that ref (a tag or a digest) names in
	// repo, or MANIFEST_UNKNOWN.
	Manifest(ctx context.Context, repo, ref string) (*Manifest, error)
	// StatBlob returns the size of blob dgst of repo, or BLOB_UNKNOWN.
	StatBlob(ctx context.Context, repo string, dgst digest.Digest) (int64, error)
	// OpenBlob opens blob dgst of repo, or fails with BLOB_UNKNOWN.
	OpenBlob(ctx context.Context, repo string, dgst digest.Digest) (content.ReaderAt, error)
	// Referrers lists the manifests of repo whose subject is dgst, as
	// descriptors with artifactType and annotations.
	Referrers(ctx context.Context, repo string, subject digest.Digest) ([]ocispec.Descriptor, error)
}

// Writable is a Storage that accepts pushes and deletes.
type Writable interface {
	Storage
	// StartUpload begins a blob upload session in repo and returns its ID,
	// which is unguessable: it is the session's only credential.
	StartUpload(ctx context.Context, repo string) (string, error)
	// UploadSize is how many bytes upload id has received, or
	// BLOB_UPLOAD_UNKNOWN.
	UploadSize(ctx context.Context, repo, id string) (int64, error)
	// AppendUpload writes r at offset (which must be the current size, or
	// -1 for "wherever it is") and returns the new size. A wrong offset is
	// RANGE_INVALID (416).
	AppendUpload(ctx context.Context, repo, id string, offset int64, r io.Reader) (int64, error)
	// FinishUpload verifies the upload against dgst and makes it blob dgst
	// of repo; a mismatch is DIGEST_INVALID and stores nothing. Either way
	// the session ends.
	FinishUpload(ctx context.Context, repo, id string, dgst digest.Digest) error
	// CancelUpload ends a session, discarding what it received.
	CancelUpload(ctx context.Context, repo, id string) error
	// MountBlob makes blob dgst of repo from also a blob of repo, or
	// fails with BLOB_UNKNOWN.
	MountBlob(ctx context.Context, repo, from string, dgst digest.Digest) error
	// PutManifest stores m in repo, under tag if tag is not "". The blobs
	// and child manifests m references must be in repo
	// (MANIFEST_BLOB_UNKNOWN otherwise).
	PutManifest(ctx context.Context, repo, tag string, m *ParsedManifest) error
	// DeleteManifest removes manifest dgst and the tags that point at it.
	DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error
	// DeleteTag removes one tag.
	DeleteTag(ctx context.Context, repo, tag string) error
	// DeleteBlob removes blob dgst from repo (its bytes go at the next gc).
	DeleteBlob(ctx context.Context, repo string, dgst digest.Digest) error
}

// Manifest is a stored manifest: its descriptor and its bytes.
type Manifest struct {
	Descriptor ocispec.Descriptor
	Data       []byte
}

// MaxManifestSize is the largest manifest accepted, as distribution.
const MaxManifestSize = image.MaxManifestSize

// ParsedManifest is a validated manifest being pushed, with what a
// storage needs to know of it.
type ParsedManifest struct {
	Manifest
	// Blobs must be blobs of the repository (config and layers).
	Blobs []digest.Digest
	// Children must be manifests of the repository (an index's entries).
	Children []digest.Digest
	// Subject is the manifest this one refers to, if any.
	Subject *ocispec.Descriptor
	// Referrer is how the manifest is listed among its subject's referrers.
	Referrer ocispec.Descriptor
}

// ParseManifest validates a pushed manifest. contentType is the request's
// Content-Type; when it is empty the document's mediaType field decides.
func ParseManifest(contentType string, data []byte) (*ParsedManifest, error) {
	if len(data) > MaxManifestSize {
		return nil, &Error{Code: CodeSizeInvalid, Message: "manifest larger than 4 MiB", Status: 413}
	}
	mt := ""
	if contentType != "" {
		t, _, err := mime.ParseMediaType(contentType)
		if err == nil {
			mt = t
		}
	}
	if mt == "" || mt == "application/json" || mt == "application/octet-stream" {
		d, err := image.DetectMediaType(data)
		if err != nil {
			return nil, invalidManifest(err)
		}
		mt = d
	}
	p := &ParsedManifest{Manifest: Manifest{
		Descriptor: ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))},
		Data:       data,
	}}
	ref := ocispec.Descriptor{MediaType: mt, Digest: p.Descriptor.Digest, Size: p.Descriptor.Size}
	switch {
	case image.IsManifest(mt):
		m, err := image.ParseManifest(mt, data)
		if err != nil {
			return nil, invalidManifest(err)
		}
		p.Blobs = append(p.Blobs, m.Config.Digest)
		for _, l := range m.Layers {
			// Foreign layers live elsewhere (their urls); the registry
			// has no copy to require.
			if len(l.URLs) == 0 {
				p.Blobs = append(p.Blobs, l.Digest)
			}
		}
		p.Subject = m.Subject
		ref.ArtifactType = m.ArtifactType
		if ref.ArtifactType == "" {
			ref.ArtifactType = m.Config.MediaType
		}
		ref.Annotations = m.Annotations
	case image.IsIndex(mt):
		idx, err := image.ParseIndex(mt, data)
		if err != nil {
			return nil, invalidManifest(err)
		}
		for _, d := range idx.Manifests {
			p.Children = append(p.Children, d.Digest)
		}
		p.Subject = idx.Subject
		ref.ArtifactType = idx.ArtifactType
		ref.Annotations = idx.Annotations
	default:
		return nil, Errorf(CodeManifestInvalid, "unsupported manifest media type %q: push an OCI image manifest or index, or a Docker schema2 manifest or manifest list", mt)
	}
	for _, d := range append(append([]digest.Digest{}, p.Blobs...), p.Children...) {
		if d.Algorithm() != digest.SHA256 {
			return nil, Errorf(CodeManifestInvalid, "manifest references %s: only sha256 content is stored", d)
		}
	}
	p.Referrer = ref
	return p, nil
}

// statBlob sizes blob d of cs for repository name, which has it or not.
func statBlob(ctx context.Context, cs content.Manager, name string, d digest.Digest, has bool) (int64, error) {
	if !has {
		return 0, blobUnknown(name, d)
	}
	info, err := cs.Info(ctx, d)
	if errors.Is(err, content.ErrNotFound) {
		return 0, blobUnknown(name, d)
	}
	return info.Size, err
}

func invalidManifest(err error) error {
	msg := err.Error()
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeManifestInvalid, Message: msg}
}
