package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ctr "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/runtime"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func render(t *testing.T, cfg *ctr.Config, hc *ctr.HostConfig) *specs.Spec {
	t.Helper()
	s, err := renderSpec(specInput{ID: testID, Rootfs: t.TempDir(), Config: cfg, HostConfig: hc})
	if err != nil {
		t.Fatal(err)
	}
	// Whatever we render, our own runtime must accept.
	if err := runtime.ValidateSpec(s, "/"); err != nil {
		t.Fatalf("rendered spec invalid: %v", err)
	}
	return s
}

func TestRenderDefaults(t *testing.T) {
	s := render(t, &ctr.Config{Cmd: []string{"echo", "hi"}, Env: []string{"A=1"}}, &ctr.HostConfig{})
	if strings.Join(s.Process.Args, " ") != "echo hi" || s.Hostname != testID[:12] || s.Process.Cwd != "/" {
		t.Errorf("process: %+v hostname %q", s.Process, s.Hostname)
	}
	if s.Process.Env[0] != defaultPath || s.Process.Env[len(s.Process.Env)-1] != "A=1" {
		t.Errorf("env: %v", s.Process.Env)
	}
	if len(s.Process.Capabilities.Bounding) != len(defaultCaps) || len(s.Linux.MaskedPaths) == 0 {
		t.Errorf("caps/masks: %v %v", s.Process.Capabilities.Bounding, s.Linux.MaskedPaths)
	}
	types := map[specs.LinuxNamespaceType]bool{}
	for _, n := range s.Linux.Namespaces {
		types[n.Type] = true
	}
	for _, want := range []specs.LinuxNamespaceType{"mount", "network", "pid", "ipc", "uts"} {
		if !types[want] {
			t.Errorf("namespace %s missing", want)
		}
	}
	if types["cgroup"] {
		t.Error("cgroup namespace on v1 by default (Docker's default is host there)")
	}
	if s.Linux.Resources.Devices[0].Allow {
		t.Error("device cgroup must start with deny all")
	}
}

func TestRenderEntrypointAndNoCommand(t *testing.T) {
	s := render(t, &ctr.Config{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"true"}}, nil)
	if strings.Join(s.Process.Args, " ") != "/bin/sh -c true" {
		t.Errorf("args %v", s.Process.Args)
	}
	_, err := renderSpec(specInput{ID: testID, Config: &ctr.Config{}, HostConfig: &ctr.HostConfig{}})
	if !errdefs.IsInvalidParameter(err) {
		t.Errorf("no command: %v", err)
	}
}

func TestRenderPrivilegedCapsAndSecurityOpts(t *testing.T) {
	s := render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{Privileged: true})
	if len(s.Process.Capabilities.Bounding) != len(allCaps) || len(s.Linux.MaskedPaths) != 0 || !s.Linux.Resources.Devices[0].Allow {
		t.Error("privileged must grant all caps, no masks, all devices")
	}
	s = render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{CapDrop: []string{"ALL"}, CapAdd: []string{"net_admin"}, SecurityOpt: []string{"no-new-privileges", "seccomp=unconfined"}})
	if strings.Join(s.Process.Capabilities.Bounding, ",") != "CAP_NET_ADMIN" || !s.Process.NoNewPrivileges || s.Linux.Seccomp != nil {
		t.Errorf("caps %v nnp %v", s.Process.Capabilities.Bounding, s.Process.NoNewPrivileges)
	}
	if _, err := renderSpec(specInput{ID: testID, Config: &ctr.Config{Cmd: []string{"x"}}, HostConfig: &ctr.HostConfig{CapAdd: []string{"CAP_BOGUS"}}}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("bogus cap: %v", err)
	}
}

func TestRenderResources(t *testing.T) {
	pids := int64(50)
	s := render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{Resources: ctr.Resources{
		Memory: 64 << 20, NanoCPUs: 1_500_000_000, PidsLimit: &pids, CPUShares: 512, CpusetCpus: "0",
	}})
	r := s.Linux.Resources
	if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 {
		t.Errorf("memory %+v", r.Memory)
	}
	if *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 512 || r.CPU.Cpus != "0" {
		t.Errorf("cpu %+v", r.CPU)
	}
	if *r.Pids.Limit != 50 {
		t.Errorf("pids %+v", r.Pids)
	}
}

