package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"golang.org/x/term"
)

// defaultDetachKeys are docker's: ctrl-p ctrl-q.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// errDetached: the user typed the detach keys; the container goes on.
var errDetached = errors.New("detached from container")

// stream pumps a hijacked attach or exec connection: stdin (when in is
// set) to the container, its output to out and errOut (demultiplexed
// unless tty). With a tty on a terminal, stdin is raw and the detach keys
// are watched here as well as by the daemon, so the CLI knows it detached.
func (c *CLI) stream(ctx context.Context, resp client.HijackedResponse, in io.Reader, tty bool, detachKeys string) error {
	defer resp.Close()
	if in != nil && tty {
		if fd, ok := isTerminal(in); ok {
			state, err := term.MakeRaw(int(fd))
			if err == nil {
				defer term.Restore(int(fd), state)
			}
		}
	}
	outDone := make(chan error, 1)
	go func() {
		var err error
		if tty {
			_, err = io.Copy(c.out, resp.Reader)
		} else {
			_, err = stdcopy.StdCopy(c.out, c.errOut, resp.Reader)
		}
		outDone <- err
	}()
	inDone := make(chan error, 1)
	if in != nil {
		go func() {
			src := in
			if tty {
				keys, err := parseDetachKeys(detachKeys)
				if err != nil {
					inDone <- err
					return
				}
				src = &escapeReader{r: in, keys: keys}
			}
			_, err := io.Copy(resp.Conn, src)
			if err == nil {
				// End of our stdin: the container's stdin closes too.
				err = resp.CloseWrite()
				if err != nil {
					err = nil
				}
			}
			inDone <- err
		}()
	}
	select {
	case err := <-outDone:
		return ignoreClosedConn(err)
	case err := <-inDone:
		if errors.Is(err, errDetached) {
			return errDetached
		}
		select {
		case err := <-outDone:
			return ignoreClosedConn(err)
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ignoreClosedConn(err error) error {
	if err != nil && strings.Contains(err.Error(), "use of closed network connection") {
		return nil
	}
	return err
}

// escapeReader passes bytes through until the detach sequence, which it
// swallows, ending the stream with errDetached. A partial match is held
// back and released when the next byte breaks it.
type escapeReader struct {
	r        io.Reader
	keys     []byte
	matched  int
	pending  []byte
	detached bool
	err      error
}

func (e *escapeReader) Read(p []byte) (int, error) {
	for len(e.pending) == 0 {
		if e.detached {
			return 0, errDetached
		}
		if e.err != nil {
			return 0, e.err
		}
		buf := make([]byte, len(p))
		n, err := e.r.Read(buf)
		e.err = err
		for _, b := range buf[:n] {
			if len(e.keys) == 0 {
				e.pending = append(e.pending, b)
				continue
			}
			if b == e.keys[e.matched] {
				if e.matched++; e.matched == len(e.keys) {
					e.detached = true
					break
				}
				continue
			}
			e.pending = append(e.pending, e.keys[:e.matched]...)
			e.matched = 0
			if b == e.keys[0] {
				e.matched = 1
				if len(e.keys) == 1 {
					e.detached = true
					break
				}
				continue
			}
			e.pending = append(e.pending, b)
		}
	}
	n := copy(p, e.pending)
	e.pending = e.pending[n:]
	return n, nil
}

// parseDetachKeys reads docker's syntax: "ctrl-p,ctrl-q", "a,b".
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = defaultDetachKeys
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		if len(k) == 1 {
			out = append(out, k[0])
			continue
		}
		name, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		if !ok || len(name) != 1 {
			return nil, fmt.Errorf("invalid detach keys (%s): want a comma-separated list of ctrl-<char> or single characters", s)
		}
		ch := name[0]
		switch {
		case ch >= 'a' && ch <= 'z':
			out = append(out, ch-'a'+1)
		case ch == '@':
			out = append(out, 0)
		case ch >= '[' && ch <= '_':
			out = append(out, ch-'['+27)
		default:
			return nil, fmt.Errorf("invalid detach keys (%s)", s)
		}
	}
	return out, nil
}

// termFd is the terminal the CLI runs in: stdout's, else stdin's.
func (c *CLI) termFd() (uintptr, bool) {
	if fd, ok := isTerminal(c.out); ok {
		return fd, true
	}
	return isTerminal(c.in)
}

// consoleSize is the terminal's size for a create or exec request, so the
// pty starts right before the first resize arrives.
func (c *CLI) consoleSize() client.ConsoleSize {
	if fd, ok := c.termFd(); ok {
		if w, h, err := term.GetSize(int(fd)); err == nil && w > 0 && h > 0 {
			return client.ConsoleSize{Height: uint(h), Width: uint(w)}
		}
	}
	return client.ConsoleSize{}
}

// monitorTTYSize sends the terminal's size now and at every SIGWINCH,
// until ctx ends. The first one is retried briefly: a process that has
// just started may not have its pty registered yet (docker does the same).
func (c *CLI) monitorTTYSize(ctx context.Context, resize func(h, w uint) error) {
	fd, ok := c.termFd()
	if !ok {
		return
	}
	send := func() error {
		w, h, err := term.GetSize(int(fd))
		if err != nil || w <= 0 || h <= 0 {
			return nil
		}
		return resize(uint(h), uint(w))
	}
	go func() {
		// About 2 s in all: a loaded machine can be slow to register it.
		for i := 0; i < 20 && send() != nil; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(min(i+1, 10)) * 10 * time.Millisecond):
			}
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case <-sigs:
				send()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// proxySignals forwards the signals the CLI receives to the container
// (docker's --sig-proxy), until ctx ends.
func proxySignals(ctx context.Context, api *client.Client, id string) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case s := <-sigs:
				name := strings.TrimPrefix(unixSignalName(s.(syscall.Signal)), "SIG")
				api.ContainerKill(context.Background(), id, client.ContainerKillOptions{Signal: name})
			case <-ctx.Done():
				return
			}
		}
	}()
}

func unixSignalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	}
	return fmt.Sprint(int(s))
}
