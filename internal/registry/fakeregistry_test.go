package registry

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
)

// fakeRegistry is a small in-memory distribution registry for tests:
// manifests by tag and digest, blobs, monolithic uploads and mounts,
// optional basic or bearer auth (the token server on the same host, as
// go-containerregistry allows for loopback realms), and fault hooks.
type fakeRegistry struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	blobs     map[string][]byte          // repo + "@" + digest
	manifests map[string]fakeManifest    // repo + ":" + tag or digest
	requests  []string                   // "METHOD path"
	failBlob  map[digest.Digest]int      // GETs left to answer 500
	corrupt   map[digest.Digest]bool     // serve other bytes for it
	auth      string                     // "", "basic", "bearer"
	user, pw  string                     // accepted credentials
	scopes    []string                   // scopes asked of the token server
	tokens    map[string]map[string]bool // token → granted scopes
	noMount   bool
}

type fakeManifest struct {
	mediaType string
	data      []byte
}

func newFakeRegistry(t testing.TB) *fakeRegistry {
	f := &fakeRegistry{
		t: t, blobs: map[string][]byte{}, manifests: map[string]fakeManifest{},
		failBlob: map[digest.Digest]int{}, corrupt: map[digest.Digest]bool{}, tokens: map[string]map[string]bool{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// host is host:port, as a reference names the registry.
func (f *fakeRegistry) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeRegistry) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeRegistry) addBlob(repo string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	f.mu.Lock()
	f.blobs[repo+"@"+d.String()] = data
	f.mu.Unlock()
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(data))}
}

func (f *fakeRegistry) addManifest(repo, tag, mediaType string, v any) ocispec.Descriptor {
	data, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	d := digest.FromBytes(data)
	f.mu.Lock()
	f.manifests[repo+"@"+d.String()] = fakeManifest{mediaType, data}
	if tag != "" {
		f.manifests[repo+":"+tag] = fakeManifest{mediaType, data}
	}
	f.mu.Unlock()
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// testImage is an image in a fake registry: config and layers.
type testImage struct {
	manifest ocispec.Descriptor
	config   ocispec.Descriptor
	layers   []ocispec.Descriptor
}

// addImage puts an image of n random layers (size bytes each) under
// repo:tag.
func (f *fakeRegistry) addImage(repo, tag string, n, size int, arch string) testImage {
	var img testImage
	var diffIDs []digest.Digest
	for range n {
		b := make([]byte, size)
		rand.Read(b)
		l := f.addBlob(repo, b)
		img.layers = append(img.layers, l)
		diffIDs = append(diffIDs, l.Digest) // a test stand-in; the client never unpacks
	}
	cfg, _ := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: arch},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	img.config = f.addBlob(repo, cfg)
	img.config.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: img.config, Layers: img.layers}
	m.SchemaVersion = 2
	img.manifest = f.addManifest(repo, tag, ocispec.MediaTypeImageManifest, m)
	return img
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v2/") {
		http.NotFound(w, r)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v2/")
	if !f.authorized(w, r, rest) {
		return
	}
	if rest == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	switch {
	case strings.HasSuffix(rest, "/tags/list"):
		f.serveTags(w, r, strings.TrimSuffix(rest, "/tags/list"))
	case strings.Contains(rest, "/manifests/"):
		i := strings.LastIndex(rest, "/manifests/")
		f.serveManifest(w, r, rest[:i], rest[i+len("/manifests/"):])
	case strings.HasSuffix(rest, "/blobs/uploads/"):
		f.startUpload(w, r, strings.TrimSuffix(rest, "/blobs/uploads/"))
	case strings.Contains(rest, "/blobs/uploads/"):
		i := strings.Index(rest, "/blobs/uploads/")
		f.finishUpload(w, r, rest[:i])
	case strings.Contains(rest, "/blobs/"):
		i := strings.LastIndex(rest, "/blobs/")
		f.serveBlob(w, r, rest[:i], digest.Digest(rest[i+len("/blobs/"):]))
	default:
		http.NotFound(w, r)
	}
}

func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

