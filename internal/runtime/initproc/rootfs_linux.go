package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rootfs builds the container's filesystem view inside its mount namespace:
// prepare (mounts, /dev) runs before the createRuntime hooks, enter swaps
// the root, finish applies what must come after (read-only and masked
// paths, the final propagation).
type rootfs struct {
	ic   *Config
	spec *specs.Spec
	path string
	// userns: mknod is not allowed, devices are bind-mounted instead.
	userns  bool
	mountNS bool
}

func newRootfs(ic *Config) *rootfs {
	return &rootfs{
		ic:      ic,
		spec:    ic.Spec,
		path:    ic.Rootfs,
		userns:  HasNS(ic.Spec, specs.UserNamespace),
		mountNS: HasNS(ic.Spec, specs.MountNamespace),
	}
}

var PropagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

func (r *rootfs) prepare() error {
	if !r.mountNS {
		if len(r.spec.Mounts) > 0 {
			return errors.New("mounts are listed but there is no mount namespace: they would land on the host")
		}
		return nil
	}
	// Nothing we mount may propagate back to the host. A shared root
	// propagation is applied only after pivot_root, which refuses shared
	// mounts; an unbindable one too, since the rootfs and the bind mounts
	// below could not be bound out of an unbindable /.
	initial := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p := r.spec.Linux.RootfsPropagation; p != "" && !propagationAfterPivot(p) {
		initial = PropagationFlags[p] | unix.MS_REC
	}
	if err := unix.Mount("", "/", "", initial, ""); err != nil {
		return fmt.Errorf("set propagation of / in container: %w", err)
	}
	// pivot_root needs the new root to be a mount point.
	if err := unix.Mount(r.path, r.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount rootfs %s: %w", r.path, err)
	}
	hasDev := false
	for i := range r.spec.Mounts {
		m := &r.spec.Mounts[i]
		if filepath.Clean("/"+m.Destination) == "/dev" {
			hasDev = true
		}
		if err := r.mount(i, m); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	if err := r.createDevices(hasDev); err != nil {
		return err
	}
	return r.devSymlinks()
}

// resolve is dest inside the rootfs with symlinks followed as if the
// rootfs were /, so a hostile image cannot point a mount at the host.
func (r *rootfs) resolve(dest string) (string, error) {
	p, err := securejoin.SecureJoin(r.path, dest)
	if err != nil {
		return "", fmt.Errorf("resolve %s in rootfs: %w", dest, err)
	}
	return p, nil
}

func (r *rootfs) mount(i int, m *specs.Mount) error {
	flags, pflags, data, recAttr, err := ParseMountOptions(m.Options)
	if err != nil {
		return err
	}
	dest, err := r.resolve(m.Destination)
	if err != nil {
		return err
	}
	if fd, ok := r.ic.IDMapFDs[i]; ok {
		return attachTree(fd, m.Source, dest, flags, pflags, recAttr)
	}
	typ := m.Type
	if typ == "bind" || typ == "rbind" {
		flags |= unix.MS_BIND
		if typ == "rbind" {
			flags |= unix.MS_REC
		}
	}
	switch {
	case flags&unix.MS_BIND != 0:
		return r.bindMount(m.Source, dest, flags, pflags, recAttr)
	case typ == "cgroup" || typ == "cgroup2":
		return r.mountCgroup(m, dest, flags)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dest, err)
	}
	src := m.Source
	if src == "" {
		src = typ
	}
	err = unix.Mount(src, dest, typ, flags, data)
	if err != nil && typ == "sysfs" && errors.Is(err, unix.EPERM) && r.userns {
		// A user namespace without its own network namespace may not
		// mount sysfs; the host's, read-only, is what runc gives then.
		return r.bindMount("/sys", dest, flags|unix.MS_BIND|unix.MS_REC, pflags, recAttr)
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", typ, err)
	}
	return applyPropagation(dest, pflags, recAttr)
}

