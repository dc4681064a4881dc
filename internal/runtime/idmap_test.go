package runtime

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func idmapSpec(userns bool, m specs.Mount) *specs.Spec {
	s := DefaultSpec(false)
	if userns {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	}
	s.Mounts = append(s.Mounts, m)
	return s
}

// one maps on-disk 1000 to host root.
var one = []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 0, Size: 1}}

func TestMountIDMapping(t *testing.T) {
	cases := []struct {
		name      string
		userns    bool
		m         specs.Mount
		mapped    bool
		recursive bool
		uidHost   uint32
	}{
		{"plain bind", false, specs.Mount{Type: "bind", Source: "/s", Destination: "/d"}, false, false, 0},
		{"mappings without option", false, specs.Mount{Type: "bind", UIDMappings: one, GIDMappings: one}, true, false, 0},
		{"idmap", false, specs.Mount{Type: "none", Options: []string{"rbind", "idmap"}, UIDMappings: one, GIDMappings: one}, true, false, 0},
		{"ridmap", false, specs.Mount{Type: "bind", Options: []string{"rbind", "ridmap"}, UIDMappings: one, GIDMappings: one}, true, true, 0},
		{"last option wins", false, specs.Mount{Type: "bind", Options: []string{"ridmap", "idmap"}, UIDMappings: one, GIDMappings: one}, true, false, 0},
		{"borrows the container's", true, specs.Mount{Type: "bind", Options: []string{"idmap"}}, true, false, 100000},
	}
	for _, tc := range cases {
		s := idmapSpec(tc.userns, tc.m)
		idm, err := mountIDMapping(s, &s.Mounts[len(s.Mounts)-1])
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if (idm != nil) != tc.mapped {
			t.Errorf("%s: mapped = %v, want %v", tc.name, idm != nil, tc.mapped)
			continue
		}
		if idm == nil {
			continue
		}
		if idm.Recursive != tc.recursive {
			t.Errorf("%s: recursive = %v", tc.name, idm.Recursive)
		}
		if idm.UID[0].HostID != tc.uidHost || len(idm.GID) == 0 {
			t.Errorf("%s: mappings %+v %+v", tc.name, idm.UID, idm.GID)
		}
	}
}

// Every refusal names the mount (index, type, destination) and what is
// wrong with it, in one line.
func TestValidateIDMapMountsNamesTheMount(t *testing.T) {
	cases := map[string]struct {
		userns bool
		m      specs.Mount
		want   string
	}{
		"not a bind mount":       {true, specs.Mount{Type: "tmpfs", Destination: "/t", Options: []string{"idmap"}, UIDMappings: one, GIDMappings: one}, "bind mounts"},
		"no mappings, no userns": {false, specs.Mount{Type: "bind", Destination: "/b", Options: []string{"idmap"}}, "user namespace"},
		"uid only":               {false, specs.Mount{Type: "bind", Destination: "/b", UIDMappings: one}, "together"},
		"gid only":               {true, specs.Mount{Type: "bind", Destination: "/b", Options: []string{"ridmap"}, GIDMappings: one}, "together"},
		"size 0":                 {false, specs.Mount{Type: "bind", Destination: "/b", UIDMappings: []specs.LinuxIDMapping{{Size: 0}}, GIDMappings: one}, "uidMappings: [0] has size 0"},
		"overlap in container ids": {false, specs.Mount{Type: "bind", Destination: "/b", UIDMappings: one, GIDMappings: []specs.LinuxIDMapping{
			{ContainerID: 0, HostID: 0, Size: 10}, {ContainerID: 5, HostID: 100, Size: 10}}}, "gidMappings: [0] and [1] overlap in containerID"},
		"overlap in host ids": {false, specs.Mount{Type: "bind", Destination: "/b", UIDMappings: []specs.LinuxIDMapping{
			{ContainerID: 100, HostID: 7, Size: 1}, {ContainerID: 0, HostID: 0, Size: 10}}, GIDMappings: one}, "[1] and [0] overlap in hostID"},
		"past 2^32": {false, specs.Mount{Type: "bind", Destination: "/b", UIDMappings: []specs.LinuxIDMapping{
			{ContainerID: 4294967295, HostID: 0, Size: 2}}, GIDMappings: one}, "runs past"},
		"too many ranges": {false, specs.Mount{Type: "bind", Destination: "/b", UIDMappings: make([]specs.LinuxIDMapping, 341), GIDMappings: one}, "at most 340"},
	}
	for name, tc := range cases {
		s := idmapSpec(tc.userns, tc.m)
		err := validateIDMapMounts(s)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		prefix := fmt.Sprintf("mounts[%d] (%s on %s): ", len(s.Mounts)-1, tc.m.Type, tc.m.Destination)
		if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want prefix %q and %q", name, msg, prefix, tc.want)
		}
	}
	// Disjoint ranges in any order are fine.
	s := idmapSpec(false, specs.Mount{Type: "bind", Destination: "/b", UIDMappings: []specs.LinuxIDMapping{
		{ContainerID: 10, HostID: 0, Size: 10}, {ContainerID: 0, HostID: 10, Size: 10}}, GIDMappings: one})
	if err := validateIDMapMounts(s); err != nil {
		t.Errorf("disjoint ranges: %v", err)
	}
}

func TestFeaturesListIDMap(t *testing.T) {
	f := Features()
	if f.Linux.MountExtensions == nil || f.Linux.MountExtensions.IDMap == nil || f.Linux.MountExtensions.IDMap.Enabled == nil || !*f.Linux.MountExtensions.IDMap.Enabled {
		t.Error("features: mountExtensions.idmap.enabled is not true")
	}
	n := 0
	for _, o := range f.MountOptions {
		if o == "idmap" || o == "ridmap" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("features: mountOptions %v lack idmap and ridmap", f.MountOptions)
	}
}
