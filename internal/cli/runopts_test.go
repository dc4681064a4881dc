package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// parseRun parses run's flags and arguments as cobra would.
func parseRun(t *testing.T, args ...string) (*containerSpec, error) {
	t.Helper()
	var o runOptions
	fl := pflag.NewFlagSet("run", pflag.ContinueOnError)
	addRunFlags(fl, &o)
	fl.BoolVarP(&o.detach, "detach", "d", false, "")
	fl.BoolVar(&o.rm, "rm", false, "")
	if err := fl.Parse(args); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	rest := fl.Args()
	return o.parse(rest[0], rest[1:])
}

func TestParseRun(t *testing.T) {
	t.Setenv("FROM_ENV", "yes")
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\n\nA=1\nFROM_ENV\nUNSET_VAR\n"), 0o644)
	spec, err := parseRun(t, "-it", "--name", "x", "-e", "B=2", "-e", "FROM_ENV", "-e", "UNSET_VAR", "--env-file", envFile,
		"-w", "/w", "-u", "1:2", "-l", "k=v", "-h", "host1", "--entrypoint", "", "-p", "127.0.0.1:8080:80", "-p", "9000-9001:90-91/udp",
		"--expose", "7000", "-v", "/src:/dst:ro", "-v", "/anon", "--tmpfs", "/t:size=1m", "--mount", "type=bind,src=/a,dst=/b,readonly",
		"--restart", "on-failure:3", "--memory", "64m", "--cpus", "1.5", "--pids-limit", "10", "--ulimit", "nofile=100:200",
		"--init", "--stop-timeout", "5", "--health-cmd", "true", "--health-interval", "2s", "--dns", "1.1.1.1",
		"--add-host", "db=10.0.0.2", "--device", "/dev/fuse:/dev/f:rw", "--network", "net1", "--ip", "10.1.0.5", "--network-alias", "a1",
		"--platform", "linux/amd64", "busybox", "sh", "-c", "x")
	if err != nil {
		t.Fatal(err)
	}
	c, h := spec.config, spec.hostConfig
	if want := []string{"A=1", "FROM_ENV=yes", "B=2", "FROM_ENV=yes"}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("env %q, want %q", c.Env, want)
	}
	if !c.Tty || !c.OpenStdin || !c.AttachStdin || !c.StdinOnce || !c.AttachStdout || c.Image != "busybox" || c.Hostname != "host1" {
		t.Errorf("config %+v", c)
	}
	if c.Entrypoint == nil || len(c.Entrypoint) != 0 {
		t.Errorf("--entrypoint \"\" must reset: %#v", c.Entrypoint)
	}
	if !reflect.DeepEqual(c.Cmd, []string{"sh", "-c", "x"}) || c.WorkingDir != "/w" || c.User != "1:2" || c.Labels["k"] != "v" {
		t.Errorf("config %+v", c)
	}
	p80 := network.MustParsePort("80/tcp")
	if b := h.PortBindings[p80]; len(b) != 1 || b[0].HostPort != "8080" || b[0].HostIP.String() != "127.0.0.1" {
		t.Errorf("-p 127.0.0.1:8080:80: %+v", b)
	}
	if b := h.PortBindings[network.MustParsePort("91/udp")]; len(b) != 1 || b[0].HostPort != "9001" {
		t.Errorf("-p 9000-9001:90-91/udp: %+v", h.PortBindings)
	}
	if _, ok := c.ExposedPorts[network.MustParsePort("7000/tcp")]; !ok {
		t.Errorf("--expose: %v", c.ExposedPorts)
	}
	if !reflect.DeepEqual(h.Binds, []string{"/src:/dst:ro"}) || c.Volumes == nil || h.Tmpfs["/t"] != "size=1m" {
		t.Errorf("volumes: binds %v volumes %v tmpfs %v", h.Binds, c.Volumes, h.Tmpfs)
	}
	if m := h.Mounts; len(m) != 1 || m[0].Type != mount.TypeBind || m[0].Source != "/a" || m[0].Target != "/b" || !m[0].ReadOnly {
		t.Errorf("--mount: %+v", m)
	}
	if h.RestartPolicy != (container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}) {
		t.Errorf("restart %+v", h.RestartPolicy)
	}
	if h.Memory != 64<<20 || h.NanoCPUs != 1.5e9 || *h.PidsLimit != 10 || h.Ulimits[0].Soft != 100 || h.Ulimits[0].Hard != 200 {
		t.Errorf("resources %+v", h.Resources)
	}
	if h.Init == nil || !*h.Init || *c.StopTimeout != 5 || c.Healthcheck.Test[0] != "CMD-SHELL" || c.Healthcheck.Interval.Seconds() != 2 {
		t.Errorf("init/stop-timeout/health: %v %v %+v", h.Init, c.StopTimeout, c.Healthcheck)
	}
	if h.DNS[0].String() != "1.1.1.1" || h.ExtraHosts[0] != "db:10.0.0.2" || h.Devices[0].PathInContainer != "/dev/f" || h.Devices[0].CgroupPermissions != "rw" {
		t.Errorf("dns/hosts/devices: %v %v %+v", h.DNS, h.ExtraHosts, h.Devices)
	}
	ep := spec.netConfig.EndpointsConfig["net1"]
	if h.NetworkMode != "net1" || ep == nil || ep.IPAMConfig.IPv4Address.String() != "10.1.0.5" || ep.Aliases[0] != "a1" {
		t.Errorf("network: %v %+v", h.NetworkMode, spec.netConfig)
	}
	if spec.platform == nil || spec.platform.Architecture != "amd64" {
		t.Errorf("platform %+v", spec.platform)
	}
}

