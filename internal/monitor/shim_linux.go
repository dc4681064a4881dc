package monitor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/logs"
	"github.com/gorae/gorae/internal/minihttp"
	"github.com/gorae/gorae/internal/resident"
	"github.com/gorae/gorae/internal/runtime"
	"github.com/gorae/gorae/internal/unixsock"
)

// shim is the state of one running monitor.
type shim struct {
	cfg *Config
	tty bool

	// runMu serialises runtime invocations with the reaper: wait4(-1)
	// must not steal the exit of a runtime command exec.Cmd waits for.
	runMu sync.Mutex

	mu       sync.Mutex
	pid      int
	started  bool
	exit     *Exit
	exited   chan struct{}
	clients  map[*client]struct{}
	stdin    io.WriteCloser // pipe to the container, or the pty master
	pty      *os.File
	logw     *logs.Writer
	outputWG sync.WaitGroup
	onDelete func()
	rt       ociRuntime
	// execs are exec'd processes by pid (for the reaper) and by ID.
	execs    map[int]*execProc
	execByID map[string]*execProc

	// trimTimer gives back the memory of the last burst of work once the
	// shim has been quiet for trimAfter (settle).
	trimTimer *time.Timer
}

// trimAfter is how long the shim waits after its last request before it
// gives back what the request touched: long enough that a client's next
// call (a docker run's attach, start, wait) does not fault it all back in.
const trimAfter = 500 * time.Millisecond

// settle (re)arms the trim: a monitor spends its life waiting, and what it
// costs while it waits is what a running container costs the engine.
func (s *shim) settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trimTimer == nil {
		s.trimTimer = time.AfterFunc(trimAfter, resident.Trim)
		return
	}
	s.trimTimer.Reset(trimAfter)
}

// client is one attached connection.
type client struct {
	w              io.Writer
	stdout, stderr bool
}

// Main is `gorae shim DIR`: Serve, with the daemon's readiness pipe on fd
// 3 when it gave one.
func Main(dir string) error {
	var ready *os.File
	if _, err := os.Stat("/proc/self/fd/3"); err == nil {
		ready = os.NewFile(3, "ready")
	}
	return Serve(dir, ready)
}

// Serve is the shim's main: create the container, tell the parent on
// ready (fd 3, when given) "ok" or the error, then serve until deleted.
func Serve(dir string, ready *os.File) error {
	cfg, err := ReadConfig(dir)
	if err != nil {
		reportReady(ready, err)
		return err
	}
	if cfg.Debug {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
		slog.Debug("shim started", "container", cfg.ID)
	}
	s := &shim{cfg: cfg, exited: make(chan struct{}), clients: map[*client]struct{}{},
		execs: map[int]*execProc{}, execByID: map[string]*execProc{}}
	s.rt = s.newRuntime()
	if err := s.create(); err != nil {
		reportReady(ready, err)
		return err
	}
	slog.Debug("container created", "container", cfg.ID)
	l, err := listen(filepath.Join(dir, SocketFile))
	if err != nil {
		reportReady(ready, err)
		return err
	}
	reportReady(ready, nil)
	routes := s.routes()
	srv := &minihttp.Server{Handler: func(w *minihttp.ResponseWriter, r *minihttp.Request) {
		defer s.settle()
		routes.Serve(w, r)
	}}
	s.settle()
	done := make(chan struct{})
	s.onDelete = func() {
		close(done)
	}
	go srv.Serve(l)
	go s.reap()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	os.Remove(filepath.Join(dir, SocketFile))
	return nil
}

func reportReady(f *os.File, err error) {
	if f == nil {
		return
	}
	if err != nil {
		f.WriteString(err.Error())
	} else {
		f.WriteString("ok")
	}
	f.Close()
}

func listen(path string) (net.Listener, error) {
	os.Remove(path)
	l, err := unixsock.Listen(path)
	if err != nil {
		return nil, fmt.Errorf("shim: %w", err)
	}
	return l, nil
}

// call runs one runtime operation under runMu (see ociRuntime).
func (s *shim) call(f func(rt ociRuntime) error) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return f(s.rt)
}

// lastRuntimeError is the last error-level message of a runc-style JSON
// log, which is how runc and gorae runtime report why they failed.
func lastRuntimeError(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	msg := ""
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e struct{ Level, Msg string }
		if json.Unmarshal(line, &e) == nil && e.Level == "error" && e.Msg != "" {
			msg = e.Msg
		}
	}
	return msg
}

