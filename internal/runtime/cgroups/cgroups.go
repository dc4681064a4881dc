// Package cgroups creates, configures and removes the cgroups of a
// container, on cgroup v1 (including hybrid hosts) and cgroup v2, by writing
// the cgroup filesystem directly. It is built for start latency: it reads
// only the files it needs and never walks more than the container's subtree.
package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Manager is the cgroup(s) of one container. A Manager is not safe for
// concurrent use; separate processes each Load their own.
type Manager interface {
	// Apply creates the cgroup(s) if needed and moves pid in; pid <= 0
	// only creates them.
	Apply(pid int) error
	// Set writes the limits present in r; absent (nil) fields are left as
	// they are, so Set serves `update` too. It creates the cgroup(s) if
	// Apply has not.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process and returns once the kernel reports the
	// cgroup frozen.
	Freeze() error
	// Thaw resumes the processes and returns once they are thawed.
	Thaw() error
	// State is the freezer state; THAWED when there is no freezer.
	State() (FreezerState, error)
	// Pids lists the processes in the cgroup and its descendants.
	Pids() ([]int, error)
	// Kill sends sig to every process in the cgroup.
	Kill(sig unix.Signal) error
	// Stats reads usage counters for `docker stats`.
	Stats() (*Stats, error)
	// Destroy removes the cgroup directories (and any sub-cgroups the
	// container made); it succeeds if they are already gone. Parents are
	// left: other containers share them.
	Destroy() error
	// Path is the directory of a v1 controller ("" if not mounted); on v2
	// it is the container's directory whatever the argument.
	Path(controller string) string
	// Paths maps controller → directory on v1 and "" → directory on v2.
	// Give it to Load to get the manager back in another process.
	Paths() map[string]string
}

// FreezerState is the freezer state as cgroup v1 names it.
type FreezerState string

const (
	Thawed FreezerState = "THAWED"
	Frozen FreezerState = "FROZEN"
	// Freezing is a freeze still in progress (some tasks not yet stopped).
	Freezing FreezerState = "FREEZING"
)

type options struct {
	root           string
	mode           Mode
	procSelfCgroup string
}

// Option adjusts New and Load.
type Option func(*options)

// WithRoot sets the cgroup mount directory instead of detecting it: the
// cgroup2 mount for v2, the directory holding one directory per hierarchy
// for v1 (named after the mount options: "memory", "cpu,cpuacct",
// "systemd" for name=systemd). Tests point it at a fake cgroupfs.
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithMode forces the cgroup mode instead of detecting it. ModeV1 and
// ModeHybrid both manage resources through v1.
func WithMode(m Mode) Option { return func(o *options) { o.mode = m } }

// WithProcSelfCgroup reads the caller's own cgroups (used for relative
// cgroupsPath) from path instead of /proc/self/cgroup.
func WithProcSelfCgroup(path string) Option { return func(o *options) { o.procSelfCgroup = path } }

func buildOptions(opts []Option) (*options, error) {
	o := &options{procSelfCgroup: "/proc/self/cgroup"}
	for _, fn := range opts {
		fn(o)
	}
	if o.mode == ModeUnknown {
		if o.root != "" {
			// A given root is probed rather than the host's mounts.
			var st unix.Statfs_t
			if err := unix.Statfs(o.root, &st); err != nil {
				return nil, fmt.Errorf("cgroups: statfs %s: %w", o.root, err)
			}
			if st.Type == unix.CGROUP2_SUPER_MAGIC {
				o.mode = ModeV2
			} else {
				o.mode = ModeV1
			}
		} else {
			m, err := DetectMode()
			if err != nil {
				return nil, err
			}
			o.mode = m
		}
	}
	return o, nil
}

// New returns the manager for linux.cgroupsPath p. Nothing is created until
// Apply or Set.
func New(p string, opts ...Option) (Manager, error) {
	cp, err := parseCgroupsPath(p)
	if err != nil {
		return nil, err
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	var own map[string]string
	if cp.relative {
		if own, err = readProcCgroup(o.procSelfCgroup); err != nil {
			return nil, err
		}
	}
	if o.mode == ModeV2 {
		m, err := v2Mount(o)
		if err != nil {
			return nil, err
		}
		if cp.relative {
			if _, ok := own[""]; !ok {
				return nil, fmt.Errorf("cgroups: no cgroup v2 entry in %s", o.procSelfCgroup)
			}
		}
		return &v2Manager{root: m.Mountpoint, dir: hierarchyDir(m, cp, own[""])}, nil
	}
	ms, err := v1Mounts(o)
	if err != nil {
		return nil, err
	}
	paths := make(map[string]string, len(ms))
	for c, m := range ms {
		ownPath := ""
		if cp.relative {
			var ok bool
			if ownPath, ok = own[c]; !ok {
				// A hierarchy the caller is not listed in: treat as root.
				ownPath = "/"
			}
		}
		paths[c] = hierarchyDir(m, cp, ownPath)
	}
	return newV1(paths, ms), nil
}

// Load rebuilds a manager from Paths of an earlier one. The directories are
// taken as existing: nothing is created or re-checked.
func Load(paths map[string]string, opts ...Option) (Manager, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("cgroups: load: no paths")
	}
	o := &options{}
	for _, fn := range opts {
		fn(o)
	}
	if dir, ok := paths[""]; ok {
		if len(paths) != 1 {
			return nil, fmt.Errorf("cgroups: load: paths mix v2 (\"\") and v1 controllers")
		}
		return &v2Manager{root: o.root, dir: dir, ensured: true}, nil
	}
	cp := make(map[string]string, len(paths))
	for c, d := range paths {
		cp[c] = d
	}
	m := newV1(cp, nil)
	m.ensured = true
	return m, nil
}

