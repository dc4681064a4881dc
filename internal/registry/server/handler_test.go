package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
)

type testRegistry struct {
	t   testing.TB
	url string
	fs  *FS
}

func newTestRegistry(t testing.TB, opts Options) *testRegistry {
	t.Helper()
	st, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(st, opts))
	t.Cleanup(srv.Close)
	return &testRegistry{t: t, url: srv.URL, fs: st}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// errCode is the first error code of a spec error body.
func (r resp) errCode() Code {
	var b errorBody
	json.Unmarshal(r.body, &b)
	if len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0].Code
}

func (tr *testRegistry) do(method, path string, body []byte, hdr ...string) resp {
	tr.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, tr.url+path, rd)
	if err != nil {
		tr.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (tr *testRegistry) expect(r resp, status int, code Code) {
	tr.t.Helper()
	if r.status != status || (code != "" && r.errCode() != code) {
		tr.t.Fatalf("got %d %s (%s), want %d %s", r.status, r.errCode(), r.body, status, code)
	}
}

// pushBlob uploads data monolithically to repo.
func (tr *testRegistry) pushBlob(repo string, data []byte) digest.Digest {
	tr.t.Helper()
	d := digest.FromBytes(data)
	tr.expect(tr.do("POST", fmt.Sprintf("/v2/%s/blobs/uploads/?digest=%s", repo, d), data), 201, "")
	return d
}

func desc(mt string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

// imageManifest makes an OCI manifest over a config and layers, with
// an optional subject and artifact type.
func imageManifest(config []byte, subject *ocispec.Descriptor, artifactType string, layers ...[]byte) []byte {
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: desc(ocispec.MediaTypeImageConfig, config), Subject: subject, ArtifactType: artifactType}
	m.SchemaVersion = 2
	m.Layers = []ocispec.Descriptor{}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc(ocispec.MediaTypeImageLayerGzip, l))
	}
	data, _ := json.Marshal(m)
	return data
}

const contentType = "Content-Type"

func TestBaseAndErrors(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	r := tr.do("GET", "/v2/", nil)
	tr.expect(r, 200, "")
	if r.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("no Docker-Distribution-API-Version: %v", r.header)
	}
	tr.expect(tr.do("GET", "/v2/Upper/manifests/x", nil), 400, CodeNameInvalid)
	tr.expect(tr.do("GET", "/v2/a/../b/manifests/x", nil), 400, CodeNameInvalid)
	tr.expect(tr.do("GET", "/v2/a/_layers/manifests/x", nil), 400, CodeNameInvalid)
	tr.expect(tr.do("GET", "/v2/nope/manifests/latest", nil), 404, CodeManifestUnknown)
	tr.expect(tr.do("GET", "/v2/nope/manifests/..bad", nil), 404, CodeManifestUnknown)
	tr.expect(tr.do("GET", "/v2/nope/blobs/sha256:123", nil), 400, CodeDigestInvalid)
	tr.expect(tr.do("GET", "/v2/nope/blobs/sha512:"+strings.Repeat("a", 128), nil), 400, CodeUnsupported)
	tr.expect(tr.do("GET", "/v2/nope/blobs/"+digest.FromString("x").String(), nil), 404, CodeBlobUnknown)
	tr.expect(tr.do("GET", "/v2/nope/tags/list", nil), 404, CodeNameUnknown)
	tr.expect(tr.do("POST", "/v2/a/manifests/x", nil), 405, CodeUnsupported)
	tr.expect(tr.do("GET", "/v2/a/blobs/uploads/nosuch", nil), 404, CodeBlobUploadUnknown)
	// Nothing of the refused names reached the disk.
	if entries, _ := os.ReadDir(filepath.Join(tr.fs.Root(), reposDir)); len(entries) != 0 {
		t.Errorf("refused requests left %v", entries)
	}
}