// authorized checks the request's credentials for the repository it
// addresses, answering the challenge if they do not do.
func (f *fakeRegistry) authorized(w http.ResponseWriter, r *http.Request, rest string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.auth {
	case "basic":
		if u, p, ok := r.BasicAuth(); ok && u == f.user && p == f.pw {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
	case "bearer":
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		granted, ok := f.tokens[tok]
		repo, _, _ := strings.Cut(rest, "/manifests/")
		repo, _, _ = strings.Cut(repo, "/blobs/")
		action := "pull"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			action = "push"
		}
		scope := "repository:" + repo + ":" + action
		if ok && (rest == "" || granted[scope]) {
			return true
		}
		ch := fmt.Sprintf(`Bearer realm="%s/token",service="fake"`, f.srv.URL)
		if rest != "" {
			ch += fmt.Sprintf(`,scope="repository:%s:pull,push"`, repo)
		}
		w.Header().Set("WWW-Authenticate", ch)
	default:
		return true
	}
	regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

func (f *fakeRegistry) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.pw {
		regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad credentials")
		return
	}
	granted := map[string]bool{}
	for _, s := range r.URL.Query()["scope"] {
		f.scopes = append(f.scopes, s)
		for _, one := range strings.Split(s, " ") {
			parts := strings.Split(one, ":")
			if len(parts) == 3 {
				for _, a := range strings.Split(parts[2], ",") {
					granted[parts[0]+":"+parts[1]+":"+a] = true
				}
			}
		}
	}
	tok := fmt.Sprintf("tok%d", len(f.tokens))
	f.tokens[tok] = granted
	json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// serveTags lists tags sorted, n at a time after last, with a Link to
// the next page, as distribution does.
func (f *fakeRegistry) serveTags(w http.ResponseWriter, r *http.Request, repo string) {
	f.mu.Lock()
	var tags []string
	for k := range f.manifests {
		if rp, tag, ok := strings.Cut(k, ":"); ok && rp == repo && !strings.Contains(tag, ":") {
			tags = append(tags, tag)
		}
	}
	f.mu.Unlock()
	slices.Sort(tags)
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(tags, last)
		for i < len(tags) && tags[i] <= last {
			i++
		}
		tags = tags[i:]
	}
	n, _ := strconv.Atoi(q.Get("n"))
	if n > 2 {
		n = 2 // small pages, so that the client must follow the links
	}
	if n > 0 && len(tags) > n {
		tags = tags[:n]
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?n=%d&last=%s>; rel="next"`, repo, n, tags[n-1]))
	}
	json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags})
}

func (f *fakeRegistry) serveManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	key := repo + ":" + ref
	if strings.Contains(ref, ":") {
		key = repo + "@" + ref
	}
	if r.Method == http.MethodPut {
		data, _ := io.ReadAll(r.Body)
		m := fakeManifest{r.Header.Get("Content-Type"), data}
		d := digest.FromBytes(data)
		f.mu.Lock()
		f.manifests[key] = m
		f.manifests[repo+"@"+d.String()] = m
		f.mu.Unlock()
		w.Header().Set("Docker-Content-Digest", d.String())
		w.WriteHeader(http.StatusCreated)
		return
	}
	f.mu.Lock()
	m, ok := f.manifests[key]
	f.mu.Unlock()
	if !ok {
		regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}
	w.Header().Set("Content-Type", m.mediaType)
	w.Header().Set("Docker-Content-Digest", digest.FromBytes(m.data).String())
	w.Write(m.data)
}

func (f *fakeRegistry) serveBlob(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	f.mu.Lock()
	data, ok := f.blobs[repo+"@"+d.String()]
	fail := f.failBlob[d]
	if fail > 0 && r.Method == http.MethodGet {
		f.failBlob[d] = fail - 1
	}
	corrupt := f.corrupt[d]
	f.mu.Unlock()
	if !ok {
		regError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	if r.Method == http.MethodHead {
		return
	}
	if fail > 0 {
		// Half the blob, then a dropped connection.
		w.Write(data[:len(data)/2])
		panic(http.ErrAbortHandler)
	}
	if corrupt {
		data = append([]byte{}, data...)
		data[0] ^= 0xff
	}
	w.Write(data)
}

func (f *fakeRegistry) startUpload(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	if m := q.Get("mount"); m != "" && !f.noMount {
		f.mu.Lock()
		data, ok := f.blobs[q.Get("from")+"@"+m]
		if ok {
			f.blobs[repo+"@"+m] = data
		}
		f.mu.Unlock()
		if ok {
			w.WriteHeader(http.StatusCreated)
			return
		}
	}
	w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/u1?state=x")
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeRegistry) finishUpload(w http.ResponseWriter, r *http.Request, repo string) {
	if r.Method != http.MethodPut {
		regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "monolithic only")
		return
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	data, _ := io.ReadAll(r.Body)
	d := digest.Digest(q.Get("digest"))
	if digest.FromBytes(data) != d || q.Get("state") != "x" {
		regError(w, http.StatusBadRequest, "DIGEST_INVALID", "digest mismatch")
		return
	}
	f.mu.Lock()
	f.blobs[repo+"@"+d.String()] = data
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// newTestClient is a client over a fresh content store.
func newTestClient(t testing.TB) *Client {
	cs, err := content.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := OpenMetadata(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Content: cs, Metadata: meta, RetryDelay: 1}
}
