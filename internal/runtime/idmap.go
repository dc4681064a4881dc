package runtime

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/gorae/gorae/internal/runtime/initproc"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountIDMap is how one mount is ID-mapped (runtime-spec 1.1 mounts[].
// uidMappings/gidMappings and the idmap/ridmap options): on-disk ids are
// read as the container ids of these mappings, i.e. an on-disk id k shows
// as the host id k maps to, and files created through the mount are stored
// with the id that maps to their creator.
type mountIDMap struct {
	UID, GID []specs.LinuxIDMapping
	// Recursive (ridmap) maps every mount of an rbind tree, not only its
	// top one.
	Recursive bool
}

// maxIDMapLines is the kernel's limit on lines in uid_map and gid_map.
const maxIDMapLines = 340

// mountIDMapping tells whether m is ID-mapped, and how, following runc 1.2
// and the spec: mappings or an idmap/ridmap option make a mount ID-mapped;
// only bind mounts can be; an option without mappings borrows the
// container's own user namespace mappings and is an error without one;
// uid and gid mappings come together. It returns nil for a plain mount.
func mountIDMapping(s *specs.Spec, m *specs.Mount) (*mountIDMap, error) {
	idm := &mountIDMap{UID: m.UIDMappings, GID: m.GIDMappings}
	option := ""
	for _, o := range m.Options {
		switch o {
		case "idmap", "ridmap":
			// The last one counts, as in runc.
			option = o
			idm.Recursive = o == "ridmap"
		}
	}
	if option == "" && m.UIDMappings == nil && m.GIDMappings == nil {
		return nil, nil
	}
	what := option
	if what == "" {
		what = "uidMappings/gidMappings"
	}
	if !isBind(m) {
		return nil, fmt.Errorf("%s: ID-mapped mounts must be bind mounts (type bind, or option bind or rbind), not type %q", what, m.Type)
	}
	if len(idm.UID) == 0 && len(idm.GID) == 0 {
		if !initproc.HasNS(s, specs.UserNamespace) || s.Linux == nil || len(s.Linux.UIDMappings) == 0 {
			return nil, fmt.Errorf("%s without uidMappings and gidMappings needs the container's user namespace mappings to borrow, and there are none: give the mount its own mappings", what)
		}
		idm.UID, idm.GID = s.Linux.UIDMappings, s.Linux.GIDMappings
	}
	if len(idm.UID) == 0 || len(idm.GID) == 0 {
		return nil, errors.New("uidMappings and gidMappings must be given together")
	}
	if err := checkIDMappings(idm.UID); err != nil {
		return nil, fmt.Errorf("uidMappings: %w", err)
	}
	if err := checkIDMappings(idm.GID); err != nil {
		return nil, fmt.Errorf("gidMappings: %w", err)
	}
	return idm, nil
}

func isBind(m *specs.Mount) bool {
	if m.Type == "bind" || m.Type == "rbind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// checkIDMappings refuses what the kernel would refuse with a bare EINVAL
// when the map is written: empty ranges, ranges past 2^32, overlapping
// ranges on either side, too many lines.
func checkIDMappings(ms []specs.LinuxIDMapping) error {
	if len(ms) > maxIDMapLines {
		return fmt.Errorf("%d ranges, the kernel allows at most %d", len(ms), maxIDMapLines)
	}
	for i, m := range ms {
		if m.Size == 0 {
			return fmt.Errorf("[%d] has size 0", i)
		}
		if uint64(m.ContainerID)+uint64(m.Size) > math.MaxUint32+1 || uint64(m.HostID)+uint64(m.Size) > math.MaxUint32+1 {
			return fmt.Errorf("[%d] (containerID %d, hostID %d, size %d) runs past id 4294967295", i, m.ContainerID, m.HostID, m.Size)
		}
	}
	for _, side := range []struct {
		name  string
		start func(specs.LinuxIDMapping) uint32
	}{
		{"containerID", func(m specs.LinuxIDMapping) uint32 { return m.ContainerID }},
		{"hostID", func(m specs.LinuxIDMapping) uint32 { return m.HostID }},
	} {
		idx := make([]int, len(ms))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return side.start(ms[idx[a]]) < side.start(ms[idx[b]]) })
		for k := 1; k < len(idx); k++ {
			prev, cur := ms[idx[k-1]], ms[idx[k]]
			if uint64(side.start(prev))+uint64(prev.Size) > uint64(side.start(cur)) {
				return fmt.Errorf("[%d] and [%d] overlap in %s", idx[k-1], idx[k], side.name)
			}
		}
	}
	return nil
}

// validateIDMapMounts checks every mount's ID mapping; the error names the
// mount.
func validateIDMapMounts(s *specs.Spec) error {
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if _, err := mountIDMapping(s, m); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	return nil
}
