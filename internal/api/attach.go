package api

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// postContainerAttach is POST /containers/{id}/attach: the connection is
// hijacked and becomes the container's stdio. With "Upgrade: tcp" the
// client expects "101 UPGRADED"; older clients get "200 OK" and the same
// raw stream.
func (s *Server) postContainerAttach(w http.ResponseWriter, r *http.Request) error {
	q := form(r)
	id := r.PathValue("id")
	detachKeys := q.Get("detachKeys")
	if err := checkDetachKeys(detachKeys); err != nil {
		return err
	}
	// Asked before the hijack: after it there is no status to report a
	// missing container with.
	tty, err := s.b.ContainerTTY(r.Context(), id)
	if err != nil {
		return err
	}
	conn, brw, err := hijackStream(w, r, tty, "attach "+id)
	if err != nil {
		return err
	}
	defer conn.Close()

	opts := AttachOptions{
		UseStdout: boolValue(q, "stdout"), UseStderr: boolValue(q, "stderr"),
		Logs: boolValue(q, "logs"), Stream: boolValue(q, "stream"), DetachKeys: detachKeys,
	}
	if boolValue(q, "stdin") {
		opts.Stdin = stdinOf(conn, brw.Reader.Buffered(), brw.Reader)
	}
	if opts.UseStdout || opts.UseStderr {
		opts.Stdout = conn
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		opts.CloseWrite = cw.CloseWrite
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	if err := s.b.ContainerAttach(ctx, id, opts); err != nil && ctx.Err() == nil {
		// Docker's clients print what arrives; say why the stream ended.
		s.log.Warn("api: attach failed", "container", id, "err", err)
		writeStderrText(conn, !tty, "Error attaching: "+err.Error()+"\n")
	}
	return nil
}

// hijackStream takes over the connection for a raw stream (attach, exec
// start) and writes the response head: "101 UPGRADED" to a client that
// asked to upgrade, "200 OK" to an older one, with the stream's type.
func hijackStream(w http.ResponseWriter, r *http.Request, tty bool, what string) (net.Conn, *bufio.ReadWriter, error) {
	_, upgrade := r.Header["Upgrade"]
	contentType := "application/vnd.docker.raw-stream"
	if upgrade {
		contentType = streamType(tty, version(r))
	}
	header := w.Header().Clone()
	header.Del("Content-Type")
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: hijack the connection: %w", what, err)
	}
	// The server's read deadline for headers must not cut a long session.
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
		conn.Close()
		return nil, nil, fmt.Errorf("%s: write the response header: %w", what, err)
	}
	return conn, brw, nil
}

// stdinOf is the client's input: what the server already read past the
// request (a client may send stdin without waiting for the answer), then
// the connection.
func stdinOf(conn net.Conn, buffered int, br io.Reader) io.Reader {
	if buffered == 0 {
		return conn
	}
	pending := make([]byte, buffered)
	n, _ := io.ReadFull(br, pending)
	return io.MultiReader(bytes.NewReader(pending[:n]), conn)
}

// checkDetachKeys validates a detach sequence as the docker CLI writes
// it: comma-separated single characters or ctrl-<key>.
func checkDetachKeys(keys string) error {
	if keys == "" {
		return nil
	}
	for _, k := range strings.Split(keys, ",") {
		if len(k) == 1 {
			continue
		}
		c, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		if !ok || len(c) != 1 || !(c[0] >= 'a' && c[0] <= 'z' || strings.ContainsRune("@[\\]^_", rune(c[0]))) {
			return invalidf("invalid detach keys %q: %q is neither one character nor ctrl-<key>", keys, k)
		}
	}
	return nil
}
