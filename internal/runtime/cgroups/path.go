package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// parseProcCgroup parses /proc/<pid>/cgroup ("ID:controllers:path" lines)
// into controller → path; the cgroup v2 entry ("0::/path") is under "".
func parseProcCgroup(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("cgroups: malformed /proc/self/cgroup line %q", line)
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func readProcCgroup(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	return parseProcCgroup(f)
}

// cgroupsPath is linux.cgroupsPath after parsing.
type cgroupsPath struct {
	path     string // cleaned; absolute, or relative when Relative
	relative bool
}

// parseCgroupsPath accepts an absolute path (from the hierarchy root), a
// relative one (from the caller's own cgroup), and the systemd driver's
// "slice:prefix:name", which maps to the directory systemd would use, since
// we manage the cgroupfs directly rather than asking systemd.
func parseCgroupsPath(p string) (cgroupsPath, error) {
	if p == "" {
		return cgroupsPath{}, fmt.Errorf("cgroups: empty cgroupsPath")
	}
	if sp, ok, err := systemdPath(p); ok || err != nil {
		return cgroupsPath{path: sp}, err
	}
	if filepath.IsAbs(p) {
		return cgroupsPath{path: filepath.Clean(p)}, nil
	}
	// Clean as if rooted so ".." cannot climb above the caller's cgroup.
	rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
	return cgroupsPath{path: rel, relative: true}, nil
}

// systemdPath recognises "slice:prefix:name". The slice part must be empty,
// "-" (root slice) or end in ".slice", so a cgroupfs path that happens to
// contain two colons is not mistaken for it.
func systemdPath(p string) (string, bool, error) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 || strings.Contains(p, "/") {
		return "", false, nil
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice != "" && slice != "-" && !strings.HasSuffix(slice, ".slice") {
		return "", false, nil
	}
	if name == "" {
		return "", true, fmt.Errorf("cgroups: systemd cgroupsPath %q: empty name", p)
	}
	if strings.HasSuffix(name, ".slice") {
		// A slice is placed by its own name; prefix and parent do not apply.
		dir, err := expandSlice(name)
		if err != nil {
			return "", true, err
		}
		return dir, true, nil
	}
	if slice == "" {
		slice = "system.slice"
	}
	parent, err := expandSlice(slice)
	if err != nil {
		return "", true, err
	}
	unit := name + ".scope"
	if prefix != "" {
		unit = prefix + "-" + unit
	}
	return filepath.Join(parent, unit), true, nil
}

// expandSlice turns a systemd slice name into its cgroup directory, as
// systemd nests them: "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice";
// "-.slice" (and "-") is the root.
func expandSlice(slice string) (string, error) {
	if slice == "-" || slice == "-.slice" {
		return "/", nil
	}
	name, ok := strings.CutSuffix(slice, ".slice")
	if !ok || name == "" || strings.Contains(name, "/") ||
		strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return "", fmt.Errorf("cgroups: invalid systemd slice name %q", slice)
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '-' {
			b.WriteString("/" + name[:i] + ".slice")
		}
	}
	b.WriteString("/" + slice)
	return b.String(), nil
}

// hierarchyDir places inner in one hierarchy mounted at m. For a relative
// path, own is the caller's cgroup in that hierarchy as /proc/self/cgroup
// shows it; the mount's root is cut from it because a bind-mounted
// hierarchy shows only a subtree.
func hierarchyDir(m mount, cp cgroupsPath, own string) string {
	inner := cp.path
	if cp.relative {
		if m.Root != "/" && m.Root != "" {
			if rest, ok := strings.CutPrefix(own, m.Root); ok && (rest == "" || rest[0] == '/') {
				own = rest
			}
		}
		inner = filepath.Join("/", own, cp.path)
	}
	return filepath.Join(m.Mountpoint, inner)
}
