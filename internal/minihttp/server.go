// Package minihttp is a small HTTP/1.1 server: the shim's (internal/monitor).
//
// Why not net/http: every running container keeps one shim, so what the
// shim's binary weighs is what a container costs. net/http links crypto/tls,
// x509, math/big, http2, mime … (~1.4 MB of code, and rodata), and the page
// cache maps a binary's text in large folios, so nearly all of it ends up
// resident in every shim. The shim serves a dozen routes to one client (the
// daemon, or a human with `curl --unix-socket`) over a unix socket; this is
// what that needs and no more:
//
//   - request line, headers (net/textproto), query (net/url);
//   - bodies with Content-Length only (chunked requests are refused);
//   - keep-alive for sequential requests, `Connection: close`, HTTP/1.0;
//   - Hijack, for the streams of attach and exec;
//   - caps on header and body size; a malformed request gets a 4xx and the
//     connection is closed. It never panics on what a client sends.
//
// Responses are buffered whole (they are small JSON) and sent with a
// Content-Length when the handler returns, or at Flush.
package minihttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// MaxHeaderBytes caps a request's line and headers (give or take the
	// read buffer, as net/http does).
	MaxHeaderBytes = 16 << 10
	// MaxBodyBytes caps a request body; larger ones get 413.
	MaxBodyBytes = 1 << 20
)

// Request is one parsed request.
type Request struct {
	Method string
	// Path is the unescaped path of the request target.
	Path   string
	Query  url.Values
	Header textproto.MIMEHeader
	// ContentLength is the body's length (0: none).
	ContentLength int64
	// Body reads exactly ContentLength bytes.
	Body  io.Reader
	Proto string // HTTP/1.0 or HTTP/1.1
	// close: the client asked for the connection to end after this one.
	close bool

	ctx    context.Context
	cancel context.CancelFunc
	// watch, when Context started one, is the background read that tells
	// us the client hung up; stopWatch ends it.
	conn      *conn
	watchDone chan struct{}
	hijacked  bool
}

