package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// peerPackage is a Debian package and the binaries it brings.
type peerPackage struct {
	pkg  string
	bins []string
}

var peerPackages = []peerPackage{
	{"docker.io", []string{"dockerd", "containerd", "containerd-shim-runc-v2"}},
	{"podman", []string{"podman", "conmon"}},
	{"crun", []string{"crun"}},
	{"runc", []string{"runc"}},
	{"docker-registry", []string{"docker-registry"}},
	{"skopeo", []string{"skopeo"}},
	{"umoci", []string{"umoci"}},
	{"busybox-static", []string{"busybox"}},
}

// The docker CLI the project tests against; Debian's docker.io brings an
// older one at /usr/bin/docker that is used only if this one is absent.
const dockerCLIPath = "/usr/local/bin/docker"

// podmanConf is the containers.conf the machine needs; the shared copy wins.
const podmanConfShared = "/work/shared/peers/podman-containers.conf"

const podmanConfFallback = `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
`

func (b *bench) setup(install bool) error {
	b.id = fmt.Sprintf("gorae-bench-%d", os.Getpid())
	b.missing = map[string]string{}
	b.engines = map[string]*engineSlot{}

	repo, err := findRepo()
	if err != nil {
		return err
	}
	b.repo = repo

	b.tmp, err = os.MkdirTemp("", b.id+"-")
	if err != nil {
		return err
	}
	b.atCleanup("remove "+b.tmp, b.removeTmp)
	b.atCleanup("remove leftover cgroups", b.removeCgroups)
	b.atCleanup("kill leftover processes", func() error { return killUnder(b.tmp) })
	b.watchHostLeftovers()

	b.installPeers(install)
	b.buildGorae()

	b.rootfs = filepath.Join(b.tmp, "rootfs")
	if _, err := b.run(cmd{name: "sh", args: []string{filepath.Join(b.repo, "scripts/busybox-rootfs.sh"), b.rootfs}}); err != nil {
		return fmt.Errorf("busybox rootfs: %w", err)
	}
	b.imageTar = filepath.Join(b.tmp, "busybox.tar")
	if _, err := b.run(command("tar", "-C", b.rootfs, "-cf", b.imageTar, ".")); err != nil {
		return fmt.Errorf("busybox image tar: %w", err)
	}
	if err := b.makeBundle(); err != nil {
		b.logf("bundle: %v", err)
		b.bundle = ""
		b.missing["bundle"] = err.Error()
	}
	b.collectVersions()
	return nil
}

// findRepo finds the repository root: the nearest directory above the working
// directory whose go.mod is gorae's, else the one `go env GOMOD` names.
func findRepo() (string, error) {
	isRepo := func(dir string) bool {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		return err == nil && strings.Contains(string(data), "module github.com/gorae/gorae\n")
	}
	dir, err := os.Getwd()
	if err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if isRepo(d) {
				return d, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if d := filepath.Dir(strings.TrimSpace(string(out))); isRepo(d) {
			return d, nil
		}
	}
	return "", errors.New("cannot find the gorae repository (run from inside it)")
}

// installPeers apt-get installs the packages whose binaries are missing. What
// still is missing afterwards is recorded with the reason, and every figure
// that needs it says so.
func (b *bench) installPeers(install bool) {
	var pkgs []string
	for _, p := range peerPackages {
		if b.pkgMissing(p) {
			pkgs = append(pkgs, p.pkg)
		}
	}
	if len(pkgs) == 0 {
		return
	}
	reasons := map[string]string{}
	if !install {
		for _, p := range pkgs {
			reasons[p] = "not installed (-no-install)"
		}
	} else {
		b.logf("installing %s", strings.Join(pkgs, " "))
		if err := b.aptInstall(pkgs...); err != nil {
			b.logf("apt-get install: %v; apt-get update and retry", err)
			if _, uerr := b.run(cmd{name: "apt-get", args: []string{"update"}, timeout: 5 * time.Minute}); uerr != nil {
				b.logf("apt-get update: %v", uerr)
			}
			if err := b.aptInstall(pkgs...); err != nil {
				// One at a time, to learn which one fails.
				for _, p := range pkgs {
					if err := b.aptInstall(p); err != nil {
						reasons[p] = "apt-get install " + p + " failed: " + err.Error()
					}
				}
			}
		}
	}
	for _, p := range peerPackages {
		if !b.pkgMissing(p) {
			continue
		}
		why := reasons[p.pkg]
		if why == "" {
			why = p.pkg + " installed but its binaries are missing"
		}
		for _, bin := range p.bins {
			if _, err := exec.LookPath(bin); err != nil || (bin == "busybox" && !isStatic(bin)) {
				b.missing[bin] = why
			}
		}
	}
}

