package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

// requireIDMap skips for a peer runtime whose `features` does not report
// ID-mapped mounts (Debian's runc 1.1.5 predates them); gorae must have
// them. It also checks the kernel: the sources below are tmpfs, which
// supports ID-mapped mounts from Linux 6.3.
func requireIDMap(t *testing.T, e *env) {
	t.Helper()
	var u unix.Utsname
	unix.Uname(&u)
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	if major < 6 || major == 6 && minor < 3 {
		msg := fmt.Sprintf("kernel %d.%d: tmpfs supports ID-mapped mounts from 6.3", major, minor)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if isGorae {
		return
	}
	out, err := e.rt("features")
	var f features.Features
	if err == nil {
		err = json.Unmarshal([]byte(out), &f)
	}
	if err != nil || f.Linux == nil || f.Linux.MountExtensions == nil || f.Linux.MountExtensions.IDMap == nil ||
		f.Linux.MountExtensions.IDMap.Enabled == nil || !*f.Linux.MountExtensions.IDMap.Enabled {
		t.Skipf("%s does not report mountExtensions.idmap in features (%v)", runtimeBin, err)
	}
}

// idmapSource is a tmpfs owned by 1000:1000 holding a file f and, with
// withSub, beneath sub a second tmpfs owned by 1000:1000. (A user
// namespace's copy of the host's mounts locks that child, and a
// non-recursive bind of its parent is then refused: runc 1.2 opens sources
// there.)
func idmapSource(t *testing.T, withSub bool) string {
	t.Helper()
	src := t.TempDir()
	mountTmpfs(t, src)
	if err := os.WriteFile(filepath.Join(src, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(filepath.Join(src, "f"), 1000, 1000)
	if !withSub {
		return src
	}
	sub := filepath.Join(src, "sub")
	os.Mkdir(sub, 0o755)
	mountTmpfs(t, sub)
	return src
}

func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "uid=1000,gid=1000,mode=0755,size=1m"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

func ownerOf(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// Without a user namespace: on-disk 1000 reads as root, and root's files
// land as 1000. idmap maps only the top of an rbind tree, ridmap all of it.
func TestIDMappedMountWithoutUserNS(t *testing.T) {
	e := newEnv(t)
	requireIDMap(t, e)
	src := idmapSource(t, true)
	m := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 0, Size: 1}}
	s := sh(`stat -c %u:%g /top /top/f /top/sub /rec/sub; touch /top/new /rec/sub/new`)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/top", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}, UIDMappings: m, GIDMappings: m},
		specs.Mount{Destination: "/rec", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}, UIDMappings: m, GIDMappings: m},
	)
	out := e.mustRun(s)
	if want := "0:0\n0:0\n1000:1000\n0:0\n"; out != want {
		t.Errorf("owners inside = %q, want %q (top, file, unmapped submount, ridmap submount)", out, want)
	}
	for _, p := range []string{"new", "sub/new"} {
		if got := ownerOf(t, filepath.Join(src, p)); got != "1000:1000" {
			t.Errorf("%s created by the container's root is owned by %s on the host, want 1000:1000", p, got)
		}
	}
}

// In a user namespace (root = host 100000): a mapping of its own makes
// on-disk 1000 the container's root; idmap without mappings borrows the
// container's, so on-disk 1000 is the container's 1000; ro still applies.
func TestIDMappedMountWithUserNS(t *testing.T) {
	e := newEnv(t)
	requireIDMap(t, e)
	src := idmapSource(t, false)
	m := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 100000, Size: 1}}
	s := sh(`stat -c %u:%g /own /own/f /borrowed/f /ro; touch /own/new; touch /ro/x 2>/dev/null && echo WROTE; true`)
	addUserNS(s)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/own", Type: "bind", Source: src, Options: []string{"bind", "idmap"}, UIDMappings: m, GIDMappings: m},
		specs.Mount{Destination: "/borrowed", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
		specs.Mount{Destination: "/ro", Type: "bind", Source: src, Options: []string{"bind", "idmap", "ro"}, UIDMappings: m, GIDMappings: m},
	)
	out := e.mustRunBundle(usernsReady(t, e, s))
	if want := "0:0\n0:0\n1000:1000\n0:0\n"; out != want {
		t.Errorf("owners inside = %q, want %q (WROTE: the ro ID-mapped mount was writable)", out, want)
	}
	if got := ownerOf(t, filepath.Join(src, "new")); got != "1000:1000" {
		t.Errorf("file created by the container's root is owned by %s on the host, want 1000:1000", got)
	}
}

