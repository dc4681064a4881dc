package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/gorae/gorae/internal/api"
	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/logs"
	"github.com/gorae/gorae/internal/monitor/shimclient"
)

// pendingAttach is an attach made before the container runs. Start
// connects it to the monitor before the process is released.
type pendingAttach struct {
	opts      api.AttachOptions
	connected chan net.Conn // the monitor stream, or closed if the start failed
}

// ContainerTTY says whether the container's streams are raw (tty) or
// multiplexed.
func (d *Daemon) ContainerTTY(ctx context.Context, ref string) (bool, error) {
	c, err := d.get(ref)
	if err != nil {
		return false, err
	}
	return c.Config.Tty, nil
}

// ContainerAttach joins a client to the container's stdio until the
// container stops or the client leaves.
func (d *Daemon) ContainerAttach(ctx context.Context, ref string, opts api.AttachOptions) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if opts.Logs && opts.Stdout != nil {
		if err := d.writeLogs(ctx, c, api.LogOptions{Stdout: opts.UseStdout, Stderr: opts.UseStderr, Tail: -1}, opts.Stdout); err != nil {
			return err
		}
	}
	if !opts.Stream {
		return nil
	}
	if opts.Stdin != nil && !c.Config.OpenStdin {
		// Docker silently ignores stdin for such a container.
		opts.Stdin = nil
	}
	var conn net.Conn
	if c.Snapshot().IsRunning() {
		conn, err = d.shim(c).Attach(ctx, opts.Stdin != nil, opts.UseStdout, opts.UseStderr)
		if err != nil {
			return err
		}
	} else {
		p := &pendingAttach{opts: opts, connected: make(chan net.Conn, 1)}
		d.mu.Lock()
		d.attachWaiters[c.ID] = append(d.attachWaiters[c.ID], p)
		d.mu.Unlock()
		defer d.dropWaiter(c.ID, p)
		select {
		case conn = <-p.connected:
			if conn == nil {
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
	defer conn.Close()
	return pipeAttach(ctx, conn, opts, c.Config.Tty)
}

func (d *Daemon) dropWaiter(id string, p *pendingAttach) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ws := d.attachWaiters[id]
	for i, w := range ws {
		if w == p {
			d.attachWaiters[id] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(d.attachWaiters[id]) == 0 {
		delete(d.attachWaiters, id)
	}
}

// connectAttaches hands each waiting attach its monitor stream; called by
// start between creating and starting the process.
func (d *Daemon) connectAttaches(ctx context.Context, c *ctrstore.Container, m *shimclient.Client) {
	d.mu.Lock()
	ws := d.attachWaiters[c.ID]
	delete(d.attachWaiters, c.ID)
	d.mu.Unlock()
	for _, w := range ws {
		conn, err := m.Attach(ctx, w.opts.Stdin != nil, w.opts.UseStdout, w.opts.UseStderr)
		if err != nil {
			close(w.connected)
			continue
		}
		w.connected <- conn
	}
}

// failAttaches releases attaches waiting on a start that failed.
func (d *Daemon) failAttaches(id string) {
	d.mu.Lock()
	ws := d.attachWaiters[id]
	delete(d.attachWaiters, id)
	d.mu.Unlock()
	for _, w := range ws {
		close(w.connected)
	}
}

// pipeAttach copies between the client and the monitor stream. The
// monitor already speaks Docker's format (multiplexed without a tty).
func pipeAttach(ctx context.Context, conn net.Conn, opts api.AttachOptions, tty bool) error {
	outDone := make(chan error, 1)
	go func() {
		var err error
		if opts.Stdout != nil {
			_, err = io.Copy(opts.Stdout, conn)
		} else {
			_, err = io.Copy(io.Discard, conn)
		}
		outDone <- err
	}()
	inDone := make(chan error, 1)
	if opts.Stdin != nil {
		go func() {
			keys, err := parseDetachKeys(opts.DetachKeys, tty)
			if err != nil {
				inDone <- err
				return
			}
			_, err = copyDetachable(conn, opts.Stdin, keys)
			if errors.Is(err, errDetached) {
				inDone <- err
				return
			}
			shimclient.CloseWrite(conn)
			inDone <- nil
		}()
	}
	select {
	case err := <-outDone:
		return ignoreClosed(err)
	case err := <-inDone:
		if errors.Is(err, errDetached) {
			return nil
		}
		if err != nil {
			return err
		}
		// stdin ended: the output goes on until the container ends.
		select {
		case err := <-outDone:
			return ignoreClosed(err)
		case <-ctx.Done():
			return nil
		}
	case <-ctx.Done():
		return nil
	}
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

var errDetached = errors.New("detached")

// parseDetachKeys reads Docker's detach key syntax ("ctrl-p,ctrl-q"; a
// letter, or ctrl-<letter>, ctrl-@, ctrl-[ …). The default applies to
// terminals only, as Docker's does.
func parseDetachKeys(s string, tty bool) ([]byte, error) {
	if s == "" {
		if !tty {
			return nil, nil
		}
		s = "ctrl-p,ctrl-q"
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			ch := k[5]
			switch {
			case ch >= 'a' && ch <= 'z':
				out = append(out, ch-'a'+1)
			case ch == '@':
				out = append(out, 0)
			case ch >= '[' && ch <= '_':
				out = append(out, ch-'['+27)
			default:
				return nil, errdefs.InvalidParameter(fmt.Errorf("invalid detach keys (%s)", s))
			}
		default:
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid detach keys (%s)", s))
		}
	}
	return out, nil
}

// copyDetachable copies src to dst until EOF or the detach sequence.
// Bytes that begin a sequence but do not complete it are passed on.
func copyDetachable(dst io.Writer, src io.Reader, keys []byte) (int64, error) {
	if len(keys) == 0 {
		return io.Copy(dst, src)
	}
	buf := make([]byte, 32*1024)
	matched := 0
	var total int64
	for {
		n, rerr := src.Read(buf)
		out := make([]byte, 0, n+len(keys))
		for _, b := range buf[:n] {
			if b == keys[matched] {
				matched++
				if matched == len(keys) {
					if len(out) > 0 {
						dst.Write(out)
					}
					return total, errDetached
				}
				continue
			}
			if matched > 0 {
				out = append(out, keys[:matched]...)
				matched = 0
			}
			if b == keys[0] {
				matched = 1
				continue
			}
			out = append(out, b)
		}
		if len(out) > 0 {
			w, err := dst.Write(out)
			total += int64(w)
			if err != nil {
				return total, err
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return total, nil
			}
			return total, rerr
		}
	}
}

// ContainerLogs writes the container's log in Docker's stream format.
func (d *Daemon) ContainerLogs(ctx context.Context, ref string, opts api.LogOptions, w io.Writer) error {
	c, err := d.get(ref)
	if err != nil {
		return err
	}
	if c.HostConfig.LogConfig.Type == "none" {
		return errdefs.InvalidParameter(errors.New(`configured logging driver does not support reading`))
	}
	if !opts.Stdout && !opts.Stderr {
		return errdefs.InvalidParameter(errors.New("you must choose at least one stream"))
	}
	return d.writeLogs(ctx, c, opts, w)
}

func (d *Daemon) writeLogs(ctx context.Context, c *ctrstore.Container, opts api.LogOptions, w io.Writer) error {
	lw := &logWriter{w: w, tty: c.Config.Tty, opts: opts}
	entries, err := logs.ReadAll(c.LogPath, logs.ReadOptions{Since: opts.Since, Until: opts.Until, Tail: opts.Tail})
	if err != nil && !errors.Is(err, errNoLog) {
		return err
	}
	for _, e := range entries {
		if err := lw.write(e); err != nil {
			return nil
		}
	}
	if !opts.Follow || !c.Snapshot().IsRunning() {
		return nil
	}
	last := entries
	var lastTime = opts.Since
	if len(last) > 0 {
		lastTime = last[len(last)-1].Time
	}
	return logs.Follow(ctx, c.LogPath, lastTime, func(e logs.Entry) error {
		if !opts.Until.IsZero() && e.Time.After(opts.Until) {
			return io.EOF
		}
		return lw.write(e)
	}, func() bool { return !c.Snapshot().IsRunning() })
}

var errNoLog = errors.New("no log")

// logWriter frames log entries as `docker logs` expects them.
type logWriter struct {
	w    io.Writer
	tty  bool
	opts api.LogOptions
}

func (l *logWriter) write(e logs.Entry) error {
	if (e.Stream == "stdout" && !l.opts.Stdout) || (e.Stream == "stderr" && !l.opts.Stderr) {
		return nil
	}
	msg := e.Log
	if l.opts.Timestamps {
		msg = e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z") + " " + msg
	}
	if l.tty {
		_, err := io.WriteString(l.w, msg)
		return err
	}
	var hdr [8]byte
	hdr[0] = 1
	if e.Stream == "stderr" {
		hdr[0] = 2
	}
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(msg)))
	if _, err := l.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := io.WriteString(l.w, msg)
	return err
}
