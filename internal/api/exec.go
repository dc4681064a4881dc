package api

import (
	"net/http"

	"github.com/moby/moby/api/types/container"
)

// postContainerExec is POST /containers/{id}/exec: an exec instance is
// made, not started.
func (s *Server) postContainerExec(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecCreateRequest
	ok, err := s.readJSON(w, r, &req)
	if err != nil {
		return err
	}
	if !ok {
		return invalidf("exec: a JSON body with Cmd is required")
	}
	if err := checkDetachKeys(req.DetachKeys); err != nil {
		return err
	}
	id, err := s.b.ContainerExecCreate(r.Context(), r.PathValue("id"), &req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

// postExecStart is POST /exec/{id}/start: detached, a plain 200; else the
// connection is hijacked and becomes the process's stdio, as for attach.
func (s *Server) postExecStart(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecStartRequest
	if _, err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	if req.Detach {
		if err := s.b.ContainerExecStart(r.Context(), id, ExecStartOptions{Detach: true, Tty: req.Tty}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	// Unknown exec IDs must be a plain 404, before the hijack.
	if _, err := s.b.ContainerExecInspect(r.Context(), id); err != nil {
		return err
	}
	conn, brw, err := hijackStream(w, r, req.Tty, "exec "+id)
	if err != nil {
		return err
	}
	defer conn.Close()
	opts := ExecStartOptions{Tty: req.Tty, Stdin: stdinOf(conn, brw.Reader.Buffered(), brw.Reader), Stdout: conn}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		opts.CloseWrite = cw.CloseWrite
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	if err := s.b.ContainerExecStart(ctx, id, opts); err != nil && ctx.Err() == nil {
		s.log.Warn("api: exec failed", "exec", id, "err", err)
		writeStderrText(conn, !req.Tty, err.Error()+"\n")
	}
	return nil
}

func (s *Server) getExecJSON(w http.ResponseWriter, r *http.Request) error {
	resp, err := s.b.ContainerExecInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) postExecResize(w http.ResponseWriter, r *http.Request) error {
	h, wd, err := terminalSize(r)
	if err != nil {
		return err
	}
	if err := s.b.ContainerExecResize(r.Context(), r.PathValue("id"), h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
