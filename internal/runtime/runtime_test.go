package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/runtime/initproc"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-DEF_1.2+3", strings.Repeat("x", 64)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "a\x00b", "caf\u00e9", "a:b", strings.Repeat("x", 1025)} {
		if err := ValidateID(id); err == nil {
			t.Errorf("ValidateID(%q) accepted", id)
		}
	}
}

func writeBundle(t *testing.T, s *specs.Spec) string {
	t.Helper()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
	b, _ := json.Marshal(s)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	return dir
}

func TestDefaultSpecIsValid(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		dir := writeBundle(t, DefaultSpec(rootless))
		if _, err := LoadSpec(dir); err != nil {
			t.Errorf("DefaultSpec(%v): %v", rootless, err)
		}
	}
}

func TestValidateSpecNamesTheField(t *testing.T) {
	cases := []struct {
		mutate func(*specs.Spec)
		want   string
	}{
		{func(s *specs.Spec) { s.Version = "" }, "ociVersion"},
		{func(s *specs.Spec) { s.Version = "2.0.0" }, "ociVersion"},
		{func(s *specs.Spec) { s.Root = nil }, "root.path"},
		{func(s *specs.Spec) { s.Root.Path = "nope" }, "root.path"},
		{func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{func(s *specs.Spec) { s.Process.Cwd = "rel" }, "process.cwd"},
		{func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, "RLIMIT_BOGUS"},
		{func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}
		}, "soft"},
		{func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_BOGUS"} }, "CAP_BOGUS"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `"bogus"`},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "twice"},
		{func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/nonexistent/ns/pid" }, "/nonexistent/ns/pid"},
		{func(s *specs.Spec) { s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}} }, "user namespace"},
		{func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:1] }, "uts"},
		{func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c"}} }, "linux.devices[0].path"},
		{func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}} }, "linux.devices[0].type"},
		{func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, "rootfsPropagation"},
		{func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: ""}) }, "destination"},
	}
	for i, tc := range cases {
		s := DefaultSpec(false)
		tc.mutate(s)
		dir := writeBundle(t, s)
		_, err := LoadSpec(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: error %v does not name %q", i, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("case %d: error spans lines: %q", i, err)
		}
	}
}

func TestLoadSpecMissingAndMalformed(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("missing: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644)
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "parse") {
		t.Errorf("malformed: %v", err)
	}
}

func TestProcStatOfSelf(t *testing.T) {
	start, state, err := procStat(os.Getpid())
	// Running or sleeping: another thread of ours may be reading it.
	if err != nil || start == 0 || (state != 'R' && state != 'S') {
		t.Fatalf("procStat(self) = %d %c %v", start, state, err)
	}
	if !processAlive(os.Getpid(), start) {
		t.Error("self not alive")
	}
	if processAlive(os.Getpid(), start+1) {
		t.Error("a different start time must mean a different process")
	}
}

func TestStatusDerivedFromSystem(t *testing.T) {
	dir := t.TempDir()
	start, _, _ := procStat(os.Getpid())
	c := &Container{ID: "x", Pid: os.Getpid(), PidStart: start, dir: dir}
	os.WriteFile(filepath.Join(dir, startSock), nil, 0o600)
	if st := c.Status(); st != StatusCreated {
		t.Errorf("with start socket: %s", st)
	}
	os.Remove(filepath.Join(dir, startSock))
	if st := c.Status(); st != StatusRunning {
		t.Errorf("without start socket: %s", st)
	}
	c.PidStart++
	if st := c.Status(); st != StatusStopped {
		t.Errorf("recycled pid: %s", st)
	}
	if st := c.State(); st.Pid != 0 || st.Status != StatusStopped {
		t.Errorf("stopped state: %+v", st)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "c1")
	os.Mkdir(dir, 0o700)
	c := &Container{ID: "c1", Bundle: "/b", Pid: 42, Cgroups: map[string]string{"memory": "/sys/fs/cgroup/memory/x"}, Config: DefaultSpec(false), dir: dir}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root, "c1")
	if err != nil || got.Pid != 42 || got.Cgroups["memory"] == "" || got.Config.Hostname != "gorae" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile+".tmp")); err == nil {
		t.Error("temp file left behind")
	}
	if _, err := Load(root, "nope"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing container: %v", err)
	}
	os.Mkdir(filepath.Join(root, "half"), 0o700)
	if _, err := Load(root, "half"); err == nil || !strings.Contains(err.Error(), "being created") {
		t.Errorf("half-created container: %v", err)
	}
	if cs, _ := List(root); len(cs) != 1 {
		t.Errorf("List = %d containers, want 1 (half-created skipped)", len(cs))
	}
}

func TestWithDefaultDevices(t *testing.T) {
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	got := withDefaultDevices(r)
	if len(got.Devices) != 1+len(initproc.DefaultDevices)+4 || got.Devices[0].Allow {
		t.Errorf("devices = %+v", got.Devices)
	}
	if len(r.Devices) != 1 {
		t.Error("input modified")
	}
	empty := &specs.LinuxResources{}
	if withDefaultDevices(empty) != empty {
		t.Error("no device list must stay no device list (cgroup left alone)")
	}
}

// FuzzValidateSpec: any config.json must be refused or accepted, never
// panic the runtime.
func FuzzValidateSpec(f *testing.F) {
	b, _ := json.Marshal(DefaultSpec(false))
	f.Add(b)
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"user"}]}}`))
	f.Add([]byte(`{"ociVersion":"1.0.0","root":{"path":"rootfs"},"process":{"args":["x"],"rlimits":[{"type":"RLIMIT_NOFILE"}]}}`))
	dir := f.TempDir()
	os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.Spec
		if json.Unmarshal(data, &s) != nil {
			return
		}
		ValidateSpec(&s, dir)
		if s.Mounts != nil {
			for _, m := range s.Mounts {
				initproc.ParseMountOptions(m.Options)
			}
		}
	})
}

// A named init program that is gone (a newer build pruned the cache)
// falls back to re-executing this program; a finder's error falls back to
// InitBinary.
func TestInitBinaryFallsBack(t *testing.T) {
	defer func(b string, f func() (string, error)) { InitBinary, FindInitBinary = b, f }(InitBinary, FindInitBinary)
	InitBinary, FindInitBinary = "/nonexistent/init-0123", nil
	if got := initBinary(); got != "/proc/self/exe" {
		t.Errorf("missing init: %s, want /proc/self/exe", got)
	}
	self, _ := os.Executable()
	InitBinary = self
	FindInitBinary = func() (string, error) { return "", errors.New("none embedded") }
	if got := initBinary(); got != self {
		t.Errorf("finder failed: %s, want InitBinary %s", got, self)
	}
	FindInitBinary = func() (string, error) { return "/nonexistent/init-4567", nil }
	if got := initBinary(); got != "/proc/self/exe" {
		t.Errorf("finder named a missing file: %s, want /proc/self/exe", got)
	}
}
