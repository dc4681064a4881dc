package snapshot

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorae/gorae/internal/atomicfile"
)

const crashHelperEnv = "GORAE_SNAPSHOT_CRASH_HELPER"

func TestMain(m *testing.M) {
	if root := os.Getenv(crashHelperEnv); root != "" {
		crashHelper(root)
		return
	}
	code := m.Run()
	cleanupBench()
	os.Exit(code)
}

func TestStoreLayout(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	m, err := s.Prepare(ctx, "extract-1", "", WithLabels(map[string]string{"l": "v"}))
	if err != nil {
		t.Fatal(err)
	}
	up, err := UpperDir(m)
	if err != nil || up != filepath.Join(root, "snapshots/1/fs") {
		t.Fatalf("UpperDir = %q, %v", up, err)
	}
	for _, p := range []string{"lock", "snapshots/1/info.json", "snapshots/1/fs", "snapshots/1/work"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := s.Commit(ctx, "sha256:aaa", "extract-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "snapshots/1/work")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir of a committed snapshot: %v", err)
	}
	if _, err := s.Prepare(ctx, "container", "sha256:aaa"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "snapshots/2/info.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r["id"] != "2" || r["kind"] != "active" || r["name"] != "container" || r["parent"] != "sha256:aaa" || r["parent_id"] != "1" {
		t.Errorf("info.json = %s", b)
	}
	b, _ = os.ReadFile(filepath.Join(root, "snapshots/1/info.json"))
	if !strings.Contains(string(b), `"usage"`) || !strings.Contains(string(b), `"l": "v"`) {
		t.Errorf("committed info.json lacks usage or labels: %s", b)
	}
	mounts, _ := s.Mounts(ctx, "container")
	want := fmt.Sprintf("lowerdir=%s/snapshots/1/fs", root)
	if v, _ := mounts[0].Option("lowerdir"); "lowerdir="+v != want {
		t.Errorf("mounts %v, want %s", mounts, want)
	}
	if err := s.Remove(ctx, "container"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(ents) != 1 {
		t.Errorf("after Remove: %v", ents)
	}
}

func TestOpenCleansUp(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(t.Context(), "a", ""); err != nil {
		t.Fatal(err)
	}
	s.Close()
	snaps := filepath.Join(root, "snapshots")
	// What crashes leave: a snapshot never made visible, a removal under
	// way, a record being rewritten, and something that is not ours.
	os.MkdirAll(filepath.Join(snaps, "99/fs/x"), 0o755)
	os.MkdirAll(filepath.Join(snaps, "rm-7/fs/y"), 0o755)
	os.WriteFile(filepath.Join(snaps, "1", atomicfile.TempPrefix+"info.json-123"), []byte("{"), 0o600)
	os.Mkdir(filepath.Join(snaps, "lost+found"), 0o700)

	s, err = Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ents, _ := os.ReadDir(snaps)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "1 lost+found" {
		t.Errorf("snapshots/ holds %v after Open, want [1 lost+found]", names)
	}
	if _, err := os.Stat(filepath.Join(snaps, "1", atomicfile.TempPrefix+"info.json-123")); err == nil {
		t.Error("stale temporary record left")
	}
	if _, err := s.Stat(t.Context(), "a"); err != nil {
		t.Error(err)
	}
	// New IDs do not reuse ones seen on disk.
	if _, err := s.Prepare(t.Context(), "b", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(snaps, "100/info.json")); err != nil {
		t.Errorf("next snapshot is not 100: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open: %v", err)
	}
	s.Prepare(t.Context(), "a", "")
	s.Close()
	os.WriteFile(filepath.Join(root, "snapshots/1/info.json"), []byte("{garbage"), 0o600)
	if _, err := Open(root); err == nil || !strings.Contains(err.Error(), "snapshots/1") {
		t.Errorf("Open of a damaged store: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "a:b")); err == nil || !strings.Contains(err.Error(), "':'") {
		t.Errorf("Open of a root with ':': %v", err)
	}
}

func TestMountDirs(t *testing.T) {
	ov := []Mount{{Type: "overlay", Source: "overlay", Options: []string{"index=off", "lowerdir=/l/2:/l/1", "upperdir=/u", "workdir=/w"}}}
	if up, err := UpperDir(ov); up != "/u" || err != nil {
		t.Errorf("UpperDir(overlay) = %q, %v", up, err)
	}
	if l, err := LowerDirs(ov); strings.Join(l, ",") != "/l/2,/l/1" || err != nil {
		t.Errorf("LowerDirs(overlay) = %q, %v", l, err)
	}
	rw := []Mount{{Type: "bind", Source: "/s", Options: []string{"bind", "rw"}}}
	if up, err := UpperDir(rw); up != "/s" || err != nil {
		t.Errorf("UpperDir(bind) = %q, %v", up, err)
	}
	if l, err := LowerDirs(rw); len(l) != 0 || err != nil {
		t.Errorf("LowerDirs(bind rw) = %q, %v", l, err)
	}
	ro := []Mount{{Type: "bind", Source: "/p", Options: []string{"bind", "ro"}}}
	if _, err := UpperDir(ro); err == nil {
		t.Error("UpperDir of a read-only view succeeded")
	}
}

func TestRelativeLayers(t *testing.T) {
	dir, out, err := relativeLayers([]string{"index=off", "lowerdir=/d/s/3/fs:/d/s/2/fs:/d/s/10/fs", "upperdir=/d/s/4/fs", "workdir=/d/s/4/work"})
	if err != nil {
		t.Fatal(err)
	}
	if dir != "/d/s" || strings.Join(out, ",") != "index=off,lowerdir=3/fs:2/fs:10/fs,upperdir=4/fs,workdir=4/work" {
		t.Errorf("got %s %v", dir, out)
	}
	// Common prefix must end at a path separator: /d/s1 and /d/s2 share /d.
	dir, out, _ = relativeLayers([]string{"lowerdir=/d/s1/fs:/d/s2/fs"})
	if dir != "/d" || out[0] != "lowerdir=s1/fs:s2/fs" {
		t.Errorf("got %s %v", dir, out)
	}
	if _, _, err := relativeLayers([]string{"lowerdir=a/b:c"}); err == nil {
		t.Error("relative lowerdir accepted")
	}
}

// TestCrashRecovery kills a process working on a store with SIGKILL at
// random moments; each time the next Open must accept the store and find
// it whole: every parent present, every committed layer complete, nothing
// half-made left on disk.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a few seconds")
	}
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+root)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: helper said %q, %v", round, line, err)
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		checkStoreWhole(t, root, round)
	}
}