func (r *rootfs) bindMount(src, dest string, flags uintptr, pflags []uintptr, recAttr *unix.MountAttr) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	if fi.IsDir() {
		err = os.MkdirAll(dest, 0o755)
	} else {
		err = createFile(dest)
	}
	if err != nil {
		return err
	}
	if err := unix.Mount(src, dest, "", unix.MS_BIND|(flags&unix.MS_REC), ""); err != nil {
		return fmt.Errorf("bind mount %s: %w", src, err)
	}
	return finishBind(dest, flags, pflags, recAttr)
}

// attachTree puts the ID-mapped tree the runtime process cloned from src
// (inherited as fd) at dest.
func attachTree(fd int, src, dest string, flags uintptr, pflags []uintptr, recAttr *unix.MountAttr) error {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat ID-mapped tree of %s: %w", src, err)
	}
	var err error
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.MkdirAll(dest, 0o755)
	} else {
		err = createFile(dest)
	}
	if err != nil {
		return err
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dest, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount ID-mapped tree of %s: %w", src, err)
	}
	return finishBind(dest, flags, pflags, recAttr)
}

// finishBind applies a bind mount's flags and propagation.
func finishBind(dest string, flags uintptr, pflags []uintptr, recAttr *unix.MountAttr) error {
	// Flags other than bind/rec need a remount to take effect.
	if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
		if err := remount(dest, flags|unix.MS_REMOUNT|unix.MS_BIND); err != nil {
			return err
		}
	}
	return applyPropagation(dest, pflags, recAttr)
}

// remount changes a bind mount's flags. In a user namespace, flags locked by
// the mount's owner (nosuid, nodev, noexec, ro, atime) must be kept, so on
// EPERM we retry with the current ones added, as runc does.
func remount(dest string, flags uintptr) error {
	err := unix.Mount("", dest, "", flags, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("remount %s: %w", dest, err)
	}
	var st unix.Statfs_t
	if serr := unix.Statfs(dest, &st); serr != nil {
		return fmt.Errorf("remount %s: %w", dest, err)
	}
	locked := uintptr(0)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			locked |= f.ms
		}
	}
	if err2 := unix.Mount("", dest, "", flags|locked, ""); err2 != nil {
		return fmt.Errorf("remount %s: %w", dest, err)
	}
	return nil
}

func applyPropagation(dest string, pflags []uintptr, recAttr *unix.MountAttr) error {
	for _, pf := range pflags {
		if err := unix.Mount("", dest, "", pf, ""); err != nil {
			return fmt.Errorf("set propagation of %s: %w", dest, err)
		}
	}
	if recAttr != nil {
		if err := unix.MountSetattr(-1, dest, unix.AT_RECURSIVE, recAttr); err != nil {
			return fmt.Errorf("mount_setattr %s: %w", dest, err)
		}
	}
	return nil
}

