package image

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types (image-spec covers the OCI ones).
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayerZstd    = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

	mediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// IsIndex reports whether mt is an OCI index or a Docker manifest list.
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsManifest reports whether mt is an OCI or Docker schema2 image manifest.
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// IsConfig reports whether mt is an image config we can run.
func IsConfig(mt string) bool {
	return mt == ocispec.MediaTypeImageConfig || mt == MediaTypeDockerConfig
}

// IsLayer reports whether mt is a filesystem layer, in any compression
// we can unpack. Non-distributable and foreign layers are deprecated but
// still in the wild; they unpack like the others once present.
func IsLayer(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		ocispec.MediaTypeImageLayerNonDistributable, ocispec.MediaTypeImageLayerNonDistributableGzip,
		ocispec.MediaTypeImageLayerNonDistributableZstd,
		MediaTypeDockerLayer, MediaTypeDockerLayerGzip, MediaTypeDockerLayerZstd, MediaTypeDockerForeignLayer:
		return true
	}
	return false
}
