package image

import (
	// go-digest validates only the algorithms linked in; manifests may
	// name sha512 blobs.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Bounds on documents read from registries and archives: a hostile one
// must not make us allocate without limit. 4 MiB is what registries
// accept for a manifest (distribution's limit); configs carry history and
// labels and get more room.
const (
	MaxManifestSize = 4 << 20
	MaxConfigSize   = 8 << 20
)

// ErrInvalidManifest is wrapped by every error of manifest, index and
// config validation.
var ErrInvalidManifest = errors.New("invalid manifest")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidManifest, fmt.Sprintf(format, args...))
}

// versioned is the part of every manifest kind that says which it is.
type versioned struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     json.RawMessage `json:"manifests"`
	Config        json.RawMessage `json:"config"`
	Layers        json.RawMessage `json:"layers"`
	FSLayers      json.RawMessage `json:"fsLayers"`
}

// DetectMediaType tells the kind of a manifest document that came without
// a media type (an OCI layout's index entry may lack one): its mediaType
// field if it has one, else its shape.
func DetectMediaType(data []byte) (string, error) {
	if len(data) > MaxManifestSize {
		return "", invalid("%d bytes, more than the %d allowed", len(data), MaxManifestSize)
	}
	var v versioned
	if err := json.Unmarshal(data, &v); err != nil {
		return "", invalid("not JSON: %v", err)
	}
	switch {
	case v.MediaType != "":
		return v.MediaType, nil
	case v.SchemaVersion == 1 || v.FSLayers != nil:
		return mediaTypeDockerSchema1, nil
	case v.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case v.Config != nil || v.Layers != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", invalid("neither a manifest nor an index: no mediaType, config, layers or manifests")
}

// checkKind validates the envelope shared by manifests and indexes:
// mediaType is what the caller was told (descriptor, Content-Type), field
// what the document says; they must agree when both are given.
func checkKind(mediaType, field string, schemaVersion int, data []byte) (string, error) {
	if len(data) > MaxManifestSize {
		return "", invalid("%d bytes, more than the %d allowed", len(data), MaxManifestSize)
	}
	if mediaType == mediaTypeDockerSchema1 || mediaType == mediaTypeDockerSchema1Signed || schemaVersion == 1 {
		return "", invalid("Docker schema 1 manifests are not supported: push the image again with a current docker or buildah")
	}
	if schemaVersion != 2 {
		return "", invalid("schemaVersion %d, want 2", schemaVersion)
	}
	switch {
	case mediaType == "":
		mediaType = field
	case field != "" && field != mediaType:
		return "", invalid("document says it is %q but was served as %q", field, mediaType)
	}
	return mediaType, nil
}

// ParseManifest parses and validates an OCI image manifest or a Docker
// schema2 manifest (the same shape). mediaType is the type it was served
// or described with; "" means "trust the document". It checks structure
// only: whether the manifest is a runnable image (its config and layer
// media types) is the store's question.
func ParseManifest(mediaType string, data []byte) (*ocispec.Manifest, error) {
	var m ocispec.Manifest
	if len(data) > MaxManifestSize {
		return nil, invalid("%d bytes, more than the %d allowed", len(data), MaxManifestSize)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, invalid("manifest is not valid JSON: %v", err)
	}
	mt, err := checkKind(mediaType, m.MediaType, m.SchemaVersion, data)
	if err != nil {
		return nil, err
	}
	if mt == "" {
		mt = ocispec.MediaTypeImageManifest // OCI makes the field optional
	}
	if !IsManifest(mt) {
		return nil, invalid("media type %q is not an image manifest", mt)
	}
	m.MediaType = mt
	if err := checkDescriptor(m.Config, "config"); err != nil {
		return nil, err
	}
	for i, l := range m.Layers {
		if err := checkDescriptor(l, fmt.Sprintf("layer %d", i)); err != nil {
			return nil, err
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor(*m.Subject, "subject"); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// ParseIndex parses and validates an OCI image index or a Docker manifest
// list (the same shape).
func ParseIndex(mediaType string, data []byte) (*ocispec.Index, error) {
	var idx ocispec.Index
	if len(data) > MaxManifestSize {
		return nil, invalid("%d bytes, more than the %d allowed", len(data), MaxManifestSize)
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, invalid("index is not valid JSON: %v", err)
	}
	mt, err := checkKind(mediaType, idx.MediaType, idx.SchemaVersion, data)
	if err != nil {
		return nil, err
	}
	if mt == "" {
		mt = ocispec.MediaTypeImageIndex
	}
	if !IsIndex(mt) {
		return nil, invalid("media type %q is not an index or manifest list", mt)
	}
	idx.MediaType = mt
	for i, d := range idx.Manifests {
		if err := checkDescriptor(d, fmt.Sprintf("manifests[%d]", i)); err != nil {
			return nil, err
		}
	}
	return &idx, nil
}

// checkDescriptor refuses a descriptor that could not be fetched or
// verified: every digest must be valid before it becomes a path or a
// lookup key.
func checkDescriptor(d ocispec.Descriptor, what string) error {
	if d.MediaType == "" {
		return invalid("%s has no mediaType", what)
	}
	if err := d.Digest.Validate(); err != nil {
		return invalid("%s has digest %q: %v", what, d.Digest, err)
	}
	if d.Size < 0 {
		return invalid("%s has negative size %d", what, d.Size)
	}
	if d.Data != nil && (int64(len(d.Data)) != d.Size || d.Digest.Algorithm().FromBytes(d.Data) != d.Digest) {
		// Embedded data is a copy of the blob; a copy that disagrees is
		// an attempt to show one thing and run another.
		return invalid("%s embeds data that is not %s", what, d.Digest)
	}
	return nil
}

// IsAttestation reports whether an index entry is a BuildKit attestation
// (provenance, SBOM) rather than an image to run.
func IsAttestation(d ocispec.Descriptor) bool {
	return d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
		(d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown")
}