func TestBlobPullRange(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	data := []byte("0123456789")
	d := tr.pushBlob("a/b", data)
	r := tr.do("GET", "/v2/a/b/blobs/"+d.String(), nil)
	tr.expect(r, 200, "")
	if !bytes.Equal(r.body, data) || r.header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("GET blob: %q %v", r.body, r.header)
	}
	r = tr.do("HEAD", "/v2/a/b/blobs/"+d.String(), nil)
	if r.status != 200 || r.header.Get("Content-Length") != "10" || len(r.body) != 0 {
		t.Fatalf("HEAD blob: %d %v", r.status, r.header)
	}
	r = tr.do("GET", "/v2/a/b/blobs/"+d.String(), nil, "Range", "bytes=2-4")
	if r.status != 206 || string(r.body) != "234" {
		t.Fatalf("Range: %d %q", r.status, r.body)
	}
	tr.expect(tr.do("GET", "/v2/a/b/blobs/"+d.String(), nil, "Range", "bytes=20-30"), 416, "")
	// Blobs belong to repositories: another one does not see it until it
	// mounts it.
	tr.expect(tr.do("GET", "/v2/other/blobs/"+d.String(), nil), 404, CodeBlobUnknown)
	r = tr.do("POST", "/v2/other/blobs/uploads/?mount="+d.String()+"&from=a/b", nil)
	tr.expect(r, 201, "")
	if r.header.Get("Location") != "/v2/other/blobs/"+d.String() {
		t.Errorf("mount Location %q", r.header.Get("Location"))
	}
	tr.expect(tr.do("GET", "/v2/other/blobs/"+d.String(), nil), 200, "")
	// A mount of a blob the source lacks falls back to an upload session.
	r = tr.do("POST", "/v2/third/blobs/uploads/?mount="+digest.FromString("zz").String()+"&from=a/b", nil)
	tr.expect(r, 202, "")
	if !strings.HasPrefix(r.header.Get("Location"), "/v2/third/blobs/uploads/") {
		t.Errorf("fallback Location %q", r.header.Get("Location"))
	}
	tr.expect(tr.do("DELETE", "/v2/a/b/blobs/"+d.String(), nil), 202, "")
	tr.expect(tr.do("GET", "/v2/a/b/blobs/"+d.String(), nil), 404, CodeBlobUnknown)
	tr.expect(tr.do("GET", "/v2/other/blobs/"+d.String(), nil), 200, "")
}

func TestChunkedUpload(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	data := []byte("hello, chunked world")
	d := digest.FromBytes(data)
	r := tr.do("POST", "/v2/c/blobs/uploads/", nil)
	tr.expect(r, 202, "")
	loc := r.header.Get("Location")
	if r.header.Get("Range") != "0-0" || r.header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("start: %v", r.header)
	}
	// A chunk that does not start where the upload is: 416.
	tr.expect(tr.do("PATCH", loc, data[5:], "Content-Range", fmt.Sprintf("5-%d", len(data)-1)), 416, CodeRangeInvalid)
	// Content-Range and body disagreeing: 416, nothing appended.
	tr.expect(tr.do("PATCH", loc, data[:5], "Content-Range", "0-9"), 416, CodeRangeInvalid)
	r = tr.do("PATCH", loc, data[:5], "Content-Range", "0-4")
	tr.expect(r, 202, "")
	if r.header.Get("Range") != "0-4" {
		t.Fatalf("after chunk 1: Range %q", r.header.Get("Range"))
	}
	// The same chunk again: 416.
	tr.expect(tr.do("PATCH", loc, data[:5], "Content-Range", "0-4"), 416, CodeRangeInvalid)
	r = tr.do("GET", loc, nil)
	tr.expect(r, 204, "")
	if r.header.Get("Range") != "0-4" {
		t.Fatalf("status: Range %q", r.header.Get("Range"))
	}
	// A chunk shorter than its Content-Range (a client that broke off):
	// what arrived stays, and the client resumes from the status.
	req, _ := http.NewRequest("PATCH", tr.url+loc, io.MultiReader(bytes.NewReader(data[5:7]))) // no length: chunked
	req.Header.Set("Content-Range", "5-9")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 400 {
		t.Fatalf("short chunk: %v %v", res, err)
	}
	res.Body.Close()
	r = tr.do("GET", loc, nil)
	if r.header.Get("Range") != "0-6" {
		t.Fatalf("after a short chunk: Range %q", r.header.Get("Range"))
	}
	tr.expect(tr.do("PATCH", loc, data[7:10], "Content-Range", "7-9"), 202, "")
	// A chunk without Content-Range (streamed) appends.
	tr.expect(tr.do("PATCH", loc, data[10:12]), 202, "")
	// Not visible before the PUT.
	tr.expect(tr.do("HEAD", "/v2/c/blobs/"+d.String(), nil), 404, "")
	tr.expect(tr.do("PUT", loc, data[12:]), 400, CodeDigestInvalid) // no ?digest=
	r = tr.do("PUT", loc+"?digest="+d.String(), data[12:], "Content-Range", fmt.Sprintf("12-%d", len(data)-1))
	tr.expect(r, 201, "")
	if r.header.Get("Location") != "/v2/c/blobs/"+d.String() || r.header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("finish: %v", r.header)
	}
	tr.expect(tr.do("GET", "/v2/c/blobs/"+d.String(), nil), 200, "")
	// The session is over.
	tr.expect(tr.do("GET", loc, nil), 404, CodeBlobUploadUnknown)
	// Sessions of one repository are not usable from another.
	r = tr.do("POST", "/v2/c/blobs/uploads/", nil)
	other := strings.Replace(r.header.Get("Location"), "/v2/c/", "/v2/d/", 1)
	tr.expect(tr.do("GET", other, nil), 404, CodeBlobUploadUnknown)
	// Cancel.
	tr.expect(tr.do("DELETE", r.header.Get("Location"), nil), 204, "")
	tr.expect(tr.do("GET", r.header.Get("Location"), nil), 404, CodeBlobUploadUnknown)
}