func (b *bench) pkgMissing(p peerPackage) bool {
	for _, bin := range p.bins {
		if _, err := exec.LookPath(bin); err != nil {
			return true
		}
		if bin == "busybox" && !isStatic(bin) {
			return true
		}
	}
	return false
}

func (b *bench) aptInstall(pkgs ...string) error {
	// Wait for another apt-get (a colleague's) rather than fail on its lock.
	args := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends"}, pkgs...)
	_, err := b.run(cmd{name: "apt-get", args: args, env: []string{"DEBIAN_FRONTEND=noninteractive"}, timeout: 10 * time.Minute})
	return err
}

// isStatic reports whether the named binary has no program interpreter.
func isStatic(name string) bool {
	path, err := exec.LookPath(name)
	if err != nil {
		return false
	}
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// need returns "" if every binary is there, else why not.
func (b *bench) need(bins ...string) string {
	for _, bin := range bins {
		if why, ok := b.missing[bin]; ok {
			return bin + ": " + why
		}
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not found"
		}
	}
	return ""
}

// buildGorae builds bin/gorae from the working tree, unless -gorae named a
// binary.
func (b *bench) buildGorae() {
	if b.gorae != "" {
		b.goraeGiven = true
		if p, err := filepath.Abs(b.gorae); err == nil {
			b.gorae = p
		}
		if _, err := os.Stat(b.gorae); err != nil {
			b.goraeErr = err
		}
		return
	}
	b.gorae = filepath.Join(b.repo, "bin", "gorae")
	b.logf("building %s", b.gorae)
	_, err := b.run(cmd{name: "sh", args: []string{filepath.Join(b.repo, "scripts", "build.sh"), b.gorae}, timeout: 5 * time.Minute})
	if err != nil {
		b.goraeErr = fmt.Errorf("build: %w", err)
		b.logf("gorae %v", b.goraeErr)
	}
}

