// Package initproc is the container's side of gorae's OCI runtime: the
// process the runtime spawns for `create` (and `exec`), from its start to
// the execve of the container's process. It enters or makes the
// namespaces, builds the root filesystem and pivots into it, runs the
// createContainer and startContainer hooks, applies rlimits, capabilities,
// credentials, no_new_privs and seccomp, and execs; it reports every
// failure to the runtime over the sync socket (sync.go, wire.go).
//
// It is a package of its own so that cmd/gorae-init, the program started
// once per container, links it and not the runtime's command side
// (internal/runtime: state, cgroups, terminals, signals), and so starts
// with fewer page faults. The runtime imports it for the protocol and the
// tables both sides share (namespace flags, mount options, rlimit and
// capability names, default devices).
package initproc
