package container

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	ctr "github.com/moby/moby/api/types/container"

	"github.com/gorae/gorae/internal/errdefs"
)

func TestStoreAddGetRenameDeleteReopen(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	a := New("abc123"+NewID()[:58], "/web")
	if err := s.Add(a); err != nil {
		t.Fatal(err)
	}
	b := New("abd456"+NewID()[:58], "/web")
	if err := s.Add(b); !errdefs.IsConflict(err) {
		t.Fatalf("duplicate name: %v", err)
	}
	b.Name = "/db"
	if err := s.Add(b); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]*Container{a.ID: a, "web": a, "/db": b, "abc": a, "abd4": b} {
		got, err := s.Get(ref)
		if err != nil || got != want {
			t.Errorf("Get(%q) = %v, %v", ref, got, err)
		}
	}
	if _, err := s.Get("ab"); !errdefs.IsInvalidParameter(err) {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := s.Get("zzz"); !errdefs.IsNotFound(err) {
		t.Errorf("missing: %v", err)
	}
	if err := s.Rename(a, "/db"); !errdefs.IsConflict(err) {
		t.Errorf("rename onto a taken name: %v", err)
	}
	if err := s.Rename(a, "/frontend"); err != nil {
		t.Fatal(err)
	}
	s.Save(a)
	// A corrupt record is skipped, not fatal.
	os.MkdirAll(filepath.Join(root, "junk"), 0o700)
	os.WriteFile(filepath.Join(root, "junk", recordFile), []byte("{"), 0o600)
	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get("frontend"); err != nil || got.ID != a.ID {
		t.Errorf("after reopen: %v %v", got, err)
	}
	if len(s2.List()) != 2 {
		t.Errorf("List = %d", len(s2.List()))
	}
	if err := s2.Delete(mustGet(t, s2, "db")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, b.ID)); err == nil {
		t.Error("directory left after delete")
	}
	if err := s2.Add(New(NewID(), "/db")); err != nil {
		t.Errorf("name not freed by delete: %v", err)
	}
}

func mustGet(t *testing.T, s *Store, ref string) *Container {
	c, err := s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNormalizeName(t *testing.T) {
	if n, err := NormalizeName("web_1.x-y"); err != nil || n != "/web_1.x-y" {
		t.Errorf("%q %v", n, err)
	}
	for _, bad := range []string{"", "a", "-x", "a b", "a/b", "../x"} {
		if _, err := NormalizeName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWaitConditions(t *testing.T) {
	c := New(NewID(), "/w")
	done := make(chan struct{})
	res := make(chan int, 3)
	go func() { code, _ := c.Wait(done, ctr.WaitConditionNotRunning); res <- code }()
	go func() { code, _ := c.Wait(done, ctr.WaitConditionNextExit); res <- code }()
	go func() { code, _ := c.Wait(done, ctr.WaitConditionRemoved); res <- code }()
	time.Sleep(20 * time.Millisecond)
	c.SetRunning(42, time.Now())
	select {
	case <-res:
		t.Fatal("a waiter returned while running")
	case <-time.After(20 * time.Millisecond):
	}
	c.SetStopped(7, false, time.Now(), "")
	for i := 0; i < 2; i++ {
		select {
		case code := <-res:
			if code != 7 {
				t.Errorf("exit code %d", code)
			}
		case <-time.After(time.Second):
			t.Fatal("not-running/next-exit waiter did not return")
		}
	}
	c.SetRemoved()
	select {
	case <-res:
	case <-time.After(time.Second):
		t.Fatal("removed waiter did not return")
	}
	// Already stopped: not-running returns at once.
	if code, ok := c.Wait(done, ctr.WaitConditionNotRunning); !ok || code != 7 {
		t.Errorf("immediate wait = %d %v", code, ok)
	}
	close(done)
	c2 := New(NewID(), "/w2")
	if _, ok := c2.Wait(done, ctr.WaitConditionNextExit); ok {
		t.Error("cancelled wait reported success")
	}
}
