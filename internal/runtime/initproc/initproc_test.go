package initproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	flags, pflags, data, rec, err := ParseMountOptions([]string{"nosuid", "ro", "rw", "noexec", "rslave", "mode=755", "size=1m", "rro", "relatime"})
	if err != nil {
		t.Fatal(err)
	}
	if flags != unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_RELATIME {
		t.Errorf("flags = %#x", flags)
	}
	if len(pflags) != 1 || pflags[0] != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("propagation = %v", pflags)
	}
	if data != "mode=755,size=1m" {
		t.Errorf("data = %q", data)
	}
	if rec == nil || rec.Attr_set != unix.MOUNT_ATTR_RDONLY {
		t.Errorf("recursive attrs = %+v", rec)
	}
	// idmap and ridmap are the runtime's, never mount(2)'s data.
	if _, _, data, _, err := ParseMountOptions([]string{"rbind", "ridmap", "idmap"}); err != nil || data != "" {
		t.Errorf("idmap options: data %q, err %v", data, err)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "prog"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "noexec"), []byte(""), 0o644)
	if p, err := lookPath("prog", []string{"PATH=/nonexistent:" + dir}, "/"); err != nil || p != filepath.Join(dir, "prog") {
		t.Errorf("lookPath = %q, %v", p, err)
	}
	if _, err := lookPath("noexec", []string{"PATH=" + dir}, "/"); err == nil {
		t.Error("non-executable found")
	}
	if _, err := lookPath(filepath.Join(dir, "noexec"), nil, "/"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("absolute non-executable: %v", err)
	}
	if _, err := lookPath("missing", nil, "/"); err == nil || !strings.Contains(err.Error(), "not found in $PATH") {
		t.Errorf("missing: %v", err)
	}
}
