package runtime_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPidOneAndHostname(t *testing.T) {
	e := newEnv(t)
	s := sh(`echo pid=$$; hostname; cat /proc/sys/kernel/domainname`)
	s.Domainname = "example.test"
	out := e.mustRun(s)
	for _, want := range []string{"pid=1\n", "gorae-test\n", "example.test\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestNoHostMountsVisible(t *testing.T) {
	// A mount made on the host after the rootfs was prepared, and every
	// mount the host has, must be invisible inside.
	marker := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "gorae-host-marker", marker).Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("umount", marker).Run() })
	e := newEnv(t)
	out := e.mustRun(sh(`cat /proc/self/mountinfo`))
	if strings.Contains(out, "gorae-host-marker") || strings.Contains(out, marker) {
		t.Errorf("host mount visible in container:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := f[4]
		ok := mp == "/" || strings.HasPrefix(mp, "/proc") || strings.HasPrefix(mp, "/dev") ||
			strings.HasPrefix(mp, "/sys") || strings.HasPrefix(mp, "/tmp")
		if !ok {
			t.Errorf("unexpected mount point %s in container: %s", mp, line)
		}
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	e := newEnv(t)
	// /proc/kcore is masked where the kernel has it; /proc/timer_list and
	// /proc/keys (also in the default masked list) exist on every kernel
	// this runs on, and are never empty on the host.
	masked := "/proc/timer_list"
	if _, err := os.Stat("/proc/kcore"); err == nil {
		masked = "/proc/kcore"
	}
	if b, _ := os.ReadFile(masked); len(b) == 0 && masked != "/proc/kcore" {
		t.Fatalf("host %s is empty: cannot tell masked from not", masked)
	}
	out, code := e.run(sh(`wc -c < ` + masked + `; echo 1 > /proc/sys/kernel/ostype && echo WROTE; echo x > /proc/sysrq-trigger && echo WROTE2; true`))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	lines := strings.Split(out, "\n")
	if strings.TrimSpace(lines[0]) != "0" {
		t.Errorf("%s not masked: size %q", masked, lines[0])
	}
	if strings.Contains(out, "WROTE") {
		t.Errorf("write to a read-only /proc path succeeded:\n%s", out)
	}
	if !strings.Contains(out, "Read-only file system") {
		t.Errorf("want EROFS for /proc/sys, got:\n%s", out)
	}
}

func TestReadonlyRoot(t *testing.T) {
	e := newEnv(t)
	out, _ := e.run(sh(`touch /newfile 2>&1; touch /tmp/ok && echo TMP-OK`))
	if !strings.Contains(out, "Read-only file system") || !strings.Contains(out, "TMP-OK") {
		t.Errorf("want / read-only and /tmp writable, got:\n%s", out)
	}
}

func capMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		for _, c := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(c.String()) == n {
				m |= 1 << uint(c)
			}
		}
	}
	return m
}

func TestCapabilitySets(t *testing.T) {
	e := newEnv(t)
	s := sh(`grep ^Cap /proc/self/status`)
	s.Process.NoNewPrivileges = false
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"},
		Effective:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"},
		Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"},
		Inheritable: []string{"CAP_KILL", "CAP_NET_RAW"},
		Ambient:     []string{"CAP_KILL"},
	}
	out := e.mustRun(s)
	// For uid 0 execve recomputes permitted as inheritable | bounding and
	// effective as permitted (the legacy root rule), so a spec whose
	// permitted and effective sets equal its bounding set is seen exactly.
	// Non-root sets are checked in TestNonRootUserCapabilities.
	want := map[string]uint64{
		"CapBnd": capMask(s.Process.Capabilities.Bounding),
		"CapPrm": capMask(s.Process.Capabilities.Permitted),
		"CapInh": capMask(s.Process.Capabilities.Inheritable),
		"CapAmb": capMask(s.Process.Capabilities.Ambient),
		"CapEff": capMask(s.Process.Capabilities.Effective),
	}
	got := map[string]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, ":")
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("parse %q: %v", l, err)
		}
		got[k] = n
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %016x, want %016x", k, got[k], w)
		}
	}
}

