package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorae/gorae/internal/runtime/initproc"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadSpec reads and validates BUNDLE/config.json. The error names the file
// and the field that is wrong, so a user can fix it without reading code.
func LoadSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s has no config.json (write one with `gorae runtime spec`)", bundle)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var ls linuxSpec
	if err := json.NewDecoder(f).Decode(&ls); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	s := ls.spec()
	if err := ValidateSpec(s, bundle); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// linuxSpec is specs.Spec without the other platforms' sections, which a
// Linux runtime ignores. encoding/json builds its tables for every type a
// decode can reach, eagerly: sparing it the ~40 Windows, Solaris, VM, z/OS
// and FreeBSD types saves ~100 KB of allocation and ~30 page faults in
// every create. TestLinuxSpecMirrorsSpec keeps the fields in step.
type linuxSpec struct {
	Version     string            `json:"ociVersion"`
	Process     *specs.Process    `json:"process,omitempty"`
	Root        *specs.Root       `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Mounts      []specs.Mount     `json:"mounts,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       *specs.Linux      `json:"linux,omitempty"`
}

func linuxSpecOf(s *specs.Spec) *linuxSpec {
	if s == nil {
		return nil
	}
	return &linuxSpec{Version: s.Version, Process: s.Process, Root: s.Root, Hostname: s.Hostname,
		Domainname: s.Domainname, Mounts: s.Mounts, Hooks: s.Hooks, Annotations: s.Annotations, Linux: s.Linux}
}

func (l *linuxSpec) spec() *specs.Spec {
	if l == nil {
		return nil
	}
	return &specs.Spec{Version: l.Version, Process: l.Process, Root: l.Root, Hostname: l.Hostname,
		Domainname: l.Domainname, Mounts: l.Mounts, Hooks: l.Hooks, Annotations: l.Annotations, Linux: l.Linux}
}

// ValidateSpec checks what the runtime relies on before anything is created.
func ValidateSpec(s *specs.Spec, bundle string) error {
	if s.Version == "" {
		return errors.New("ociVersion is empty")
	}
	if !strings.HasPrefix(s.Version, "1.") {
		return fmt.Errorf("ociVersion %q is not supported (want 1.x)", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path is missing")
	}
	rootfs := RootfsPath(s, bundle)
	fi, err := os.Stat(rootfs)
	if err != nil {
		return fmt.Errorf("root.path %s: %w", rootfs, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("root.path %s is not a directory", rootfs)
	}
	if s.Process != nil {
		if len(s.Process.Args) == 0 && s.Process.CommandLine == "" {
			return errors.New("process.args is empty")
		}
		if s.Process.Cwd != "" && !filepath.IsAbs(s.Process.Cwd) {
			return fmt.Errorf("process.cwd %q is not an absolute path", s.Process.Cwd)
		}
		for i, rl := range s.Process.Rlimits {
			if _, ok := initproc.RlimitByName[rl.Type]; !ok {
				return fmt.Errorf("process.rlimits[%d].type %q is unknown", i, rl.Type)
			}
			if rl.Soft > rl.Hard {
				return fmt.Errorf("process.rlimits[%d] (%s): soft %d is above hard %d", i, rl.Type, rl.Soft, rl.Hard)
			}
		}
		if c := s.Process.Capabilities; c != nil {
			for _, set := range [][]string{c.Bounding, c.Effective, c.Inheritable, c.Permitted, c.Ambient} {
				for _, name := range set {
					if _, err := initproc.CapFromName(name); err != nil {
						return fmt.Errorf("process.capabilities: %w", err)
					}
				}
			}
		}
	}
	for i, m := range s.Mounts {
		if m.Destination == "" {
			return fmt.Errorf("mounts[%d].destination is empty", i)
		}
		if !filepath.IsAbs(m.Destination) {
			// runc accepts relative destinations as relative to /, with a
			// warning; so do we, but refuse obvious escapes.
			if strings.HasPrefix(filepath.Clean("/"+m.Destination), "/..") {
				return fmt.Errorf("mounts[%d].destination %q escapes the rootfs", i, m.Destination)
			}
		}
	}
	if err := validateIDMapMounts(s); err != nil {
		return err
	}
	if s.Linux == nil {
		return nil
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range s.Linux.Namespaces {
		if _, ok := initproc.NSFlags[ns.Type]; !ok {
			return fmt.Errorf("linux.namespaces[%d].type %q is unknown (want one of pid, network, mount, ipc, uts, user, cgroup, time)", i, ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces[%d]: namespace %q listed twice", i, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
			}
		}
	}
	if (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return errors.New("linux.uidMappings/gidMappings are set but there is no user namespace")
	}
	if seen[specs.UserNamespace] && initproc.NSPath(s, specs.UserNamespace) == "" && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) {
		return errors.New("a new user namespace needs linux.uidMappings and linux.gidMappings")
	}
	if s.Hostname != "" && !seen[specs.UTSNamespace] {
		return errors.New("hostname is set but there is no new uts namespace: it would change the host's")
	}
	if s.Domainname != "" && !seen[specs.UTSNamespace] {
		return errors.New("domainname is set but there is no new uts namespace: it would change the host's")
	}
	for k := range s.Linux.Sysctl {
		if strings.Contains(k, "..") || strings.ContainsAny(k, "\x00") {
			return fmt.Errorf("linux.sysctl key %q is invalid", k)
		}
	}
	for i, d := range s.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("linux.devices[%d].path %q is not absolute", i, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return fmt.Errorf("linux.devices[%d].type %q is invalid (want c, b, u or p)", i, d.Type)
		}
	}
	if p := s.Linux.RootfsPropagation; p != "" {
		if _, ok := initproc.PropagationFlags[p]; !ok {
			return fmt.Errorf("linux.rootfsPropagation %q is invalid", p)
		}
	}
	return nil
}

// RootfsPath is root.path made absolute against the bundle.
func RootfsPath(s *specs.Spec, bundle string) string {
	p := s.Root.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	return filepath.Clean(p)
}
