package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEngineFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	bin := []byte("#!/bin/sh\necho engine\n")
	const digest = "0123456789abcdef0123"
	p, err := engineFile(dir, "engine", bin, digest)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, bin) || filepath.Base(p) != "engine-0123456789abcdef" {
		t.Fatalf("%s holds %q", p, got)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", fi.Mode().Perm())
	}
	// A copy cut short (a crash before rename cannot make one, but a full
	// disk or a hand could) or opened to others is written again.
	for _, spoil := range []func(){
		func() { os.WriteFile(p, bin[:5], 0o755) },
		func() { os.Chmod(p, 0o777) },
	} {
		spoil()
		if p2, err := engineFile(dir, "engine", bin, digest); err != nil || p2 != p {
			t.Fatal(p2, err)
		}
		fi, _ := os.Stat(p)
		if got, _ := os.ReadFile(p); !bytes.Equal(got, bin) || fi.Mode().Perm() != 0o755 {
			t.Errorf("not rewritten: %q %v", got, fi.Mode())
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	if _, err := engineFile(dir, "engine", bin, ""); err == nil {
		t.Error("no digest must be an error")
	}
}

// Binaries of other builds go once a new one is written, unless a process
// runs them.
func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"engine-old", "shim-old", "init-old", "engine-new", "shim-new", "init-new", "notours"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o755)
	}
	pruneCache(dir, filepath.Join(dir, "engine-new"), filepath.Join(dir, "shim-new"), filepath.Join(dir, "init-new"))
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if got := strings.Join(left, ","); got != "engine-new,init-new,notours,shim-new" {
		t.Errorf("left %s", got)
	}
}
