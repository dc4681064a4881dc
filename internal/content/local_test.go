package content_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/content/contenttest"
	"github.com/opencontainers/go-digest"
)

func TestLocalConformance(t *testing.T) {
	contenttest.Run(t, func(t *testing.T) content.Store {
		s, err := content.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func ingests(t *testing.T, root string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(root, "ingest", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A writer that dies leaves its ingest; the next open removes it.
func TestLocalRemovesCrashedIngest(t *testing.T) {
	root := t.TempDir()
	s, err := content.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	// What a killed writer leaves: an unlocked, partial ingest file.
	partial := filepath.Join(root, "ingest", "ingest-123")
	if err := os.WriteFile(partial, []byte("half a layer"), 0o600); err != nil {
		t.Fatal(err)
	}
	// And a live writer in this process, whose ingest must survive.
	w, err := s.Writer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write([]byte("in progress"))
	if n := len(ingests(t, root)); n != 2 {
		t.Fatalf("%d ingests before reopening, want 2", n)
	}

	s2, err := content.NewLocal(root)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	left := ingests(t, root)
	if len(left) != 1 || left[0] == partial {
		t.Fatalf("ingests after reopening: %v, want only the live writer's", left)
	}
	if err := w.Commit(context.Background(), -1, ""); err != nil {
		t.Fatalf("the live writer cannot commit after a reopen: %v", err)
	}
	if _, err := s2.Info(context.Background(), digest.FromString("in progress")); err != nil {
		t.Fatalf("the live writer's blob: %v", err)
	}
	if n := len(ingests(t, root)); n != 0 {
		t.Fatalf("%d ingests after commit, want 0", n)
	}
}

func TestLocalLayout(t *testing.T) {
	root := t.TempDir()
	s, err := content.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello")
	dgst, _, err := content.WriteBlob(context.Background(), s, bytes.NewReader(data), -1, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "blobs", "sha256", dgst.Encoded())
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob file %s: %q, %v", p, got, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o444 {
		t.Fatalf("blob mode %v, want read-only", fi.Mode())
	}
	// Strays in the blob directory are not blobs.
	os.WriteFile(filepath.Join(root, "blobs", "sha256", "README"), nil, 0o600)
	n := 0
	s.Walk(context.Background(), func(content.Info) error { n++; return nil })
	if n != 1 {
		t.Fatalf("Walk found %d blobs, want 1", n)
	}
}

func TestLocalUnwritableRoot(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	_, err := content.NewLocal(f)
	if err == nil || !strings.Contains(err.Error(), f) {
		t.Fatalf("NewLocal on a file = %v, want an error naming %s", err, f)
	}
}
