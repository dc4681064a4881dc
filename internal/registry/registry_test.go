package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
)

func mustRef(t *testing.T, s string) reference.Named {
	t.Helper()
	r, err := reference.ParseDockerRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// progressLog collects Progress events, safe for concurrent senders.
type progressLog struct {
	mu  sync.Mutex
	all []Progress
}

func (p *progressLog) add(pr Progress) {
	p.mu.Lock()
	p.all = append(p.all, pr)
	p.mu.Unlock()
}

// actions are the distinct actions of one layer, in order.
func (p *progressLog) actions(id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, pr := range p.all {
		if pr.ID == id && (len(out) == 0 || out[len(out)-1] != pr.Action) {
			out = append(out, pr.Action)
		}
	}
	return out
}

func pull(t *testing.T, c *Client, ref string, opts PullOptions) (*Pulled, *progressLog, error) {
	t.Helper()
	p, err := c.Resolve(context.Background(), mustRef(t, ref), opts)
	if err != nil {
		return nil, nil, err
	}
	log := &progressLog{}
	return p, log, p.Fetch(context.Background(), log.add, nil)
}

func assertBlobs(t *testing.T, cs content.Store, want bool, descs ...ocispec.Descriptor) {
	t.Helper()
	for _, d := range descs {
		_, err := cs.Info(context.Background(), d.Digest)
		if (err == nil) != want {
			t.Errorf("blob %s present = %v, want %v", d.Digest, err == nil, want)
		}
	}
}

func TestPullByTagAndDigest(t *testing.T) {
	f := newFakeRegistry(t)
	img := f.addImage("team/app", "v1", 2, 3<<20, "amd64")
	c := newTestClient(t)
	p, log, err := pull(t, c, f.host()+"/team/app:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.Digest != img.manifest.Digest || p.Manifest.Digest != img.manifest.Digest || p.Config.Digest != img.config.Digest {
		t.Fatalf("pulled %+v, want manifest %s", p, img.manifest.Digest)
	}
	assertBlobs(t, c.Content, true, append(img.layers, img.config, img.manifest)...)
	// The progress of a layer, in Docker's order, with byte counts.
	id := ShortID(img.layers[0].Digest)
	got := log.actions(id)
	want := []string{ActionPullingLayer, ActionDownloading, ActionVerifying, ActionDownloaded}
	if !slices.Equal(got, want) {
		t.Errorf("layer %s progress %v, want %v", id, got, want)
	}
	var last Progress
	for _, pr := range log.all {
		if pr.ID == id && pr.Action == ActionDownloading {
			last = pr
		}
	}
	if last.Current != img.layers[0].Size || last.Total != img.layers[0].Size {
		t.Errorf("last Downloading of %s: %d/%d, want %d/%d", id, last.Current, last.Total, img.layers[0].Size, img.layers[0].Size)
	}

	// By digest, into a fresh store; a wrong digest is refused.
	c2 := newTestClient(t)
	if _, _, err := pull(t, c2, f.host()+"/team/app@"+img.manifest.Digest.String(), PullOptions{}); err != nil {
		t.Fatal(err)
	}
	other := digest.FromString("other")
	if _, _, err := pull(t, c2, f.host()+"/team/app@"+other.String(), PullOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("pull of an unknown digest: %v, want ErrNotFound", err)
	}
	if _, _, err := pull(t, c2, f.host()+"/team/app:nosuch", PullOptions{}); !errors.Is(err, ErrNotFound) || !HasCode(err, "MANIFEST_UNKNOWN") {
		t.Errorf("pull of an unknown tag: %v, want ErrNotFound with MANIFEST_UNKNOWN", err)
	}
}

func TestPullSkipsPresentLayers(t *testing.T) {
	f := newFakeRegistry(t)
	img := f.addImage("app", "latest", 2, 1<<20, "amd64")
	c := newTestClient(t)
	if _, _, err := pull(t, c, f.host()+"/app", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	before := f.count("GET /v2/app/blobs/")
	_, log, err := pull(t, c, f.host()+"/app", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("GET /v2/app/blobs/") - before; n != 0 {
		t.Errorf("second pull fetched %d blobs, want 0", n)
	}
	for _, l := range img.layers {
		if got := log.actions(ShortID(l.Digest)); !slices.Equal(got, []string{ActionAlreadyExists}) {
			t.Errorf("layer progress %v, want [Already exists]", got)
		}
	}
}

func TestPullIndexSelectsPlatform(t *testing.T) {
	f := newFakeRegistry(t)
	amd, arm, idxDesc := f.addIndex("multi")
	c := newTestClient(t)
	p, _, err := pull(t, c, f.host()+"/multi", PullOptions{Platform: ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.Digest != idxDesc.Digest || p.Manifest.Digest != arm.manifest.Digest {
		t.Fatalf("target %s manifest %s, want index %s and arm64 %s", p.Target.Digest, p.Manifest.Digest, idxDesc.Digest, arm.manifest.Digest)
	}
	assertBlobs(t, c.Content, true, arm.layers...)
	assertBlobs(t, c.Content, false, amd.layers...)
	_, err = c.Resolve(context.Background(), mustRef(t, f.host()+"/multi"), PullOptions{Platform: ocispec.Platform{OS: "linux", Architecture: "s390x"}})
	if err == nil || !strings.Contains(err.Error(), "no matching manifest for linux/s390x") {
		t.Errorf("pull for a platform the index lacks: %v", err)
	}
}

// addIndex puts an index of an amd64 and an arm64 image under
// repo:latest.
func (f *fakeRegistry) addIndex(repo string) (amd, arm testImage, idxDesc ocispec.Descriptor) {
	amd = f.addImage(repo, "", 1, 1000, "amd64")
	arm = f.addImage(repo, "", 1, 1000, "arm64")
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		withPlatform(amd.manifest, "amd64", ""), withPlatform(arm.manifest, "arm64", "v8"),
	}}
	idx.SchemaVersion = 2
	return amd, arm, f.addManifest(repo, "latest", ocispec.MediaTypeImageIndex, idx)
}

func withPlatform(d ocispec.Descriptor, arch, variant string) ocispec.Descriptor {
	d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch, Variant: variant}
	return d
}

func TestPullRetriesDroppedConnections(t *testing.T) {
	f := newFakeRegistry(t)
	img := f.addImage("app", "latest", 1, 1<<20, "amd64")
	f.failBlob[img.layers[0].Digest] = 2
	c := newTestClient(t)
	_, log, err := pull(t, c, f.host()+"/app", PullOptions{})
	if err != nil {
		t.Fatalf("pull with two dropped connections: %v", err)
	}
	assertBlobs(t, c.Content, true, img.layers...)
	retries := 0
	for _, a := range log.actions(ShortID(img.layers[0].Digest)) {
		if strings.HasPrefix(a, ActionRetryingPrefix) {
			retries++
		}
	}
	if retries == 0 {
		t.Error("no Retrying progress after dropped connections")
	}
	// More failures than attempts: the pull fails, nothing is stored.
	f2 := newFakeRegistry(t)
	img2 := f2.addImage("app", "latest", 1, 1<<20, "amd64")
	f2.failBlob[img2.layers[0].Digest] = 100
	c2 := newTestClient(t)
	c2.Attempts = 2
	if _, _, err := pull(t, c2, f2.host()+"/app", PullOptions{}); err == nil {
		t.Fatal("pull succeeded although every download failed")
	}
	assertBlobs(t, c2.Content, false, img2.layers...)
}

func TestPullDigestMismatchStoresNothing(t *testing.T) {
	f := newFakeRegistry(t)
	img := f.addImage("app", "latest", 1, 1<<20, "amd64")
	f.corrupt[img.layers[0].Digest] = true
	c := newTestClient(t)
	_, _, err := pull(t, c, f.host()+"/app", PullOptions{})
	var dm *content.DigestMismatchError
	if !errors.As(err, &dm) || !strings.Contains(err.Error(), "verification failed") {
		t.Fatalf("pull of a corrupt layer: %v, want a digest mismatch", err)
	}
	assertBlobs(t, c.Content, false, img.layers...)
	if n := f.count("GET /v2/app/blobs/" + img.layers[0].Digest.String()); n != 1 {
		t.Errorf("corrupt blob fetched %d times: a mismatch must not be retried", n)
	}
}

func TestBearerTokenFlow(t *testing.T) {
	f := newFakeRegistry(t)
	f.auth, f.user, f.pw = "bearer", "alice", "s3cret"
	img := f.addImage("team/app", "latest", 1, 1000, "amd64")
	c := newTestClient(t)
	ref := f.host() + "/team/app"
	if _, _, err := pull(t, c, ref, PullOptions{}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("anonymous pull from a bearer registry: %v, want ErrUnauthorized", err)
	}
	auth := &AuthConfig{Username: "alice", Password: "s3cret"}
	if _, _, err := pull(t, c, ref, PullOptions{Auth: auth}); err != nil {
		t.Fatal(err)
	}
	assertBlobs(t, c.Content, true, img.layers...)
	if !slices.Contains(f.scopes, "repository:team/app:pull") {
		t.Errorf("token scopes %v, want repository:team/app:pull", f.scopes)
	}
	// Push to another repository: push scope, and pull scope on the
	// repository the blobs are known to be in, for the mount.
	res, err := c.Push(context.Background(), mustRef(t, f.host()+"/team/copy:v1"), img.manifest, auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != img.manifest.Digest {
		t.Errorf("pushed %s, want %s", res.Digest, img.manifest.Digest)
	}
	if !slices.Contains(f.scopes, "repository:team/copy:pull,push") || !slices.Contains(f.scopes, "repository:team/app:pull") {
		t.Errorf("token scopes %v, want push on team/copy and pull on team/app", f.scopes)
	}
	// Login: good and bad credentials.
	if _, err := c.Login(context.Background(), &AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: f.host()}); err != nil {
		t.Errorf("login with good credentials: %v", err)
	}
	if _, err := c.Login(context.Background(), &AuthConfig{Username: "alice", Password: "wrong", ServerAddress: f.host()}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("login with a wrong password: %v, want ErrUnauthorized", err)
	}
}

func TestBasicAuth(t *testing.T) {
	f := newFakeRegistry(t)
	f.auth, f.user, f.pw = "basic", "bob", "pw"
	f.addImage("app", "latest", 1, 1000, "amd64")
	c := newTestClient(t)
	if _, _, err := pull(t, c, f.host()+"/app", PullOptions{Auth: &AuthConfig{Username: "bob", Password: "nope"}}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("pull with a wrong password: %v, want ErrUnauthorized", err)
	}
	if _, _, err := pull(t, c, f.host()+"/app", PullOptions{Auth: &AuthConfig{Username: "bob", Password: "pw"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), &AuthConfig{Username: "bob", Password: "nope", ServerAddress: "http://" + f.host()}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("login with a wrong password: %v, want ErrUnauthorized", err)
	}
}

func TestPushSkipsMountsAndUploads(t *testing.T) {
	src := newFakeRegistry(t)
	img := src.addImage("orig", "latest", 3, 256<<10, "amd64")
	c := newTestClient(t)
	if _, _, err := pull(t, c, src.host()+"/orig", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// To another registry: every blob uploaded, with Pushing counts.
	dst := newFakeRegistry(t)
	log := &progressLog{}
	if _, err := c.Push(ctx, mustRef(t, dst.host()+"/a:v1"), img.manifest, nil, log.add); err != nil {
		t.Fatal(err)
	}
	for _, l := range img.layers {
		got := log.actions(ShortID(l.Digest))
		if got[0] != ActionPreparing || got[len(got)-1] != ActionPushed || !slices.Contains(got, ActionPushing) {
			t.Errorf("layer %s push progress %v, want Preparing … Pushing … Pushed", ShortID(l.Digest), got)
		}
	}
	if n := dst.count("PUT /v2/a/blobs/uploads/"); n != 4 {
		t.Errorf("%d uploads, want 4 (3 layers and the config)", n)
	}
	if _, ok := dst.manifests["a:v1"]; !ok {
		t.Error("manifest not pushed under its tag")
	}
	// To another repository of that registry: mounted.
	log = &progressLog{}
	if _, err := c.Push(ctx, mustRef(t, dst.host()+"/b:v1"), img.manifest, nil, log.add); err != nil {
		t.Fatal(err)
	}
	for _, l := range img.layers {
		if got := log.actions(ShortID(l.Digest)); got[len(got)-1] != ActionMountedFrom+"a" {
			t.Errorf("layer push progress %v, want Mounted from a", got)
		}
	}
	if n := dst.count("PUT /v2/b/blobs/uploads/"); n != 0 {
		t.Errorf("%d uploads to b, want 0 (mounted)", n)
	}
	// Again: the registry has them (HEAD).
	log = &progressLog{}
	if _, err := c.Push(ctx, mustRef(t, dst.host()+"/b:v2"), img.manifest, nil, log.add); err != nil {
		t.Fatal(err)
	}
	for _, l := range img.layers {
		if got := log.actions(ShortID(l.Digest)); got[len(got)-1] != ActionLayerExists {
			t.Errorf("layer push progress %v, want Layer already exists", got)
		}
	}
	// A registry that declines mounts gets an upload instead.
	dst.noMount = true
	if _, err := c.Push(ctx, mustRef(t, dst.host()+"/c:v1"), img.manifest, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := dst.count("PUT /v2/c/blobs/uploads/"); n != 4 {
		t.Errorf("%d uploads to c after a declined mount, want 4", n)
	}
}

func TestPushIndex(t *testing.T) {
	src := newFakeRegistry(t)
	amd, arm, idxDesc := src.addIndex("m")
	c := newTestClient(t)
	if _, _, err := pull(t, c, src.host()+"/m", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if c.Complete(context.Background(), idxDesc) {
		t.Fatal("Complete says the index is all here after pulling one platform")
	}
	if _, _, err := pull(t, c, src.host()+"/m", PullOptions{Platform: ocispec.Platform{OS: "linux", Architecture: "arm64"}}); err != nil {
		t.Fatal(err)
	}
	if !c.Complete(context.Background(), idxDesc) {
		t.Fatal("Complete says the index is incomplete after pulling both platforms")
	}
	dst := newFakeRegistry(t)
	if _, err := c.Push(context.Background(), mustRef(t, dst.host()+"/m:v1"), idxDesc, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"m:v1", "m@" + amd.manifest.Digest.String(), "m@" + arm.manifest.Digest.String()} {
		if _, ok := dst.manifests[k]; !ok {
			t.Errorf("%s not pushed", k)
		}
	}
}

func TestHosts(t *testing.T) {
	h := Hosts{Mirrors: []string{"https://mirror.example", "http://10.1.2.3:5000"}, Insecure: []string{"reg.lan:5000", "10.0.0.0/8"}}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	eps := h.endpoints("docker.io", false)
	if len(eps) != 3 || eps[0].host != "mirror.example" || eps[0].insecure || !eps[1].insecure || eps[2].host != "registry-1.docker.io" || eps[2].mirror {
		t.Errorf("docker.io pull endpoints %+v", eps)
	}
	if eps := h.endpoints("docker.io", true); len(eps) != 1 || eps[0].host != "registry-1.docker.io" {
		t.Errorf("docker.io push endpoints %+v: mirrors are for pulls only", eps)
	}
	if eps := h.endpoints("ghcr.io", false); len(eps) != 1 || eps[0].host != "ghcr.io" {
		t.Errorf("ghcr.io endpoints %+v", eps)
	}
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "127.9.9.9": true, "[::1]:5000": true,
		"reg.lan:5000": true, "reg.lan:6000": false, "10.20.30.40:5000": true, "192.168.1.1": false, "ghcr.io": false,
	} {
		if got := h.IsInsecure(host); got != want {
			t.Errorf("IsInsecure(%s) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []Hosts{{Mirrors: []string{"mirror.example"}}, {Mirrors: []string{"https://m.example/path"}}, {Insecure: []string{"http://x"}}, {Insecure: []string{"10.0.0.0/99"}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
	if loginDomain("https://index.docker.io/v1/") != "docker.io" || loginDomain("") != "docker.io" || loginDomain("http://127.0.0.1:5000") != "127.0.0.1:5000" || loginDomain("reg:5000") != "reg:5000" {
		t.Error("loginDomain maps server addresses wrongly")
	}
}

func TestDecodeAuthHeader(t *testing.T) {
	enc := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p?>","serveraddress":"r:5000","identitytoken":"it"}`))
	a, err := DecodeAuthHeader(enc)
	if err != nil || a.Username != "u" || a.Password != "p?>" || a.ServerAddress != "r:5000" || a.IdentityToken != "it" {
		t.Fatalf("DecodeAuthHeader = %+v, %v", a, err)
	}
	a, err = DecodeAuthHeader(base64.RawURLEncoding.EncodeToString([]byte(`{"auth":"` + base64.StdEncoding.EncodeToString([]byte("x:y:z")) + `"}`)))
	if err != nil || a.Username != "x" || a.Password != "y:z" {
		t.Fatalf("auth field: %+v, %v", a, err)
	}
	if a, err := DecodeAuthHeader(""); err != nil || *a != (AuthConfig{}) {
		t.Errorf("empty header: %+v, %v", a, err)
	}
	for _, bad := range []string{"!!!", base64.URLEncoding.EncodeToString([]byte("[1]")), base64.URLEncoding.EncodeToString([]byte(`{"auth":"bm9jb2xvbg=="}`)), strings.Repeat("A", maxAuthHeader+4)} {
		if _, err := DecodeAuthHeader(bad); err == nil {
			t.Errorf("DecodeAuthHeader(%.20q) accepted", bad)
		}
	}
}

func FuzzDecodeAuthHeader(f *testing.F) {
	f.Add(base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p"}`)))
	f.Add(base64.URLEncoding.EncodeToString([]byte(`{"auth":"dTpw"}`)))
	f.Add("e30")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := DecodeAuthHeader(h)
		if err == nil && a == nil {
			t.Fatal("nil config without an error")
		}
	})
}

func TestMetadata(t *testing.T) {
	m, err := OpenMetadata(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("x")
	for i := range maxSources + 3 {
		if err := m.Add(d, Source{Registry: "r", Repository: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	m.Add(d, Source{Registry: "r", Repository: "c"})
	got := m.Sources(d)
	if len(got) != maxSources || got[0].Repository != "c" || got[1].Repository != string(rune('a'+maxSources+2)) {
		t.Errorf("sources %v: want %d, newest first, no duplicates", got, maxSources)
	}
	if m.Sources("sha256:../../etc") != nil || m.Add("bad", Source{}) == nil {
		t.Error("an invalid digest reached the filesystem")
	}
}

// FuzzManifestResponse feeds arbitrary bytes, under an arbitrary
// Content-Type, through what the client does with a registry's manifest
// answer: describe it, then select from an index or check an image
// manifest. Nothing may panic, and what is accepted must be described by
// the digest of its bytes.
func FuzzManifestResponse(f *testing.F) {
	cfg := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("c"), Size: 1}
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString("l"), Size: 1}
	good, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	f.Add(good, ocispec.MediaTypeImageManifest)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+digest.FromString("m").String()+`","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`), "application/json")
	f.Add([]byte(`{"schemaVersion":1}`), "application/json")
	f.Add([]byte(`[]`), "text/plain; charset=utf-8")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		desc, err := describeManifest(contentType, data, "")
		if err != nil {
			return
		}
		if desc.Digest != digest.FromBytes(data) || desc.Size != int64(len(data)) {
			t.Fatalf("described as %s (%d bytes), but the bytes are %s (%d)", desc.Digest, desc.Size, digest.FromBytes(data), len(data))
		}
		if _, err := describeManifest(contentType, data, digest.FromString("other")); err == nil {
			t.Fatal("accepted under a digest that is not its own")
		}
		switch {
		case image.IsIndex(desc.MediaType):
			if idx, err := image.ParseIndex(desc.MediaType, data); err == nil {
				if d, err := image.SelectManifest(idx, image.DefaultPlatform()); err == nil && d.Digest.Validate() != nil {
					t.Fatalf("selected a manifest with digest %q", d.Digest)
				}
			}
		case image.IsManifest(desc.MediaType):
			if m, err := runnableManifest(desc, data); err == nil {
				if !image.IsConfig(m.Config.MediaType) || m.Config.Size > image.MaxConfigSize {
					t.Fatalf("accepted config %+v", m.Config)
				}
			}
		}
	})
}

func TestTags(t *testing.T) {
	f := newFakeRegistry(t)
	for _, tag := range []string{"v1", "v2", "v3", "latest", "z"} {
		f.addImage("app", tag, 1, 10, "amd64")
	}
	c := newTestClient(t)
	tags, err := c.Tags(context.Background(), mustRef(t, f.host()+"/app"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"latest", "v1", "v2", "v3", "z"}; !slices.Equal(tags, want) {
		t.Errorf("tags %v, want %v (three pages)", tags, want)
	}
	if _, err := c.Tags(context.Background(), mustRef(t, f.host()+"/nosuch"), nil); err != nil {
		t.Errorf("tags of an unknown repository: %v (the fake lists none)", err)
	}
	for _, c := range []struct{ link, want string }{
		{`</v2/a/tags/list?n=2&last=b>; rel="next"`, "/v2/a/tags/list?n=2&last=b"},
		{`<https://r/x>; rel=prev, <https://r/y>;rel=next`, "https://r/y"},
		{`<bad`, ""}, {``, ""},
	} {
		if got := nextLink(c.link); got != c.want {
			t.Errorf("nextLink(%q) = %q, want %q", c.link, got, c.want)
		}
	}
	if _, _, err := parseTagsPage([]byte(`{"tags":["ok","../x"]}`), ""); err == nil {
		t.Error("a tag list with an invalid tag was accepted")
	}
}

func FuzzTagsPage(f *testing.F) {
	f.Add([]byte(`{"name":"a","tags":["v1","latest"]}`), `</v2/a/tags/list?n=2&last=v1>; rel="next"`)
	f.Add([]byte(`{"tags":null}`), `<x>;rel=next,<y>`)
	f.Fuzz(func(t *testing.T, data []byte, link string) {
		tags, _, err := parseTagsPage(data, link)
		if err != nil {
			return
		}
		for _, tag := range tags {
			if _, err := reference.WithTag(mustRef(t, "a"), tag); err != nil {
				t.Fatalf("accepted tag %q: %v", tag, err)
			}
		}
	})
}