func checkStoreWhole(t *testing.T, root string, round int) {
	t.Helper()
	s, err := Open(root)
	if err != nil {
		t.Fatalf("round %d: Open after kill -9: %v", round, err)
	}
	defer s.Close()
	snaps := filepath.Join(root, "snapshots")
	ents, _ := os.ReadDir(snaps)
	if len(ents) != len(s.recs) {
		t.Errorf("round %d: %d directories, %d snapshots", round, len(ents), len(s.recs))
	}
	for _, e := range ents {
		if !regexp.MustCompile(`^[0-9]+$`).MatchString(e.Name()) {
			t.Errorf("round %d: leftover %s", round, e.Name())
		}
		if _, err := os.Stat(filepath.Join(snaps, e.Name(), "info.json.tmp")); err == nil {
			t.Errorf("round %d: leftover %s/info.json.tmp", round, e.Name())
		}
	}
	committed := 0
	for name, r := range s.recs {
		if r.Parent != "" {
			if p, ok := s.recs[r.Parent]; !ok || p.Kind != "committed" {
				t.Errorf("round %d: %s has parent %q, which is missing or not committed", round, name, r.Parent)
			}
		}
		if r.Kind != "committed" {
			continue
		}
		committed++
		b, err := os.ReadFile(filepath.Join(snaps, r.ID, "fs/marker"))
		if err != nil || string(b) != name {
			t.Errorf("round %d: committed %s has marker %q, %v", round, name, b, err)
		}
		if _, err := os.Stat(filepath.Join(snaps, r.ID, "work")); err == nil {
			t.Errorf("round %d: committed %s kept its work dir", round, name)
		}
		if r.Usage == nil {
			t.Errorf("round %d: committed %s has no usage", round, name)
		}
	}
	t.Logf("round %d: %d snapshots, %d committed", round, len(s.recs), committed)
}

// crashHelper works on the store at root until killed.
func crashHelper(root string) {
	s, err := Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash helper:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	ctx := context.Background()
	pid := os.Getpid()
	rng := rand.New(rand.NewPCG(uint64(pid), 0))
	payload := strings.Repeat("p", 64<<10)
	for i := 0; ; i++ {
		var committed, active []string
		s.Walk(ctx, func(_ context.Context, info Info) error {
			if info.Kind == KindCommitted {
				committed = append(committed, info.Name)
			} else {
				active = append(active, info.Name)
			}
			return nil
		})
		if len(active) > 4 {
			s.Remove(ctx, active[rng.IntN(len(active))])
		}
		parent := ""
		if len(committed) > 0 && rng.IntN(4) > 0 {
			parent = committed[rng.IntN(len(committed))]
		}
		key := fmt.Sprintf("k-%d-%d", pid, i)
		name := fmt.Sprintf("c-%d-%d", pid, i)
		m, err := s.Prepare(ctx, key, parent)
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash helper:", err)
			os.Exit(1)
		}
		up, _ := UpperDir(m)
		for j := range 3 {
			os.WriteFile(filepath.Join(up, fmt.Sprintf("f%d", j)), []byte(payload), 0o644)
		}
		os.WriteFile(filepath.Join(up, "marker"), []byte(name), 0o644)
		switch rng.IntN(4) {
		case 0: // leave it active
		case 1:
			s.Remove(ctx, key)
		default:
			if err := s.Commit(ctx, name, key); err != nil {
				fmt.Fprintln(os.Stderr, "crash helper:", err)
				os.Exit(1)
			}
		}
		if len(committed) > 8 {
			s.Remove(ctx, committed[rng.IntN(len(committed))]) // ErrInUse is fine
		}
	}
}
