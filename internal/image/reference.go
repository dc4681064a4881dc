package image

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// ErrInvalidReference is wrapped by every error of reference parsing.
var ErrInvalidReference = errors.New("invalid reference format")

// ReferenceError says why a string is not an image reference, in Docker's
// words ("invalid reference format: repository name must be lowercase"),
// which clients match.
type ReferenceError struct {
	Input string
	Err   error
}

func (e *ReferenceError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, ErrInvalidReference.Error()) {
		return msg
	}
	return ErrInvalidReference.Error() + ": " + msg
}

func (e *ReferenceError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalidReference) true.
func (e *ReferenceError) Is(target error) bool { return target == ErrInvalidReference }

// ParseReference normalises an image reference as `docker pull` does:
// "busybox" is docker.io/library/busybox:latest, "busybox@sha256:…" keeps
// its digest, and "name:tag@sha256:…" keeps only the digest, which is what
// identifies the content.
func ParseReference(s string) (reference.Named, error) {
	ref, err := reference.ParseDockerRef(s)
	if err != nil {
		return nil, &ReferenceError{Input: s, Err: err}
	}
	return ref, nil
}

// ParseTag parses the target of `docker tag`: a name with an optional tag
// (":latest" if none). A digest is refused, as Docker refuses it: a digest
// names content and cannot be pointed elsewhere.
func ParseTag(s string) (reference.NamedTagged, error) {
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, &ReferenceError{Input: s, Err: err}
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil, &ReferenceError{Input: s, Err: errors.New("refusing to create a tag with a digest reference")}
	}
	tagged, ok := reference.TagNameOnly(ref).(reference.NamedTagged)
	if !ok {
		return nil, &ReferenceError{Input: s, Err: fmt.Errorf("%q has no tag", s)}
	}
	return tagged, nil
}

// FamiliarString is the short form Docker shows for a reference:
// docker.io/library/busybox:latest is "busybox:latest".
func FamiliarString(ref reference.Reference) string {
	return reference.FamiliarString(ref)
}

// canonicalRef is name@dgst, the form of RepoDigests.
func canonicalRef(name reference.Named, dgst digest.Digest) (reference.Canonical, error) {
	return reference.WithDigest(reference.TrimNamed(name), dgst)
}
