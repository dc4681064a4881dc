// Package daemon is the engine: Docker's semantics for containers and
// images over gorae's stores, runtime and per-container monitors.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	ctrtypes "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/network"
	"github.com/gorae/gorae/internal/runtime/cgroups"
	"github.com/gorae/gorae/internal/snapshot"
	"github.com/gorae/gorae/internal/volume"
)

// RuntimeConfig names an OCI runtime binary (daemon.json "runtimes").
type RuntimeConfig struct {
	Path string   `json:"path"`
	Args []string `json:"runtimeArgs,omitempty"`
}

// Config is daemon.json plus flags.
type Config struct {
	DataRoot       string                   `json:"data-root,omitempty"`
	ExecRoot       string                   `json:"exec-root,omitempty"`
	Hosts          []string                 `json:"hosts,omitempty"`
	RegistryServe  string                   `json:"registry-serve,omitempty"` // host:port serving the image store read-only (registryserve.go)
	Debug          bool                     `json:"debug,omitempty"`
	LogDriver      string                   `json:"log-driver,omitempty"`
	LogOpts        map[string]string        `json:"log-opts,omitempty"`
	DefaultRuntime string                   `json:"default-runtime,omitempty"`
	Runtimes       map[string]RuntimeConfig `json:"runtimes,omitempty"`
	LiveRestore    bool                     `json:"live-restore,omitempty"`
	// SeccompProfile: "builtin" (default), "unconfined", or the path of a
	// profile in Docker's JSON format, read once at start.
	SeccompProfile string `json:"seccomp-profile,omitempty"`
	// DefaultUlimits apply to every container that does not set the same
	// limit itself (daemon.json "default-ulimits", Docker's shape).
	DefaultUlimits map[string]*ctrtypes.Ulimit `json:"default-ulimits,omitempty"`
	NetworkConfig
	// Registries (internal/registry): plain-HTTP registries allowed
	// (host[:port] or CIDR; loopback always is) and Docker Hub mirrors.
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	RegistryMirrors    []string `json:"registry-mirrors,omitempty"`
	// Self is the gorae binary, run as `gorae shim` and `gorae runtime`.
	Self string `json:"-"`
	// Front is the small binary that ships as bin/gorae and carries the
	// engine (cmd/gorae-front): it runs `gorae runtime` and docker-init
	// without the engine's start-up cost. Self when there is none.
	Front string `json:"-"`
	// Shim is the per-container monitor program (cmd/gorae-shim, named by
	// the front as GORAE_SHIM); Self when there is none.
	Shim string `json:"-"`
}

// Defaults fills what Config leaves empty.
func (c *Config) Defaults() {
	if c.DataRoot == "" {
		c.DataRoot = "/var/lib/gorae"
	}
	if c.ExecRoot == "" {
		c.ExecRoot = "/run/gorae"
	}
	if c.LogDriver == "" {
		c.LogDriver = "json-file"
	}
	if c.DefaultRuntime == "" {
		c.DefaultRuntime = "gorae"
	}
	if c.Self == "" {
		c.Self, _ = os.Executable()
	}
	if c.Front == "" {
		// The front tells the engine it execs where it is.
		if f := os.Getenv("GORAE_FRONT"); f != "" {
			if _, err := os.Stat(f); err == nil {
				c.Front = f
			}
		}
	}
	if c.Front == "" {
		c.Front = c.Self
	}
	if c.Shim == "" {
		if f := os.Getenv("GORAE_SHIM"); f != "" {
			if _, err := os.Stat(f); err == nil {
				c.Shim = f
			}
		}
	}
	if c.Shim == "" {
		c.Shim = c.Self
	}
}

// LoadConfigFile reads a daemon.json; a missing file is no error.
func LoadConfigFile(path string, c any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read daemon config %s: %w", path, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("parse daemon config %s: %w", path, err)
	}
	return nil
}