// mountCgroup gives the container a cgroup filesystem. With a cgroup
// namespace the kernel scopes a fresh mount to the container; without one,
// the container's own directories are bind-mounted so it still sees only
// itself.
func (r *rootfs) mountCgroup(m *specs.Mount, dest string, flags uintptr) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	if isUnified() {
		if r.ic.NewCgroupNS || hasCgroupNSPath(r.spec) {
			if err := unix.Mount("cgroup2", dest, "cgroup2", flags, ""); err != nil {
				return fmt.Errorf("mount cgroup2: %w", err)
			}
			return nil
		}
		src := r.ic.CgroupPaths[""]
		if err := unix.Mount(src, dest, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind cgroup %s: %w", src, err)
		}
		return remount(dest, flags|unix.MS_BIND|unix.MS_REMOUNT)
	}
	// cgroup v1: a tmpfs with one directory per hierarchy.
	if err := unix.Mount("tmpfs", dest, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs for cgroups: %w", err)
	}
	hier, err := v1Hierarchies()
	if err != nil {
		return err
	}
	for _, h := range hier {
		d := filepath.Join(dest, h.dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if r.ic.NewCgroupNS {
			if err := unix.Mount("cgroup", d, "cgroup", flags, h.opts); err != nil {
				return fmt.Errorf("mount cgroup %s: %w", h.opts, err)
			}
		} else {
			src := r.ic.CgroupPaths[h.key]
			if src == "" {
				src = filepath.Join(h.mountpoint)
			}
			if err := unix.Mount(src, d, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind cgroup %s: %w", src, err)
			}
			if err := remount(d, flags|unix.MS_BIND|unix.MS_REMOUNT); err != nil {
				return err
			}
		}
		// cpu,cpuacct style comounts get a symlink per controller.
		if strings.Contains(h.dir, ",") {
			for _, c := range strings.Split(h.dir, ",") {
				os.Symlink(h.dir, filepath.Join(dest, c))
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return remount(dest, unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
	}
	return nil
}

func hasCgroupNSPath(s *specs.Spec) bool { return NSPath(s, specs.CgroupNamespace) != "" }

func isUnified() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

type v1Hierarchy struct {
	dir        string // base name under /sys/fs/cgroup
	key        string // controller name in CgroupPaths
	opts       string // mount data
	mountpoint string
}

// v1Hierarchies lists the host's mounted cgroup v1 hierarchies from our
// (pre-pivot) mountinfo.
func v1Hierarchies() ([]v1Hierarchy, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []v1Hierarchy
	for _, line := range strings.Split(string(b), "\n") {
		i := strings.Index(line, " - ")
		if i < 0 {
			continue
		}
		pre, post := strings.Fields(line[:i]), strings.Fields(line[i+3:])
		if len(pre) < 5 || len(post) < 3 || post[0] != "cgroup" {
			continue
		}
		mp := pre[4]
		var ctrls []string
		for _, o := range strings.Split(post[2], ",") {
			switch {
			case o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent") || o == "clone_children" || o == "noprefix" || o == "xattr":
			default:
				ctrls = append(ctrls, o)
			}
		}
		if len(ctrls) == 0 {
			continue
		}
		key := ctrls[0]
		if strings.HasPrefix(key, "name=") {
			key = strings.TrimPrefix(key, "name=")
		}
		out = append(out, v1Hierarchy{dir: filepath.Base(mp), key: key, opts: strings.Join(ctrls, ","), mountpoint: mp})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out, nil
}

func createFile(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("create mount point %s: %w", p, err)
	}
	return f.Close()
}

func (r *rootfs) createDevices(devMounted bool) error {
	devs := r.spec.Linux.Devices
	seen := map[string]bool{}
	for _, d := range devs {
		seen[filepath.Clean(d.Path)] = true
	}
	all := append([]specs.LinuxDevice(nil), devs...)
	for _, d := range DefaultDevices {
		if !seen[d.Path] {
			all = append(all, d)
		}
	}
	for _, d := range all {
		// A bind-mounted /dev is the user's: leave the default devices alone.
		if !devMounted && !seen[filepath.Clean(d.Path)] {
			if _, err := os.Lstat(filepath.Join(r.path, d.Path)); err == nil {
				continue
			}
		}
		if err := r.createDevice(d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

func (r *rootfs) createDevice(d specs.LinuxDevice) error {
	dest, err := r.resolve(d.Path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if r.userns {
		// mknod is refused in a user namespace: bind the host's node.
		if err := createFile(dest); err != nil {
			return err
		}
		return unix.Mount(d.Path, dest, "", unix.MS_BIND, "")
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode & 0o7777)
	}
	switch d.Type {
	case "c", "u":
		mode |= unix.S_IFCHR
	case "b":
		mode |= unix.S_IFBLK
	case "p":
		mode |= unix.S_IFIFO
	}
	os.Remove(dest)
	if err := unix.Mknod(dest, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return fmt.Errorf("mknod %s: %w", dest, err)
	}
	// mknod is subject to umask; the spec's mode is meant exactly.
	if err := unix.Chmod(dest, mode&0o7777); err != nil {
		return fmt.Errorf("chmod %s: %w", dest, err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Chown(dest, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", dest, err)
	}
	return nil
}

func (r *rootfs) devSymlinks() error {
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	if fi, err := os.Stat(filepath.Join(r.path, "dev/pts/ptmx")); err == nil && fi.Mode()&os.ModeDevice != 0 {
		p := filepath.Join(r.path, "dev/ptmx")
		os.Remove(p)
		links = append(links, [2]string{"pts/ptmx", "/dev/ptmx"})
	}
	for _, l := range links {
		dst := filepath.Join(r.path, l[1])
		if err := os.Symlink(l[0], dst); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	return nil
}

// enter makes the rootfs the container's /. pivot_root leaves no way back
// to the host's tree; MS_MOVE + chroot (only with --no-pivot, or where
// pivot_root cannot work, as on an initramfs) does.
func (r *rootfs) enter() error {
	if !r.mountNS {
		if err := unix.Chroot(r.path); err != nil {
			return fmt.Errorf("chroot %s: %w", r.path, err)
		}
		return unix.Chdir("/")
	}
	if !r.ic.NoPivot {
		err := pivotRoot(r.path)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
	}
	if err := unix.Chdir(r.path); err != nil {
		return fmt.Errorf("chdir %s: %w", r.path, err)
	}
	if err := unix.Mount(r.path, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs %s to /: %w", r.path, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", rootfs, err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir rootfs: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one,
	// which spares us a directory for it inside the container.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir old root: %w", err)
	}
	// Keep the unmount from propagating to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	return unix.Chdir("/")
}

// finish runs after pivot_root: paths are now the container's.
func (r *rootfs) finish() error {
	if !r.mountNS || r.spec.Linux == nil {
		return nil
	}
	l := r.spec.Linux
	for _, p := range l.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
	}
	for _, p := range l.MaskedPaths {
		if err := maskPath(p); err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
	}
	if r.spec.Root.Readonly {
		if err := remount("/", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	if p := l.RootfsPropagation; p != "" && propagationAfterPivot(p) {
		if err := unix.Mount("", "/", "", PropagationFlags[p], ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", p, err)
		}
	}
	return nil
}

// propagationAfterPivot tells whether linux.rootfsPropagation p is set on the
// new / by finish rather than on the host's / by prepare.
func propagationAfterPivot(p string) bool {
	return PropagationFlags[p]&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("bind: %w", err)
	}
	return remount(p, unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
}

func maskPath(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		return unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
	}
	return unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
}

// mountOption is one option word: set or clear a flag.
type mountOption struct {
	clear bool
	flag  uintptr
}

// MountOptionNames lists every mount option the runtime knows, sorted
// (for `features`).
func MountOptionNames() []string {
	var names []string
	for k := range mountOptions {
		names = append(names, k)
	}
	for k := range PropagationFlags {
		names = append(names, k)
	}
	for k := range recursiveOptions {
		names = append(names, k)
	}
	names = append(names, "idmap", "ridmap")
	sort.Strings(names)
	return names
}

var mountOptions = map[string]mountOption{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// recursive attribute options (mount_setattr with AT_RECURSIVE).
var recursiveOptions = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnoatime":     {false, unix.MOUNT_ATTR_NOATIME},
	"rrelatime":    {false, unix.MOUNT_ATTR_RELATIME},
	"rstrictatime": {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// ParseMountOptions splits fstab-style options into mount(2) flags,
// propagation changes (each its own mount call), filesystem data, and
// recursive attributes.
func ParseMountOptions(opts []string) (flags uintptr, pflags []uintptr, data string, rec *unix.MountAttr, err error) {
	var d []string
	for _, o := range opts {
		if mo, ok := mountOptions[o]; ok {
			if mo.clear {
				flags &^= mo.flag
			} else {
				flags |= mo.flag
			}
			continue
		}
		if pf, ok := PropagationFlags[o]; ok {
			pflags = append(pflags, pf)
			continue
		}
		if ro, ok := recursiveOptions[o]; ok {
			if rec == nil {
				rec = &unix.MountAttr{}
			}
			if ro.clear {
				rec.Attr_clr |= ro.attr
			} else {
				rec.Attr_set |= ro.attr
				if ro.attr&(unix.MOUNT_ATTR_RELATIME|unix.MOUNT_ATTR_STRICTATIME|unix.MOUNT_ATTR_NOATIME) != 0 {
					rec.Attr_clr |= unix.MOUNT_ATTR__ATIME
				}
			}
			continue
		}
		if o == "idmap" || o == "ridmap" {
			// Not mount(2)'s: mountIDMapping reads them.
			continue
		}
		d = append(d, o)
	}
	return flags, pflags, strings.Join(d, ","), rec, nil
}
