package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// routes is the shim's API: small, plain HTTP over its unix socket, so a
// human can drive it with `curl --unix-socket`.
func (s *shim) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.state()) })
	mux.HandleFunc("POST /start", s.handleStart)
	mux.HandleFunc("POST /kill", s.handleKill)
	mux.HandleFunc("POST /resize", s.handleResize)
	mux.HandleFunc("POST /wait", s.handleWait)
	mux.HandleFunc("POST /attach", s.handleAttach)
	mux.HandleFunc("POST /close-stdin", s.handleCloseStdin)
	mux.HandleFunc("POST /delete", s.handleDelete)
	mux.HandleFunc("POST /pause", s.runtimeOp(ociRuntime.Pause))
	mux.HandleFunc("POST /resume", s.runtimeOp(ociRuntime.Resume))
	mux.HandleFunc("GET /pids", s.handlePids)
	mux.HandleFunc("POST /exec", s.handleExec)
	mux.HandleFunc("GET /exec-state", s.handleExecState)
	mux.HandleFunc("POST /exec-resize", s.handleExecResize)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
}

func (s *shim) handleStart(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		httpError(w, http.StatusNotModified, fmt.Errorf("container %s already started", s.cfg.ID))
		return
	}
	if err := s.call(func(rt ociRuntime) error { return rt.Start(r.Context()) }); err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *shim) handleKill(w http.ResponseWriter, r *http.Request) {
	sig := "KILL"
	if v := r.URL.Query().Get("signal"); v != "" {
		sig = v
	}
	all := r.URL.Query().Get("all") == "1"
	if st := s.state(); st.Status == "stopped" {
		httpError(w, http.StatusConflict, fmt.Errorf("container %s is not running", s.cfg.ID))
		return
	}
	if err := s.call(func(rt ociRuntime) error { return rt.Kill(r.Context(), sig, all) }); err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *shim) handleResize(w http.ResponseWriter, r *http.Request) {
	h, herr := strconv.Atoi(r.URL.Query().Get("h"))
	wd, werr := strconv.Atoi(r.URL.Query().Get("w"))
	if herr != nil || werr != nil || h <= 0 || wd <= 0 || h > 0xffff || wd > 0xffff {
		httpError(w, http.StatusBadRequest, fmt.Errorf("resize: h and w must be numbers in 1..65535"))
		return
	}
	if s.pty == nil {
		httpError(w, http.StatusConflict, fmt.Errorf("container %s has no terminal", s.cfg.ID))
		return
	}
	if err := unix.IoctlSetWinsize(int(s.pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(h), Col: uint16(wd)}); err != nil {
		httpError(w, http.StatusInternalServerError, fmt.Errorf("resize: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleWait answers when the container has exited (at once if it has).
func (s *shim) handleWait(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.exited:
		writeJSON(w, s.state().Exit)
	case <-r.Context().Done():
	}
}

// handleAttach upgrades the connection to a raw stream: container output
// (multiplexed as Docker's attach is, raw with a terminal) one way, stdin
// the other.
func (s *shim) handleAttach(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := &client{stdout: q.Get("stdout") == "1", stderr: q.Get("stderr") == "1"}
	wantStdin := q.Get("stdin") == "1"
	hj, ok := w.(http.Hijacker)
	if !ok {
		httpError(w, http.StatusInternalServerError, fmt.Errorf("attach: connection cannot be hijacked"))
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	buf.Flush()
	c.w = conn
	s.mu.Lock()
	exited := s.exit != nil
	if !exited {
		s.clients[c] = struct{}{}
	}
	stdin := s.stdin
	s.mu.Unlock()
	if exited {
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
	}()
	// inDone closes when the client stops sending: its stdin ended, or it
	// hung up (which is all a client without stdin can tell us).
	inDone := make(chan struct{})
	go func() {
		if wantStdin && stdin != nil {
			io.Copy(stdin, buf)
			if s.cfg.StdinOnce && !s.tty {
				stdin.Close()
			}
		} else {
			io.Copy(io.Discard, buf)
		}
		close(inDone)
	}()
	select {
	case <-s.exited:
		s.outputWG.Wait()
	case <-inDone:
		if !(wantStdin && s.cfg.StdinOnce) {
			// The client went away: nothing more to serve it.
			return
		}
		// stdin closed, output still wanted until the container ends.
		<-s.exited
		s.outputWG.Wait()
	}
}

func (s *shim) handleCloseStdin(w http.ResponseWriter, r *http.Request) {
	if s.stdin != nil && !s.tty {
		s.stdin.Close()
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleDelete removes the container from the runtime and ends the shim.
func (s *shim) handleDelete(w http.ResponseWriter, r *http.Request) {
	force := r.URL.Query().Get("force") == "1"
	if err := s.call(func(rt ociRuntime) error { return rt.Delete(r.Context(), force) }); err != nil && !strings.Contains(err.Error(), "does not exist") {
		httpError(w, http.StatusConflict, err)
		return
	}
	if s.logw != nil {
		s.logw.Close()
	}
	w.WriteHeader(http.StatusNoContent)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	go s.onDelete()
}

// runtimeOp passes a state change straight to the runtime.
func (s *shim) runtimeOp(op func(ociRuntime, context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.call(func(rt ociRuntime) error { return op(rt, r.Context()) }); err != nil {
			httpError(w, http.StatusConflict, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handlePids lists the container's processes (host pids), for `top`.
func (s *shim) handlePids(w http.ResponseWriter, r *http.Request) {
	var pids []int
	err := s.call(func(rt ociRuntime) (err error) {
		pids, err = rt.Pids(r.Context())
		return err
	})
	if err != nil {
		httpError(w, http.StatusConflict, err)
		return
	}
	if pids == nil {
		pids = []int{}
	}
	writeJSON(w, pids)
}