func TestDigestMismatchStoresNothing(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	wrong := digest.FromString("something else")
	tr.expect(tr.do("POST", "/v2/m/blobs/uploads/?digest="+wrong.String(), []byte("payload")), 400, CodeDigestInvalid)
	r := tr.do("POST", "/v2/m/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	tr.expect(tr.do("PATCH", loc, []byte("payload")), 202, "")
	tr.expect(tr.do("PUT", loc+"?digest="+wrong.String(), nil), 400, CodeDigestInvalid)
	tr.expect(tr.do("GET", "/v2/m/blobs/"+digest.FromString("payload").String(), nil), 404, CodeBlobUnknown)
	for _, dir := range []string{"blobs/sha256", "ingest"} {
		if entries, _ := os.ReadDir(filepath.Join(tr.fs.Root(), dir)); len(entries) != 0 {
			t.Errorf("%s holds %d entries after failed uploads", dir, len(entries))
		}
	}
}

// An upload in progress is an ingest file only: nothing is visible until
// the PUT verifies it, and a restarted server (NewFS) removes ingests
// whose writer is gone (internal/content's crash tests kill a writer).
func TestUnfinishedUploadInvisible(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	r := tr.do("POST", "/v2/k/blobs/uploads/", nil)
	tr.expect(tr.do("PATCH", r.header.Get("Location"), []byte("partial")), 202, "")
	if entries, _ := os.ReadDir(filepath.Join(tr.fs.Root(), "blobs/sha256")); len(entries) != 0 {
		t.Fatalf("an unfinished upload is visible: %v", entries)
	}
	if entries, _ := os.ReadDir(filepath.Join(tr.fs.Root(), "ingest")); len(entries) != 1 {
		t.Fatalf("want one ingest, have %v", entries)
	}
	tr.expect(tr.do("GET", "/v2/_catalog", nil), 200, "")
}

func TestManifests(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	config, layer := []byte(`{"architecture":"amd64","os":"linux"}`), []byte("layer-bytes")
	m := imageManifest(config, nil, "", layer)
	md := digest.FromBytes(m)
	// References must be pushed first.
	tr.expect(tr.do("PUT", "/v2/img/manifests/v1", m, contentType, ocispec.MediaTypeImageManifest), 400, CodeManifestBlobUnknown)
	tr.pushBlob("img", config)
	tr.expect(tr.do("PUT", "/v2/img/manifests/v1", m, contentType, ocispec.MediaTypeImageManifest), 400, CodeManifestBlobUnknown)
	tr.pushBlob("img", layer)
	// Wrong digest in the URL, wrong media type, not JSON, too large.
	tr.expect(tr.do("PUT", "/v2/img/manifests/"+digest.FromString("x").String(), m, contentType, ocispec.MediaTypeImageManifest), 400, CodeDigestInvalid)
	tr.expect(tr.do("PUT", "/v2/img/manifests/v1", m, contentType, ocispec.MediaTypeImageIndex), 400, CodeManifestInvalid)
	tr.expect(tr.do("PUT", "/v2/img/manifests/v1", []byte("{"), contentType, ocispec.MediaTypeImageManifest), 400, CodeManifestInvalid)
	tr.expect(tr.do("PUT", "/v2/img/manifests/v1", make([]byte, MaxManifestSize+1), contentType, ocispec.MediaTypeImageManifest), 413, CodeSizeInvalid)
	tr.expect(tr.do("PUT", "/v2/img/manifests/bad:tag", m, contentType, ocispec.MediaTypeImageManifest), 400, CodeManifestInvalid)

	r := tr.do("PUT", "/v2/img/manifests/v1", m, contentType, ocispec.MediaTypeImageManifest)
	tr.expect(r, 201, "")
	if r.header.Get("Docker-Content-Digest") != md.String() || r.header.Get("Location") != "/v2/img/manifests/"+md.String() {
		t.Fatalf("PUT manifest: %v", r.header)
	}
	for _, ref := range []string{"v1", md.String()} {
		r = tr.do("GET", "/v2/img/manifests/"+ref, nil)
		tr.expect(r, 200, "")
		if !bytes.Equal(r.body, m) || r.header.Get("Content-Type") != ocispec.MediaTypeImageManifest || r.header.Get("Docker-Content-Digest") != md.String() {
			t.Fatalf("GET manifest %s: %v", ref, r.header)
		}
		r = tr.do("HEAD", "/v2/img/manifests/"+ref, nil)
		if r.status != 200 || r.header.Get("Content-Length") != fmt.Sprint(len(m)) {
			t.Fatalf("HEAD manifest %s: %d %v", ref, r.status, r.header)
		}
	}
	// Tags and their pagination.
	for _, tag := range []string{"v2", "v3", "latest"} {
		tr.expect(tr.do("PUT", "/v2/img/manifests/"+tag, m, contentType, ocispec.MediaTypeImageManifest), 201, "")
	}
	var tl struct {
		Name string
		Tags []string
	}
	r = tr.do("GET", "/v2/img/tags/list?n=2", nil)
	json.Unmarshal(r.body, &tl)
	if tl.Name != "img" || strings.Join(tl.Tags, ",") != "latest,v1" || r.header.Get("Link") != `</v2/img/tags/list?last=v1&n=2>; rel="next"` {
		t.Fatalf("tags page 1: %+v %q", tl, r.header.Get("Link"))
	}
	r = tr.do("GET", "/v2/img/tags/list?n=2&last=v1", nil)
	json.Unmarshal(r.body, &tl)
	if strings.Join(tl.Tags, ",") != "v2,v3" {
		t.Fatalf("tags page 2: %+v", tl)
	}
	tr.expect(tr.do("GET", "/v2/img/tags/list?n=-1", nil), 400, CodePaginationInvalid)
	// Index over the manifest: its children must be in the repository.
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{desc(ocispec.MediaTypeImageManifest, m)}}
	idx.SchemaVersion = 2
	idxData, _ := json.Marshal(idx)
	tr.expect(tr.do("PUT", "/v2/other/manifests/multi", idxData, contentType, ocispec.MediaTypeImageIndex), 400, CodeManifestBlobUnknown)
	tr.expect(tr.do("PUT", "/v2/img/manifests/multi", idxData, contentType, ocispec.MediaTypeImageIndex), 201, "")

	// Delete by tag, then by digest (which takes the remaining tags).
	tr.expect(tr.do("DELETE", "/v2/img/manifests/v3", nil), 202, "")
	tr.expect(tr.do("GET", "/v2/img/manifests/v3", nil), 404, CodeManifestUnknown)
	tr.expect(tr.do("DELETE", "/v2/img/manifests/"+md.String(), nil), 202, "")
	tr.expect(tr.do("GET", "/v2/img/manifests/v1", nil), 404, CodeManifestUnknown)
	tr.expect(tr.do("DELETE", "/v2/img/manifests/"+md.String(), nil), 404, CodeManifestUnknown)
	r = tr.do("GET", "/v2/img/tags/list", nil)
	json.Unmarshal(r.body, &tl)
	if strings.Join(tl.Tags, ",") != "multi" {
		t.Fatalf("tags after delete: %+v", tl)
	}
	var cat struct{ Repositories []string }
	json.Unmarshal(tr.do("GET", "/v2/_catalog", nil).body, &cat)
	if strings.Join(cat.Repositories, ",") != "img" {
		t.Fatalf("catalog: %+v", cat)
	}
}

