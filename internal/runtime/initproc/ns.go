package initproc

import specs "github.com/opencontainers/runtime-spec/specs-go"

// NSFlags are the clone(2) flags of the namespace types.
var NSFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     0x20000000, // CLONE_NEWPID
	specs.NetworkNamespace: 0x40000000, // CLONE_NEWNET
	specs.MountNamespace:   0x00020000, // CLONE_NEWNS
	specs.IPCNamespace:     0x08000000, // CLONE_NEWIPC
	specs.UTSNamespace:     0x04000000, // CLONE_NEWUTS
	specs.UserNamespace:    0x10000000, // CLONE_NEWUSER
	specs.CgroupNamespace:  0x02000000, // CLONE_NEWCGROUP
	specs.TimeNamespace:    0x00000080, // CLONE_NEWTIME
}

// NSPath is the path of the namespace of type t the spec joins, if any.
func NSPath(s *specs.Spec, t specs.LinuxNamespaceType) string {
	if s.Linux == nil {
		return ""
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// HasNS says whether the spec lists a namespace of type t.
func HasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// DefaultDevices are created in every container, as runtime-spec requires;
// with a device allow-list in the spec they are allowed too, as runc does,
// so a profile of "deny all" still leaves a usable /dev. mknod of any
// device is allowed as well (runc's "c *:* m" and "b *:* m"): init creates
// linux.devices after it has joined the cgroup, and making a node grants no
// access to the device.
var DefaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}
