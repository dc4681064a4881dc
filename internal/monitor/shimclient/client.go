// Package shimclient is the daemon's side of a container's monitor
// (internal/monitor): it spawns the shim and talks to it over its unix
// socket with net/http. It is a package of its own so that the shim, which
// serves that API without net/http (internal/minihttp), does not link it.
package shimclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gorae/gorae/internal/monitor"
	"github.com/gorae/gorae/internal/unixsock"
)

// Spawn starts a shim for cfg (written to cfg.Dir/shim.json) as a
// detached process of its own session, running self ("/proc/self/exe" or
// the gorae binary) as `gorae shim DIR`. It returns once the container is
// created, or with the runtime's error.
func Spawn(ctx context.Context, self string, cfg *monitor.Config) (*Client, error) {
	if err := monitor.WriteConfig(cfg); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	logf, err := os.OpenFile(filepath.Join(cfg.Dir, "shim.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(self, "shim", cfg.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.Dir = cfg.Dir
	// Its own session: a signal to the daemon's process group (ctrl-c on a
	// foreground daemon) must not reach the containers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start shim for %s: %w", cfg.ID, err)
	}
	w.Close()
	// Reap the shim whenever it ends; the daemon is not its waiter.
	go cmd.Wait()
	msg, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("shim for %s: %w", cfg.ID, err)
	}
	switch s := string(msg); s {
	case "ok":
		return &Client{Dir: cfg.Dir}, nil
	case "":
		return nil, fmt.Errorf("shim for %s exited during create (see %s)", cfg.ID, filepath.Join(cfg.Dir, "shim.log"))
	default:
		return nil, errors.New(s)
	}
}

// Client talks to one shim; it holds no connection, so it survives the
// shim's and the daemon's restarts alike.
type Client struct {
	Dir string
}

func (c *Client) httpClient() *http.Client {
	sock := filepath.Join(c.Dir, monitor.SocketFile)
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return unixsock.Dial(ctx, sock)
		},
		DisableKeepAlives: true,
	}}
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	u := "http://shim" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("shim %s: %w", c.Dir, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Message string }
		json.NewDecoder(resp.Body).Decode(&e)
		return &Error{Status: resp.StatusCode, Message: e.Message}
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Error is a refusal from the shim, with the HTTP status the daemon can
// pass on (304 already started, 409 not running …).
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// State reports the container as the shim sees it.
func (c *Client) State(ctx context.Context) (monitor.State, error) {
	var st monitor.State
	err := c.do(ctx, "GET", "/state", nil, &st)
	return st, err
}

// Start runs the user process.
func (c *Client) Start(ctx context.Context) error { return c.do(ctx, "POST", "/start", nil, nil) }

// Kill signals init (all: every process of the container).
func (c *Client) Kill(ctx context.Context, signal string, all bool) error {
	q := url.Values{"signal": {signal}}
	if all {
		q.Set("all", "1")
	}
	return c.do(ctx, "POST", "/kill", q, nil)
}

// Resize sets the terminal's size.
func (c *Client) Resize(ctx context.Context, h, w int) error {
	return c.do(ctx, "POST", "/resize", url.Values{"h": {fmt.Sprint(h)}, "w": {fmt.Sprint(w)}}, nil)
}

// Wait blocks until the container exits.
func (c *Client) Wait(ctx context.Context) (*monitor.Exit, error) {
	var e monitor.Exit
	if err := c.do(ctx, "POST", "/wait", nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// CloseStdin ends the container's stdin.
func (c *Client) CloseStdin(ctx context.Context) error {
	return c.do(ctx, "POST", "/close-stdin", nil, nil)
}

// Delete removes the container from the runtime and stops the shim.
func (c *Client) Delete(ctx context.Context, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	err := c.do(ctx, "POST", "/delete", q, nil)
	if err != nil {
		return err
	}
	// The shim removes its socket as it exits.
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(filepath.Join(c.Dir, monitor.SocketFile)); err != nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Attach opens a stream: what the container prints (Docker-multiplexed
// without a terminal, raw with one) comes out of the connection, and what
// is written to it goes to the container's stdin when stdin is true.
func (c *Client) Attach(ctx context.Context, stdin, stdout, stderr bool) (net.Conn, error) {
	conn, err := unixsock.Dial(ctx, filepath.Join(c.Dir, monitor.SocketFile))
	if err != nil {
		return nil, fmt.Errorf("shim %s: %w", c.Dir, err)
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	fmt.Fprintf(conn, "POST /attach?stdin=%s&stdout=%s&stderr=%s HTTP/1.1\r\nHost: shim\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", b(stdin), b(stdout), b(stderr))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("attach: shim answered %s", resp.Status)
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// CloseWrite half-closes a connection returned by Attach: stdin ends, the
// output keeps coming.
func CloseWrite(c net.Conn) error {
	if bc, ok := c.(*bufferedConn); ok {
		c = bc.Conn
	}
	if uc, ok := c.(*net.UnixConn); ok {
		return uc.CloseWrite()
	}
	return nil
}

// Pause freezes the container; Resume thaws it.
func (c *Client) Pause(ctx context.Context) error  { return c.do(ctx, "POST", "/pause", nil, nil) }
func (c *Client) Resume(ctx context.Context) error { return c.do(ctx, "POST", "/resume", nil, nil) }

// Pids lists the container's processes as host pids.
func (c *Client) Pids(ctx context.Context) ([]int, error) {
	var pids []int
	err := c.do(ctx, "GET", "/pids", nil, &pids)
	return pids, err
}

// Exec starts a process in the container and returns its stdio stream:
// output (Docker-multiplexed, raw with a terminal) from the connection,
// stdin (when req.Stdin) to it. It ends when the process has exited and
// its output is drained; ExecState then has the exit code.
func (c *Client) Exec(ctx context.Context, req monitor.ExecRequest) (net.Conn, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	conn, err := unixsock.Dial(ctx, filepath.Join(c.Dir, monitor.SocketFile))
	if err != nil {
		return nil, fmt.Errorf("shim %s: %w", c.Dir, err)
	}
	fmt.Fprintf(conn, "POST /exec HTTP/1.1\r\nHost: shim\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	conn.Write(body)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("exec: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		var e struct{ Message string }
		json.NewDecoder(resp.Body).Decode(&e)
		if e.Message == "" {
			e.Message = "shim answered " + resp.Status
		}
		status := resp.StatusCode
		if resp.Header.Get("Gorae-Exec-Error") != "" {
			status = http.StatusBadRequest
		}
		return nil, &Error{Status: status, Message: e.Message}
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// ExecState reports an exec'd process.
func (c *Client) ExecState(ctx context.Context, id string) (monitor.ExecState, error) {
	var st monitor.ExecState
	err := c.do(ctx, "GET", "/exec-state", url.Values{"id": {id}}, &st)
	return st, err
}

// ExecResize sets an exec'd process's terminal size.
func (c *Client) ExecResize(ctx context.Context, id string, h, w int) error {
	return c.do(ctx, "POST", "/exec-resize", url.Values{"id": {id}, "h": {fmt.Sprint(h)}, "w": {fmt.Sprint(w)}}, nil)
}
