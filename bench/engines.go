package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// An engine is a container engine driven through its command line: gorae's
// daemon and dockerd through the docker CLI on their own sockets, podman
// through its own CLI. Everything it owns lives under dir.
type engine struct {
	name string // "gorae", "docker", "podman"
	dir  string
	pid  int // the daemon's pid; 0 for daemonless podman
	log  string

	cliName  string
	cliArgs  []string // before the subcommand
	env      []string
	runExtra []string // after `run`, before the image
	rmForce  []string // remove without a stop timeout

	daemon   *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once
}

// cmd is the engine's CLI with args, e.g. e.cmd("run", "--rm", "busybox", "true").
func (e *engine) cmd(args ...string) cmd {
	return cmd{name: e.cliName, args: append(append([]string{}, e.cliArgs...), args...), env: e.env}
}

// rss is the engine's resident memory in MiB and the number of processes.
func (e *engine) rss() (float64, int) { return rssMiB(e.pid, e.dir) }

func (e *engine) pss() float64 { return pssMiB(e.pid, e.dir) }

// engineSlot caches an engine's start: the engine, or the value every figure
// that needs it reports instead.
type engineSlot struct {
	e   *engine
	why value
}

// engine starts the named engine on first use and returns it, or the value
// ("not measured: ...", "failed: ...") the figures needing it report.
func (b *bench) engine(name string) (*engine, value) {
	if s, ok := b.engines[name]; ok {
		return s.e, s.why
	}
	var e *engine
	var why value
	switch name {
	case "docker":
		e, why = b.startDocker(false)
	case "docker-bridge":
		e, why = b.startDocker(true)
	case "podman":
		e, why = b.startPodman()
	case "gorae":
		e, why = b.startGoraeDaemon()
	default:
		panic("unknown engine " + name)
	}
	if e != nil {
		imp := e.cmd("import", "-", "busybox:latest")
		imp.stdin = b.imageTar
		if _, err := b.run(imp); err != nil {
			why = failed(fmt.Errorf("import busybox: %w", err))
			if name != "gorae" {
				why = notMeasured(name + " import busybox: " + err.Error())
			}
			b.stopEngine(e)
			e = nil
		}
	}
	if e == nil {
		b.logf("%s: %s", name, why.status)
	} else {
		b.logf("%s: up (pid %d)", name, e.pid)
	}
	b.engines[name] = &engineSlot{e, why}
	return e, why
}

// stopEngines stops every engine started, in the order they were started.
func (b *bench) stopEngines() {
	for _, name := range []string{"gorae", "docker", "docker-bridge", "podman"} {
		if s, ok := b.engines[name]; ok && s.e != nil {
			b.stopEngine(s.e)
		}
	}
}

// netnsPath creates (once) the network namespace the engines run in, so that
// nothing they do to links, bridges or firewall rules reaches the host's.
func (b *bench) netnsPath() (string, error) {
	b.netnsOnce.Do(func() {
		name := b.id
		if _, err := b.run(command("ip", "netns", "add", name)); err != nil {
			b.netnsErr = fmt.Errorf("ip netns add %s: %w", name, err)
			return
		}
		b.atCleanup("delete netns "+name, func() error {
			_, err := b.runDetached(command("ip", "netns", "delete", name))
			return err
		})
		if _, err := b.run(command("ip", "-n", name, "link", "set", "lo", "up")); err != nil {
			b.netnsErr = fmt.Errorf("ip -n %s link set lo up: %w", name, err)
			return
		}
		b.netns = "/run/netns/" + name
	})
	return b.netns, b.netnsErr
}

// runDetached runs a cleanup command even when the run was cancelled.
func (b *bench) runDetached(c cmd) (result, error) {
	c.detached = true
	if c.timeout == 0 {
		c.timeout = time.Minute
	}
	return b.run(c)
}