func TestReferrers(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	config := []byte(`{}`)
	tr.pushBlob("r", config)
	subject := imageManifest(config, nil, "")
	sd := desc(ocispec.MediaTypeImageManifest, subject)
	tr.expect(tr.do("PUT", "/v2/r/manifests/base", subject, contentType, ocispec.MediaTypeImageManifest), 201, "")
	sig := imageManifest(config, &sd, "application/vnd.example.sig")
	sbom := imageManifest(config, &sd, "application/vnd.example.sbom")
	for _, a := range [][]byte{sig, sbom} {
		r := tr.do("PUT", "/v2/r/manifests/"+digest.FromBytes(a).String(), a, contentType, ocispec.MediaTypeImageManifest)
		tr.expect(r, 201, "")
		if r.header.Get("OCI-Subject") != sd.Digest.String() {
			t.Fatalf("no OCI-Subject: %v", r.header)
		}
	}
	list := func(query string) (ocispec.Index, http.Header) {
		r := tr.do("GET", "/v2/r/referrers/"+sd.Digest.String()+query, nil)
		tr.expect(r, 200, "")
		var idx ocispec.Index
		if err := json.Unmarshal(r.body, &idx); err != nil || r.header.Get("Content-Type") != ocispec.MediaTypeImageIndex {
			t.Fatalf("referrers: %v %v", err, r.header)
		}
		return idx, r.header
	}
	idx, h := list("")
	if len(idx.Manifests) != 2 || h.Get("OCI-Filters-Applied") != "" {
		t.Fatalf("referrers: %+v", idx)
	}
	idx, h = list("?artifactType=application/vnd.example.sbom")
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != digest.FromBytes(sbom) || h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers: %+v %v", idx, h)
	}
	tr.expect(tr.do("DELETE", "/v2/r/manifests/"+digest.FromBytes(sig).String(), nil), 202, "")
	if idx, _ = list(""); len(idx.Manifests) != 1 {
		t.Fatalf("referrers after delete: %+v", idx)
	}
	// An unknown subject has an empty list.
	r := tr.do("GET", "/v2/r/referrers/"+digest.FromString("none").String(), nil)
	tr.expect(r, 200, "")
	if !strings.Contains(string(r.body), `"manifests":[]`) {
		t.Fatalf("empty referrers: %s", r.body)
	}
}