func TestParseRunDetachedStreams(t *testing.T) {
	spec, err := parseRun(t, "-d", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if c := spec.config; c.AttachStdin || c.AttachStdout || c.AttachStderr {
		t.Errorf("-d attaches nothing: %+v", c)
	}
	spec, err = parseRun(t, "-a", "stderr", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if c := spec.config; c.AttachStdin || c.AttachStdout || !c.AttachStderr {
		t.Errorf("-a stderr: %+v", c)
	}
}

func TestParseRunErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--restart", "sometimes", "busybox"}, "unknown policy"},
		{[]string{"--restart", "always:3", "busybox"}, "maximum retry count"},
		{[]string{"--rm", "--restart", "always", "busybox"}, "conflicting options"},
		{[]string{"-m", "lots", "busybox"}, "--memory"},
		{[]string{"-p", "1:2:3:4", "busybox"}, "invalid port format"},
		{[]string{"-p", "x:80", "busybox"}, "invalid hostPort"},
		{[]string{"--dns", "not-an-ip", "busybox"}, "--dns"},
		{[]string{"--mount", "type=bind,src=/a", "busybox"}, "target is required"},
		{[]string{"--mount", "type=bind,bogus=1,dst=/b", "busybox"}, "unexpected key"},
		{[]string{"-a", "stdfoo", "busybox"}, "valid streams"},
		{[]string{"--platform", "amd64", "busybox"}, "invalid platform"},
		{[]string{"--cpus", "1", "--cpu-quota", "1000", "busybox"}, "Nano CPUs"},
		{[]string{"--no-healthcheck", "--health-cmd", "true", "busybox"}, "conflicts"},
		{[]string{"--security-opt", "seccomp=/no/such/profile.json", "busybox"}, "seccomp profile"},
	} {
		_, err := parseRun(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one with %q", c.args, err, c.want)
		}
	}
}

// FuzzParseMountAndPublish: the values users type never panic the parsers.
func FuzzParseMountAndPublish(f *testing.F) {
	for _, s := range []string{"type=bind,src=/a,dst=/b,readonly", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777",
		"127.0.0.1:8080:80/tcp", "[::1]:80:80", "9000-9010:90-100/udp", "\"a,b\"=c", "80-79"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseMount(s)
		addPublish(&container.Config{}, &container.HostConfig{}, s)
		parseDevice(s)
		parseRestart(s)
		parseDetachKeys(s)
		parsePlatform(s)
	})
}
