package image

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestListSizes(t *testing.T) {
	f := newFixture(t)
	shared := layer("shared", 1000)
	a := f.create(f.image(spec{layers: [][]byte{shared, layer("a", 100)}, labels: map[string]string{"k": "v"},
		created: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}))
	b := f.create(f.image(spec{layers: [][]byte{shared, layer("b", 200)}, created: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}))
	// Same diff ID, different parent: a different layer, not shared.
	c := f.create(f.image(spec{layers: [][]byte{layer("c", 50), shared}, created: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)}))
	f.tag("a", a.ID)

	sums, err := f.s.List(f.ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 3 || sums[0].ID != b.ID.String() || sums[2].ID != c.ID.String() {
		t.Fatalf("List order: %v", sums)
	}
	byID := map[string]Summary{}
	for _, s := range sums {
		byID[s.ID] = s
	}
	check := func(img *Image, size, shared int64) {
		t.Helper()
		s := byID[img.ID.String()]
		if s.Size != size || s.SharedSize != shared {
			t.Errorf("%s: Size %d SharedSize %d, want %d %d", shortID(img.ID.String()), s.Size, s.SharedSize, size, shared)
		}
	}
	check(a, 1100, 1000)
	check(b, 1200, 1000)
	check(c, 1050, 0)
	sa := byID[a.ID.String()]
	if strings.Join(sa.RepoTags, ",") != "a:latest" || sa.Labels["k"] != "v" || sa.Created != time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).Unix() ||
		sa.Containers != -1 || sa.Descriptor.Digest != a.Manifest.Digest {
		t.Fatalf("summary %+v", sa)
	}
	// Dangling images have empty lists, not nulls: clients index them.
	data, _ := json.Marshal(byID[b.ID.String()])
	if !strings.Contains(string(data), `"RepoTags":[]`) || !strings.Contains(string(data), `"Labels":{}`) {
		t.Fatalf("dangling summary JSON: %s", data)
	}
	keys := jsonKeys(t, data)
	want := "Containers,Created,Descriptor,Id,Labels,ParentId,RepoDigests,RepoTags,SharedSize,Size"
	if keys != want {
		t.Fatalf("Summary JSON keys %s, want Docker's %s", keys, want)
	}

	dangling := func(img *Image) bool { return len(f.s.References(img.ID)) == 0 }
	if sums, _ := f.s.List(f.ctx, ListOptions{Filter: dangling}); len(sums) != 2 {
		t.Fatalf("dangling filter: %d images", len(sums))
	}
}