// Context is cancelled when the client hangs up while the handler runs
// (as net/http's is), so a handler waiting on something long can give up.
func (r *Request) Context() context.Context {
	if r.ctx != nil {
		return r.ctx
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	c := r.conn
	// Only when nothing is pending: a client that already sent its next
	// request has not gone away, and its bytes must stay in the buffer.
	if c != nil && !r.hijacked && r.ContentLength == 0 && c.br.Buffered() == 0 {
		r.watchDone = make(chan struct{})
		go func() {
			defer close(r.watchDone)
			n, err := c.nc.Read(c.peek[:])
			c.peeked = n
			if err != nil && !isTimeout(err) {
				r.cancel()
			}
		}()
	}
	return r.ctx
}

// stopWatch ends Context's background read, keeping any byte it got.
func (r *Request) stopWatch() {
	if r.watchDone != nil {
		r.conn.nc.SetReadDeadline(time.Unix(1, 0))
		<-r.watchDone
		r.conn.nc.SetReadDeadline(time.Time{})
		r.watchDone = nil
	}
}

// finish ends the request's context once its handler has returned.
func (r *Request) finish() {
	r.stopWatch()
	if r.cancel != nil {
		r.cancel()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ResponseWriter collects a handler's answer.
type ResponseWriter struct {
	c        *conn
	req      *Request
	header   textproto.MIMEHeader
	status   int
	body     bytes.Buffer
	sent     bool
	hijacked bool
}

// Header is the response's header, to set before the handler returns.
func (w *ResponseWriter) Header() textproto.MIMEHeader { return w.header }

// WriteHeader sets the status (200 unless called).
func (w *ResponseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// Write appends to the body.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.sent || w.hijacked {
		return 0, errors.New("minihttp: write after the response was sent")
	}
	w.WriteHeader(200)
	return w.body.Write(p)
}

// Flush sends the response now; later writes fail. The connection closes
// after it, whatever the client asked.
func (w *ResponseWriter) Flush() error {
	if w.sent || w.hijacked {
		return nil
	}
	w.req.close = true
	return w.send()
}

// Hijack hands the connection to the handler, with the reader that may
// already hold what the client sent after its request. The handler writes
// its own response head and closes the connection.
func (w *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.sent || w.hijacked {
		return nil, nil, errors.New("minihttp: response already sent")
	}
	w.req.stopWatch()
	w.hijacked, w.req.hijacked = true, true
	w.c.lr.n = -1
	// The connection is the handler's now: Shutdown leaves it alone.
	w.c.s.mu.Lock()
	delete(w.c.s.conns, w.c)
	w.c.s.mu.Unlock()
	w.c.setBusy(false)
	return w.c.nc, bufio.NewReadWriter(w.c.br, bufio.NewWriter(w.c.nc)), nil
}

// Error answers code with Docker's error body {"message": msg}.
func Error(w *ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (w *ResponseWriter) send() error {
	w.sent = true
	status := w.status
	if status == 0 {
		status = 200
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, StatusText(status))
	for k, vs := range w.header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	// 1xx, 204 and 304 carry no body.
	noBody := status < 200 || status == 204 || status == 304
	if !noBody {
		b.WriteString("Content-Length: " + strconv.Itoa(w.body.Len()) + "\r\n")
	}
	if w.req.close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	if !noBody && w.req.Method != "HEAD" {
		b.Write(w.body.Bytes())
	}
	_, err := w.c.nc.Write(b.Bytes())
	return err
}

// HandlerFunc answers one request.
type HandlerFunc func(w *ResponseWriter, r *Request)

// Mux routes "METHOD /path" to handlers, exactly (no patterns).
type Mux map[string]HandlerFunc

// Serve dispatches r: 404 for an unknown path, 405 for a known path with
// another method.
func (m Mux) Serve(w *ResponseWriter, r *Request) {
	if h, ok := m[r.Method+" "+r.Path]; ok {
		h(w, r)
		return
	}
	var allow []string
	for k := range m {
		if method, path, _ := strings.Cut(k, " "); path == r.Path {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		Error(w, 405, fmt.Sprintf("method %s not allowed on %s", r.Method, r.Path))
		return
	}
	Error(w, 404, "no such route: "+r.Path)
}

// Server serves HTTP/1.1 on a listener.
type Server struct {
	Handler HandlerFunc

	mu     sync.Mutex
	l      net.Listener
	conns  map[*conn]struct{}
	closed bool
	active sync.WaitGroup
}

// Serve accepts connections until Shutdown (then it returns nil) or an
// accept error.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.l = l
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.mu.Unlock()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			if isTimeout(err) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		c := newConn(s, nc)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections and waits (up to ctx)
// for requests in progress to be answered. Hijacked connections are their
// handlers'.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.l != nil {
		s.l.Close()
	}
	for c := range s.conns {
		if !c.busy {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// conn is one client connection.
type conn struct {
	s  *Server
	nc net.Conn
	lr *limitReader
	br *bufio.Reader
	// peek holds a byte that Request.Context's watch read.
	peek   [1]byte
	peeked int
	busy   bool // guarded by s.mu
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc}
	c.lr = &limitReader{c: c}
	c.br = bufio.NewReaderSize(c.lr, 4096)
	return c
}

// limitReader reads the connection (a byte the watch kept first) and
// fails once n bytes are read (n < 0: no limit).
type limitReader struct {
	c *conn
	n int64
}

var errTooLarge = errors.New("request header too large")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, errTooLarge
	}
	if l.n > 0 && int64(len(p)) > l.n {
		p = p[:l.n]
	}
	var n int
	var err error
	if l.c.peeked > 0 && len(p) > 0 {
		p[0] = l.c.peek[0]
		l.c.peeked = 0
		n = 1
	} else {
		n, err = l.c.nc.Read(p)
	}
	if l.n > 0 {
		l.n -= int64(n)
	}
	return n, err
}

func (c *conn) setBusy(b bool) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if b && c.s.closed {
		return false
	}
	c.busy = b
	if b {
		c.s.active.Add(1)
	} else {
		c.s.active.Done()
	}
	return true
}

func (c *conn) serve() {
	hijacked := false
	defer func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		if !hijacked {
			c.nc.Close()
		}
	}()
	for {
		c.lr.n = MaxHeaderBytes
		req, code, err := readRequest(c.br)
		if err != nil {
			if code != 0 {
				// Say why, then close: what follows cannot be trusted.
				w := &ResponseWriter{c: c, req: &Request{close: true}, header: textproto.MIMEHeader{}}
				Error(w, code, err.Error())
				w.send()
			}
			return
		}
		c.lr.n = -1
		if !c.setBusy(true) {
			return
		}
		req.conn = c
		w := &ResponseWriter{c: c, req: req, header: textproto.MIMEHeader{}}
		if req.ContentLength > 0 && strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
			io.WriteString(c.nc, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		c.s.Handler(w, req)
		req.finish()
		if w.hijacked {
			hijacked = true
			return
		}
		if !w.sent {
			w.send()
		}
		// What the handler left of the body is read and dropped (it is
		// at most MaxBodyBytes), so the next request starts where it
		// should.
		_, derr := io.Copy(io.Discard, req.Body)
		c.s.mu.Lock()
		closed := c.s.closed
		c.s.mu.Unlock()
		c.setBusy(false)
		if req.close || derr != nil || closed {
			return
		}
	}
}

// readRequest parses one request's line and headers. On error, code is the
// status to answer (0: the connection just ended, answer nothing).
func readRequest(br *bufio.Reader) (*Request, int, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	for err == nil && line == "" {
		// RFC 9112 2.2: ignore at least one empty line before a request.
		line, err = tp.ReadLine()
	}
	if err != nil {
		return nil, errCode(err, true), err
	}
	req, err := parseRequestLine(line)
	if err != nil {
		return nil, 400, err
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, errCode(err, false), fmt.Errorf("malformed header: %w", err)
	}
	req.Header = h
	if err := req.parseHeader(); err != nil {
		code := 400
		var he *httpError
		if errors.As(err, &he) {
			code = he.code
		}
		return nil, code, err
	}
	req.Body = io.LimitReader(br, req.ContentLength)
	return req, 0, nil
}

// errCode is the status for a read error: 431 for a header too large;
// nothing for a connection that ended between requests; 400 otherwise.
func errCode(err error, atStart bool) int {
	switch {
	case errors.Is(err, errTooLarge):
		return 431
	case atStart && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isTimeout(err)):
		return 0
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return 400
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return 0
	}
	return 400
}

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func parseRequestLine(line string) (*Request, error) {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !validMethod(method) || target == "" {
		return nil, fmt.Errorf("malformed request line %q", truncate(line))
	}
	if proto != "HTTP/1.1" && proto != "HTTP/1.0" {
		return nil, fmt.Errorf("unsupported protocol %q (HTTP/1.1 or HTTP/1.0)", truncate(proto))
	}
	var u *url.URL
	if target == "*" {
		u = &url.URL{Path: "*"}
	} else {
		var err error
		if u, err = url.ParseRequestURI(target); err != nil {
			return nil, fmt.Errorf("malformed request target %q", truncate(target))
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query %q", truncate(u.RawQuery))
	}
	return &Request{Method: method, Path: u.Path, Query: q, Proto: proto}, nil
}

func (r *Request) parseHeader() error {
	if len(r.Header["Transfer-Encoding"]) > 0 {
		return &httpError{501, "request bodies are taken with a Content-Length only"}
	}
	if cl := r.Header["Content-Length"]; len(cl) > 0 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return errors.New("conflicting Content-Length headers")
			}
		}
		n, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64)
		if err != nil || n < 0 || strings.HasPrefix(strings.TrimSpace(cl[0]), "+") {
			return fmt.Errorf("bad Content-Length %q", truncate(cl[0]))
		}
		if n > MaxBodyBytes {
			return &httpError{413, fmt.Sprintf("request body of %d bytes is over the limit of %d", n, MaxBodyBytes)}
		}
		r.ContentLength = n
	}
	conn := strings.ToLower(strings.Join(r.Header["Connection"], ","))
	hasToken := func(t string) bool {
		for _, f := range strings.Split(conn, ",") {
			if strings.TrimSpace(f) == t {
				return true
			}
		}
		return false
	}
	if r.Proto == "HTTP/1.0" {
		r.close = !hasToken("keep-alive")
	} else {
		r.close = hasToken("close")
	}
	return nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c < '!' || c > '~' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// StatusText is the reason phrase for the codes the shim uses.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 204:
		return "No Content"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 409:
		return "Conflict"
	case 413:
		return "Request Entity Too Large"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	}
	return "Status " + strconv.Itoa(code)
}
