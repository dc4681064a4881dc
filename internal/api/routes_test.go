package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/registry"
)

func intp(n int) *int { return &n }

// routeCase is one request and the Backend call it must become.
type routeCase struct {
	method, target, body string
	code                 int
	call                 string
	args                 []any // nil: not checked
}

func runRouteCases(t *testing.T, cases []routeCase) {
	t.Helper()
	for _, c := range cases {
		s, f := newTestServer()
		rec := request(t, s, c.method, c.target, c.body)
		name := c.method + " " + c.target
		if rec.Code != c.code {
			t.Errorf("%s: status %d, want %d (%s)", name, rec.Code, c.code, rec.Body)
			continue
		}
		if c.call == "" {
			continue
		}
		got := f.last()
		if got.name != c.call {
			t.Errorf("%s: last call %s, want %s", name, got.name, c.call)
			continue
		}
		if c.args != nil && !reflect.DeepEqual(got.args, c.args) {
			t.Errorf("%s: %s args\n got %#v\nwant %#v", name, c.call, got.args, c.args)
		}
	}
}

func TestContainerRoutes(t *testing.T) {
	since := time.Unix(1700000000, 500000000)
	runRouteCases(t, []routeCase{
		{"GET", "/containers/json", "", 200, "ContainerList", []any{ContainerListOptions{}}},
		{"GET", "/v1.50/containers/json?all=1&limit=3&size=true&filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D", "", 200, "ContainerList",
			[]any{ContainerListOptions{All: true, Limit: 3, Size: true, Filters: map[string][]string{"status": {"running"}}}}},
		{"GET", `/containers/json?filters={"label":["a=b"]}&all=no`, "", 200, "ContainerList",
			[]any{ContainerListOptions{Filters: map[string][]string{"label": {"a=b"}}}}},
		{"GET", "/containers/json?limit=x", "", 400, "", nil},
		{"GET", "/containers/json?filters=%7B", "", 400, "", nil},
		{"GET", "/containers/c1/json?size=1", "", 200, "ContainerInspect", []any{"c1", true}},
		{"GET", "/containers/nope/json", "", 404, "ContainerInspect", nil},
		{"POST", "/containers/c1/start", "", 204, "ContainerStart", []any{"c1"}},
		{"POST", "/containers/c1/start", `{"Binds":["/x:/y"]}`, 400, "", nil},
		{"POST", "/containers/c1/stop", "", 204, "ContainerStop", []any{"c1", "", (*int)(nil)}},
		{"POST", "/v1.50/containers/c1/stop?t=5&signal=SIGINT", "", 204, "ContainerStop", []any{"c1", "SIGINT", intp(5)}},
		{"POST", "/containers/c1/stop?t=soon", "", 400, "", nil},
		{"POST", "/containers/c1/restart?t=0", "", 204, "ContainerRestart", []any{"c1", "", intp(0)}},
		{"POST", "/containers/c1/kill?signal=HUP", "", 204, "ContainerKill", []any{"c1", "HUP"}},
		{"POST", "/containers/c1/pause", "", 204, "ContainerPause", []any{"c1"}},
		{"POST", "/containers/c1/unpause", "", 204, "ContainerUnpause", []any{"c1"}},
		{"POST", "/containers/c1/rename?name=new", "", 204, "ContainerRename", []any{"c1", "new"}},
		{"DELETE", "/containers/c1?force=1&v=true", "", 204, "ContainerRemove", []any{"c1", true, true}},
		{"DELETE", "/containers/c1", "", 204, "ContainerRemove", []any{"c1", false, false}},
		{"DELETE", "/containers/c1?link=1", "", 501, "", nil},
		{"POST", "/containers/c1/resize?h=40&w=120", "", 200, "ContainerResize", []any{"c1", 40, 120}},
		{"POST", "/containers/c1/resize?h=-1&w=120", "", 400, "", nil},
		{"POST", "/containers/c1/resize?w=120", "", 400, "", nil},
		{"GET", "/containers/c1/top?ps_args=aux", "", 200, "ContainerTop", []any{"c1", "aux"}},
		{"GET", "/containers/c1/stats?stream=0", "", 200, "ContainerStats", []any{"c1", false, false}},
		{"GET", "/containers/c1/stats?stream=false&one-shot=1", "", 200, "ContainerStats", []any{"c1", false, true}},
		{"GET", "/containers/c1/stats?one-shot=1", "", 400, "", nil},
		{"GET", "/containers/c1/stats", "", 200, "ContainerStats", []any{"c1", true, false}},
		{"GET", "/containers/c1/export", "", 200, "ContainerExport", []any{"c1"}},
		{"POST", "/containers/prune?filters=%7B%22until%22%3A%5B%2224h%22%5D%7D", "", 200, "ContainerPrune", []any{map[string][]string{"until": {"24h"}}}},
		{"POST", "/containers/c1/update", `{"Memory":1048576,"RestartPolicy":{"Name":"always"}}`, 200, "ContainerUpdate",
			[]any{"c1", &container.UpdateConfig{Resources: container.Resources{Memory: 1048576}, RestartPolicy: container.RestartPolicy{Name: "always"}}}},
		{"POST", "/containers/c1/update", `{"Memory":"lots"}`, 400, "", nil},
		{"POST", "/containers/c1/wait", "", 200, "ContainerWait", []any{"c1", container.WaitConditionNotRunning}},
		{"POST", "/containers/c1/wait?condition=removed", "", 200, "ContainerWait", []any{"c1", container.WaitConditionRemoved}},
		{"POST", "/containers/c1/wait?condition=next-exit", "", 200, "ContainerWait", []any{"c1", container.WaitConditionNextExit}},
		{"POST", "/containers/c1/wait?condition=whenever", "", 400, "", nil},
		{"GET", "/containers/c1/logs?stdout=1&stderr=1&since=1700000000.5&tail=10&timestamps=1", "", 200, "ContainerLogs",
			[]any{"c1", LogOptions{Stdout: true, Stderr: true, Timestamps: true, Since: since, Tail: 10}}},
		{"GET", "/containers/c1/logs?stdout=1&tail=all&until=2023-11-14T22:13:20.5Z&follow=1", "", 200, "ContainerLogs",
			[]any{"c1", LogOptions{Stdout: true, Follow: true, Until: since.UTC(), Tail: -1}}},
		{"GET", "/containers/c1/logs?stderr=1&since=0", "", 200, "ContainerLogs", []any{"c1", LogOptions{Stderr: true, Tail: -1}}},
		{"GET", "/containers/c1/logs", "", 400, "", nil},
		{"GET", "/containers/c1/logs?stdout=1&tail=ten", "", 400, "", nil},
		{"GET", "/containers/c1/logs?stdout=1&since=yesterday", "", 400, "", nil},
		{"GET", "/containers/nope/logs?stdout=1", "", 404, "ContainerTTY", nil},
		{"POST", "/commit?container=c1&repo=me/img&tag=v1&comment=hi&author=me&changes=CMD+sh&changes=ENV+A%3D1&pause=0", "", 201, "ContainerCommit",
			[]any{"c1", CommitOptions{Repo: "me/img", Tag: "v1", Comment: "hi", Author: "me", Changes: []string{"CMD sh", "ENV A=1"}}}},
		{"POST", "/commit?container=c1", `{"Cmd":["sh"]}`, 201, "ContainerCommit",
			[]any{"c1", CommitOptions{Pause: true, Config: &container.Config{Cmd: []string{"sh"}}}}},
		{"POST", "/commit", "", 400, "", nil},
		{"POST", "/commit?container=c1", `{"Cmd":`, 400, "", nil},
	})
}