// startDocker starts dockerd; with bridge, a second one with its default
// bridge and iptables (inside the bench namespace) for the bridge figure,
// so the other figures keep measuring a dockerd without networking.
func (b *bench) startDocker(bridge bool) (*engine, value) {
	if why := b.need("dockerd", "containerd", "containerd-shim-runc-v2", "runc"); why != "" {
		return nil, notMeasured(why)
	}
	if b.dockerCLI == "" {
		return nil, notMeasured(b.missing["docker"])
	}
	name := "docker"
	if bridge {
		name = "docker-bridge"
	}
	dir := filepath.Join(b.tmp, name)
	sock := filepath.Join(dir, "docker.sock")
	if err := os.MkdirAll(filepath.Join(dir, "cli"), 0o700); err != nil {
		return nil, notMeasured(err.Error())
	}
	conf := filepath.Join(dir, "daemon.json")
	// dockerd 20.10 writes a libtrust key to /etc/docker/key.json unless told.
	daemonJSON := fmt.Sprintf("{\"deprecated-key-path\": %q}\n", filepath.Join(dir, "key.json"))
	if err := os.WriteFile(conf, []byte(daemonJSON), 0o644); err != nil {
		return nil, notMeasured(err.Error())
	}
	argv := []string{"dockerd",
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--config-file", conf,
		"-H", "unix://" + sock,
		"--userland-proxy=false",
		"--exec-opt", "native.cgroupdriver=cgroupfs",
		"--cgroup-parent", "/" + b.id + "-" + name,
		"--log-level", "warn",
	}
	if !bridge {
		argv = append(argv, "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false")
	}
	e := &engine{name: name, dir: dir, cliName: b.dockerCLI, rmForce: []string{"rm", "-f"},
		env: []string{"DOCKER_HOST=unix://" + sock, "DOCKER_CONFIG=" + filepath.Join(dir, "cli")}}
	if err := b.startDaemon(e, argv, sock); err != nil {
		return nil, notMeasured("dockerd: " + err.Error())
	}
	return e, value{}
}

func (b *bench) startGoraeDaemon() (*engine, value) {
	if b.goraeErr != nil {
		return nil, failed(b.goraeErr)
	}
	if _, err := b.run(cmd{name: b.gorae, args: []string{"daemon", "--help"}, timeout: 20 * time.Second}); err != nil {
		return nil, notMeasured("gorae daemon not built yet")
	}
	if b.dockerCLI == "" {
		return nil, notMeasured(b.missing["docker"])
	}
	dir := filepath.Join(b.tmp, "gorae")
	sock := filepath.Join(dir, "gorae.sock")
	if err := os.MkdirAll(filepath.Join(dir, "cli"), 0o700); err != nil {
		return nil, failed(err)
	}
	argv := []string{b.gorae, "daemon",
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"-H", "unix://" + sock,
	}
	e := &engine{name: "gorae", dir: dir, cliName: b.dockerCLI, rmForce: []string{"rm", "-f"},
		env: []string{"DOCKER_HOST=unix://" + sock, "DOCKER_CONFIG=" + filepath.Join(dir, "cli")}}
	if err := b.startDaemon(e, argv, sock); err != nil {
		return nil, failed(fmt.Errorf("gorae daemon: %w", err))
	}
	return e, value{}
}