func TestNonRootUserCapabilities(t *testing.T) {
	e := newEnv(t)
	s := sh(`id -u; id -g; id -G; umask; grep -E '^(CapEff|CapPrm|CapAmb|NoNewPrivs)' /proc/self/status`)
	mask := uint32(0o027)
	s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{2000, 2001}, Umask: &mask}
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: []string{"CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_NET_BIND_SERVICE"},
		Permitted: []string{"CAP_NET_BIND_SERVICE"}, Inheritable: []string{"CAP_NET_BIND_SERVICE"},
		Ambient: []string{"CAP_NET_BIND_SERVICE"},
	}
	s.Process.NoNewPrivileges = true
	out := e.mustRun(s)
	nbs := fmt.Sprintf("%016x", uint64(1)<<uint(capability.CAP_NET_BIND_SERVICE))
	for _, want := range []string{"1000\n1001\n", "2000 2001", "0027", "CapEff:\t" + nbs, "CapAmb:\t" + nbs, "NoNewPrivs:\t1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestMemoryLimitOOMKills(t *testing.T) {
	e := newEnv(t)
	// dd's buffer is allocated and filled: 128 MiB against a 32 MiB limit.
	s := sh(`dd if=/dev/zero of=/dev/null bs=128M count=1; echo SURVIVED`)
	limit := int64(32 << 20)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	out, code := e.run(s)
	if strings.Contains(out, "SURVIVED") && !strings.Contains(out, "Killed") {
		t.Fatalf("allocation over the memory limit was not killed (exit %d):\n%s", code, out)
	}
}

func TestPidsLimitStopsForkLoop(t *testing.T) {
	e := newEnv(t)
	// Only shell builtins after the loop: at the limit, a fork fails.
	// The loop runs in a subshell, which ash ends at the first failed fork.
	s := sh(`(i=0; while [ $i -lt 64 ]; do sleep 30 & i=$((i+1)); done) 2>/tmp/err; set -- /proc/[0-9]*; echo procs=$#; kill -9 -1; while read -r l; do case $l in *fork*) echo fork-failed;; esac; done < /tmp/err; true`)
	max := int64(16)
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &max}
	out := e.mustRun(s)
	var procs int
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "procs="); ok {
			procs, _ = strconv.Atoi(v)
		}
	}
	if procs == 0 || procs > int(max) {
		t.Errorf("%d processes with pids.max=%d:\n%s", procs, max, out)
	}
	if !strings.Contains(out, "fork-failed") {
		t.Errorf("no fork failure reported:\n%s", out)
	}
}

func TestSeccompDeniesWithProfileErrno(t *testing.T) {
	e := newEnv(t)
	s := sh(`mkdir /tmp/a; echo mkdir=$?; rmdir /tmp/nonexistent; echo rmdir=$?`)
	enosys := uint(38)
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
	out := e.mustRun(s)
	if !strings.Contains(out, "Function not implemented") || !strings.Contains(out, "mkdir=1") {
		t.Errorf("want mkdir to fail with ENOSYS:\n%s", out)
	}
	if !strings.Contains(out, "No such file") {
		t.Errorf("want rmdir (allowed) to fail with its own ENOENT:\n%s", out)
	}
}

func TestUserNamespaceMapping(t *testing.T) {
	e := newEnv(t)
	s := sh(`id -u; cat /proc/self/uid_map; cat /proc/self/gid_map`)
	// A user namespace cannot mount sysfs without its own netns (it has
	// one here) nor set device cgroups differently: keep the rest.
	addUserNS(s)
	out := e.mustRunBundle(usernsReady(t, e, s))
	if !strings.HasPrefix(out, "0\n") || !strings.Contains(out, "100000") {
		t.Errorf("want uid 0 mapped to 100000:\n%s", out)
	}
}

