package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/gorae/gorae/internal/errdefs"
)

func (s *Server) getContainersList(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	limit, err := intValue(q, "limit", 0)
	if err != nil {
		return err
	}
	filters, err := filtersValue(q)
	if err != nil {
		return err
	}
	list, err := s.b.ContainerList(r.Context(), ContainerListOptions{
		All: boolValue(q, "all"), Limit: limit, Size: boolValue(q, "size"), Filters: filters,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nonNil(list))
}

// postContainersCreate is POST /containers/create?name=&platform=; the
// body is a CreateRequest: the Config with HostConfig and
// NetworkingConfig beside its fields.
func (s *Server) postContainersCreate(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	var req container.CreateRequest
	if _, err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Config == nil {
		return invalidf("config cannot be empty in order to create a container")
	}
	platform, err := platformValue(q)
	if err != nil {
		return err
	}
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	nc := req.NetworkingConfig
	if nc == nil {
		nc = &network.NetworkingConfig{}
	}
	resp, err := s.b.ContainerCreate(r.Context(), q.Get("name"), req.Config, hc, nc, platform)
	if err != nil {
		return err
	}
	resp.Warnings = nonNil(resp.Warnings)
	return writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) postContainersPrune(w http.ResponseWriter, r *http.Request) error {
	filters, err := filtersValue(form(r))
	if err != nil {
		return err
	}
	rep, err := s.b.ContainerPrune(r.Context(), filters)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

func (s *Server) getContainerInspect(w http.ResponseWriter, r *http.Request) error {
	c, err := s.b.ContainerInspect(r.Context(), r.PathValue("id"), boolValue(form(r), "size"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, withNetworkCompat(c))
}

// postContainerStart is POST /containers/{id}/start. A HostConfig body
// was removed in API 1.24; like Docker, refuse anything longer than an
// empty object rather than silently ignore it.
func (s *Server) postContainerStart(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > 7 || r.ContentLength == -1 {
		return invalidf("starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24")
	}
	if form(r).Get("checkpoint") != "" {
		return errdefs.NotImplemented(errors.New("starting from a checkpoint is not supported"))
	}
	return noContent(w, s.b.ContainerStart(r.Context(), r.PathValue("id")))
}

func (s *Server) postContainerStop(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	t, err := optionalInt(q, "t")
	if err != nil {
		return err
	}
	return noContent(w, s.b.ContainerStop(r.Context(), r.PathValue("id"), q.Get("signal"), t))
}

func (s *Server) postContainerRestart(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	t, err := optionalInt(q, "t")
	if err != nil {
		return err
	}
	return noContent(w, s.b.ContainerRestart(r.Context(), r.PathValue("id"), q.Get("signal"), t))
}

func (s *Server) postContainerKill(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.b.ContainerKill(r.Context(), r.PathValue("id"), form(r).Get("signal")))
}

func (s *Server) postContainerPause(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.b.ContainerPause(r.Context(), r.PathValue("id")))
}

func (s *Server) postContainerUnpause(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.b.ContainerUnpause(r.Context(), r.PathValue("id")))
}

func (s *Server) postContainerRename(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.b.ContainerRename(r.Context(), r.PathValue("id"), form(r).Get("name")))
}

func (s *Server) deleteContainer(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	if boolValue(q, "link") {
		return errdefs.NotImplemented(errors.New("removing a link is not supported: gorae has no legacy links"))
	}
	return noContent(w, s.b.ContainerRemove(r.Context(), r.PathValue("id"), boolValue(q, "force"), boolValue(q, "v")))
}

// postContainerWait is POST /containers/{id}/wait?condition=. Like
// Docker, it sends the status at once (so `docker run` knows the wait is
// in place before it starts the container) and the body when the
// condition holds.
func (s *Server) postContainerWait(w http.ResponseWriter, r *http.Request) error {
	cond := container.WaitCondition(form(r).Get("condition"))
	switch cond {
	case "":
		cond = container.WaitConditionNotRunning
	case container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return invalidf("invalid condition: %q", cond)
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	ch, err := s.b.ContainerWait(ctx, r.PathValue("id"), cond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	out := newFlushWriter(w)
	out.Flush()
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil
		}
		return writeJSONBody(out, resp)
	case <-ctx.Done():
		return nil
	}
}

