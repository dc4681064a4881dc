package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExpandSlice(t *testing.T) {
	for in, want := range map[string]string{
		"system.slice":             "/system.slice",
		"user-1000.slice":          "/user.slice/user-1000.slice",
		"a-b-c.slice":              "/a.slice/a-b.slice/a-b-c.slice",
		"machine.slice":            "/machine.slice",
		"kubepods-burstable.slice": "/kubepods.slice/kubepods-burstable.slice",
		"-.slice":                  "/",
		"-":                        "/",
	} {
		got, err := expandSlice(in)
		if err != nil || got != want {
			t.Errorf("expandSlice(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a--b.slice", "-a.slice", "a-.slice", "a/b.slice", "nosuffix", ".slice"} {
		if got, err := expandSlice(bad); err == nil {
			t.Errorf("expandSlice(%q) = %q, want error", bad, got)
		}
	}
}

func TestParseCgroupsPath(t *testing.T) {
	for in, want := range map[string]cgroupsPath{
		"/docker/abc":                          {path: "/docker/abc"},
		"/docker//abc/":                        {path: "/docker/abc"},
		"/a/../b":                              {path: "/b"},
		"gorae/abc":                            {path: "gorae/abc", relative: true},
		"../../escape":                         {path: "escape", relative: true},
		"system.slice:docker:abc":              {path: "/system.slice/docker-abc.scope"},
		":gorae:abc":                           {path: "/system.slice/gorae-abc.scope"},
		"user-1000.slice:podman:x":             {path: "/user.slice/user-1000.slice/podman-x.scope"},
		"kubepods-besteffort.slice::pod.slice": {path: "/pod.slice"},
		"machine.slice::noprefix":              {path: "/machine.slice/noprefix.scope"},
		"-:gorae:root":                         {path: "/gorae-root.scope"},
		// Not systemd form: a colon path and a relative path with colons.
		"a:b:c":  {path: "a:b:c", relative: true},
		"/x:y:z": {path: "/x:y:z"},
	} {
		got, err := parseCgroupsPath(in)
		if err != nil || got != want {
			t.Errorf("parseCgroupsPath(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "system.slice:docker:", "bad--slice.slice:p:n"} {
		if _, err := parseCgroupsPath(bad); err == nil {
			t.Errorf("parseCgroupsPath(%q): want error", bad)
		}
	}
}

func TestParseProcCgroup(t *testing.T) {
	in := "12:cpu,cpuacct:/user.slice\n4:memory:/process_api/c2003\n1:name=systemd:/init.scope\n0::/user.slice/session-1.scope\n"
	got, err := parseProcCgroup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cpu": "/user.slice", "cpuacct": "/user.slice", "memory": "/process_api/c2003",
		"name=systemd": "/init.scope", "": "/user.slice/session-1.scope",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if _, err := parseProcCgroup(strings.NewReader("garbage\n")); err == nil {
		t.Error("want error for malformed line")
	}
}

func TestHierarchyDir(t *testing.T) {
	m := mount{Mountpoint: "/sys/fs/cgroup/memory", Root: "/"}
	if got := hierarchyDir(m, cgroupsPath{path: "/docker/x"}, ""); got != "/sys/fs/cgroup/memory/docker/x" {
		t.Errorf("absolute: %s", got)
	}
	if got := hierarchyDir(m, cgroupsPath{path: "ctr", relative: true}, "/user.slice"); got != "/sys/fs/cgroup/memory/user.slice/ctr" {
		t.Errorf("relative: %s", got)
	}
	// Inside a container the mount shows /docker/abc as its root.
	m = mount{Mountpoint: "/sys/fs/cgroup/memory", Root: "/docker/abc"}
	if got := hierarchyDir(m, cgroupsPath{path: "ctr", relative: true}, "/docker/abc/sub"); got != "/sys/fs/cgroup/memory/sub/ctr" {
		t.Errorf("relative under bind-mounted root: %s", got)
	}
	if got := hierarchyDir(m, cgroupsPath{path: "ctr", relative: true}, "/docker/abcdef"); got != "/sys/fs/cgroup/memory/docker/abcdef/ctr" {
		t.Errorf("prefix that is not a path component must not be cut: %s", got)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNewPathsV1(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"cpu,cpuacct", "memory", "pids", "systemd", "unified", "notacontroller"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink alias such as cpu -> cpu,cpuacct must not add a hierarchy.
	if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpu")); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(t.TempDir(), "cgroup")
	writeTestFile(t, self, "5:cpu,cpuacct:/user.slice\n4:memory:/mem/own\n3:pids:/\n1:name=systemd:/user.slice/s.scope\n0::/user.slice/s.scope\n")
	opts := []Option{WithRoot(root), WithMode(ModeV1), WithProcSelfCgroup(self)}

	cases := map[string]map[string]string{
		"/gorae/abc": {
			"cpu": root + "/cpu,cpuacct/gorae/abc", "cpuacct": root + "/cpu,cpuacct/gorae/abc",
			"memory": root + "/memory/gorae/abc", "pids": root + "/pids/gorae/abc",
			"name=systemd": root + "/systemd/gorae/abc",
		},
		"ctr": {
			"cpu": root + "/cpu,cpuacct/user.slice/ctr", "cpuacct": root + "/cpu,cpuacct/user.slice/ctr",
			"memory": root + "/memory/mem/own/ctr", "pids": root + "/pids/ctr",
			"name=systemd": root + "/systemd/user.slice/s.scope/ctr",
		},
		"system.slice:gorae:abc": {
			"cpu": root + "/cpu,cpuacct/system.slice/gorae-abc.scope", "cpuacct": root + "/cpu,cpuacct/system.slice/gorae-abc.scope",
			"memory": root + "/memory/system.slice/gorae-abc.scope", "pids": root + "/pids/system.slice/gorae-abc.scope",
			"name=systemd": root + "/systemd/system.slice/gorae-abc.scope",
		},
	}
	for p, want := range cases {
		m, err := New(p, opts...)
		if err != nil {
			t.Fatalf("New(%q): %v", p, err)
		}
		if got := m.Paths(); !reflect.DeepEqual(got, want) {
			t.Errorf("New(%q).Paths():\n got %v\nwant %v", p, got, want)
		}
		if m.Path("memory") != want["memory"] || m.Path("net_cls") != "" {
			t.Errorf("Path: %q %q", m.Path("memory"), m.Path("net_cls"))
		}
		// Paths must survive a round trip through Load.
		l, err := Load(m.Paths())
		if err != nil || !reflect.DeepEqual(l.Paths(), want) {
			t.Errorf("Load(Paths()) = %v, %v", l.Paths(), err)
		}
	}
}

func TestNewPathsV2(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(t.TempDir(), "cgroup")
	writeTestFile(t, self, "0::/user.slice/user-0.slice/session-1.scope\n")
	opts := []Option{WithRoot(root), WithMode(ModeV2), WithProcSelfCgroup(self)}
	for p, want := range map[string]string{
		"/gorae/abc":                 root + "/gorae/abc",
		"ctr":                        root + "/user.slice/user-0.slice/session-1.scope/ctr",
		"../../x":                    root + "/user.slice/user-0.slice/session-1.scope/x", // cannot climb out
		"user-1000.slice:gorae:abc":  root + "/user.slice/user-1000.slice/gorae-abc.scope",
		"system.slice:docker:abcdef": root + "/system.slice/docker-abcdef.scope",
	} {
		m, err := New(p, opts...)
		if err != nil {
			t.Fatalf("New(%q): %v", p, err)
		}
		if got := m.Paths(); !reflect.DeepEqual(got, map[string]string{"": want}) {
			t.Errorf("New(%q).Paths() = %v, want %s", p, got, want)
		}
		if m.Path("memory") != want || m.Path("") != want {
			t.Errorf("Path() = %q", m.Path(""))
		}
		l, err := Load(m.Paths())
		if err != nil || l.Path("") != want {
			t.Errorf("Load: %v %v", l, err)
		}
	}
	if _, err := Load(map[string]string{"": "/x", "memory": "/y"}); err == nil {
		t.Error("Load of mixed paths: want error")
	}
	if _, err := Load(nil); err == nil {
		t.Error("Load(nil): want error")
	}
}
