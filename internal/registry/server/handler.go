// Package server is gorae's registry: the OCI distribution spec v1.1 over
// HTTP (pull, push, content discovery, content management, plus Docker's
// /v2/ check and _catalog), served from a Storage. FS is the read-write
// storage of `gorae registry serve`; ImageStore serves the daemon's own
// images read-only. The handler validates every name, digest, range and
// manifest before the storage sees it; the storage keeps what it holds
// crash-safe. docs/registry.md has the on-disk layout and the
// conformance results.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options configure a Handler.
type Options struct {
	// Auth, if set, must accept every request's basic credentials.
	Auth *Htpasswd
	// Log gets request failures; nil means slog.Default().
	Log *slog.Logger
}

// Handler serves the distribution API from a Storage.
type Handler struct {
	st   Storage
	wr   Writable // nil when the storage is read-only
	opts Options
	log  *slog.Logger
}

// New makes the registry's HTTP handler over st. Pushes and deletes are
// allowed when st is Writable.
func New(st Storage, opts Options) *Handler {
	h := &Handler{st: st, opts: opts, log: opts.Log}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.wr, _ = st.(Writable)
	return h
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, h.log.Error, err)
}

const realm = `Basic realm="gorae registry"`

// ServeHTTP routes a request of the distribution API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	h.log.Debug("registry request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	if h.opts.Auth != nil {
		user, pass, ok := r.BasicAuth()
		if !ok || !h.opts.Auth.Check(user, pass) {
			w.Header().Set("WWW-Authenticate", realm)
			msg := "authentication required: docker login (or skopeo --creds) with a user of the registry's htpasswd file"
			if ok {
				msg = fmt.Sprintf("user %q: wrong user name or password", user)
			}
			h.fail(w, r, Errorf(CodeUnauthorized, "%s", msg))
			return
		}
	}
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		h.fail(w, r, &Error{Code: "NOT_FOUND", Message: fmt.Sprintf("%s is not an endpoint of the distribution API", r.URL.Path), Status: http.StatusNotFound})
		return
	}
	if rt.kind != "base" && rt.kind != "catalog" {
		if err := ValidateName(rt.name); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	var err error
	switch rt.kind {
	case "base":
		err = h.only(r, "GET", "HEAD")
		if err == nil {
			writeJSON(w, r, http.StatusOK, struct{}{})
		}
	case "catalog":
		if err = h.only(r, "GET"); err == nil {
			err = h.catalog(w, r)
		}
	case "tags":
		if err = h.only(r, "GET"); err == nil {
			err = h.tags(w, r, rt.name)
		}
	case "referrers":
		if err = h.only(r, "GET"); err == nil {
			err = h.referrers(w, r, rt.name, rt.ref)
		}
	case "manifest":
		err = h.manifest(w, r, rt.name, rt.ref)
	case "blob":
		err = h.blob(w, r, rt.name, rt.ref)
	case "upload":
		err = h.upload(w, r, rt.name, rt.ref)
	}
	if err != nil {
		h.fail(w, r, err)
	}
}

func (h *Handler) only(r *http.Request, methods ...string) error {
	for _, m := range methods {
		if r.Method == m {
			return nil
		}
	}
	return &Error{Code: CodeUnsupported, Message: fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path), Status: http.StatusMethodNotAllowed}
}

// writable returns the storage for a push or delete, or UNSUPPORTED.
func (h *Handler) writable() (Writable, error) {
	if h.wr == nil {
		return nil, &Error{Code: CodeUnsupported, Message: "this registry is read-only", Status: http.StatusMethodNotAllowed}
	}
	return h.wr, nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// --- discovery ---

// paginate applies the spec's n and last to a sorted list, and says the
// Link of the next page when the list was cut.
func paginate(w http.ResponseWriter, r *http.Request, all []string) ([]string, error) {
	q := r.URL.Query()
	out := all
	if last := q.Get("last"); last != "" {
		i := 0
		for i < len(out) && out[i] <= last {
			i++
		}
		out = out[i:]
	}
	if ns := q.Get("n"); ns != "" {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			return nil, Errorf(CodePaginationInvalid, "n=%q: want a number ≥ 0", ns)
		}
		if n < len(out) {
			out = out[:n]
			if n > 0 {
				next := url.Values{"n": {ns}, "last": {out[n-1]}}
				w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
			}
		}
	}
	return out, nil
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) error {
	repos, err := h.st.Repositories(r.Context())
	if err != nil {
		return err
	}
	page, err := paginate(w, r, repos)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, map[string][]string{"repositories": page})
	return nil
}

