package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Mode is how cgroups are mounted on the host.
type Mode int

const (
	ModeUnknown Mode = iota
	// ModeV1 is the legacy layout: one cgroup v1 hierarchy per controller.
	ModeV1
	// ModeHybrid has the v1 controller hierarchies plus a cgroup2 mount
	// without controllers (usually /sys/fs/cgroup/unified) that systemd uses
	// for process tracking. Resources are managed through v1.
	ModeHybrid
	// ModeV2 is the unified hierarchy: one cgroup2 mount with all controllers.
	ModeV2
)

func (m Mode) String() string {
	switch m {
	case ModeV1:
		return "v1"
	case ModeHybrid:
		return "hybrid"
	case ModeV2:
		return "v2"
	}
	return "unknown"
}

// DefaultRoot is where cgroup filesystems are mounted.
const DefaultRoot = "/sys/fs/cgroup"

// mount is one cgroup mount: where it is, and which directory of the
// hierarchy it shows (not "/" inside containers with bind-mounted cgroups).
type mount struct {
	Mountpoint string
	Root       string
}

// mounts is what /proc/self/mountinfo says about cgroups.
type mounts struct {
	Mode    Mode
	Unified *mount           // the cgroup2 mount, if any
	V1      map[string]mount // v1 controller (or "name=systemd") → mount
}

// v1Controllers are the v1 subsystems the manager joins; anything else
// mounted (other named hierarchies, debug) is left alone.
var v1Controllers = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true,
	"devices": true, "freezer": true, "blkio": true, "pids": true,
	"net_cls": true, "net_prio": true, "hugetlb": true, "perf_event": true,
	"rdma": true, "misc": true, "name=systemd": true,
}

// parseMountinfo reads the cgroup mounts from mountinfo(5) text. When a
// hierarchy is mounted more than once, a mount under /sys/fs/cgroup wins,
// else the first one seen.
func parseMountinfo(r io.Reader) (*mounts, error) {
	ms := &mounts{V1: map[string]mount{}}
	sc := bufio.NewScanner(r)
	// Lines are short; the scanner grows for a long one. A larger first
	// buffer is fresh memory, page faults, in every create.
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	realV1 := false
	for sc.Scan() {
		// Cheap filter first, before any copy: hosts with many container
		// mounts have long mountinfo files and only a dozen cgroup lines.
		if !bytes.Contains(sc.Bytes(), []byte(" - cgroup")) {
			continue
		}
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(pre)
		sf := strings.Fields(post)
		if len(pf) < 5 || len(sf) < 1 {
			return nil, fmt.Errorf("cgroups: malformed mountinfo line %q", line)
		}
		m := mount{Mountpoint: unescapeMountinfo(pf[4]), Root: unescapeMountinfo(pf[3])}
		switch sf[0] {
		case "cgroup2":
			if ms.Unified == nil || preferMount(m, *ms.Unified) {
				ms.Unified = &m
			}
		case "cgroup":
			if len(sf) < 3 {
				continue
			}
			for _, opt := range strings.Split(sf[2], ",") {
				if !v1Controllers[opt] {
					continue
				}
				if opt != "name=systemd" {
					realV1 = true
				}
				if old, ok := ms.V1[opt]; !ok || preferMount(m, old) {
					ms.V1[opt] = m
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroups: read mountinfo: %w", err)
	}
	switch {
	case realV1 && ms.Unified != nil:
		ms.Mode = ModeHybrid
	case realV1:
		ms.Mode = ModeV1
	case ms.Unified != nil:
		// A lone name=systemd v1 mount next to cgroup2 is a compatibility
		// shim; the host is unified.
		ms.Mode = ModeV2
	default:
		return nil, fmt.Errorf("cgroups: no cgroup filesystem mounted")
	}
	return ms, nil
}

func preferMount(m, old mount) bool {
	under := func(p string) bool { return p == DefaultRoot || strings.HasPrefix(p, DefaultRoot+"/") }
	return under(m.Mountpoint) && !under(old.Mountpoint)
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}

// hostMounts parses /proc/self/mountinfo once per process: cgroup mounts do
// not change under a running runtime, and the file can be large.
var hostMounts = sync.OnceValues(func() (*mounts, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	return parseMountinfo(f)
})

var unifiedMode = sync.OnceValue(func() bool {
	var st unix.Statfs_t
	if err := unix.Statfs(DefaultRoot, &st); err != nil {
		return false
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
})

// IsCgroup2UnifiedMode reports whether /sys/fs/cgroup is a cgroup2 mount.
// It is one statfs(2), so the common v2 case never reads mountinfo.
func IsCgroup2UnifiedMode() bool { return unifiedMode() }

// DetectMode returns the host's cgroup mode.
func DetectMode() (Mode, error) {
	if IsCgroup2UnifiedMode() {
		return ModeV2, nil
	}
	ms, err := hostMounts()
	if err != nil {
		return ModeUnknown, err
	}
	return ms.Mode, nil
}
