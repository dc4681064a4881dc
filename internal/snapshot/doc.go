// Package snapshot keeps image layers unpacked, once each, and gives
// containers their root filesystems as overlay mounts of those layers.
//
//   - Snapshotter (Overlay, from Open) stores snapshots: committed layers,
//     active (writable) and view (read-only) snapshots on top of them. Its
//     mounts are mounted with MountAll.
//   - Apply unpacks a layer blob (tar, gzip or zstd) into a snapshot's
//     upper directory, turning OCI whiteouts into overlay ones, never
//     writing outside it, and returns the layer's diffID.
//   - Diff writes an upper directory's changes as an OCI layer tar.
//
// The on-disk layout, the whiteout conversion, the safety rules and the
// measured throughput are in docs/snapshot.md.
package snapshot