func (h *Handler) tags(w http.ResponseWriter, r *http.Request, name string) error {
	tags, err := h.st.Tags(r.Context(), name)
	if err != nil {
		return err
	}
	page, err := paginate(w, r, tags)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, page})
	return nil
}

func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, name, ref string) error {
	d, err := parseDigest(ref)
	if err != nil {
		return err
	}
	list, err := h.st.Referrers(r.Context(), name, d)
	if err != nil {
		return err
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		kept := list[:0]
		for _, x := range list {
			if x.ArtifactType == at {
				kept = append(kept, x)
			}
		}
		list = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if list == nil {
		list = []ocispec.Descriptor{}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: list}
	idx.SchemaVersion = 2
	data, _ := json.Marshal(idx)
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
	return nil
}

// --- manifests ---

func (h *Handler) manifest(w http.ResponseWriter, r *http.Request, name, ref string) error {
	isTag := ValidTag(ref)
	var dgst digest.Digest
	if !isTag {
		d, err := parseDigest(ref)
		if err != nil {
			if r.Method != http.MethodPut {
				// Nothing can have that name: as any unknown manifest.
				return manifestUnknown(name, ref)
			}
			return Errorf(CodeManifestInvalid, "reference %q is neither a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) nor a digest", ref)
		}
		dgst = d
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m, err := h.st.Manifest(r.Context(), name, ref)
		if err != nil {
			return err
		}
		hd := w.Header()
		hd.Set("Content-Type", m.Descriptor.MediaType)
		hd.Set("Content-Length", strconv.Itoa(len(m.Data)))
		hd.Set("Docker-Content-Digest", m.Descriptor.Digest.String())
		hd.Set("ETag", `"`+m.Descriptor.Digest.String()+`"`)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(m.Data)
		}
		return nil
	case http.MethodPut:
		st, err := h.writable()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, MaxManifestSize+1))
		if err != nil {
			return Errorf(CodeManifestInvalid, "reading the manifest: %v", err)
		}
		m, err := ParseManifest(r.Header.Get("Content-Type"), data)
		if err != nil {
			return err
		}
		tag := ""
		if isTag {
			tag = ref
		} else if dgst != m.Descriptor.Digest {
			return Errorf(CodeDigestInvalid, "manifest pushed as %s has digest %s", dgst, m.Descriptor.Digest)
		}
		if err := st.PutManifest(r.Context(), name, tag, m); err != nil {
			return err
		}
		hd := w.Header()
		hd.Set("Location", fmt.Sprintf("/v2/%s/manifests/%s", name, m.Descriptor.Digest))
		hd.Set("Docker-Content-Digest", m.Descriptor.Digest.String())
		if m.Subject != nil {
			hd.Set("OCI-Subject", m.Subject.Digest.String())
		}
		hd.Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return nil
	case http.MethodDelete:
		st, err := h.writable()
		if err != nil {
			return err
		}
		if isTag {
			err = st.DeleteTag(r.Context(), name, ref)
		} else {
			err = st.DeleteManifest(r.Context(), name, dgst)
		}
		if err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return h.only(r, "GET", "HEAD", "PUT", "DELETE")
}

// --- blobs ---

func (h *Handler) blob(w http.ResponseWriter, r *http.Request, name, ref string) error {
	d, err := parseDigest(ref)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		ra, err := h.st.OpenBlob(r.Context(), name, d)
		if err != nil {
			return err
		}
		defer ra.Close()
		hd := w.Header()
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Docker-Content-Digest", d.String())
		hd.Set("ETag", `"`+d.String()+`"`)
		hd.Set("Cache-Control", "max-age=31536000") // a blob never changes
		// ServeContent answers Range (206, 416) and HEAD; a blob that is
		// an *os.File underneath is sent with sendfile.
		var rs io.ReadSeeker = io.NewSectionReader(ra, 0, ra.Size())
		if f, ok := ra.(interface{ OSFile() *os.File }); ok {
			rs = f.OSFile()
		}
		http.ServeContent(w, r, "", time.Time{}, rs)
		return nil
	case http.MethodDelete:
		st, err := h.writable()
		if err != nil {
			return err
		}
		if err := st.DeleteBlob(r.Context(), name, d); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return h.only(r, "GET", "HEAD", "DELETE")
}

// --- uploads ---