func TestBasicAuth(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	auth, err := ParseHtpasswd(strings.NewReader("# users\nalice:" + string(hash) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHtpasswd(strings.NewReader("bob:{SHA}abc\n")); err == nil {
		t.Error("a SHA1 htpasswd entry was accepted")
	}
	tr := newTestRegistry(t, Options{Auth: auth})
	r := tr.do("GET", "/v2/", nil)
	tr.expect(r, 401, CodeUnauthorized)
	if r.header.Get("WWW-Authenticate") != realm {
		t.Fatalf("401 without challenge: %v", r.header)
	}
	req, _ := http.NewRequest("GET", tr.url+"/v2/", nil)
	req.SetBasicAuth("alice", "wrong")
	if res, _ := http.DefaultClient.Do(req); res.StatusCode != 401 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	for range 2 { // the second time from the cache
		req.SetBasicAuth("alice", "s3cret")
		if res, _ := http.DefaultClient.Do(req); res.StatusCode != 200 {
			t.Fatalf("right password: %d", res.StatusCode)
		}
	}
}

// readOnly is an FS seen through Storage alone.
type readOnly struct{ Storage }

func TestReadOnlyStorage(t *testing.T) {
	st, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(readOnly{st}, Options{}))
	defer srv.Close()
	tr := &testRegistry{t: t, url: srv.URL, fs: st}
	tr.expect(tr.do("POST", "/v2/a/blobs/uploads/", nil), 405, CodeUnsupported)
	tr.expect(tr.do("PUT", "/v2/a/manifests/x", []byte("{}")), 405, CodeUnsupported)
	tr.expect(tr.do("DELETE", "/v2/a/blobs/"+digest.FromString("x").String(), nil), 405, CodeUnsupported)
	tr.expect(tr.do("GET", "/v2/", nil), 200, "")
}

func TestGC(t *testing.T) {
	tr := newTestRegistry(t, Options{})
	config, shared, own := []byte(`{"os":"linux"}`), []byte("shared layer"), []byte("own layer")
	for _, repo := range []string{"one", "two"} {
		tr.pushBlob(repo, config)
		tr.pushBlob(repo, shared)
	}
	tr.pushBlob("two", own)
	m1, m2 := imageManifest(config, nil, "", shared), imageManifest(config, nil, "", shared, own)
	tr.expect(tr.do("PUT", "/v2/one/manifests/a", m1, contentType, ocispec.MediaTypeImageManifest), 201, "")
	tr.expect(tr.do("PUT", "/v2/two/manifests/b", m2, contentType, ocispec.MediaTypeImageManifest), 201, "")
	ctx := context.Background()
	res, err := tr.fs.GC(ctx, GCOptions{})
	if err != nil || len(res.Deleted) != 0 || res.Referenced != 5 {
		t.Fatalf("gc with everything referenced: %+v %v", res, err)
	}
	tr.expect(tr.do("DELETE", "/v2/two/manifests/"+digest.FromBytes(m2).String(), nil), 202, "")
	// Within the grace period the unreferenced blobs stay.
	res, err = tr.fs.GC(ctx, GCOptions{Grace: DefaultGCGrace})
	if err != nil || len(res.Deleted) != 0 || res.Spared != 2 {
		t.Fatalf("gc within grace: %+v %v", res, err)
	}
	res, err = tr.fs.GC(ctx, GCOptions{DryRun: true})
	if err != nil || len(res.Deleted) != 2 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	tr.expect(tr.do("GET", "/v2/two/blobs/"+digest.FromBytes(own).String(), nil), 200, "")
	res, err = tr.fs.GC(ctx, GCOptions{})
	if err != nil || len(res.Deleted) != 2 || res.Bytes != int64(len(m2)+len(own)) {
		t.Fatalf("gc: %+v %v", res, err)
	}
	tr.expect(tr.do("GET", "/v2/two/blobs/"+digest.FromBytes(own).String(), nil), 404, CodeBlobUnknown)
	tr.expect(tr.do("GET", "/v2/two/blobs/"+digest.FromBytes(shared).String(), nil), 200, "")
	tr.expect(tr.do("GET", "/v2/one/manifests/a", nil), 200, "")
	if exists(tr.fs.layerLink("two", digest.FromBytes(own))) {
		t.Error("gc left a link to a deleted blob")
	}
	// A manifest whose blob was collected cannot be pushed again until
	// the blob is.
	tr.expect(tr.do("PUT", "/v2/two/manifests/b", m2, contentType, ocispec.MediaTypeImageManifest), 400, CodeManifestBlobUnknown)
}
