package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
)

// haveSkopeo says whether skopeo is installed; under CI=true it must
// be (scripts/install-deps.sh installs it), as a skip there is a failure.
func haveSkopeo(t *testing.T) bool {
	t.Helper()
	_, err := exec.LookPath("skopeo")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatal("skopeo is not installed, and CI=true forbids skipping (apt-get install skopeo)")
	}
	return err == nil
}

func needSkopeo(t *testing.T) {
	t.Helper()
	if !haveSkopeo(t) {
		t.Skip("skopeo is not installed (apt-get install skopeo)")
	}
}

func runSkopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// tarFile is a tar holding one file.
func tarFile(name string, content []byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})
	tw.Write(content)
	tw.Close()
	return b.Bytes()
}

// writeLayout makes an OCI image layout at dir holding one image tagged
// tag: two gzip layers (one of random bytes, one compressible) and a
// config. It returns the manifest's digest.
func writeLayout(t *testing.T, dir, tag string) digest.Digest {
	t.Helper()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(mt string, data []byte) ocispec.Descriptor {
		d := desc(mt, data)
		if err := os.WriteFile(filepath.Join(blobs, d.Digest.Encoded()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	random := make([]byte, 256<<10)
	rand.Read(random)
	var diffIDs []digest.Digest
	var layers []ocispec.Descriptor
	for i, content := range [][]byte{random, bytes.Repeat([]byte("gorae "), 50000)} {
		layer := tarFile("file"+string(rune('a'+i)), content)
		diffIDs = append(diffIDs, digest.FromBytes(layer))
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(layer)
		zw.Close()
		layers = append(layers, put(ocispec.MediaTypeImageLayerGzip, gz.Bytes()))
	}
	cfg, _ := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: put(ocispec.MediaTypeImageConfig, cfg), Layers: layers}
	m.SchemaVersion = 2
	mdata, _ := json.Marshal(m)
	md := put(ocispec.MediaTypeImageManifest, mdata)
	md.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	idata, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), idata, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return md.Digest
}

// skopeo, which no one here wrote, copies an image into the registry and
// back out, between repositories of it (a cross-repository mount),
// inspects it, lists its tags and deletes it; then once more over TLS with
// basic auth.
func TestSkopeoInterop(t *testing.T) {
	needSkopeo(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	md := writeLayout(t, src, "v1")

	st, err := NewFS(filepath.Join(work, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(st, Options{}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	insecure := []string{"--src-tls-verify=false", "--dest-tls-verify=false"}

	runSkopeo(t, append([]string{"copy"}, append(insecure, "oci:"+src+":v1", "docker://"+host+"/lib/img:v1")...)...)
	runSkopeo(t, append([]string{"copy"}, append(insecure, "docker://"+host+"/lib/img:v1", "docker://"+host+"/other/img:v1")...)...)
	out := filepath.Join(work, "out")
	runSkopeo(t, append([]string{"copy"}, append(insecure, "docker://"+host+"/other/img:v1", "oci:"+out+":v1")...)...)
	var idx ocispec.Index
	data, _ := os.ReadFile(filepath.Join(out, "index.json"))
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].Digest != md {
		t.Fatalf("the image came back as %s (%v), want manifest %s", data, err, md)
	}
	var info struct{ Digest digest.Digest }
	json.Unmarshal(runSkopeo(t, "inspect", "--tls-verify=false", "docker://"+host+"/lib/img:v1"), &info)
	if info.Digest != md {
		t.Errorf("skopeo inspect says %s, want %s", info.Digest, md)
	}
	var tags struct{ Tags []string }
	json.Unmarshal(runSkopeo(t, "list-tags", "--tls-verify=false", "docker://"+host+"/lib/img"), &tags)
	if strings.Join(tags.Tags, ",") != "v1" {
		t.Errorf("skopeo list-tags: %v", tags.Tags)
	}
	runSkopeo(t, "delete", "--tls-verify=false", "docker://"+host+"/lib/img:v1")
	if _, err := st.Manifest(t.Context(), "lib/img", md.String()); err == nil {
		t.Error("skopeo delete left the manifest")
	}

	// TLS and htpasswd.
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	auth, err := ParseHtpasswd(strings.NewReader("u:" + string(hash)))
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := httptest.NewTLSServer(New(st, Options{Auth: auth}))
	defer tlsSrv.Close()
	tlsHost := strings.TrimPrefix(tlsSrv.URL, "https://")
	cmd := exec.Command("skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds=u:wrong", "oci:"+src+":v1", "docker://"+tlsHost+"/auth/img:v1")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "unauthorized") {
		t.Fatalf("a wrong password was not refused: %v %s", err, b)
	}
	runSkopeo(t, "copy", "--dest-tls-verify=false", "--dest-creds=u:pw", "oci:"+src+":v1", "docker://"+tlsHost+"/auth/img:v1")
	json.Unmarshal(runSkopeo(t, "inspect", "--tls-verify=false", "--creds=u:pw", "docker://"+tlsHost+"/auth/img:v1"), &info)
	if info.Digest != md {
		t.Errorf("over TLS skopeo inspect says %s, want %s", info.Digest, md)
	}
}