func (s *Server) postContainerUpdate(w http.ResponseWriter, r *http.Request) error {
	var uc container.UpdateConfig
	if _, err := s.readJSON(w, r, &uc); err != nil {
		return err
	}
	resp, err := s.b.ContainerUpdate(r.Context(), r.PathValue("id"), &uc)
	if err != nil {
		return err
	}
	resp.Warnings = nonNil(resp.Warnings)
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) postContainerResize(w http.ResponseWriter, r *http.Request) error {
	h, wd, err := terminalSize(r)
	if err != nil {
		return err
	}
	if err := s.b.ContainerResize(r.Context(), r.PathValue("id"), h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// terminalSize reads a resize request's h and w.
func terminalSize(r *http.Request) (int, int, error) {
	q := form(r)
	h, err := dimension(q.Get("h"), "h")
	if err != nil {
		return 0, 0, err
	}
	wd, err := dimension(q.Get("w"), "w")
	return h, wd, err
}

// dimension reads a terminal height or width: a number of cells that
// fits a winsize field.
func dimension(v, name string) (int, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil {
		return 0, invalidf("invalid %s %q: want a number of cells from 0 to 65535", name, v)
	}
	return int(n), nil
}

func (s *Server) getContainerTop(w http.ResponseWriter, r *http.Request) error {
	top, err := s.b.ContainerTop(r.Context(), r.PathValue("id"), form(r).Get("ps_args"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, top)
}

// getContainerLogs is GET /containers/{id}/logs. The Backend writes the
// stream, framed unless the container has a tty; asking ContainerTTY
// first makes an unknown container a 404 and fixes the Content-Type.
func (s *Server) getContainerLogs(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	opts := LogOptions{
		Follow: boolValue(q, "follow"), Timestamps: boolValue(q, "timestamps"),
		Stdout: boolValue(q, "stdout"), Stderr: boolValue(q, "stderr"),
	}
	if !opts.Stdout && !opts.Stderr {
		return invalidf("Bad parameters: you must choose at least one stream")
	}
	var err error
	if opts.Since, err = timeValue(q, "since"); err != nil {
		return err
	}
	if opts.Until, err = timeValue(q, "until"); err != nil {
		return err
	}
	if opts.Tail, err = tailValue(q); err != nil {
		return err
	}
	id := r.PathValue("id")
	tty, err := s.b.ContainerTTY(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", streamType(tty, version(r)))
	ctx, cancel := s.streamContext(r)
	defer cancel()
	out := newFlushWriter(w)
	if opts.Follow {
		out.Flush()
	}
	err = s.b.ContainerLogs(ctx, id, opts, out)
	if err != nil && started(w) && ctx.Err() == nil {
		writeStderrText(out, !tty, "Error grabbing logs: "+err.Error()+"\n")
	}
	return err
}

// streamType is the Content-Type of a stdout/stderr stream: raw with a
// tty; multiplexed without one, which clients before 1.42 only know as
// raw.
func streamType(tty bool, v string) string {
	if tty || versionLess(v, "1.42") {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// getContainerStats is GET /containers/{id}/stats?stream=&one-shot=.
func (s *Server) getContainerStats(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	stream, oneShot := boolOr(q, "stream", true), boolValue(q, "one-shot")
	if stream && oneShot {
		return invalidf("cannot have stream=true and one-shot=true")
	}
	w.Header().Set("Content-Type", "application/json")
	ctx, cancel := s.streamContext(r)
	defer cancel()
	return s.b.ContainerStats(ctx, r.PathValue("id"), stream, oneShot, newFlushWriter(w))
}

func (s *Server) getContainerExport(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/x-tar")
	return s.b.ContainerExport(r.Context(), r.PathValue("id"), w)
}

// postCommit is POST /commit?container=&repo=&tag=…; the optional body
// is a container Config to apply to the image.
func (s *Server) postCommit(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	ref := q.Get("container")
	if ref == "" {
		return invalidf("commit: the container parameter is required")
	}
	var cfg container.Config
	hasCfg, err := s.readJSON(w, r, &cfg)
	if err != nil {
		return err
	}
	opts := CommitOptions{
		Repo: q.Get("repo"), Tag: q.Get("tag"), Comment: q.Get("comment"), Author: q.Get("author"),
		Changes: q["changes"], Pause: boolOr(q, "pause", true),
	}
	if hasCfg {
		opts.Config = &cfg
	}
	id, err := s.b.ContainerCommit(r.Context(), ref, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.CommitResponse{ID: id})
}

// noContent answers 204 for a call that returns nothing, or its error.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