func TestSysctlAndOOMScore(t *testing.T) {
	e := newEnv(t)
	s := sh(`cat /proc/sys/net/ipv4/ip_forward; cat /proc/self/oom_score_adj`)
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	adj := 500
	s.Process.OOMScoreAdj = &adj
	out := e.mustRun(s)
	if out != "1\n500\n" {
		t.Errorf("got %q, want ip_forward 1 and oom_score_adj 500", out)
	}
}

func TestRlimitsAndClamp(t *testing.T) {
	e := newEnv(t)
	s := sh(`ulimit -n; ulimit -Hn; ulimit -c`)
	var hostHard uint64
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Max open files") {
				f := strings.Fields(l)
				hostHard, _ = strconv.ParseUint(f[4], 10, 64)
			}
		}
	}
	s.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
	}
	out := e.mustRun(s)
	if out != "512\n1024\n0\n" {
		t.Errorf("got %q, want 512/1024/0", out)
	}
	// Far above what a host may grant: clamped, not a failure.
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 30, Hard: 1 << 30}}
	out, code := e.run(s)
	if code != 0 {
		t.Fatalf("huge RLIMIT_NOFILE failed the container (exit %d): %s", code, out)
	}
	if hostHard == 0 {
		t.Fatal("could not read host's RLIMIT_NOFILE")
	}
}

func TestDevices(t *testing.T) {
	e := newEnv(t)
	s := sh(`ls -ln /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/mynull; readlink /dev/fd; readlink /dev/ptmx; echo hi > /dev/mynull && echo WRITE-OK; head -c 4 /dev/zero | wc -c`)
	mode := os.FileMode(0o620)
	uid, gid := uint32(0), uint32(5)
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid}}
	out := e.mustRun(s)
	if !regexp.MustCompile(`crw--w---- +1 0 +5 +1, +3 .* /dev/mynull`).MatchString(out) {
		t.Errorf("/dev/mynull not created with mode 0620, owner 0:5, 1:3:\n%s", out)
	}
	for _, want := range []string{"/proc/self/fd\n", "pts/ptmx\n", "WRITE-OK", "\n4\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"} {
		if !strings.Contains(out, d) || strings.Contains(out, d+": No such") {
			t.Errorf("default device %s missing:\n%s", d, out)
		}
	}
}

func TestMountsAndPropagation(t *testing.T) {
	e := newEnv(t)
	src := t.TempDir()
	os.WriteFile(src+"/file", []byte("from-host\n"), 0o644)
	s := sh(`cat /data/file; echo x > /data/new && echo RW-WROTE; cat /ro/file; echo y > /ro/new || echo RO-DENIED; grep -E ' /(data|ro|scratch) ' /proc/self/mountinfo`)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "rw", "rprivate"}},
		specs.Mount{Destination: "/ro", Type: "bind", Source: src, Options: []string{"bind", "ro", "nosuid", "nodev"}},
		specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "noexec"}},
	)
	out := e.mustRun(s)
	for _, want := range []string{"from-host\nRW-WROTE\nfrom-host\n", "RO-DENIED", " /ro ", "ro,nosuid,nodev", "noexec"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(src + "/new"); err != nil {
		t.Errorf("rw bind write not visible on host: %v", err)
	}
}

func TestCgroupLimitsVisibleInside(t *testing.T) {
	e := newEnv(t)
	s := sh(`cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us; cat /proc/self/cgroup | grep memory`)
	limit := int64(64 << 20)
	shares := uint64(512)
	quota := int64(50000)
	period := uint64(100000)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	hundred := int64(100)
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &hundred}
	s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period}
	out := e.mustRun(s)
	want := fmt.Sprintf("%d\n100\n512\n50000\n", limit)
	if !strings.HasPrefix(out, want) {
		t.Errorf("got %q, want prefix %q", out, want)
	}
	// With a cgroup namespace the container sees itself at its root.
	if !strings.Contains(out, ":memory:/\n") {
		t.Errorf("cgroup namespace root not /: %q", out)
	}
}

