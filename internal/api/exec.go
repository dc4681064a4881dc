package api

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

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
	_, upgrade := r.Header["Upgrade"]
	contentType := "application/vnd.docker.raw-stream"
	if upgrade {
		contentType = streamType(req.Tty, version(r))
	}
	header := w.Header().Clone()
	header.Del("Content-Type")
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fmt.Errorf("exec %s: hijack the connection: %w", id, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})
	var head bytes.Buffer
	if upgrade {
		fmt.Fprintf(&head, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n", contentType)
	} else {
		fmt.Fprintf(&head, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n", contentType)
	}
	_ = header.Write(&head)
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		return fmt.Errorf("exec %s: write the response header: %w", id, err)
	}
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
	q := form(r)
	h, err := dimension(q.Get("h"), "h")
	if err != nil {
		return err
	}
	wd, err := dimension(q.Get("w"), "w")
	if err != nil {
		return err
	}
	if err := s.b.ContainerExecResize(r.Context(), r.PathValue("id"), h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
