// Package image is gorae's image metadata: references normalised as
// Docker does, OCI and Docker manifests, indexes and configs parsed and
// bounded, and a Store of images (ID = config digest) and the names that
// point at them, over the blobs of internal/content. It gives the daemon
// Docker's semantics for tag, rmi, images, inspect, history and prune,
// and collects the blobs no image needs. It speaks no HTTP and runs no
// containers; unpacking goes through the small LayerStore interface that
// the snapshotter satisfies.
//
// Files: reference.go (names), mediatype.go, manifest.go, config.go,
// platform.go (documents); store.go (records, Create, Get),
// references.go (Tag, Untag), list.go, inspect.go, delete.go (Delete,
// Prune), gc.go (GC, Lease), unpack.go; formats in and out: save.go
// (docker save), load.go (docker load), layout.go (OCI layout
// directories), importer.go and changes.go (docker import --change),
// register.go (recording a batch at once), compression.go; the on-disk
// format and the formats are docs/image-store.md.
package image
