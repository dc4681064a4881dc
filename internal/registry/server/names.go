package server

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The spec's grammar for repository names and tags. Names are also the
// directories of the filesystem storage, so nothing that matches can
// climb out of it: no "..", no leading "/", no empty component.
var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLength is distribution's limit (the host part of a reference
// counts against 255 too, so real names are shorter).
const maxNameLength = 255

// ValidateName says whether name is a repository name the spec allows.
func ValidateName(name string) error {
	if len(name) > maxNameLength {
		return Errorf(CodeNameInvalid, "repository name %.40q… is longer than %d characters", name, maxNameLength)
	}
	if !nameRE.MatchString(name) {
		return Errorf(CodeNameInvalid, "invalid repository name %q: lower-case letters, digits and separators (. _ __ -) between components joined by /", name)
	}
	return nil
}

// ValidTag says whether tag is a tag the spec allows.
func ValidTag(tag string) bool { return tagRE.MatchString(tag) }

// parseDigest checks a digest from a URL or query: well formed, and of an
// algorithm we store.
func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", Errorf(CodeDigestInvalid, "invalid digest %q: %v", s, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return "", &Error{Code: CodeUnsupported, Message: fmt.Sprintf("digest %q: only sha256 is supported", s), Status: http.StatusBadRequest}
	}
	return d, nil
}

// route is what a /v2/ path asks for.
type route struct {
	kind string // "base", "catalog", "manifest", "blob", "upload", "tags", "referrers"
	name string
	ref  string // tag or digest, blob digest, upload id ("" for a new upload)
}

// parseRoute splits a path under /v2/. A name has slashes of its own, so
// the route is read from the right: the last components say the endpoint
// and what is left is the name.
func parseRoute(path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return route{kind: "base"}, true
		}
		return route{}, false
	}
	if rest == "" {
		return route{kind: "base"}, true
	}
	if rest == "_catalog" {
		return route{kind: "catalog"}, true
	}
	parts := strings.Split(rest, "/")
	n := len(parts)
	name := func(k int) string { return strings.Join(parts[:n-k], "/") }
	switch {
	case n >= 3 && parts[n-2] == "tags" && parts[n-1] == "list":
		return route{kind: "tags", name: name(2)}, true
	case n >= 4 && parts[n-3] == "blobs" && parts[n-2] == "uploads":
		return route{kind: "upload", name: name(3), ref: parts[n-1]}, true
	case n >= 3 && parts[n-2] == "blobs" && parts[n-1] == "uploads":
		return route{kind: "upload", name: name(2)}, true
	case n >= 3 && parts[n-2] == "blobs":
		return route{kind: "blob", name: name(2), ref: parts[n-1]}, true
	case n >= 3 && parts[n-2] == "manifests":
		return route{kind: "manifest", name: name(2), ref: parts[n-1]}, true
	case n >= 3 && parts[n-2] == "referrers":
		return route{kind: "referrers", name: name(2), ref: parts[n-1]}, true
	}
	return route{}, false
}

// parseContentRange reads a chunk's Content-Range, "start-end" inclusive
// as the spec writes it (a "bytes " prefix, which some clients send, is
// accepted too).
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes ")
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	// "start-end/total": the total is not used.
	b, _, _ = strings.Cut(b, "/")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// uploadRange is the Range header of an upload holding size bytes: the
// inclusive range received, "0-0" when nothing is (as distribution says).
func uploadRange(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}
