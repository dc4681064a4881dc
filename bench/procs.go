package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func nproc() int { return runtime.NumCPU() }

// proc is what /proc says about one process.
type proc struct {
	pid, ppid int
	cmdline   string // arguments joined by spaces
	pidns     string // readlink of ns/pid
	rssKiB    int64
}

func readProcs() map[int]*proc {
	ents, _ := os.ReadDir("/proc")
	ps := map[int]*proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + e.Name()
		stat, err := os.ReadFile(dir + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		p := &proc{pid: pid}
		p.ppid, _ = strconv.Atoi(f[1])
		cl, _ := os.ReadFile(dir + "/cmdline")
		p.cmdline = strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " ")
		p.pidns, _ = os.Readlink(dir + "/ns/pid")
		p.rssKiB = statusKiB(dir+"/status", "VmRSS:")
		ps[pid] = p
	}
	return ps
}

func statusKiB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), key) {
			n, _ := strconv.ParseInt(strings.Fields(strings.TrimPrefix(s.Text(), key))[0], 10, 64)
			return n
		}
	}
	return 0
}

// engineProcs returns an engine's own processes: the tree under its daemon
// (dockerd → containerd, ...) and every process whose command line names the
// engine's directory (containerd shims, conmon, gorae shims, which detach from
// the daemon's tree). Processes in another PID namespace are the containers'
// own and are left out.
func engineProcs(daemonPID int, dir string) []*proc {
	ps := readProcs()
	self, _ := os.Readlink("/proc/self/ns/pid")
	children := map[int][]int{}
	for _, p := range ps {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	in := map[int]bool{}
	var walk func(int)
	walk = func(pid int) {
		if in[pid] || ps[pid] == nil {
			return
		}
		in[pid] = true
		for _, c := range children[pid] {
			walk(c)
		}
	}
	if daemonPID > 0 {
		walk(daemonPID)
	}
	if dir != "" {
		for _, p := range ps {
			if strings.Contains(p.cmdline, dir+"/") {
				walk(p.pid)
			}
		}
	}
	var out []*proc
	for pid := range in {
		p := ps[pid]
		if p.pidns != self {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// rssMiB sums the resident set of an engine's processes.
func rssMiB(daemonPID int, dir string) (float64, int) {
	var kib int64
	ps := engineProcs(daemonPID, dir)
	for _, p := range ps {
		kib += p.rssKiB
	}
	return float64(kib) / 1024, len(ps)
}

// pssMiB is rssMiB with proportional set sizes: pages shared between the
// engine's processes (a binary's code mapped by every shim) count once
// across them rather than once in each.
func pssMiB(daemonPID int, dir string) float64 {
	var kib int64
	for _, p := range engineProcs(daemonPID, dir) {
		kib += statusKiB(fmt.Sprintf("/proc/%d/smaps_rollup", p.pid), "Pss:")
	}
	return float64(kib) / 1024
}

// killUnder SIGKILLs the processes left over whose command line names dir:
// only things this run started (directly or through its daemons) name it.
func killUnder(dir string) error {
	var n int
	for _, p := range readProcs() {
		if p.pid != os.Getpid() && strings.Contains(p.cmdline, dir+"/") {
			if syscall.Kill(p.pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	if n > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder lazily unmounts everything mounted at or below dir.
func unmountUnder(dir string) error {
	var errs []error
	for pass := 0; pass < 3; pass++ {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return nil
		}
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("umount %s: %w", mp, err))
			}
		}
	}
	if left := mountsUnder(dir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("still mounted: %s", strings.Join(left, ", ")))
	}
	return errors.Join(errs...)
}

// removeTmp unmounts what is left under the temp dir and removes it, unless
// something is still mounted there (removing it could reach into the mount).
func (b *bench) removeTmp() error {
	if b.tmp == "" {
		return nil
	}
	if err := unmountUnder(b.tmp); err != nil {
		return fmt.Errorf("%w; leaving %s in place", err, b.tmp)
	}
	return os.RemoveAll(b.tmp)
}

// removeCgroups removes the cgroups this run's runtimes and daemons left:
// the ones named after its id (container ids, cgroup parents).
func (b *bench) removeCgroups() error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, r := range roots {
		ents, err := os.ReadDir(r)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), b.id) {
				rmdirTree(filepath.Join(r, e.Name()))
			}
		}
	}
	return nil
}

// rmdirTree removes an empty cgroup and its empty children, deepest first.
func rmdirTree(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			rmdirTree(filepath.Join(dir, e.Name()))
		}
	}
	syscall.Rmdir(dir)
}

// hostLeftovers are paths the peers create on the host whatever their flags
// say (hard-coded in containerd, dockerd, podman and containers/image),
// deepest first. Those this run made are removed at the end: files by name,
// directories only when empty.
var hostLeftovers = []string{
	"/run/containerd/s", // containerd shim sockets
	"/run/containerd",
	"/run/docker/plugins",
	"/run/docker",
	"/run/containers/networks",
	"/run/containers",
	"/var/lib/containers/cache/blob-info-cache-v1.boltdb",
	"/var/lib/containers/cache",
	"/var/lib/containers",
	"/etc/docker/key.json",
	"/etc/docker",
}

// watchHostLeftovers notes which host leftovers are absent now and removes
// them at cleanup.
func (b *bench) watchHostLeftovers() {
	paths := append([]string{}, hostLeftovers...)
	if roots, err := filepath.Glob("/sys/fs/cgroup/*"); err == nil {
		for _, r := range roots {
			paths = append(paths, filepath.Join(r, "libpod_parent"))
		}
	}
	var absent []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			absent = append(absent, p)
		}
	}
	b.atCleanup("remove host leftovers", func() error {
		for _, p := range absent {
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			if fi.IsDir() {
				rmdirTree(p)
			} else {
				os.Remove(p)
			}
		}
		return nil
	})
}