func (h *Handler) upload(w http.ResponseWriter, r *http.Request, name, id string) error {
	st, err := h.writable()
	if err != nil {
		return err
	}
	ctx := r.Context()
	if id == "" {
		if r.Method != http.MethodPost {
			return h.only(r, "POST")
		}
		return h.startUpload(w, r, st, name)
	}
	switch r.Method {
	case http.MethodGet:
		size, err := st.UploadSize(ctx, name, id)
		if err != nil {
			return err
		}
		uploadHeaders(w, name, id, size)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch:
		size, err := h.appendChunk(r, st, name, id)
		if err != nil {
			return err
		}
		uploadHeaders(w, name, id, size)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case http.MethodPut:
		q := r.URL.Query().Get("digest")
		if q == "" {
			return Errorf(CodeDigestInvalid, "PUT of upload %s needs ?digest=", id)
		}
		d, err := parseDigest(q)
		if err != nil {
			return err
		}
		if hasBody(r) {
			if _, err := h.appendChunk(r, st, name, id); err != nil {
				return err
			}
		}
		if err := st.FinishUpload(ctx, name, id, d); err != nil {
			return err
		}
		blobCreated(w, name, d)
		return nil
	case http.MethodDelete:
		if err := st.CancelUpload(ctx, name, id); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return h.only(r, "GET", "PATCH", "PUT", "DELETE")
}

func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request, st Writable, name string) error {
	ctx := r.Context()
	q := r.URL.Query()
	if m := q.Get("mount"); m != "" {
		d, derr := parseDigest(m)
		from := q.Get("from")
		if derr == nil && from != "" && ValidateName(from) == nil {
			err := st.MountBlob(ctx, name, from, d)
			if err == nil {
				blobCreated(w, name, d)
				return nil
			}
			var e *Error
			if !errors.As(err, &e) {
				return err
			}
		}
		// Not mountable: the spec's fallback is a plain upload session.
	} else if q.Has("digest") {
		d, err := parseDigest(q.Get("digest"))
		if err != nil {
			return err
		}
		id, err := st.StartUpload(ctx, name)
		if err != nil {
			return err
		}
		if _, err := st.AppendUpload(ctx, name, id, 0, r.Body); err != nil {
			st.CancelUpload(ctx, name, id)
			return err
		}
		if err := st.FinishUpload(ctx, name, id, d); err != nil {
			return err
		}
		blobCreated(w, name, d)
		return nil
	}
	id, err := st.StartUpload(ctx, name)
	if err != nil {
		return err
	}
	uploadHeaders(w, name, id, 0)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// appendChunk writes a PATCH (or final PUT) body into the upload, after
// checking its Content-Range against what the upload holds.
func (h *Handler) appendChunk(r *http.Request, st Writable, name, id string) (int64, error) {
	offset := int64(-1)
	var body io.Reader = r.Body
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, ok := parseContentRange(cr)
		if !ok {
			return 0, &Error{Code: CodeRangeInvalid, Message: fmt.Sprintf("Content-Range %q: want start-end", cr), Status: http.StatusRequestedRangeNotSatisfiable}
		}
		n := end - start + 1
		if r.ContentLength >= 0 && r.ContentLength != n {
			return 0, &Error{Code: CodeRangeInvalid, Message: fmt.Sprintf("Content-Range %q is %d bytes but Content-Length is %d", cr, n, r.ContentLength), Status: http.StatusRequestedRangeNotSatisfiable}
		}
		offset = start
		body = &exactReader{r: r.Body, left: n}
	}
	return st.AppendUpload(r.Context(), name, id, offset, body)
}

// exactReader passes on exactly left bytes and fails if the body is
// shorter or longer, so a chunk is what its Content-Range says.
type exactReader struct {
	r    io.Reader
	left int64
}

var errChunkLength = errors.New("chunk length differs from its Content-Range")

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		var one [1]byte
		if n, _ := io.ReadFull(e.r, one[:]); n > 0 {
			return 0, errChunkLength
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = errChunkLength
	}
	return n, err
}

func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

func uploadHeaders(w http.ResponseWriter, name, id string, size int64) {
	hd := w.Header()
	hd.Set("Location", fmt.Sprintf("/v2/%s/blobs/uploads/%s", name, id))
	hd.Set("Range", uploadRange(size))
	hd.Set("Docker-Upload-UUID", id)
	hd.Set("Content-Length", "0")
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	hd := w.Header()
	hd.Set("Location", fmt.Sprintf("/v2/%s/blobs/%s", name, d))
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}
