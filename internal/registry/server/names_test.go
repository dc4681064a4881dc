package server

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	good := []string{"a", "library/busybox", "a.b_c__d-e--f/g0", "x/y/z", strings.Repeat("a", 255)}
	bad := []string{"", "A", "a/", "/a", "a//b", "../a", "a/../b", "a/./b", ".a", "a.", "a_", "a___b", "_layers", "a/_manifests", "a b", "a\x00b", strings.Repeat("a", 256), "a:b", "a%2fb"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want ok", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n); err == nil {
			t.Errorf("ValidateName(%q) accepted a name the spec refuses", n)
		}
	}
}

func TestParseRoute(t *testing.T) {
	for path, want := range map[string]route{
		"/v2/":                             {kind: "base"},
		"/v2":                              {kind: "base"},
		"/v2/_catalog":                     {kind: "catalog"},
		"/v2/a/b/tags/list":                {kind: "tags", name: "a/b"},
		"/v2/a/manifests/latest":           {kind: "manifest", name: "a", ref: "latest"},
		"/v2/manifests/manifests/x":        {kind: "manifest", name: "manifests", ref: "x"},
		"/v2/a/blobs/sha256:00":            {kind: "blob", name: "a", ref: "sha256:00"},
		"/v2/a/blobs/uploads/":             {kind: "upload", name: "a"},
		"/v2/a/blobs/uploads":              {kind: "upload", name: "a"},
		"/v2/a/blobs/uploads/abc":          {kind: "upload", name: "a", ref: "abc"},
		"/v2/blobs/uploads/blobs/sha256:1": {kind: "blob", name: "blobs/uploads", ref: "sha256:1"},
		"/v2/a/referrers/sha256:1":         {kind: "referrers", name: "a", ref: "sha256:1"},
	} {
		got, ok := parseRoute(path)
		if !ok || got != want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v", path, got, ok, want)
		}
	}
	for _, path := range []string{"/", "/v1/a/manifests/x", "/v2/a", "/v2/a/tags", "/v2/a/other/x"} {
		if r, ok := parseRoute(path); ok {
			t.Errorf("parseRoute(%q) = %+v, want no route", path, r)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][2]int64{"0-9": {0, 9}, "10-10": {10, 10}, "bytes 5-7": {5, 7}, "5-7/100": {5, 7}} {
		s, e, ok := parseContentRange(in)
		if !ok || s != want[0] || e != want[1] {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", in, s, e, ok)
		}
	}
	for _, in := range []string{"", "5", "9-5", "-1-3", "a-b", "1-", "-3", "0-99999999999999999999"} {
		if _, _, ok := parseContentRange(in); ok {
			t.Errorf("parseContentRange(%q) accepted a bad range", in)
		}
	}
	if uploadRange(0) != "0-0" || uploadRange(10) != "0-9" {
		t.Errorf("uploadRange: %q %q", uploadRange(0), uploadRange(10))
	}
}

// FuzzParseRoute: any path either has no route or yields a name that,
// when valid, stays a relative path of clean components (so the storage
// can join it under its root).
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/a/b/manifests/x", "/v2/../../etc/blobs/sha256:0", "/v2/a/blobs/uploads/x", "/v2//tags/list"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, ok := parseRoute(path)
		if !ok || ValidateName(r.name) != nil {
			return
		}
		for _, c := range strings.Split(r.name, "/") {
			if c == "" || c == "." || c == ".." || strings.HasPrefix(c, "_") {
				t.Fatalf("name %q from %q has component %q", r.name, path, c)
			}
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-9", "bytes 1-2/3", "9-1", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, ok := parseContentRange(s)
		if ok && (start < 0 || end < start) {
			t.Fatalf("parseContentRange(%q) = %d-%d", s, start, end)
		}
	})
}

// FuzzParseManifest: untrusted manifests never panic, and an accepted one
// names only sha256 references.
func FuzzParseManifest(f *testing.F) {
	f.Add("application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	f.Add("", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"x","digest":"sha512:00","size":1}]}`)
	f.Add("application/json", `{"schemaVersion":1}`)
	f.Fuzz(func(t *testing.T, ct, doc string) {
		p, err := ParseManifest(ct, []byte(doc))
		if err != nil {
			return
		}
		for _, d := range append(p.Blobs, p.Children...) {
			if d.Validate() != nil || d.Algorithm() != "sha256" {
				t.Fatalf("accepted reference %q", d)
			}
		}
	})
}
