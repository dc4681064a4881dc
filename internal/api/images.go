package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gorae/gorae/internal/errdefs"
)

// imageOps are the operations addressed as /images/{name}/{op}, by the
// method that serves them. Image names contain slashes
// (docker.io/library/busybox:latest), so ServeMux cannot split the name
// from the operation; the last path element does.
var imageOps = map[string]string{
	"json": http.MethodGet, "history": http.MethodGet, "get": http.MethodGet,
	"tag": http.MethodPost, "push": http.MethodPost,
}

// splitImageOp splits "NAME/OP" for method: NAME, OP and the status to
// answer if OP is not one of method's (404, or 405 if another method
// has it).
func splitImageOp(rest, method string) (name, op string, status int) {
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", "", http.StatusNotFound
	}
	name, op = rest[:i], rest[i+1:]
	switch m, ok := imageOps[op]; {
	case !ok:
		return name, op, http.StatusNotFound
	case m != method && !(method == http.MethodHead && m == http.MethodGet):
		return name, op, http.StatusMethodNotAllowed
	}
	return name, op, 0
}

// imageRoute answers for an image path that names no operation of this
// method, as unmatched routes are answered.
func imageRoute(w http.ResponseWriter, r *http.Request, status int, op string) error {
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", imageOps[op])
		writeErrorBody(w, status, "method "+r.Method+" not allowed for "+r.URL.Path)
		return nil
	}
	writeErrorBody(w, http.StatusNotFound, "page not found")
	return nil
}

// getImageByName is GET /images/{name}/json, /history and /get.
func (s *Server) getImageByName(w http.ResponseWriter, r *http.Request) error {
	name, op, status := splitImageOp(r.PathValue("name"), r.Method)
	if status != 0 {
		return imageRoute(w, r, status, op)
	}
	switch op {
	case "json":
		img, err := s.b.ImageInspect(r.Context(), name)
		if err != nil {
			return err
		}
		if versionLess(version(r), "1.48") {
			img.Descriptor = nil
		}
		return writeJSON(w, http.StatusOK, img)
	case "history":
		h, err := s.b.ImageHistory(r.Context(), name)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, nonNil(h))
	default: // get
		return s.saveImages(w, r, []string{name})
	}
}

// postImageByName is POST /images/{name}/tag?repo=&tag= and
// /images/{name}/push?tag=.
func (s *Server) postImageByName(w http.ResponseWriter, r *http.Request) error {
	name, op, status := splitImageOp(r.PathValue("name"), r.Method)
	if status != 0 {
		return imageRoute(w, r, status, op)
	}
	if op == "push" {
		return s.pushImage(w, r, name)
	}
	q := form(r)
	if err := s.b.ImageTag(r.Context(), name, q.Get("repo"), q.Get("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// deleteImage is DELETE /images/{name}?force=&noprune=; the whole rest
// of the path is the name.
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if strings.TrimSpace(name) == "" {
		return invalidf("image name cannot be blank")
	}
	q := form(r)
	resp, err := s.b.ImageRemove(r.Context(), name, boolValue(q, "force"), boolValue(q, "noprune"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nonNil(resp))
}

// getImagesList is GET /images/json?all=&filters=.
func (s *Server) getImagesList(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	filters, err := filtersValue(q)
	if err != nil {
		return err
	}
	v := version(r)
	// Before 1.41 `filter` was a reference pattern of its own.
	if f := q.Get("filter"); f != "" && versionLess(v, "1.41") {
		if filters == nil {
			filters = map[string][]string{}
		}
		filters["reference"] = append(filters["reference"], f)
	}
	list, err := s.b.ImageList(r.Context(), ImageListOptions{All: boolValue(q, "all"), Filters: filters})
	if err != nil {
		return err
	}
	for i := range list {
		img := &list[i]
		// Before 1.43 an untagged image showed <none>; since, empty lists.
		if versionLess(v, "1.43") && len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
			img.RepoTags, img.RepoDigests = []string{"<none>:<none>"}, []string{"<none>@<none>"}
		}
		img.RepoTags, img.RepoDigests = nonNil(img.RepoTags), nonNil(img.RepoDigests)
		if versionLess(v, "1.48") {
			img.Descriptor = nil
		}
	}
	return writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) postImagesPrune(w http.ResponseWriter, r *http.Request) error {
	filters, err := filtersValue(form(r))
	if err != nil {
		return err
	}
	rep, err := s.b.ImagePrune(r.Context(), filters)
	if err != nil {
		return err
	}
	rep.ImagesDeleted = nonNil(rep.ImagesDeleted)
	return writeJSON(w, http.StatusOK, rep)
}

// postImagesCreate is POST /images/create: fromSrc=- imports the body as
// a root filesystem (`docker import`); fromImage pulls.
func (s *Server) postImagesCreate(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	if img := q.Get("fromImage"); img != "" {
		return s.pullImage(w, r, img)
	}
	switch src := q.Get("fromSrc"); src {
	case "-":
	case "":
		return invalidf("images/create: give fromSrc=- with a tarball body (import) or fromImage (pull)")
	default:
		return errdefs.NotImplemented(errors.New("importing from a URL (" + src + ") is not supported: download it and `docker import file.tar`"))
	}
	platform, err := platformValue(q)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	out := newFlushWriter(w)
	err = s.b.ImageImport(r.Context(), r.Body, q.Get("repo"), q.Get("tag"), q["changes"], q.Get("message"), platform, out)
	return progressError(w, out, err)
}

// getImagesSave is GET /images/get?names=a&names=b (docker save).
func (s *Server) getImagesSave(w http.ResponseWriter, r *http.Request) error {
	names := form(r)["names"]
	if len(names) == 0 {
		return invalidf("images/get: name at least one image: names=NAME")
	}
	return s.saveImages(w, r, names)
}

func (s *Server) saveImages(w http.ResponseWriter, r *http.Request, names []string) error {
	w.Header().Set("Content-Type", "application/x-tar")
	return s.b.ImageSave(r.Context(), names, w)
}

// postImagesLoad is POST /images/load?quiet= (docker load); the body is
// the archive, streamed, so it is not size-limited. quiet is on unless
// asked off, as in Docker.
func (s *Server) postImagesLoad(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	out := newFlushWriter(w)
	err := s.b.ImageLoad(r.Context(), r.Body, boolOr(form(r), "quiet", true), out)
	return progressError(w, out, err)
}

// progressError reports a failed import or load: with its status if
// nothing was sent yet, else in the JSON progress stream where the
// docker CLI shows it.
func progressError(w http.ResponseWriter, out *flushWriter, err error) error {
	if err == nil || !started(w) {
		return err
	}
	writeStreamError(out, err)
	return nil
}