// Daemon is the running engine.
type Daemon struct {
	cfg        Config
	lock       *os.File
	content    *content.Local
	images     *image.Store
	snapshots  *snapshot.Overlay
	containers *container.Store
	volumes    *volume.Store
	events     *eventLog
	cgroupV2   bool
	// seccompProfile is daemon.json's seccomp-profile, read (specInput).
	seccompProfile string
	net            *network.Manager

	mu sync.Mutex
	// attachWaiters are attaches made before start; start connects them
	// to the container's monitor before the process runs, so no output
	// is lost.
	attachWaiters map[string][]*pendingAttach
	// watching marks containers whose exit a goroutine waits on.
	watching map[string]bool
	execs    execTable
	dist     distribution // the registry client, made on first use
}

// New opens (or creates) the daemon's state and adopts containers that
// kept running while no daemon was there.
func New(ctx context.Context, cfg Config) (_ *Daemon, retErr error) {
	cfg.Defaults()
	for _, dir := range []string{cfg.DataRoot, cfg.ExecRoot} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	lock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			lock.Close()
		}
	}()
	d := &Daemon{
		cfg:           cfg,
		lock:          lock,
		events:        newEventLog(),
		cgroupV2:      cgroups.IsCgroup2UnifiedMode(),
		attachWaiters: map[string][]*pendingAttach{},
		watching:      map[string]bool{},
		execs:         execTable{m: map[string]*execInstance{}},
	}
	if d.content, err = content.NewLocal(filepath.Join(cfg.DataRoot, "content")); err != nil {
		return nil, err
	}
	if d.images, err = image.NewStore(ctx, filepath.Join(cfg.DataRoot, "image"), d.content); err != nil {
		return nil, err
	}
	if d.snapshots, err = snapshot.Open(filepath.Join(cfg.DataRoot, "snapshots")); err != nil {
		return nil, err
	}
	if d.containers, err = container.Open(filepath.Join(cfg.DataRoot, "containers")); err != nil {
		return nil, err
	}
	if d.seccompProfile, err = loadSeccompProfile(cfg.SeccompProfile); err != nil {
		return nil, err
	}
	if err := d.openNetwork(); err != nil {
		return nil, err
	}
	if d.volumes, err = volume.Open(filepath.Join(cfg.DataRoot, "volumes")); err != nil {
		return nil, err
	}
	d.restoreVolumeUsers()
	d.restore(ctx)
	d.restoreNetwork()
	return d, nil
}

// lockDataRoot makes sure one daemon owns a data root: a second one
// would corrupt the stores.
func lockDataRoot(root string) (*os.File, error) {
	p := filepath.Join(root, "gorae.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(p)
		f.Close()
		return nil, fmt.Errorf("data root %s is in use by another gorae daemon (pid %s): stop it, or use --data-root", root, strings.TrimSpace(string(b)))
	}
	f.Truncate(0)
	f.WriteString(strconv.Itoa(os.Getpid()))
	return f, nil
}

// Close releases the daemon's state. Containers keep running: their
// monitors do not depend on us.
func (d *Daemon) Close() error {
	if d.snapshots != nil {
		d.snapshots.Close()
	}
	if d.net != nil {
		d.net.Close()
	}
	return d.lock.Close()
}

// containerDir is where a container's monitor, bundle and rootfs live:
// on the exec root (tmpfs), short enough for unix socket paths.
func (d *Daemon) containerDir(id string) string {
	return filepath.Join(d.cfg.ExecRoot, "c", id)
}

func (d *Daemon) runtimeRoot() string { return filepath.Join(d.cfg.ExecRoot, "runtime") }

// shimBinary is the program run as a container's monitor: the small shim
// the front extracted, or the engine itself (which has `shim` too) when
// that file is gone (the front prunes builds no process runs).
func (d *Daemon) shimBinary() string {
	if _, err := os.Stat(d.cfg.Shim); err != nil {
		return d.cfg.Self
	}
	return d.cfg.Shim
}

// runtimeArgv is the argv prefix of the container's OCI runtime.
func (d *Daemon) runtimeArgv(name string) ([]string, error) {
	if name == "" {
		name = d.cfg.DefaultRuntime
	}
	if rc, ok := d.cfg.Runtimes[name]; ok {
		return append([]string{rc.Path}, rc.Args...), nil
	}
	switch name {
	case "gorae":
		return []string{d.cfg.Front, "runtime"}, nil
	case "runc", "crun":
		return []string{name}, nil
	}
	return nil, fmt.Errorf("unknown runtime %q (configure it under \"runtimes\" in daemon.json)", name)
}