// v2Mount is the cgroup2 mount: the given root, or the detected one.
func v2Mount(o *options) (mount, error) {
	if o.root != "" {
		return mount{Mountpoint: o.root, Root: "/"}, nil
	}
	if IsCgroup2UnifiedMode() {
		// Skip mountinfo; only a relative path needs the mount's root, and
		// with cgroup namespaces (the norm on v2) that is "/".
		return mount{Mountpoint: DefaultRoot, Root: "/"}, nil
	}
	ms, err := hostMounts()
	if err != nil {
		return mount{}, err
	}
	if ms.Unified == nil {
		return mount{}, fmt.Errorf("cgroups: no cgroup2 filesystem mounted")
	}
	return *ms.Unified, nil
}

// v1Mounts lists the v1 hierarchies: from mountinfo, or from the
// directories of a given root.
func v1Mounts(o *options) (map[string]mount, error) {
	if o.root == "" {
		ms, err := hostMounts()
		if err != nil {
			return nil, err
		}
		if len(ms.V1) == 0 {
			return nil, fmt.Errorf("cgroups: no cgroup v1 hierarchy mounted")
		}
		return ms.V1, nil
	}
	ents, err := os.ReadDir(o.root)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	out := map[string]mount{}
	for _, e := range ents {
		// Symlinks such as cpu -> cpu,cpuacct only alias a real mount.
		if !e.IsDir() {
			continue
		}
		for _, c := range strings.Split(e.Name(), ",") {
			if c == "systemd" {
				c = "name=systemd"
			}
			if v1Controllers[c] {
				out[c] = mount{Mountpoint: filepath.Join(o.root, e.Name()), Root: "/"}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cgroups: no cgroup v1 hierarchy under %s", o.root)
	}
	return out, nil
}

// freezeTimeout bounds the wait for a freeze or thaw to complete.
var freezeTimeout = 10 * time.Second

// poll calls check with growing pauses (from 50µs: a freeze usually
// completes within a few hundred microseconds) until it reports done, fails,
// or the timeout passes.
func poll(timeout time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	delay := 50 * time.Microsecond
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		time.Sleep(delay)
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

var errTimeout = fmt.Errorf("timed out")

// signalAll sends sig to each process of m, with the cgroup frozen so that
// processes forked meanwhile cannot escape the loop. A cgroup that was
// frozen before stays frozen (the signal waits for the resume), except for
// SIGKILL: v1-frozen tasks cannot die, and a killed container should.
func signalAll(m Manager, sig unix.Signal) error {
	st, _ := m.State()
	thaw := false
	if st != Frozen {
		// Without a freezer the loop still signals what it finds.
		thaw = m.Freeze() == nil
	} else {
		thaw = sig == unix.SIGKILL
	}
	pids, err := m.Pids()
	if err == nil {
		for _, pid := range pids {
			if kerr := unix.Kill(pid, sig); kerr != nil && kerr != unix.ESRCH && err == nil {
				err = fmt.Errorf("cgroups: kill %d: %w", pid, kerr)
			}
		}
	}
	if thaw {
		if terr := m.Thaw(); terr != nil && err == nil {
			err = terr
		}
	}
	return err
}

// removeDir removes a cgroup directory and its sub-cgroups, deepest first.
// rmdir fails with EBUSY while exiting tasks are still attached, so it is
// retried briefly.
func removeDir(dir string) error {
	var err error
	delay := time.Millisecond
	for i := 0; i < 10; i++ {
		err = unix.Rmdir(dir)
		switch err {
		case nil, unix.ENOENT:
			return nil
		case unix.EBUSY, unix.ENOTEMPTY, unix.EEXIST:
			ents, rerr := os.ReadDir(dir)
			if rerr != nil {
				if os.IsNotExist(rerr) {
					return nil
				}
				return fmt.Errorf("cgroups: remove %s: %w", dir, rerr)
			}
			sub := false
			for _, e := range ents {
				if e.IsDir() {
					sub = true
					if serr := removeDir(filepath.Join(dir, e.Name())); serr != nil {
						return serr
					}
				}
			}
			if sub {
				continue // retry at once: the children were the obstacle
			}
			time.Sleep(delay)
			delay *= 2
		default:
			return fmt.Errorf("cgroups: rmdir %s: %w", dir, err)
		}
	}
	return fmt.Errorf("cgroups: rmdir %s: %w", dir, err)
}
