package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzApply feeds arbitrary bytes to Apply as a layer. Whatever it does
// with them, it must not panic and must not write outside its directory:
// the directory's parent keeps exactly one other entry, an untouched
// canary. Seeds cover every entry kind, the hostile cases and the three
// compressions, so mutations start from meaningful tars.
func FuzzApply(f *testing.F) {
	for _, seed := range [][]byte{
		featureLayer(f),
		layerA(f),
		layerB(f),
		gzipOf(f, layerB(f)),
		zstdOf(f, layerB(f)),
		tarOf(f,
			ent{name: "s", typ: tar.TypeSymlink, link: "/"},
			ent{name: "s/canary/x", body: "x"},
			ent{name: "up", typ: tar.TypeSymlink, link: "../.."},
			ent{name: "up/canary/y", body: "y"},
			ent{name: "h", typ: tar.TypeLink, link: "../canary/secret"},
			ent{name: "d/.wh..wh..opq"},
			ent{name: ".wh.d"},
			ent{name: "d/", typ: tar.TypeDir},
		),
		tarOf(f, ent{name: "big", body: "short", size: 1 << 30}),
		[]byte("\x1f\x8b\x08\x00garbage"),
		[]byte("\x28\xb5\x2f\xfdgarbage"),
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, layer []byte) {
		base := t.TempDir()
		canary := filepath.Join(base, "canary")
		os.Mkdir(canary, 0o755)
		os.WriteFile(filepath.Join(canary, "secret"), []byte("secret"), 0o600)
		dir := filepath.Join(base, "layer")
		os.Mkdir(dir, 0o755)
		before := describe(t, canary, true)

		Apply(t.Context(), dir, bytes.NewReader(layer)) // errors are fine

		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 2 || ents[0].Name() != "canary" || ents[1].Name() != "layer" {
			t.Fatalf("the layer wrote beside its directory: %v", ents)
		}
		sameTree(t, before, describe(t, canary, true))
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("the layer directory itself was replaced: %v", err)
		}
		if _, err := os.Lstat("/etc/gorae-pwned"); err == nil {
			os.Remove("/etc/gorae-pwned")
			t.Fatal("a layer wrote /etc/gorae-pwned")
		}
	})
}