func (s *shim) create() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("shim: become subreaper: %w", err)
	}
	spec, err := runtime.LoadSpec(s.cfg.Bundle)
	if err != nil {
		return err
	}
	s.tty = spec.Process != nil && spec.Process.Terminal
	if s.cfg.LogPath != "" {
		opts, err := logs.ParseOptions(s.cfg.LogOpts)
		if err != nil {
			return err
		}
		if s.logw, err = logs.NewWriter(s.cfg.LogPath, opts); err != nil {
			return err
		}
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	consoleSocket := ""
	stdio := [3]*os.File{null, null, null}
	var closeAfter []*os.File
	var ptyc chan ptyResult
	if s.tty {
		sock := filepath.Join(s.cfg.Dir, consoleSck)
		l, err := listen(sock)
		if err != nil {
			return err
		}
		defer os.Remove(sock)
		defer l.Close()
		ptyc = make(chan ptyResult, 1)
		go acceptPty(l.(*net.UnixListener), ptyc)
		consoleSocket = sock
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			return err
		}
		stdio[1], stdio[2] = outW, errW
		closeAfter = append(closeAfter, outW, errW)
		if s.cfg.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return err
			}
			stdio[0] = inR
			closeAfter = append(closeAfter, inR)
			s.stdin = inW
		}
		s.outputWG.Add(2)
		go s.copyOutput("stdout", 1, outR)
		go s.copyOutput("stderr", 2, errR)
	}
	err = s.call(func(rt ociRuntime) error {
		return rt.Create(context.Background(), stdio, consoleSocket, filepath.Join(s.cfg.Dir, PidFile))
	})
	for _, f := range closeAfter {
		f.Close()
	}
	if err != nil {
		return err
	}
	if s.tty {
		select {
		case r := <-ptyc:
			if r.err != nil {
				return r.err
			}
			s.pty = r.f
			s.stdin = r.f
			s.outputWG.Add(1)
			go s.copyOutput("stdout", 1, r.f)
		case <-time.After(10 * time.Second):
			return errors.New("shim: the runtime sent no pty over the console socket")
		}
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, PidFile))
	if err != nil {
		return fmt.Errorf("shim: read init pid: %w", err)
	}
	s.pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("shim: bad pid file: %w", err)
	}
	return nil
}

type ptyResult struct {
	f   *os.File
	err error
}

func acceptPty(l *net.UnixListener, out chan<- ptyResult) {
	c, err := l.AcceptUnix()
	if err != nil {
		out <- ptyResult{err: err}
		return
	}
	defer c.Close()
	f, err := c.File()
	if err != nil {
		out <- ptyResult{err: err}
		return
	}
	defer f.Close()
	pty, err := runtime.ReceivePty(f)
	out <- ptyResult{f: pty, err: err}
}

// copyOutput sends one stream to the log and to attached clients, line by
// line for the log, as it comes for clients.
func (s *shim) copyOutput(stream string, fd byte, r io.Reader) {
	defer s.outputWG.Done()
	br := bufio.NewReaderSize(r, 32*1024)
	buf := make([]byte, 32*1024)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			s.broadcast(fd, chunk)
			if s.logw != nil {
				// The log wants whole lines; split the chunk at newlines.
				for len(chunk) > 0 {
					i := bytes.IndexByte(chunk, '\n')
					if i < 0 {
						s.logw.Write(stream, chunk)
						break
					}
					s.logw.Write(stream, chunk[:i+1])
					chunk = chunk[i+1:]
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *shim) broadcast(fd byte, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		if (fd == 1 && !c.stdout) || (fd == 2 && !c.stderr) {
			continue
		}
		if s.tty {
			c.w.Write(p)
			continue
		}
		// Docker's multiplexed stream: 8-byte header (stream, 0, 0, 0,
		// big-endian size) then the payload.
		var hdr [8]byte
		hdr[0] = fd
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
		c.w.Write(hdr[:])
		c.w.Write(p)
	}
}

// reap collects exited children: the container's init (reparented to us
// as subreaper once `runtime create` exits) and any orphan it leaves.
func (s *shim) reap() {
	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, unix.SIGCHLD)
	// An exit may predate the handler.
	for {
		s.runMu.Lock()
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == s.pid {
				s.recordExit(ws)
			} else {
				s.execExited(pid, ws)
			}
		}
		s.runMu.Unlock()
		<-sigc
	}
}

func (s *shim) recordExit(ws unix.WaitStatus) {
	e := &Exit{ExitedAt: time.Now().UTC()}
	switch {
	case ws.Exited():
		e.Code = ws.ExitStatus()
	case ws.Signaled():
		e.Signal = int(ws.Signal())
		e.Code = 128 + e.Signal
	}
	// Let the output drain into the log before anyone hears of the exit,
	// so `docker logs` after `docker wait` has every line.
	done := make(chan struct{})
	go func() { s.outputWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		// A daemonised grandchild may hold the pipe open: do not wait on it.
	}
	if b, err := json.Marshal(e); err == nil {
		if err := writeFileAtomic(filepath.Join(s.cfg.Dir, ExitFile), b); err != nil {
			slog.Error("record exit status", "container", s.cfg.ID, "err", err)
		}
	}
	s.mu.Lock()
	s.exit = e
	s.mu.Unlock()
	close(s.exited)
}

func (s *shim) state() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{ID: s.cfg.ID, Pid: s.pid, Tty: s.tty, Exit: s.exit}
	switch {
	case s.exit != nil:
		st.Status = "stopped"
	case s.started:
		st.Status = "running"
	default:
		st.Status = "created"
	}
	return st
}