// A mapping that cannot be made fails create with an error naming the
// mount, and leaves nothing behind.
func TestIDMappedMountErrors(t *testing.T) {
	e := newEnv(t)
	requireIDMap(t, e)
	src := idmapSource(t, false)
	m := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 0, Size: 1}}
	cases := []struct {
		name  string
		mount specs.Mount
		want  string // in every runtime's error
	}{
		// The spec: uidMappings MUST come with gidMappings.
		{"uid mappings only", specs.Mount{Destination: "/idmapped", Type: "bind", Source: src, Options: []string{"bind", "idmap"}, UIDMappings: m}, "/idmapped"},
		// procfs cannot be ID-mapped: the kernel refuses.
		{"filesystem without idmap", specs.Mount{Destination: "/idmapped", Type: "bind", Source: "/proc/sys", Options: []string{"bind", "idmap"}, UIDMappings: m, GIDMappings: m}, "/proc/sys"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec("/bin/true")
			s.Mounts = append(s.Mounts, tc.mount)
			id := newID(t)
			_, err := e.rt("create", "--bundle", e.bundle(s), id)
			if err == nil {
				t.Fatal("create succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %s: %v", tc.want, err)
			}
			if isGorae && !strings.Contains(err.Error(), fmt.Sprintf("mounts[%d] (bind on /idmapped)", len(s.Mounts)-1)) {
				t.Errorf("error does not name the mount: %v", err)
			}
			assertNothingLeft(t, e, id)
		})
	}
}

// addUserNS gives s a user namespace: root is host 100000.
func addUserNS(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// usernsReady writes a bundle for s whose mapped root can reach and read
// its rootfs, and returns the bundle's path.
func usernsReady(t *testing.T, e *env, s *specs.Spec) string {
	t.Helper()
	bundle := e.bundle(s)
	if out, err := exec.Command("chown", "-R", "100000:100000", bundle+"/rootfs").CombinedOutput(); err != nil {
		t.Fatalf("chown rootfs: %v: %s", err, out)
	}
	for d := bundle; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return bundle
}

// A container that joins another's user namespace by path runs inside it
// (its maps, its root), with namespaces of its own created inside it —
// including a pid namespace, where it is pid 1 — as runc's do.
func TestJoinUserNamespaceByPath(t *testing.T) {
	e := newEnv(t)
	a := newID(t)
	sa := baseSpec("/bin/sleep", "60")
	addUserNS(sa)
	if _, err := e.rt("create", "--bundle", usernsReady(t, e, sa), a); err != nil {
		t.Fatal(err)
	}
	defer e.rt("delete", "--force", a)
	pid := e.state(a).Pid
	want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	sb := sh(`cat /proc/self/uid_map; readlink /proc/self/ns/user; echo pid=$$ uid=$(id -u); touch /tmp/made && stat -c %u /tmp/made`)
	addUserNS(sb)
	// runc 1.1 wants the maps beside the path; they are the namespace's.
	sb.Linux.Namespaces[len(sb.Linux.Namespaces)-1].Path = fmt.Sprintf("/proc/%d/ns/user", pid)
	out := e.mustRunBundle(usernsReady(t, e, sb))
	fields := strings.Fields(out)
	if len(fields) < 7 || fields[0] != "0" || fields[1] != "100000" || fields[3] != want || fields[4] != "pid=1" || fields[5] != "uid=0" || fields[6] != "0" {
		t.Errorf("joined container saw %q; want the maps 0 100000, %s, pid 1, uid 0 and files made as 0", out, want)
	}
}

// exec into a container with a user namespace joins it first.
func TestExecIntoUserNamespace(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	s := baseSpec("/bin/sleep", "60")
	addUserNS(s)
	if _, err := e.rt("run", "--detach", "--bundle", usernsReady(t, e, s), id); err != nil {
		t.Fatal(err)
	}
	defer e.rt("delete", "--force", id)
	want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", e.state(id).Pid))
	out, err := e.rt("exec", id, "/bin/sh", "-c", "readlink /proc/self/ns/user; id -u")
	if err != nil {
		t.Fatalf("exec: %v: %s", err, out)
	}
	if out != want+"\n0\n" {
		t.Errorf("exec saw %q, want %s and uid 0", out, want)
	}
}

// A container that joins a user namespace and makes a pid namespace inside
// it (init is the entry point's forked child) still gets its terminal as
// its controlling one.
func TestConsoleInJoinedUserNamespace(t *testing.T) {
	e := newEnv(t)
	a := newID(t)
	sa := baseSpec("/bin/sleep", "60")
	addUserNS(sa)
	if _, err := e.rt("create", "--bundle", usernsReady(t, e, sa), a); err != nil {
		t.Fatal(err)
	}
	defer e.rt("delete", "--force", a)
	sockPath, got := consoleSocket(t)
	s := sh(`tty; echo pid=$$; echo END`)
	s.Process.Terminal = true
	addUserNS(s)
	s.Linux.Namespaces[len(s.Linux.Namespaces)-1].Path = fmt.Sprintf("/proc/%d/ns/user", e.state(a).Pid)
	id := newID(t)
	if _, err := e.rt("create", "--bundle", usernsReady(t, e, s), "--console-socket", sockPath, id); err != nil {
		t.Fatal(err)
	}
	defer e.rt("delete", "--force", id)
	if _, err := e.rt("start", id); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-got:
		if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "pid=1") {
			t.Errorf("terminal output %q, want /dev/pts/0 and pid=1", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no terminal output")
	}
}
