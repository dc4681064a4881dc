package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/gorae/gorae/internal/runtime/initproc"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ID-mapped mounts are made in two halves. The runtime process clones the
// source into a detached tree (open_tree OPEN_TREE_CLONE) and sets
// MOUNT_ATTR_IDMAP on it: that needs CAP_SYS_ADMIN over the source's
// filesystem, i.e. host root in the host's user namespace, which init no
// longer is once it was cloned into the container's user namespace. Init
// inherits the tree's descriptor and attaches it at its destination with
// move_mount, where every other mount is made. The trees are cloned in the
// host's mount namespace before init exists, so a source is the host's path
// (runc 1.2 resolves it in the container's namespace while its mounts are
// made, which differs only for a source beneath an earlier mount of the
// same spec).

// idmappedTrees are the detached trees by mount index; closing one that
// was never attached unmounts it.
type idmappedTrees map[int]*os.File

func (t idmappedTrees) Close() {
	for _, f := range t {
		f.Close()
	}
}

// openIDMappedTrees makes a tree for every ID-mapped mount of spec.
func openIDMappedTrees(spec *specs.Spec) (_ idmappedTrees, retErr error) {
	trees := idmappedTrees{}
	defer func() {
		if retErr != nil {
			trees.Close()
		}
	}()
	var userns usernsCache
	defer userns.Close()
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		idm, err := mountIDMapping(spec, m)
		if err == nil && idm == nil {
			continue
		}
		if err == nil && os.Geteuid() != 0 {
			err = errors.New("ID-mapped mounts need a runtime running as root (MOUNT_ATTR_IDMAP on the host's filesystem)")
		}
		if err == nil {
			trees[i], err = openIDMappedTree(m, idm, &userns)
		}
		if err != nil {
			return nil, fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	return trees, nil
}

func openIDMappedTree(m *specs.Mount, idm *mountIDMap, userns *usernsCache) (*os.File, error) {
	flags, _, _, _, err := initproc.ParseMountOptions(m.Options)
	if err != nil {
		return nil, err
	}
	treeFlags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if m.Type == "rbind" || flags&unix.MS_REC != 0 {
		treeFlags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, treeFlags)
	if err != nil {
		return nil, fmt.Errorf("bind source %s: open_tree: %w", m.Source, err)
	}
	tree := os.NewFile(uintptr(fd), m.Source)
	nsfd, err := userns.get(idm)
	if err != nil {
		tree.Close()
		return nil, err
	}
	setFlags := uint(unix.AT_EMPTY_PATH)
	if idm.Recursive {
		setFlags |= unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(nsfd)}
	if err := unix.MountSetattr(fd, "", setFlags, attr); err != nil {
		tree.Close()
		hint := ""
		if errors.Is(err, unix.EINVAL) {
			hint = " (the filesystem of the source, or of a mount beneath it with ridmap, does not support ID-mapped mounts on this kernel)"
		}
		return nil, fmt.Errorf("bind source %s: mount_setattr MOUNT_ATTR_IDMAP: %w%s", m.Source, err, hint)
	}
	return tree, nil
}

// usernsCache holds one user namespace per distinct mapping.
type usernsCache map[string]*os.File

func (c *usernsCache) Close() {
	for _, f := range *c {
		f.Close()
	}
}

func (c *usernsCache) get(idm *mountIDMap) (int, error) {
	key := mappingKey(idm.UID) + "|" + mappingKey(idm.GID)
	if f, ok := (*c)[key]; ok {
		return int(f.Fd()), nil
	}
	f, err := newUserNamespace(idm.UID, idm.GID)
	if err != nil {
		return -1, err
	}
	if *c == nil {
		*c = usernsCache{}
	}
	(*c)[key] = f
	return int(f.Fd()), nil
}

func mappingKey(ms []specs.LinuxIDMapping) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d:%d:%d,", m.ContainerID, m.HostID, m.Size)
	}
	return b.String()
}

// newUserNamespace returns a user namespace with the given maps. Only a
// process can own one, so a throw-away child is cloned into it with the
// maps written by Go, as runc does: it is traced, so it stops at its first
// instruction after exec and runs nothing; its namespace is opened and it
// is killed.
func newUserNamespace(uid, gid []specs.LinuxIDMapping) (*os.File, error) {
	p, err := os.StartProcess("/proc/self/exe", []string{"gorae-idmap-userns"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: idMaps(uid),
			GidMappings: idMaps(gid),
			Ptrace:      true,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create a user namespace for the ID mapping (uid %s gid %s): %w", mappingKey(uid), mappingKey(gid), err)
	}
	defer func() {
		p.Kill()
		p.Wait()
	}()
	f, err := os.Open("/proc/" + strconv.Itoa(p.Pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("open the ID mapping's user namespace: %w", err)
	}
	return f, nil
}

// pass hands the trees to init at descriptors after cmd's others, and
// returns their numbers by mount index.
func (t idmappedTrees) pass(cmd *exec.Cmd) map[int]int {
	if len(t) == 0 {
		return nil
	}
	fds := map[int]int{}
	for i, f := range t {
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		fds[i] = 2 + len(cmd.ExtraFiles)
	}
	return fds
}