func jsonKeys(t *testing.T, data []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// fakeLayers is a LayerStore that records layers by chain ID and, like a
// real one, computes the diff ID of what it reads.
type fakeLayers struct {
	sizes   map[digest.Digest]int64
	applied []digest.Digest
	parents []digest.Digest
}

func (l *fakeLayers) LayerSize(_ context.Context, chainID digest.Digest) (int64, bool, error) {
	s, ok := l.sizes[chainID]
	return s, ok, nil
}

func (l *fakeLayers) ApplyLayer(_ context.Context, chainID, parent digest.Digest, blob io.Reader, verify func(digest.Digest) error) (int64, error) {
	if parent != "" {
		if _, ok := l.sizes[parent]; !ok {
			panic("applied before its parent")
		}
	}
	data, err := io.ReadAll(blob)
	if err != nil {
		return 0, err
	}
	if err := verify(digest.FromBytes(data)); err != nil {
		return 0, err
	}
	l.sizes[chainID] = int64(len(data)) * 2 // "unpacked" is bigger
	l.applied = append(l.applied, chainID)
	l.parents = append(l.parents, parent)
	return l.sizes[chainID], nil
}

func TestUnpack(t *testing.T) {
	f := newFixture(t)
	ls := &fakeLayers{sizes: map[digest.Digest]int64{}}
	a := f.create(f.image(spec{layers: [][]byte{layer("base", 100), layer("a", 10)}}))
	b := f.create(f.image(spec{layers: [][]byte{layer("base", 100), layer("b", 20)}}))
	if err := f.s.Unpack(f.ctx, a.ID, ls); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Unpack(f.ctx, b.ID, ls); err != nil {
		t.Fatal(err)
	}
	// The base is applied once, for both.
	if len(ls.applied) != 3 || ls.parents[0] != "" || ls.parents[1] != a.ChainIDs()[0] {
		t.Fatalf("applied %v on %v", ls.applied, ls.parents)
	}
	f.reopen() // sizes are recorded
	got, _ := f.s.Get(f.ctx, b.ID.String())
	if got.LayerSizes[0] != 200 || got.LayerSizes[1] != 40 {
		t.Fatalf("sizes %v", got.LayerSizes)
	}
	insp, _ := f.s.Inspect(f.ctx, b.ID.String())
	if insp.Size != 240 {
		t.Fatalf("inspect Size %d, want 240", insp.Size)
	}

	// A layer whose content is not its diff ID is refused, not recorded.
	bad := f.create(f.image(spec{layers: [][]byte{layer("x", 10)}, modify: func(c *Config) {
		c.RootFS.DiffIDs[0] = digest.FromString("something else")
	}}))
	err := f.s.Unpack(f.ctx, bad.ID, ls)
	if err == nil || !strings.Contains(err.Error(), "unpacks to diff ID") {
		t.Fatalf("Unpack of a lying image = %v", err)
	}
	if _, ok := ls.sizes[bad.ChainIDs()[0]]; ok {
		t.Fatal("a layer that failed verification was committed")
	}
}

func TestInspectAndHistory(t *testing.T) {
	f := newFixture(t)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) *time.Time { v := t0.Add(time.Duration(h) * time.Hour); return &v }
	base := f.create(f.image(spec{
		layers:  [][]byte{layer("base", 100)},
		history: []ocispec.History{{Created: at(0), CreatedBy: "ADD rootfs.tar /"}, {Created: at(1), CreatedBy: `CMD ["sh"]`, EmptyLayer: true}},
	}))
	img := f.create(f.image(spec{
		layers: [][]byte{layer("base", 100), layer("app", 30)},
		history: []ocispec.History{
			{Created: at(0), CreatedBy: "ADD rootfs.tar /"},
			{Created: at(1), CreatedBy: `CMD ["sh"]`, EmptyLayer: true},
			{Created: at(2), CreatedBy: "RUN make", Comment: "buildkit.dockerfile.v0"},
		},
		modify: func(c *Config) { c.Author = "me"; c.Config.Env = []string{"A=1"} },
	}), WithParent(base.ID))
	f.tag("app:1", img.ID)
	f.tag("base:1", base.ID)

	h, err := f.s.History(f.ctx, "app:1")
	if err != nil {
		t.Fatal(err)
	}
	want := []HistoryItem{
		{ID: img.ID.String(), Created: at(2).Unix(), CreatedBy: "RUN make", Tags: []string{"app:1"}, Size: 30, Comment: "buildkit.dockerfile.v0"},
		{ID: base.ID.String(), Created: at(1).Unix(), CreatedBy: `CMD ["sh"]`, Tags: []string{"base:1"}},
		{ID: "<missing>", Created: at(0).Unix(), CreatedBy: "ADD rootfs.tar /", Size: 100},
	}
	gotJSON, _ := json.Marshal(h)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("history\n got %s\nwant %s", gotJSON, wantJSON)
	}

	insp, err := f.s.Inspect(f.ctx, "app:1")
	if err != nil {
		t.Fatal(err)
	}
	if insp.ID != img.ID.String() || insp.Parent != base.ID.String() || insp.Author != "me" || insp.Config.Env[0] != "A=1" ||
		insp.Os != "linux" || insp.Size != 130 || insp.RootFS.Type != "layers" || len(insp.RootFS.Layers) != 2 ||
		insp.Comment != "buildkit.dockerfile.v0" || insp.Created != "2024-01-02T03:04:05Z" || insp.Metadata.LastTagTime.IsZero() {
		t.Fatalf("inspect %+v", insp)
	}
	data, _ := json.Marshal(insp)
	keys := jsonKeys(t, data)
	// Docker 28's ImageInspect fields (Variant and OsVersion are omitempty).
	if want := "Architecture,Author,Comment,Config,Created,Descriptor,DockerVersion,GraphDriver,Id,Metadata,Os,Parent,RepoDigests,RepoTags,RootFS,Size"; keys != want {
		t.Fatalf("inspect keys %s, want %s", keys, want)
	}
	// The caller owns what Inspect returns.
	insp.Config.Env[0] = "changed"
	if again, _ := f.s.Get(f.ctx, "app:1"); again.Config.Config.Env[0] != "A=1" {
		t.Fatal("changing Inspect's result changed the stored config")
	}
}