func TestContainerCreate(t *testing.T) {
	body := `{"Image":"busybox","Cmd":["echo","hi"],"Env":["A=1"],"Tty":true,
		"HostConfig":{"AutoRemove":true,"Binds":["/a:/b"],"Memory":1024},
		"NetworkingConfig":{"EndpointsConfig":{"none":{}}}}`
	s, f := newTestServer()
	rec := request(t, s, "POST", "/v1.50/containers/create?name=web&platform=linux/arm64", body)
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var resp struct {
		ID       string `json:"Id"`
		Warnings []string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.ID == "" || resp.Warnings == nil {
		t.Errorf("create response %s: warnings must be a list (%v)", rec.Body, err)
	}
	c := f.last()
	cfg, hc := c.args[1].(*container.Config), c.args[2].(*container.HostConfig)
	nc := c.args[3].(interface{}) // *network.NetworkingConfig
	plat := c.args[4].(*ocispec.Platform)
	if c.args[0] != "web" || cfg.Image != "busybox" || !reflect.DeepEqual([]string(cfg.Cmd), []string{"echo", "hi"}) || !cfg.Tty ||
		!hc.AutoRemove || hc.Memory != 1024 || len(hc.Binds) != 1 || nc == nil ||
		plat == nil || plat.OS != "linux" || plat.Architecture != "arm64" {
		t.Errorf("create decoded as %#v", c.args)
	}

	// No HostConfig: the Backend still gets one.
	s, f = newTestServer()
	if rec := request(t, s, "POST", "/containers/create", `{"Image":"busybox"}`); rec.Code != 201 {
		t.Fatalf("minimal create: %d %s", rec.Code, rec.Body)
	}
	if a := f.last().args; a[2].(*container.HostConfig) == nil || a[4].(*ocispec.Platform) != nil {
		t.Errorf("minimal create decoded as %#v", a)
	}

	for _, bad := range []struct{ body, ct, target, msg string }{
		{`{"Image":`, "", "", "invalid JSON"},
		{`not json`, "", "", "invalid JSON"},
		{`{"Image":"busybox"} {"x":1}`, "", "", "unexpected content"},
		{`{"Image":"busybox"}`, "text/plain", "", "Content-Type"},
		{`{}`, "", "", "config cannot be empty"},
		{`null`, "", "", "config cannot be empty"},
		{``, "", "", "config cannot be empty"},
		{`{"Image":["x"]}`, "", "", "invalid JSON"},
		{`{"Image":"busybox","HostConfig":{"Memory":"1g"}}`, "", "", "invalid JSON"},
		{`{"Image":"busybox"}`, "", "?platform=linux/amd64/v2/x", "invalid platform"},
	} {
		s, f := newTestServer()
		hdr := []string{}
		if bad.ct != "" {
			hdr = []string{"Content-Type", bad.ct}
		}
		rec := request(t, s, "POST", "/containers/create"+bad.target, bad.body, hdr...)
		if rec.Code != 400 || !strings.Contains(message(t, rec), bad.msg) || f.called("ContainerCreate") {
			t.Errorf("create with %q: %d %s, want 400 with %q", bad.body, rec.Code, rec.Body, bad.msg)
		}
	}
}

func TestImageRoutes(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	runRouteCases(t, []routeCase{
		{"GET", "/images/json", "", 200, "ImageList", []any{ImageListOptions{}}},
		{"GET", "/v1.50/images/json?all=1&filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D", "", 200, "ImageList",
			[]any{ImageListOptions{All: true, Filters: map[string][]string{"dangling": {"true"}}}}},
		{"GET", "/v1.40/images/json?filter=busy*", "", 200, "ImageList", []any{ImageListOptions{Filters: map[string][]string{"reference": {"busy*"}}}}},
		{"GET", "/v1.50/images/json?filter=busy*", "", 200, "ImageList", []any{ImageListOptions{}}},
		{"GET", "/images/busybox/json", "", 200, "ImageInspect", []any{"busybox"}},
		{"GET", "/images/busybox:latest/json", "", 200, "ImageInspect", []any{"busybox:latest"}},
		{"GET", "/v1.50/images/docker.io/library/busybox:latest/json", "", 200, "ImageInspect", []any{"docker.io/library/busybox:latest"}},
		{"GET", "/images/localhost:5000/team/app@" + dgst + "/json", "", 404, "ImageInspect", []any{"localhost:5000/team/app@" + dgst}},
		{"GET", "/images/" + dgst + "/json", "", 404, "ImageInspect", []any{dgst}},
		{"GET", "/images/team/json/json", "", 404, "ImageInspect", []any{"team/json"}},
		{"GET", "/images/busybox%40sha256%3Aabc/json", "", 404, "ImageInspect", []any{"busybox@sha256:abc"}},
		{"GET", "/v1.50/images/busybox%40sha256%3Aabc/json", "", 404, "ImageInspect", []any{"busybox@sha256:abc"}},
		{"GET", "/v1.50/images/a%2Fb/history", "", 200, "ImageHistory", []any{"a/b"}},
		{"GET", "/images/docker.io/library/busybox:latest/history", "", 200, "ImageHistory", []any{"docker.io/library/busybox:latest"}},
		{"GET", "/images/ghcr.io/a/b:1/get", "", 200, "ImageSave", []any{[]string{"ghcr.io/a/b:1"}}},
		{"GET", "/images/get?names=busybox&names=alpine:3", "", 200, "ImageSave", []any{[]string{"busybox", "alpine:3"}}},
		{"GET", "/images/get", "", 400, "", nil},
		{"POST", "/images/docker.io/library/busybox:latest/tag?repo=me/bb&tag=v1", "", 201, "ImageTag",
			[]any{"docker.io/library/busybox:latest", "me/bb", "v1"}},
		{"POST", "/images/busybox/push?tag=v1", "", 200, "ImagePush", []any{"busybox", "v1", registry.AuthConfig{}}},
		{"POST", "/images/localhost:5000/team/app/push", "", 200, "ImagePush", []any{"localhost:5000/team/app", "", registry.AuthConfig{}}},
		{"POST", "/images/create?fromImage=busybox&tag=1.36&platform=linux/arm64", "", 200, "ImagePull",
			[]any{"busybox", "1.36", &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, registry.AuthConfig{}}},
		{"GET", "/distribution/ghcr.io/a/b:1/json", "", 200, "DistributionInspect", []any{"ghcr.io/a/b:1", registry.AuthConfig{}}},
		{"GET", "/distribution/ghcr.io/a/b:1", "", 404, "", nil},
		{"POST", "/auth", `{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}`, 200, "RegistryLogin",
			[]any{registry.AuthConfig{Username: "u", Password: "p", ServerAddress: "127.0.0.1:5000"}}},
		{"POST", "/auth", "", 400, "", nil},
		{"DELETE", "/images/docker.io/library/busybox:latest?force=1&noprune=1", "", 200, "ImageRemove",
			[]any{"docker.io/library/busybox:latest", true, true}},
		{"DELETE", "/images/team/app@" + dgst, "", 200, "ImageRemove", []any{"team/app@" + dgst, false, false}},
		{"DELETE", "/images/%20", "", 400, "", nil},
		{"POST", "/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D", "", 200, "ImagePrune", []any{map[string][]string{"dangling": {"false"}}}},
		{"POST", "/images/create?fromSrc=-&repo=me/rootfs&tag=v2&changes=CMD+sh&message=hello&platform=linux/amd64", "ROOTFS-TAR", 200, "ImageImport",
			[]any{"ROOTFS-TAR", "me/rootfs", "v2", []string{"CMD sh"}, "hello", &ocispec.Platform{OS: "linux", Architecture: "amd64"}}},
		{"POST", "/images/create?fromSrc=-", "X", 200, "ImageImport", []any{"X", "", "", []string(nil), "", (*ocispec.Platform)(nil)}},
		{"POST", "/images/create", "", 400, "", nil},
		{"POST", "/images/create?fromSrc=http://example.com/x.tar", "", 501, "", nil},
		{"POST", "/images/create?fromSrc=-&platform=a/b/c/d", "X", 400, "", nil},
		{"POST", "/images/load", "TAR", 200, "ImageLoad", []any{true}},
		{"POST", "/images/load?quiet=0", "TAR", 200, "ImageLoad", []any{false}},
	})
}

func TestImageResponsesByVersion(t *testing.T) {
	s, _ := newTestServer()
	var list []map[string]any
	rec := request(t, s, "GET", "/v1.42/images/json", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 2 {
		t.Fatalf("images: %s %v", rec.Body, err)
	}
	if tags := list[1]["RepoTags"].([]any); len(tags) != 1 || tags[0] != "<none>:<none>" {
		t.Errorf("1.42: untagged image's RepoTags %v, want <none>:<none>", tags)
	}
	if _, ok := list[1]["Descriptor"]; ok {
		t.Errorf("1.42: Descriptor sent")
	}
	rec = request(t, s, "GET", "/v1.50/images/json", "")
	list = nil
	_ = json.Unmarshal(rec.Body.Bytes(), &list)
	if tags, ok := list[1]["RepoTags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("1.50: untagged image's RepoTags %v, want []", list[1]["RepoTags"])
	}
	if _, ok := list[1]["Descriptor"]; !ok {
		t.Errorf("1.50: no Descriptor")
	}
}

func TestSystemDiskUsageIsLegacyBefore152(t *testing.T) {
	s, _ := newTestServer()
	rec := request(t, s, "GET", "/system/df", "")
	var du struct {
		LayersSize int64
		Images     []map[string]any
		Containers []map[string]any
		Volumes    []any
		BuildCache []any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &du); err != nil || du.LayersSize != 1234 || len(du.Images) != 1 || len(du.Containers) != 1 || du.Volumes == nil || du.BuildCache == nil {
		t.Errorf("/system/df: %s (%v)", rec.Body, err)
	}
	rec = request(t, s, "GET", "/system/df?type=container", "")
	du.Images = nil
	_ = json.Unmarshal(rec.Body.Bytes(), &du)
	if len(du.Images) != 0 || len(du.Containers) != 1 {
		t.Errorf("/system/df?type=container: %s", rec.Body)
	}
}
