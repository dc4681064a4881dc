package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Hostile layers: each must leave the host untouched and either apply
// contained in the layer directory or fail with an error naming the entry.
// The host is a canary directory beside the layer directory, reached both
// by climbing (..) and by its absolute path.

type hostileCase struct {
	name string
	ents func(canary string) []ent
	// errEntry, when set, is the entry the error must name; otherwise the
	// layer must apply.
	errEntry string
	errText  string
	// inside checks the layer directory after a contained success.
	inside func(t *testing.T, dir, canary string)
}

func hostileCases() []hostileCase {
	exists := func(rel string) func(t *testing.T, dir, canary string) {
		return func(t *testing.T, dir, canary string) {
			if _, err := os.Lstat(filepath.Join(dir, rel)); err != nil {
				t.Errorf("expected %s inside the layer: %v", rel, err)
			}
		}
	}
	return []hostileCase{
		{name: "dotdot", ents: func(string) []ent {
			return []ent{{name: "../../etc/x", body: "x"}}
		}, errEntry: "../../etc/x", errText: "outside the layer"},
		{name: "dotdot-to-canary", ents: func(string) []ent {
			return []ent{{name: "../canary/secret", body: "pwned"}}
		}, errEntry: "../canary/secret", errText: "outside the layer"},
		{name: "dotdot-in-middle", ents: func(string) []ent {
			return []ent{{name: "a/b/../../../canary/new", body: "pwned"}}
		}, errEntry: "a/b/../../../canary/new", errText: "outside the layer"},
		{name: "absolute", ents: func(string) []ent {
			return []ent{{name: "/abs/path", body: "x"}}
		}, inside: exists("abs/path")},
		{name: "absolute-canary-path", ents: func(canary string) []ent {
			return []ent{{name: canary + "/secret", body: "pwned"}, {name: canary + "/new", body: "pwned"}}
		}, inside: func(t *testing.T, dir, canary string) {
			exists(canary[1:]+"/secret")(t, dir, canary)
		}},
		{name: "symlink-to-root-then-file", ents: func(string) []ent {
			return []ent{
				{name: "evil", typ: tar.TypeSymlink, link: "/"},
				{name: "evil/etc/gorae-pwned", body: "pwned"},
			}
		}, inside: exists("etc/gorae-pwned")},
		{name: "symlink-to-canary-then-file", ents: func(canary string) []ent {
			return []ent{
				{name: "evil", typ: tar.TypeSymlink, link: canary},
				{name: "evil/secret", body: "pwned"},
			}
		}, errEntry: "evil/secret", errText: "symlink, not a directory"},
		{name: "symlink-dotdot-then-file", ents: func(string) []ent {
			return []ent{
				// From layer/a/b three levels up is the canary's parent.
				{name: "up", typ: tar.TypeSymlink, link: "../../.."},
				{name: "up/canary/new", body: "pwned"},
			}
		}, inside: exists("canary/new")},
		{name: "symlink-chain-outside", ents: func(canary string) []ent {
			return []ent{
				{name: "a", typ: tar.TypeSymlink, link: "b"},
				{name: "b", typ: tar.TypeSymlink, link: "c/../../.."},
				{name: "c/", typ: tar.TypeDir},
				{name: "a/canary/new", body: "pwned"},
				{name: "a" + canary + "/new2", body: "pwned"},
			}
		}, inside: exists("canary/new")},
		{name: "file-over-symlink", ents: func(canary string) []ent {
			return []ent{
				{name: "link", typ: tar.TypeSymlink, link: canary + "/secret"},
				{name: "link", body: "pwned"},
			}
		}, inside: func(t *testing.T, dir, canary string) {
			if b, _ := os.ReadFile(filepath.Join(dir, "link")); string(b) != "pwned" {
				t.Errorf("link = %q, want the file that replaced the symlink", b)
			}
		}},
		{name: "dir-over-symlink", ents: func(canary string) []ent {
			return []ent{
				{name: "d", typ: tar.TypeSymlink, link: canary},
				{name: "d/", typ: tar.TypeDir, mode: 0o777},
				{name: "d/new", body: "pwned"},
			}
		}, inside: exists("d/new")},
		{name: "hardlink-host-absolute", ents: func(string) []ent {
			return []ent{{name: "pw", typ: tar.TypeLink, link: "/etc/passwd"}}
		}, errEntry: "pw", errText: "not in this layer"},
		{name: "hardlink-canary-absolute", ents: func(canary string) []ent {
			return []ent{{name: "pw", typ: tar.TypeLink, link: canary + "/secret"}}
		}, errEntry: "pw", errText: "not in this layer"},
		{name: "hardlink-dotdot", ents: func(string) []ent {
			return []ent{{name: "x", typ: tar.TypeLink, link: "../../x"}}
		}, errEntry: "x", errText: "outside the layer"},
		{name: "hardlink-through-symlink", ents: func(canary string) []ent {
			return []ent{
				{name: "s", typ: tar.TypeSymlink, link: canary},
				{name: "h", typ: tar.TypeLink, link: "s/secret"},
			}
		}, errEntry: "h", errText: "not in this layer"},
		{name: "hardlink-to-symlink-to-host", ents: func(canary string) []ent {
			return []ent{
				{name: "s", typ: tar.TypeSymlink, link: canary + "/secret"},
				{name: "h", typ: tar.TypeLink, link: "s"}, // links the symlink, not its target
				{name: "h", body: "pwned"},
			}
		}, inside: exists("h")},
		{name: "whiteout-dotdot", ents: func(string) []ent {
			return []ent{{name: ".wh...", body: ""}}
		}, errEntry: ".wh...", errText: "not a file name"},
		{name: "whiteout-dot", ents: func(string) []ent {
			return []ent{{name: "d/.wh..", body: ""}}
		}, errEntry: "d/.wh..", errText: "not a file name"},
		{name: "whiteout-through-symlink", ents: func(canary string) []ent {
			return []ent{
				{name: "s", typ: tar.TypeSymlink, link: canary},
				{name: "s/.wh.secret"},
			}
		}, errEntry: "s/.wh.secret", errText: "symlink, not a directory"},
		{name: "opaque-through-symlink", ents: func(canary string) []ent {
			return []ent{
				{name: "s", typ: tar.TypeSymlink, link: canary},
				{name: "s/.wh..wh..opq"},
			}
		}, errEntry: "s/.wh..wh..opq", errText: "symlink, not a directory"},
		{name: "char-device", ents: func(string) []ent {
			return []ent{{name: "dev/mem", typ: tar.TypeChar, major: 1, minor: 1}}
		}, errEntry: "dev/mem", errText: "may not create device nodes"},
		{name: "block-device", ents: func(string) []ent {
			return []ent{{name: "dev/sda", typ: tar.TypeBlock, major: 8, minor: 0}}
		}, errEntry: "dev/sda", errText: "may not create device nodes"},
		{name: "truncated", ents: func(string) []ent {
			return []ent{{name: "big", body: "short", size: 1 << 40}}
		}, errEntry: "big", errText: "truncated"},
		{name: "truncated-after-header", ents: func(string) []ent {
			return []ent{{name: "ok", body: "fine"}, {name: "big", size: 1 << 20}}
		}, errEntry: "big", errText: "truncated"},
		{name: "overlay-xattr-forgery", ents: func(string) []ent {
			return []ent{{name: "d/", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.redirect": "/etc", "trusted.overlay.opaque": "y"}}}
		}, inside: func(t *testing.T, dir, _ string) {
			if xattrOf(filepath.Join(dir, "d"), "trusted.overlay.redirect") != "" || xattrOf(filepath.Join(dir, "d"), opaqueXattr) != "" {
				t.Error("layer set overlay's own xattrs")
			}
		}},
		{name: "root-as-file", ents: func(string) []ent {
			return []ent{{name: ".", body: "x"}}
		}, errEntry: ".", errText: "layer root"},
		{name: "bad-owner", ents: func(string) []ent {
			return []ent{{name: "f", uid: -1}}
		}, errEntry: "f", errText: "uid"},
	}
}

func TestApplyHostile(t *testing.T) {
	requireRoot(t)
	resolvers := []struct {
		name string
		fn   func(int, string, int) (int, error)
	}{{"openat2", resolveOpenat2}, {"securejoin", resolveSecurejoin}}
	for _, r := range resolvers {
		t.Run(r.name, func(t *testing.T) {
			saved := inRootResolve
			inRootResolve = r.fn
			t.Cleanup(func() { inRootResolve = saved })
			for _, c := range hostileCases() {
				t.Run(c.name, func(t *testing.T) { runHostile(t, c) })
			}
		})
	}
}

func runHostile(t *testing.T, c hostileCase) {
	base := t.TempDir()
	canary := filepath.Join(base, "canary")
	os.Mkdir(canary, 0o755)
	os.WriteFile(filepath.Join(canary, "secret"), []byte("original"), 0o600)
	dir := filepath.Join(base, "layer", "a", "b")
	os.MkdirAll(dir, 0o755)
	before := describe(t, base, true)
	delete(before, "layer/a/b")

	_, err := Apply(t.Context(), dir, bytes.NewReader(tarOf(t, c.ents(canary)...)))

	after := describe(t, base, true)
	for k := range after {
		if strings.HasPrefix(k, "layer/a/b") {
			delete(after, k)
		}
	}
	sameTree(t, before, after)
	if xattrOf(canary, opaqueXattr) != "" {
		t.Error("canary marked opaque")
	}
	if _, err := os.Lstat("/etc/gorae-pwned"); err == nil {
		os.Remove("/etc/gorae-pwned")
		t.Fatal("the layer wrote /etc/gorae-pwned on the host")
	}
	if c.errEntry != "" {
		if err == nil {
			t.Fatalf("Apply succeeded; want an error naming %q", c.errEntry)
		}
		if !strings.Contains(err.Error(), `"`+c.errEntry+`"`) || !strings.Contains(err.Error(), c.errText) {
			t.Fatalf("error %q does not name entry %q with %q", err, c.errEntry, c.errText)
		}
		return
	}
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if c.inside != nil {
		c.inside(t, dir, canary)
	}
}

// The canary check itself must be able to fail: writing into it shows up.
func TestHostileCanaryDetects(t *testing.T) {
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "canary"), 0o755)
	before := describe(t, base, true)
	os.WriteFile(filepath.Join(base, "canary", "x"), nil, 0o600)
	after := describe(t, base, true)
	keys := func(m map[string]string) []string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		slices.Sort(k)
		return k
	}
	if slices.Equal(keys(before), keys(after)) {
		t.Fatal("describe does not see a new file")
	}
}
