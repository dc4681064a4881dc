package monitor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/minihttp"
	"github.com/gorae/gorae/internal/runtime"
)

// ExecRequest starts a process in the running container (`docker exec`).
type ExecRequest struct {
	ID      string         `json:"id"`
	Process *specs.Process `json:"process"`
	Stdin   bool           `json:"stdin,omitempty"`
}

// ExecState is an exec'd process as the shim saw it.
type ExecState struct {
	ID       string `json:"id"`
	Pid      int    `json:"pid"`
	Running  bool   `json:"running"`
	ExitCode *int   `json:"exit_code,omitempty"`
}

// execProc is one exec'd process.
type execProc struct {
	mu    sync.Mutex
	state ExecState
	done  chan struct{}
	pty   *os.File
}

// handleExec starts a process and serves its stdio on the hijacked
// connection until it exits (like attach, but for a new process). The
// request body is the ExecRequest.
func (s *shim) handleExec(w *minihttp.ResponseWriter, r *minihttp.Request) {
	var req ExecRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.ID == "" || req.Process == nil || len(req.Process.Args) == 0 {
		httpError(w, 400, fmt.Errorf("exec: a body with id and process.args is required (%v)", err))
		return
	}
	if st := s.state(); st.Status != "running" {
		httpError(w, 409, fmt.Errorf("container %s is not running", s.cfg.ID))
		return
	}
	conn, buf, err := w.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fail := func(err error) {
		// The process did not start: say so in-band, the client reads it.
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nGorae-Exec-Error: 1\r\n\r\n")
		json.NewEncoder(buf).Encode(map[string]string{"message": err.Error()})
		buf.Flush()
	}
	p := &execProc{state: ExecState{ID: req.ID}, done: make(chan struct{})}
	tty := req.Process.Terminal
	var stdinW io.WriteCloser
	var outputs sync.WaitGroup
	write := s.execWriter(conn, tty)
	opts := runtime.ExecOptions{Root: s.cfg.RuntimeRoot, ID: s.cfg.ID, Process: req.Process}
	var closeAfter []*os.File
	var ptyc chan ptyResult
	startCopy := func() {}
	if tty {
		sock := filepath.Join(s.cfg.Dir, "exec-"+req.ID[:min(12, len(req.ID))]+".sock")
		l, err := listen(sock)
		if err != nil {
			fail(err)
			return
		}
		defer os.Remove(sock)
		defer l.Close()
		ptyc = make(chan ptyResult, 1)
		go acceptPty(l.(*net.UnixListener), ptyc)
		opts.ConsoleSocket = sock
	} else {
		null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		defer null.Close()
		outR, outW, err := os.Pipe()
		if err != nil {
			fail(err)
			return
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			fail(err)
			return
		}
		opts.Stdin, opts.Stdout, opts.Stderr = null, outW, errW
		closeAfter = append(closeAfter, outW, errW)
		if req.Stdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				fail(err)
				return
			}
			opts.Stdin, stdinW = inR, inW
			closeAfter = append(closeAfter, inR)
		}
		// Copied once the response head is out (below): output must not
		// overtake it.
		startCopy = func() {
			outputs.Add(2)
			go func() { defer outputs.Done(); copyFramed(outR, 1, write) }()
			go func() { defer outputs.Done(); copyFramed(errR, 2, write) }()
		}
	}
	err = s.call(func(rt ociRuntime) error {
		pid, err := rt.Exec(r.Context(), opts)
		if err == nil {
			// Registered before the reaper can run again.
			s.mu.Lock()
			p.state.Pid, p.state.Running = pid, true
			s.execs[pid] = p
			s.execByID[req.ID] = p
			s.mu.Unlock()
		}
		return err
	})
	for _, f := range closeAfter {
		f.Close()
	}
	if err != nil {
		fail(err)
		return
	}
	// The terminal is in hand before the client hears the exec started:
	// its first act is a resize, which needs it.
	if tty {
		select {
		case res := <-ptyc:
			if res.err == nil {
				s.mu.Lock()
				p.pty = res.f
				s.mu.Unlock()
				stdinW = res.f
			}
		case <-time.After(10 * time.Second):
		}
	}
	upgraded(buf)
	startCopy()
	if tty && stdinW != nil {
		pty := stdinW.(*os.File)
		outputs.Add(1)
		go func() { defer outputs.Done(); copyFramed(pty, 1, write) }()
	}
	if stdinW != nil && req.Stdin {
		go func() {
			io.Copy(stdinW, buf)
			if !tty {
				stdinW.Close()
			}
		}()
	}
	<-p.done
	outputs.Wait()
	if p.pty != nil {
		p.pty.Close()
	}
}

// execWriter writes output chunks to the client: Docker's frames without
// a terminal, raw with one. Writes are serialised: two copiers share it.
func (s *shim) execWriter(conn net.Conn, tty bool) func(fd byte, p []byte) {
	var mu sync.Mutex
	return func(fd byte, p []byte) {
		mu.Lock()
		defer mu.Unlock()
		if tty {
			conn.Write(p)
			return
		}
		var hdr [8]byte
		hdr[0] = fd
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
		conn.Write(append(hdr[:], p...))
	}
}

func copyFramed(r io.Reader, fd byte, write func(byte, []byte)) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			write(fd, bytes.Clone(buf[:n]))
		}
		if err != nil {
			return
		}
	}
}

// execExited records an exec'd process's end; called by the reaper.
func (s *shim) execExited(pid int, ws unix.WaitStatus) bool {
	s.mu.Lock()
	p, ok := s.execs[pid]
	delete(s.execs, pid)
	s.mu.Unlock()
	if !ok {
		return false
	}
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	p.mu.Lock()
	p.state.Running = false
	p.state.ExitCode = &code
	p.mu.Unlock()
	close(p.done)
	return true
}

// handleExecState reports an exec'd process (GET /exec-state?id=).
func (s *shim) handleExecState(w *minihttp.ResponseWriter, r *minihttp.Request) {
	s.mu.Lock()
	p, ok := s.execByID[r.Query.Get("id")]
	s.mu.Unlock()
	if !ok {
		httpError(w, 404, fmt.Errorf("no such exec: %s", r.Query.Get("id")))
		return
	}
	p.mu.Lock()
	st := p.state
	p.mu.Unlock()
	writeJSON(w, st)
}

// handleExecResize sets an exec'd process's terminal size.
func (s *shim) handleExecResize(w *minihttp.ResponseWriter, r *minihttp.Request) {
	s.mu.Lock()
	p, ok := s.execByID[r.Query.Get("id")]
	var pty *os.File
	if ok {
		pty = p.pty
	}
	s.mu.Unlock()
	if pty == nil {
		httpError(w, 404, fmt.Errorf("no exec with a terminal: %s", r.Query.Get("id")))
		return
	}
	var h, wd uint16
	fmt.Sscan(r.Query.Get("h"), &h)
	fmt.Sscan(r.Query.Get("w"), &wd)
	if h == 0 || wd == 0 {
		httpError(w, 400, errors.New("resize: h and w must be numbers in 1..65535"))
		return
	}
	unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: h, Col: wd})
	w.WriteHeader(204)
}
