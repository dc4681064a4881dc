package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A fake cgroupfs is a temp dir of plain files. writeFile opens with
// O_TRUNC and without O_CREAT, so a write to a file the kernel would not
// have fails as it would on the real thing, and a file holds the last value
// written to it.

// v2LeafFiles are the interface files of a non-root cgroup2 directory with
// every controller enabled.
var v2LeafFiles = []string{
	"cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "cgroup.freeze", "cgroup.events", "cgroup.kill",
	"memory.max", "memory.high", "memory.low", "memory.swap.max", "memory.current", "memory.peak", "memory.stat", "memory.events",
	"memory.swap.current",
	"cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpu.stat",
	"cpuset.cpus", "cpuset.mems",
	"pids.max", "pids.current",
	"io.weight", "io.max", "io.stat",
	"hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max",
	"rdma.max",
}

func makeFiles(t *testing.T, dir string, files []string, content map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content[f]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readTestFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// write is one recorded write.
type write struct{ path, value string }

// recordWrites captures every cgroup file write made during the test, with
// paths relative to root. hook, if set, runs for each write first (to play
// the kernel, e.g. update cgroup.events on a freeze).
func recordWrites(t *testing.T, root string, hook func(path, value string)) *[]write {
	t.Helper()
	var mu sync.Mutex
	var ws []write
	traceWrite = func(path, value string) {
		mu.Lock()
		ws = append(ws, write{strings.TrimPrefix(path, root+"/"), value})
		mu.Unlock()
		if hook != nil {
			hook(path, value)
		}
	}
	t.Cleanup(func() { traceWrite = nil })
	return &ws
}

func p[T any](v T) *T { return &v }

func sameWrites(t *testing.T, got []write, want []write) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d writes, want %d", len(got), len(want))
	}
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w write
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("write %d: got %s = %q, want %s = %q", i, g.path, g.value, w.path, w.value)
		}
	}
}