// startPodman prepares podman (it has no daemon): its own root, runroot,
// tmpdir, storage and registries configuration under the temp dir, the
// machine's containers.conf, run inside the bench network namespace.
func (b *bench) startPodman() (*engine, value) {
	if why := b.need("podman", "conmon", "runc"); why != "" {
		return nil, notMeasured(why)
	}
	ns, err := b.netnsPath()
	if err != nil {
		return nil, notMeasured(err.Error())
	}
	dir := filepath.Join(b.tmp, "podman")
	for _, d := range []string{"root", "run", "tmp", "net", "volumes"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, notMeasured(err.Error())
		}
	}
	conf := podmanConfShared
	if _, err := os.Stat(conf); err != nil {
		conf = filepath.Join(dir, "containers.conf")
		if err := os.WriteFile(conf, []byte(podmanConfFallback), 0o644); err != nil {
			return nil, notMeasured(err.Error())
		}
	}
	storage := filepath.Join(dir, "storage.conf")
	registries := filepath.Join(dir, "registries.conf")
	files := map[string]string{
		storage: fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
			filepath.Join(dir, "root"), filepath.Join(dir, "run")),
		registries: "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n",
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return nil, notMeasured(err.Error())
		}
	}
	e := &engine{name: "podman", dir: dir, cliName: "nsenter",
		cliArgs: []string{"--net=" + ns, "podman",
			"--root", filepath.Join(dir, "root"),
			"--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"),
			"--network-config-dir", filepath.Join(dir, "net"),
			"--volumepath", filepath.Join(dir, "volumes"),
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "file",
			// rootful podman keeps runc's state in /run/runc unless told
			"--runtime-flag", "root=" + filepath.Join(dir, "runc"),
		},
		// conmon goes to <cgroup-parent>/conmon, not /libpod_parent.
		runExtra: []string{"--cgroup-parent", "/" + b.id + "-podman"},
		rmForce:  []string{"rm", "--force", "--time", "0"},
		env:      []string{"CONTAINERS_CONF=" + conf, "CONTAINERS_STORAGE_CONF=" + storage, "CONTAINERS_REGISTRIES_CONF=" + registries},
	}
	b.atCleanup("stop podman", func() error { b.stopEngine(e); return nil })
	if _, err := b.run(e.cmd("info")); err != nil {
		return nil, notMeasured("podman info: " + err.Error())
	}
	return e, value{}
}

// startDaemon starts a daemon (dockerd, gorae daemon) inside the bench network
// namespace with nsenter (not `ip netns exec`, which remounts /sys and hides
// the cgroups), in its own process group so a terminal's ^C reaches only
// the bench, and waits until its socket answers /_ping.
func (b *bench) startDaemon(e *engine, argv []string, sock string) error {
	ns, err := b.netnsPath()
	if err != nil {
		return err
	}
	e.log = filepath.Join(e.dir, "daemon.log")
	logf, err := os.Create(e.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	x := exec.Command("nsenter", append([]string{"--net=" + ns}, argv...)...)
	x.Stdout, x.Stderr = logf, logf
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := x.Start(); err != nil {
		return err
	}
	e.daemon, e.pid, e.exited = x, x.Process.Pid, make(chan struct{})
	go func() { x.Wait(); close(e.exited) }()
	b.atCleanup("stop "+e.name, func() error { b.stopEngine(e); return nil })

	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-e.exited:
			return fmt.Errorf("exited at start: %s", lastLines(e.log, 2))
		case <-b.ctx.Done():
			return errors.New("interrupted")
		default:
		}
		if ping(sock) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s after 90s: %s", sock, lastLines(e.log, 2))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ping(sock string) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://engine/_ping")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("_ping: %s", resp.Status)
	}
	return nil
}

// stopEngine removes the engine's containers, stops its daemon (SIGTERM, then
// SIGKILL after 30s), kills what is left of it and unmounts its directory.
func (b *bench) stopEngine(e *engine) {
	e.stopOnce.Do(func() {
		b.logf("%s: stopping", e.name)
		alive := e.daemon == nil
		if e.exited != nil {
			select {
			case <-e.exited:
			default:
				alive = true
			}
		}
		if alive {
			if e.name == "podman" {
				if _, err := b.runDetached(e.cmd(e.rmArgs("--all")...)); err != nil {
					b.logf("podman rm --all: %v", err)
				}
			} else if out, err := b.runDetached(e.cmd("ps", "-aq")); err == nil {
				if ids := strings.Fields(string(out.stdout)); len(ids) > 0 {
					c := e.cmd(e.rmArgs(ids...)...)
					c.timeout = 3 * time.Minute
					if _, err := b.runDetached(c); err != nil {
						b.logf("%s rm -f: %v", e.name, err)
					}
				}
			}
		}
		if e.daemon != nil {
			e.daemon.Process.Signal(syscall.SIGTERM)
			select {
			case <-e.exited:
			case <-time.After(30 * time.Second):
				b.logf("%s: no exit 30s after SIGTERM; SIGKILL", e.name)
				e.daemon.Process.Kill()
				<-e.exited
			}
		}
		killUnder(e.dir)
		if err := unmountUnder(e.dir); err != nil {
			b.logf("%s: %v", e.name, err)
		}
	})
}