// makeBundle writes an OCI bundle running /bin/true on the busybox rootfs,
// from `runc spec` (read-only root, no terminal).
func (b *bench) makeBundle() error {
	if why := b.need("runc"); why != "" {
		return fmt.Errorf("runc spec: %s", why)
	}
	b.bundle = filepath.Join(b.tmp, "bundle")
	if err := os.MkdirAll(b.bundle, 0o755); err != nil {
		return err
	}
	if _, err := b.run(command("runc", "spec", "--bundle", b.bundle)); err != nil {
		return fmt.Errorf("runc spec: %w", err)
	}
	path := filepath.Join(b.bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("runc spec: %w", err)
	}
	proc, _ := spec["process"].(map[string]any)
	root, _ := spec["root"].(map[string]any)
	if proc == nil || root == nil {
		return errors.New("runc spec: no process or root in config.json")
	}
	proc["args"] = []string{"/bin/true"}
	proc["terminal"] = false
	root["path"] = b.rootfs
	root["readonly"] = true
	data, err = json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// tool is a line of the versions list.
type tool struct{ name, version string }

func (b *bench) collectVersions() {
	first := func(c cmd, prefix string) string {
		c.timeout = 20 * time.Second
		r, err := b.run(c)
		out := strings.TrimSpace(string(r.stdout) + "\n" + string(r.stderr))
		if err != nil && out == "" {
			return "unknown (" + err.Error() + ")"
		}
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); l != "" && strings.HasPrefix(l, prefix) {
				return l
			}
		}
		return "unknown"
	}
	add := func(name string, bins []string, c cmd, prefix string) {
		if why := b.need(bins...); why != "" {
			b.tools = append(b.tools, tool{name, "not available: " + why})
			return
		}
		b.tools = append(b.tools, tool{name, first(c, prefix)})
	}
	b.tools = append(b.tools, tool{"go", first(command("go", "version"), "")})
	gv := "not built: " + errString(b.goraeErr)
	if b.goraeErr == nil {
		if b.goraeGiven {
			gv = b.gorae + " (-gorae)"
		} else {
			rev, err := b.output(command("git", "-C", b.repo, "rev-parse", "--short", "HEAD"))
			if err != nil || rev == "" {
				rev = "no commit yet"
			}
			gv = "bin/gorae built by the bench from the working tree (HEAD " + rev + ")"
		}
		if v, err := b.output(cmd{name: b.gorae, args: []string{"--version"}, timeout: 10 * time.Second}); err == nil && v != "" {
			gv += ": " + strings.SplitN(v, "\n", 2)[0]
		}
	}
	b.tools = append(b.tools, tool{"gorae", gv})
	add("runc", []string{"runc"}, command("runc", "--version"), "runc")
	add("crun", []string{"crun"}, command("crun", "--version"), "crun")
	add("dockerd", []string{"dockerd"}, command("dockerd", "--version"), "")
	add("containerd", []string{"containerd"}, command("containerd", "--version"), "")
	b.dockerCLI = dockerCLIPath
	if _, err := os.Stat(dockerCLIPath); err != nil {
		if p, err := exec.LookPath("docker"); err == nil {
			b.dockerCLI = p
		} else {
			b.dockerCLI = ""
			b.missing["docker"] = "no docker CLI at " + dockerCLIPath + " or on PATH"
		}
	}
	if b.dockerCLI != "" {
		b.tools = append(b.tools, tool{"docker CLI", b.dockerCLI + ": " + first(command(b.dockerCLI, "--version"), "")})
	} else {
		b.tools = append(b.tools, tool{"docker CLI", "not available: " + b.missing["docker"]})
	}
	add("podman", []string{"podman"}, command("podman", "--version"), "")
	add("conmon", []string{"conmon"}, command("conmon", "--version"), "conmon")
	add("busybox", []string{"busybox"}, command("busybox"), "BusyBox")
	add("unshare", []string{"unshare"}, command("unshare", "--version"), "")
	add("skopeo", []string{"skopeo"}, command("skopeo", "--version"), "")
	add("umoci", []string{"umoci"}, command("umoci", "--version"), "")
	add("docker-registry", []string{"docker-registry"}, command("docker-registry", "--version"), "")
	conf := podmanConfShared
	if _, err := os.Stat(conf); err != nil {
		conf = "built-in fallback (" + podmanConfShared + " absent)"
	}
	b.tools = append(b.tools, tool{"podman containers.conf", conf})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// machine describes the host for the report header.
func machine() []string {
	host, _ := os.Hostname()
	var out []string
	out = append(out, "host: "+host)
	out = append(out, fmt.Sprintf("nproc: %d", nproc()))
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				out = append(out, "cpu: "+strings.TrimSpace(v))
				break
			}
		}
		f.Close()
	}
	if mem := memTotalKiB(); mem > 0 {
		out = append(out, fmt.Sprintf("memory: %.1f GiB", float64(mem)/(1<<20)))
	}
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		out = append(out, "kernel: "+strings.TrimSpace(string(k)))
	}
	out = append(out, "cgroups: "+cgroupMode())
	return out
}

// loadavg is the 1, 5 and 15 minute load average.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func memTotalKiB() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			var kib int64
			fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kib)
			return kib
		}
	}
	return 0
}

func cgroupMode() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "v2 (unified)"
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		return "hybrid (v1 controllers + cgroup2 at /sys/fs/cgroup/unified)"
	}
	return "v1"
}
