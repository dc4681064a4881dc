package snapshot

import (
	"fmt"
	"path"
	"strings"
)

// OCI layers and overlayfs mark deletions differently:
//
//	OCI layer tar                     overlay upper dir
//	dir/.wh.NAME  (empty file)        dir/NAME: char device 0/0
//	dir/.wh..wh..opq (empty file)     dir: xattr trusted.overlay.opaque=y
//
// Apply converts the left column to the right, Diff the right to the left.
// A whiteout hides NAME in the layers below only; a NAME in the same layer
// stays (OCI image-spec, layer.md).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh." // reserved prefix; only .opq has a meaning
	whiteoutOpaque = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	overlayXattrs  = "trusted.overlay."
)

// entryKind is what a layer entry means once its name is read.
type entryKind int

const (
	entryPlain    entryKind = iota // a file, dir, link … to create
	entryWhiteout                  // hide target in the lower layers
	entryOpaque                    // hide the lower layers' content of dir
	entryIgnored                   // reserved .wh..wh.* metadata (aufs); skipped
)

// layerEntry is a layer tar entry's name, checked: dir and base are what to
// create (dir "" is the layer root) or, for a whiteout, where and what to
// hide.
type layerEntry struct {
	kind entryKind
	dir  string // slash-separated, relative, clean; "" is the root
	base string // one path component; "" only for the root itself
}

// parseEntryName checks a tar entry name and says what it means. Leading
// slashes are dropped, as GNU tar does, so "/etc/x" lands inside the layer;
// names that climb out with ".." are refused, as Docker refuses them.
func parseEntryName(name string) (layerEntry, error) {
	rel, err := cleanRel(name)
	if err != nil {
		return layerEntry{}, err
	}
	if rel == "" {
		return layerEntry{kind: entryPlain}, nil
	}
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return layerEntry{kind: entryPlain, dir: dir, base: base}, nil
	}
	switch {
	case base == whiteoutOpaque:
		return layerEntry{kind: entryOpaque, dir: dir}, nil
	case strings.HasPrefix(base, whiteoutMeta):
		return layerEntry{kind: entryIgnored, dir: dir, base: base}, nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return layerEntry{}, fmt.Errorf("whiteout %q names %q, which is not a file name", name, target)
	}
	return layerEntry{kind: entryWhiteout, dir: dir, base: target}, nil
}

// cleanRel turns a tar path into a clean relative path ("" for the root),
// refusing one that leaves the root.
func cleanRel(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("path %q contains a NUL byte", name)
	}
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("path %q leads outside the layer", name)
	}
	if rel == "." {
		return "", nil
	}
	return rel, nil
}

// whiteoutName is the OCI tar name of the overlay whiteout dir/name.
func whiteoutName(dir, name string) string {
	return path.Join(dir, whiteoutPrefix+name)
}

// opaqueName is the OCI tar name marking dir opaque.
func opaqueName(dir string) string {
	return path.Join(dir, whiteoutOpaque)
}
