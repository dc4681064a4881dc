package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
)

// The daemon's image store, served read-only: names map to repositories,
// manifests and blobs of the named images are pulled by a Go client and
// by skopeo, and writes are refused.
func TestImageStoreBackend(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cs, err := content.NewLocal(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	images, err := image.NewStore(ctx, filepath.Join(dir, "image"), cs)
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.Import(ctx, images, bytes.NewReader(tarFile("hello", []byte("hello"))), image.ImportOptions{Ref: "busybox:latest"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ghcr.io/acme/tool:1.0", "localhost:5000/x:y"} {
		ref, err := image.ParseReference(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := images.Tag(ctx, ref, img.ID); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(New(NewImageStore(images, cs), Options{}))
	defer srv.Close()
	tr := &testRegistry{t: t, url: srv.URL}

	var cat struct{ Repositories []string }
	json.Unmarshal(tr.do("GET", "/v2/_catalog", nil).body, &cat)
	if strings.Join(cat.Repositories, ",") != "ghcr.io/acme/tool,library/busybox" {
		t.Fatalf("catalog: %v", cat.Repositories)
	}
	r := tr.do("GET", "/v2/library/busybox/manifests/latest", nil)
	tr.expect(r, 200, "")
	if r.header.Get("Docker-Content-Digest") != img.Target.Digest.String() || r.header.Get("Content-Type") != img.Target.MediaType {
		t.Fatalf("manifest: %v", r.header)
	}
	tr.expect(tr.do("HEAD", "/v2/ghcr.io/acme/tool/manifests/"+img.Target.Digest.String(), nil), 200, "")
	tr.expect(tr.do("GET", "/v2/library/busybox/blobs/"+img.ConfigDescriptor.Digest.String(), nil), 200, "")
	tr.expect(tr.do("GET", "/v2/library/busybox/blobs/"+img.Layers[0].Digest.String(), nil), 200, "")
	tr.expect(tr.do("GET", "/v2/library/busybox/manifests/other", nil), 404, CodeManifestUnknown)
	tr.expect(tr.do("GET", "/v2/library/alpine/tags/list", nil), 404, CodeNameUnknown)
	tr.expect(tr.do("GET", "/v2/library/alpine/blobs/"+img.Layers[0].Digest.String(), nil), 404, CodeBlobUnknown)
	tr.expect(tr.do("POST", "/v2/library/busybox/blobs/uploads/", nil), 405, CodeUnsupported)
	tr.expect(tr.do("DELETE", "/v2/library/busybox/manifests/latest", nil), 405, CodeUnsupported)

	if !haveSkopeo(t) {
		return
	}
	out := filepath.Join(t.TempDir(), "out")
	runSkopeo(t, "copy", "--src-tls-verify=false", "docker://"+strings.TrimPrefix(srv.URL, "http://")+"/library/busybox:latest", "oci:"+out+":latest")
	var idx ocispec.Index
	data, _ := os.ReadFile(filepath.Join(out, "index.json"))
	if json.Unmarshal(data, &idx); len(idx.Manifests) != 1 || idx.Manifests[0].Digest != img.Target.Digest {
		t.Fatalf("skopeo copied %s, want manifest %s", data, img.Target.Digest)
	}
}
