package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/minihttp"
)

// routes is the shim's API: small, plain HTTP/1.1 over its unix socket,
// so a human can drive it with `curl --unix-socket`. It is served by
// minihttp rather than net/http: see there why.
func (s *shim) routes() minihttp.Mux {
	return minihttp.Mux{
		"GET /state":        func(w *minihttp.ResponseWriter, r *minihttp.Request) { writeJSON(w, s.state()) },
		"POST /start":       s.handleStart,
		"POST /kill":        s.handleKill,
		"POST /resize":      s.handleResize,
		"POST /wait":        s.handleWait,
		"POST /attach":      s.handleAttach,
		"POST /close-stdin": s.handleCloseStdin,
		"POST /delete":      s.handleDelete,
		"POST /pause":       s.runtimeOp(ociRuntime.Pause),
		"POST /resume":      s.runtimeOp(ociRuntime.Resume),
		"GET /pids":         s.handlePids,
		"POST /exec":        s.handleExec,
		"GET /exec-state":   s.handleExecState,
		"POST /exec-resize": s.handleExecResize,
	}
}

func writeJSON(w *minihttp.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func httpError(w *minihttp.ResponseWriter, code int, err error) {
	minihttp.Error(w, code, err.Error())
}

func (s *shim) handleStart(w *minihttp.ResponseWriter, r *minihttp.Request) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		httpError(w, 304, fmt.Errorf("container %s already started", s.cfg.ID))
		return
	}
	if err := s.call(func(rt ociRuntime) error { return rt.Start(r.Context()) }); err != nil {
		httpError(w, 500, err)
		return
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	w.WriteHeader(204)
}

func (s *shim) handleKill(w *minihttp.ResponseWriter, r *minihttp.Request) {
	sig := "KILL"
	if v := r.Query.Get("signal"); v != "" {
		sig = v
	}
	all := r.Query.Get("all") == "1"
	if st := s.state(); st.Status == "stopped" {
		httpError(w, 409, fmt.Errorf("container %s is not running", s.cfg.ID))
		return
	}
	if err := s.call(func(rt ociRuntime) error { return rt.Kill(r.Context(), sig, all) }); err != nil {
		httpError(w, 500, err)
		return
	}
	w.WriteHeader(204)
}

func (s *shim) handleResize(w *minihttp.ResponseWriter, r *minihttp.Request) {
	h, herr := strconv.Atoi(r.Query.Get("h"))
	wd, werr := strconv.Atoi(r.Query.Get("w"))
	if herr != nil || werr != nil || h <= 0 || wd <= 0 || h > 0xffff || wd > 0xffff {
		httpError(w, 400, fmt.Errorf("resize: h and w must be numbers in 1..65535"))
		return
	}
	if s.pty == nil {
		httpError(w, 409, fmt.Errorf("container %s has no terminal", s.cfg.ID))
		return
	}
	if err := unix.IoctlSetWinsize(int(s.pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(h), Col: uint16(wd)}); err != nil {
		httpError(w, 500, fmt.Errorf("resize: %w", err))
		return
	}
	w.WriteHeader(204)
}

// handleWait answers when the container has exited (at once if it has).
func (s *shim) handleWait(w *minihttp.ResponseWriter, r *minihttp.Request) {
	select {
	case <-s.exited:
		writeJSON(w, s.state().Exit)
	case <-r.Context().Done():
	}
}

// handleAttach upgrades the connection to a raw stream: container output
// (multiplexed as Docker's attach is, raw with a terminal) one way, stdin
// the other.
func (s *shim) handleAttach(w *minihttp.ResponseWriter, r *minihttp.Request) {
	q := r.Query
	c := &client{stdout: q.Get("stdout") == "1", stderr: q.Get("stderr") == "1"}
	wantStdin := q.Get("stdin") == "1"
	conn, buf, err := w.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	upgraded(buf)
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

// upgraded answers a hijacked request: from here on the connection is
// the stream (what Docker's attach and exec answer, and our client reads).
func upgraded(buf *bufio.ReadWriter) {
	buf.WriteString("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	buf.Flush()
}

func (s *shim) handleCloseStdin(w *minihttp.ResponseWriter, r *minihttp.Request) {
	if s.stdin != nil && !s.tty {
		s.stdin.Close()
	}
	w.WriteHeader(204)
}

// handleDelete removes the container from the runtime and ends the shim.
func (s *shim) handleDelete(w *minihttp.ResponseWriter, r *minihttp.Request) {
	force := r.Query.Get("force") == "1"
	if err := s.call(func(rt ociRuntime) error { return rt.Delete(r.Context(), force) }); err != nil && !strings.Contains(err.Error(), "does not exist") {
		httpError(w, 409, err)
		return
	}
	if s.logw != nil {
		s.logw.Close()
	}
	w.WriteHeader(204)
	// The answer is out before the shim starts to go away.
	w.Flush()
	go s.onDelete()
}

// runtimeOp passes a state change straight to the runtime.
func (s *shim) runtimeOp(op func(ociRuntime, context.Context) error) minihttp.HandlerFunc {
	return func(w *minihttp.ResponseWriter, r *minihttp.Request) {
		if err := s.call(func(rt ociRuntime) error { return op(rt, r.Context()) }); err != nil {
			httpError(w, 409, err)
			return
		}
		w.WriteHeader(204)
	}
}

// handlePids lists the container's processes (host pids), for `top`.
func (s *shim) handlePids(w *minihttp.ResponseWriter, r *minihttp.Request) {
	var pids []int
	err := s.call(func(rt ociRuntime) (err error) {
		pids, err = rt.Pids(r.Context())
		return err
	})
	if err != nil {
		httpError(w, 409, err)
		return
	}
	if pids == nil {
		pids = []int{}
	}
	writeJSON(w, pids)
}
