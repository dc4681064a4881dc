package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Bad input: a one-line error naming the field or path, exit status 1, and
// nothing left behind (state, cgroup, processes).
func TestBadInput(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *env, bundle string) // mutate the bundle on disk
		id    string
		want  string
	}{
		{"missing config.json", func(e *env, b string) { os.Remove(filepath.Join(b, "config.json")) }, "", "config.json"},
		{"malformed config.json", func(e *env, b string) {
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644)
		}, "", "config.json"},
		{"unknown namespace", func(e *env, b string) {
			rewrite(e.t, b, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			})
		}, "", "bogus"},
		{"missing rootfs", func(e *env, b string) { os.RemoveAll(filepath.Join(b, "rootfs")) }, "", "rootfs"},
		{"id with slash", nil, "a/b", "a/b"},
		{"empty args", func(e *env, b string) { rewrite(e.t, b, func(s *specs.Spec) { s.Process.Args = nil }) }, "", "process.args"},
		{"relative cwd", func(e *env, b string) { rewrite(e.t, b, func(s *specs.Spec) { s.Process.Cwd = "tmp" }) }, "", "process.cwd"},
		{"bad namespace path", func(e *env, b string) {
			rewrite(e.t, b, func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "/nonexistent/ns" })
		}, "", "/nonexistent/ns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			bundle := e.bundle(baseSpec("/bin/true"))
			if tc.setup != nil {
				tc.setup(e, bundle)
			}
			id := tc.id
			if id == "" {
				id = newID(t)
			}
			_, err := e.rt("create", "--bundle", bundle, id)
			if err == nil {
				t.Fatal("create succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "exit status 1") {
				t.Errorf("want exit status 1: %s", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error does not name %q: %s", tc.want, msg)
			}
			if isGorae {
				stderr := msg[strings.LastIndex(msg, "exit status 1: ")+len("exit status 1: "):]
				if strings.Count(stderr, "\n") > 0 {
					t.Errorf("error is not one line: %q", stderr)
				}
			}
			assertNothingLeft(t, e, id)
		})
	}
}

func TestDuplicateID(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	if _, err := e.rt("create", "--bundle", e.bundle(baseSpec("/bin/sleep", "10")), id); err != nil {
		t.Fatal(err)
	}
	_, err := e.rt("create", "--bundle", e.bundle(baseSpec("/bin/true")), id)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("duplicate id: %v", err)
	}
	if st := e.state(id); st.Status != "created" {
		t.Errorf("the first container was disturbed: %+v", st)
	}
}

// A failure inside init (here: a mount that cannot be made) must undo the
// cgroup and state as well.
func TestFailureInInitLeavesNothing(t *testing.T) {
	e := newEnv(t)
	s := baseSpec("/bin/true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent-source"})
	id := newID(t)
	_, err := e.rt("create", "--bundle", e.bundle(s), id)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent-source") {
		t.Fatalf("want an error naming the mount source: %v", err)
	}
	assertNothingLeft(t, e, id)
}

func assertNothingLeft(t *testing.T, e *env, id string) {
	t.Helper()
	if ents, _ := os.ReadDir(e.root); len(ents) > 0 {
		var names []string
		for _, en := range ents {
			names = append(names, en.Name())
		}
		t.Errorf("state root not empty: %v", names)
	}
	if isGorae && !strings.Contains(id, "/") {
		for _, c := range []string{"memory", "pids", "cpu", "freezer"} {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c, "gorae", id)); err == nil {
				t.Errorf("cgroup %s/gorae/%s left behind", c, id)
			}
		}
	}
}

func rewrite(t *testing.T, bundle string, f func(*specs.Spec)) {
	t.Helper()
	p := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := jsonUnmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	f(&s)
	out, _ := jsonMarshal(&s)
	os.WriteFile(p, out, 0o644)
}
