package image

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReference(t *testing.T) {
	const dgst = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"
	tests := []struct {
		in, want, familiar string
	}{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"user/app:v1", "docker.io/user/app:v1", "user/app:v1"},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest"},
		{"localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b:c"},
		{"ghcr.io/owner/img", "ghcr.io/owner/img:latest", "ghcr.io/owner/img:latest"},
		{"busybox@" + dgst, "docker.io/library/busybox@" + dgst, "busybox@" + dgst},
		// Docker keeps the digest and drops the tag: the digest decides.
		{"busybox:1.36@" + dgst, "docker.io/library/busybox@" + dgst, "busybox@" + dgst},
	}
	for _, tc := range tests {
		ref, err := ParseReference(tc.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", tc.in, err)
			continue
		}
		if ref.String() != tc.want || FamiliarString(ref) != tc.familiar {
			t.Errorf("ParseReference(%q) = %s (%s), want %s (%s)", tc.in, ref, FamiliarString(ref), tc.want, tc.familiar)
		}
	}
}

func TestParseReferenceErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"", "invalid reference format"},
		{"a b", "invalid reference format"},
		{"busybox:", "invalid reference format"},
		{"busybox@sha256:abc", "invalid reference format"},
		{"-x", "invalid reference format"},
		{strings.Repeat("a", 300), "invalid reference format: repository name must not be more than 255 characters"},
		{strings.Repeat("0", 64), "invalid repository name"},
	}
	for _, tc := range tests {
		_, err := ParseReference(tc.in)
		if err == nil {
			t.Errorf("ParseReference(%q) succeeded", tc.in)
			continue
		}
		if !errors.Is(err, ErrInvalidReference) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseReference(%q) = %q, want ErrInvalidReference saying %q", tc.in, err, tc.msg)
		}
	}
	// Docker's own wording for an upper-case path component of a
	// domain-qualified name.
	_, err := ParseReference("example.com/Foo")
	if err == nil || err.Error() != "invalid reference format: repository name (Foo) must be lowercase" {
		t.Errorf("uppercase path: %v", err)
	}
}

func TestParseTag(t *testing.T) {
	ref, err := ParseTag("myapp")
	if err != nil || ref.String() != "docker.io/library/myapp:latest" {
		t.Fatalf("ParseTag(myapp) = %v, %v", ref, err)
	}
	_, err = ParseTag("myapp@sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa")
	if !errors.Is(err, ErrInvalidReference) || !strings.Contains(err.Error(), "refusing to create a tag with a digest reference") {
		t.Fatalf("ParseTag with digest = %v", err)
	}
}