// TestRenderMounts: the daemon's mounts (daemon.mountVolumes) replace a
// default at the same destination and come after their parents.
func TestRenderMounts(t *testing.T) {
	s, err := renderSpec(specInput{ID: testID, Config: &ctr.Config{Cmd: []string{"x"}}, HostConfig: &ctr.HostConfig{}, Mounts: []specs.Mount{
		{Destination: "/data/sub", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/dev/shm", Type: "bind", Source: "/tmp", Options: []string{"rbind"}},
		{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro", "rprivate"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	idx := map[string]int{}
	shm := 0
	for i, m := range s.Mounts {
		idx[m.Destination] = i
		if m.Destination == "/dev/shm" {
			shm++
			if m.Source != "/tmp" {
				t.Errorf("/dev/shm not replaced: %+v", m)
			}
		}
	}
	if shm != 1 {
		t.Errorf("/dev/shm mounted %d times", shm)
	}
	if idx["/data"] > idx["/data/sub"] {
		t.Errorf("/data/sub before its parent: %v", s.Mounts)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:\n"), 0o644)
	cases := map[string]specs.User{
		"":          {UID: 0, GID: 0},
		"app":       {UID: 1000, GID: 1000, AdditionalGids: []uint32{10}},
		"1000":      {UID: 1000, GID: 1000, AdditionalGids: []uint32{10}},
		"4242":      {UID: 4242, GID: 0},
		"app:audio": {UID: 1000, GID: 29, AdditionalGids: []uint32{10}},
		"5:6":       {UID: 5, GID: 6},
	}
	for in, want := range cases {
		got, err := resolveUser(root, in, nil)
		if err != nil || got.UID != want.UID || got.GID != want.GID || len(got.AdditionalGids) != len(want.AdditionalGids) {
			t.Errorf("resolveUser(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := resolveUser(root, "nobody", nil); !errdefs.IsInvalidParameter(err) {
		t.Errorf("unknown user: %v", err)
	}
	if u, err := resolveUser(root, "app", []string{"audio", "77"}); err != nil || len(u.AdditionalGids) != 3 {
		t.Errorf("group-add: %+v %v", u, err)
	}
}

func TestValidateHostConfig(t *testing.T) {
	ok := []*ctr.HostConfig{
		{}, {NetworkMode: "none"}, {NetworkMode: "host"}, {NetworkMode: "default"},
		{RestartPolicy: ctr.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
		{LogConfig: ctr.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "2"}}},
	}
	for i, hc := range ok {
		if err := validateHostConfig(hc); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := []*ctr.HostConfig{
		{PortBindings: network.PortMap{network.MustParsePort("80/tcp"): {{HostPort: "eighty"}}}},
		{AutoRemove: true, RestartPolicy: ctr.RestartPolicy{Name: "always"}},
		{RestartPolicy: ctr.RestartPolicy{Name: "always", MaximumRetryCount: 2}},
		{RestartPolicy: ctr.RestartPolicy{Name: "sometimes"}},
		{LogConfig: ctr.LogConfig{Type: "syslog"}},
		{LogConfig: ctr.LogConfig{Config: map[string]string{"max-file": "3"}}},
	}
	for i, hc := range bad {
		err := validateHostConfig(hc)
		if err == nil || errdefs.HTTPStatus(err) >= 500 && !strings.Contains(err.Error(), "gorae") {
			t.Errorf("bad[%d] accepted or unclassified: %v", i, err)
		}
	}
}

func TestDefaultSeccompFollowsCapabilities(t *testing.T) {
	denied := func(s *specs.Spec) map[string]bool {
		m := map[string]bool{}
		if s.Linux.Seccomp == nil {
			return m
		}
		for _, r := range s.Linux.Seccomp.Syscalls {
			for _, n := range r.Names {
				m[n] = true
			}
		}
		return m
	}
	d := denied(render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{}))
	for _, n := range []string{"mount", "unshare", "kexec_load", "ptrace", "init_module", "io_uring_setup", "keyctl"} {
		if !d[n] {
			t.Errorf("default profile allows %s", n)
		}
	}
	for _, n := range []string{"read", "clone", "execve", "socket"} {
		if d[n] {
			t.Errorf("default profile denies %s", n)
		}
	}
	d = denied(render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{CapAdd: []string{"SYS_ADMIN", "SYS_PTRACE"}}))
	if d["mount"] || d["unshare"] || d["ptrace"] || !d["kexec_load"] {
		t.Errorf("capabilities must re-allow their calls: %v", d)
	}
	if s := render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{Privileged: true}); s.Linux.Seccomp != nil {
		t.Error("privileged containers run unconfined, as Docker's")
	}
}

// A profile in Docker's format, as the docker CLI sends it (the file's
// content in --security-opt seccomp=…): includes are judged against the
// container's capabilities.
func TestCustomSeccompProfile(t *testing.T) {
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
		{"names":["mkdirat","mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
		{"names":["chroot"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_CHROOT"]}}]}`
	names := func(s *specs.Spec) string {
		var out []string
		for _, r := range s.Linux.Seccomp.Syscalls {
			out = append(out, r.Names...)
		}
		return strings.Join(out, ",")
	}
	s := render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{SecurityOpt: []string{"seccomp=" + profile}})
	if s.Linux.Seccomp.DefaultAction != specs.ActAllow || names(s) != "mkdirat,mkdir,chroot" {
		t.Errorf("profile with CAP_SYS_CHROOT: %+v", s.Linux.Seccomp)
	}
	s = render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{SecurityOpt: []string{"seccomp=" + profile}, CapDrop: []string{"SYS_CHROOT"}})
	if names(s) != "mkdirat,mkdir" {
		t.Errorf("profile without CAP_SYS_CHROOT: %s", names(s))
	}
	if s := render(t, &ctr.Config{Cmd: []string{"x"}}, &ctr.HostConfig{SecurityOpt: []string{"seccomp=builtin"}}); s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow {
		t.Error("seccomp=builtin is the default profile")
	}
	for _, bad := range []string{"seccomp={", `seccomp={"defaultAction":"SCMP_ACT_BOGUS"}`, "seccomp="} {
		_, err := renderSpec(specInput{ID: strings.Repeat("a", 64), Rootfs: "/r", Config: &ctr.Config{Cmd: []string{"x"}}, HostConfig: &ctr.HostConfig{SecurityOpt: []string{bad}}})
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("%s: want a bad-parameter error, got %v", bad, err)
		}
	}
	// The daemon's profile applies to containers that name none.
	in := specInput{ID: strings.Repeat("a", 64), Rootfs: "/r", Config: &ctr.Config{Cmd: []string{"x"}}, HostConfig: &ctr.HostConfig{}, SeccompProfile: "unconfined"}
	if s, err := renderSpec(in); err != nil || s.Linux.Seccomp != nil {
		t.Errorf("daemon seccomp-profile unconfined: %v %+v", err, s.Linux.Seccomp)
	}
}

func TestDefaultUlimits(t *testing.T) {
	in := specInput{ID: strings.Repeat("a", 64), Rootfs: "/r", Config: &ctr.Config{Cmd: []string{"x"}},
		HostConfig:     &ctr.HostConfig{Resources: ctr.Resources{Ulimits: []*ctr.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}}}},
		DefaultUlimits: map[string]*ctr.Ulimit{"nofile": {Name: "nofile", Soft: 1, Hard: 2}, "nproc": {Soft: 50, Hard: 60}}}
	s, err := renderSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(s.Process.Rlimits)
	if got != "[{RLIMIT_NOFILE 200 100} {RLIMIT_NPROC 60 50}]" {
		t.Errorf("rlimits: the container's own, then the daemon's for the rest: %s", got)
	}
}
