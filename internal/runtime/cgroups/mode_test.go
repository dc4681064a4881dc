package cgroups

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func parseTestMountinfo(t *testing.T, name string) *mounts {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := parseMountinfo(f)
	if err != nil {
		t.Fatalf("parseMountinfo(%s): %v", name, err)
	}
	return ms
}

func TestParseMountinfoHybrid(t *testing.T) {
	ms := parseTestMountinfo(t, "mountinfo-hybrid")
	if ms.Mode != ModeHybrid {
		t.Errorf("mode = %v, want hybrid", ms.Mode)
	}
	if ms.Unified == nil || ms.Unified.Mountpoint != "/sys/fs/cgroup/unified" {
		t.Errorf("unified = %+v", ms.Unified)
	}
	want := map[string]string{
		"name=systemd": "/sys/fs/cgroup/systemd",
		"cpu":          "/sys/fs/cgroup/cpu,cpuacct",
		"cpuacct":      "/sys/fs/cgroup/cpu,cpuacct",
		"memory":       "/sys/fs/cgroup/memory",
		"net_cls":      "/sys/fs/cgroup/net_cls,net_prio",
		"net_prio":     "/sys/fs/cgroup/net_cls,net_prio",
		"pids":         "/sys/fs/cgroup/pids",
		"cpuset":       "/sys/fs/cgroup/cpuset",
		"freezer":      "/sys/fs/cgroup/freezer",
		"devices":      "/sys/fs/cgroup/devices",
		"blkio":        "/sys/fs/cgroup/blkio",
		"hugetlb":      "/sys/fs/cgroup/hugetlb",
		"perf_event":   "/sys/fs/cgroup/perf_event",
		"rdma":         "/sys/fs/cgroup/rdma",
	}
	got := map[string]string{}
	for c, m := range ms.V1 {
		got[c] = m.Mountpoint
		if m.Root != "/" {
			t.Errorf("%s root = %q", c, m.Root)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("v1 mounts:\n got %v\nwant %v", got, want)
	}
}

func TestParseMountinfoV1(t *testing.T) {
	ms := parseTestMountinfo(t, "mountinfo-v1")
	if ms.Mode != ModeV1 {
		t.Errorf("mode = %v, want v1", ms.Mode)
	}
	if ms.Unified != nil {
		t.Errorf("unified = %+v, want none", ms.Unified)
	}
	if ms.V1["cpu"].Mountpoint != "/sys/fs/cgroup/cpu" || ms.V1["cpuacct"].Mountpoint != "/sys/fs/cgroup/cpuacct" {
		t.Errorf("separate cpu/cpuacct: %+v %+v", ms.V1["cpu"], ms.V1["cpuacct"])
	}
	// debug and other named hierarchies are not ours to manage.
	if _, ok := ms.V1["debug"]; ok {
		t.Error("debug hierarchy listed")
	}
	if _, ok := ms.V1["name=mine"]; ok {
		t.Error("name=mine hierarchy listed")
	}
	if len(ms.V1) != 9 {
		t.Errorf("got %d controllers: %v", len(ms.V1), ms.V1)
	}
}

func TestParseMountinfoV2(t *testing.T) {
	for _, name := range []string{"mountinfo-v2", "mountinfo-v2-systemd-shim"} {
		ms := parseTestMountinfo(t, name)
		if ms.Mode != ModeV2 {
			t.Errorf("%s: mode = %v, want v2", name, ms.Mode)
		}
		if ms.Unified == nil || ms.Unified.Mountpoint != "/sys/fs/cgroup" {
			t.Errorf("%s: unified = %+v", name, ms.Unified)
		}
	}
}

func TestParseMountinfoContainer(t *testing.T) {
	ms := parseTestMountinfo(t, "mountinfo-container-v1")
	if ms.Mode != ModeV1 {
		t.Errorf("mode = %v", ms.Mode)
	}
	mem := ms.V1["memory"]
	// The mount under /sys/fs/cgroup wins over a later bind mount elsewhere.
	if mem.Mountpoint != "/sys/fs/cgroup/memory" || mem.Root != "/docker/0123abcd" {
		t.Errorf("memory = %+v", mem)
	}
}

func TestParseMountinfoNone(t *testing.T) {
	_, err := parseMountinfo(strings.NewReader("22 1 259:1 / / rw - ext4 /dev/root rw\n"))
	if err == nil {
		t.Fatal("want error without cgroup mounts")
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:      "/a b",
		`/plain`:       "/plain",
		`/tab\011x`:    "/tab\tx",
		`/back\134sl`:  `/back\sl`,
		`/trailing\04`: `/trailing\04`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestModeString(t *testing.T) {
	for m, s := range map[Mode]string{ModeV1: "v1", ModeHybrid: "hybrid", ModeV2: "v2", ModeUnknown: "unknown"} {
		if m.String() != s {
			t.Errorf("%d.String() = %q", m, m.String())
		}
	}
}

// TestDetectHost only checks that detection on this host agrees with itself.
func TestDetectHost(t *testing.T) {
	m, err := DetectMode()
	if err != nil {
		t.Skipf("no cgroups on this host: %v", err)
	}
	if IsCgroup2UnifiedMode() != (m == ModeV2) {
		t.Errorf("IsCgroup2UnifiedMode() = %v but DetectMode() = %v", IsCgroup2UnifiedMode(), m)
	}
}