func TestJoinNamespacesByPath(t *testing.T) {
	e := newEnv(t)
	a := newID(t)
	sa := baseSpec("/bin/sleep", "60")
	sa.Hostname = "shared-uts"
	ba := e.bundle(sa)
	if _, err := e.rt("create", "--bundle", ba, a); err != nil {
		t.Fatal(err)
	}
	pid := e.state(a).Pid
	sb := sh(`hostname; readlink /proc/self/ns/net`)
	sb.Hostname = ""
	for i, ns := range sb.Linux.Namespaces {
		switch ns.Type {
		case specs.UTSNamespace:
			sb.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/uts", pid)
		case specs.NetworkNamespace:
			sb.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", pid)
		}
	}
	out := e.mustRun(sb)
	want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if out != "shared-uts\n"+want+"\n" {
		t.Errorf("got %q, want hostname shared-uts and net %s", out, want)
	}
}

// runc's default spec asks for ambient capabilities without inheritable
// ones, which the kernel refuses to raise: runc skips them with a warning,
// and so must we, or `runc spec` bundles fail.
func TestAmbientWithoutInheritableIsSkipped(t *testing.T) {
	e := newEnv(t)
	s := sh(`grep CapAmb /proc/self/status`)
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps}
	out := e.mustRun(s)
	if !strings.Contains(out, "CapAmb:\t0000000000000000") {
		t.Errorf("ambient set %q, want empty", out)
	}
}

// A fresh network namespace has its loopback up, as with runc: programs
// that talk to themselves over 127.0.0.1 work.
func TestLoopbackUp(t *testing.T) {
	e := newEnv(t)
	out := e.mustRun(sh(`cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags; ls /sys/class/net`))
	lines := strings.Fields(out)
	if len(lines) < 3 || lines[2] != "lo" || len(lines) != 3 {
		t.Fatalf("interfaces: %q (want only lo)", out)
	}
	flags, err := strconv.ParseUint(strings.TrimPrefix(lines[1], "0x"), 16, 32)
	if err != nil || flags&1 == 0 {
		t.Errorf("lo flags %q: IFF_UP not set", lines[1])
	}
}

// CVE-2019-5736: the runtime binary a container's init (or an exec'd
// process, before it execs) runs from must not be writable through
// /proc/<pid>/exe, or a container could replace the host's runtime once no
// runtime process runs it any more. A plain binary gives ETXTBSY only while
// it runs; gorae's init runs from a read-only overlay (EROFS), runc's from
// a sealed memfd (EPERM).
func TestInitBinaryNotWritable(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	if _, err := e.rt("create", "--bundle", e.bundle(baseSpec("/bin/true")), id); err != nil {
		t.Fatal(err)
	}
	defer e.rt("delete", "--force", id)
	pid := e.state(id).Pid
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", pid), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatal("the init's binary opened for writing")
	}
	if errors.Is(err, syscall.ETXTBSY) && len(runtimeArg) == 0 {
		// A peer under GORAE_TEST_RUNTIME: Debian's runc 1.1.5 runs its
		// init from its file on disk. Say so rather than fail its run.
		t.Skipf("%s runs the init from its binary on disk (%v): not protected", runtimeBin, err)
	}
	if errors.Is(err, syscall.ETXTBSY) {
		t.Fatalf("the init's binary is the runtime's file on disk, protected only while it runs: %v", err)
	}
}

// bin/gorae starts containers' inits from its small init program
// (cmd/gorae-init, written to the cache), not by re-executing itself.
func TestInitIsTheInitProgram(t *testing.T) {
	if !isGorae {
		t.Skipf("%s: gorae's init program only", runtimeBin)
	}
	e := newEnv(t)
	id := newID(t)
	if _, err := e.rt("create", "--bundle", e.bundle(baseSpec("/bin/true")), id); err != nil {
		t.Fatal(err)
	}
	defer e.rt("delete", "--force", id)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", e.state(id).Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(exe), "init-") {
		t.Errorf("the created container's init runs %s, want the init program (init-<digest>)", exe)
	}
}
