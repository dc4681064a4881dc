package minihttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve starts a Server with mux on a unix socket and returns its path.
func serve(t *testing.T, mux Mux) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: mux.Serve}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return sock
}

func testMux() Mux {
	return Mux{
		"GET /state": func(w *ResponseWriter, r *Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"q": r.Query.Get("q")})
		},
		"POST /echo": func(w *ResponseWriter, r *Request) {
			io.Copy(w, r.Body)
		},
		"POST /none": func(w *ResponseWriter, r *Request) { w.WriteHeader(204) },
		"POST /conflict": func(w *ResponseWriter, r *Request) {
			Error(w, 409, "already there")
		},
		"POST /wait": func(w *ResponseWriter, r *Request) {
			<-r.Context().Done()
		},
		"POST /upgrade": func(w *ResponseWriter, r *Request) {
			conn, buf, err := w.Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			buf.WriteString("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
			buf.Flush()
			// Echo upper-cased until the client half-closes.
			b, _ := io.ReadAll(buf)
			conn.Write(bytes.ToUpper(b))
		},
	}
}

func unixClient(sock string, keepAlive bool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: !keepAlive,
	}}
}

// net/http's client, as the daemon uses it, with and without keep-alive.
func TestNetHTTPClient(t *testing.T) {
	sock := serve(t, testMux())
	for _, keep := range []bool{true, false} {
		c := unixClient(sock, keep)
		for i := 0; i < 3; i++ {
			resp, err := c.Get("http://shim/state?q=a%20b")
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]string
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if resp.StatusCode != 200 || v["q"] != "a b" || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("keepalive=%v: %d %v %v", keep, resp.StatusCode, v, resp.Header)
			}
			resp, err = c.Post("http://shim/echo", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello" {
				t.Fatalf("echo: %q", b)
			}
		}
		for path, want := range map[string]int{"/none": 204, "/conflict": 409, "/nope": 404, "/state": 405} {
			resp, err := c.Post("http://shim"+path, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Message string }
			json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != want || (want >= 400 && e.Message == "") {
				t.Errorf("POST %s: %d %q, want %d with a message", path, resp.StatusCode, e.Message, want)
			}
		}
	}
}

// raw sends req on a fresh connection and returns everything the server
// wrote until it closed the connection.
func raw(t *testing.T, sock, req string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	c.(*net.UnixConn).CloseWrite()
	// A server that closes on unread input resets the connection: what
	// it answered before still counts.
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		t.Fatalf("%.80q: %v", req, err)
	}
	return string(b)
}

func TestRawRequests(t *testing.T) {
	sock := serve(t, testMux())
	big := strings.Repeat("x", MaxHeaderBytes)
	for _, tc := range []struct{ name, req, want string }{
		{"HTTP/1.0 closes", "GET /state HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\n"},
		{"garbage", "hello\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
		{"bad protocol", "GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 400 "},
		{"bad header", "GET /state HTTP/1.1\r\nno colon\r\n\r\n", "HTTP/1.1 400 "},
		{"bad length", "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400 "},
		{"two lengths", "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400 "},
		{"chunked", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 501 "},
		{"body too large", "POST /echo HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", "HTTP/1.1 413 "},
		{"header too large", "GET /state HTTP/1.1\r\nX: " + big + "\r\n\r\n", "HTTP/1.1 431 "},
		{"bad query", "GET /state?q=%zz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
		{"truncated", "GET /state HTTP/1.1\r\nHost: s\r\n", "HTTP/1.1 400 "},
	} {
		got := raw(t, sock, tc.req)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q, want it to start with %q", tc.name, got, tc.want)
		}
		if strings.HasPrefix(tc.want, "HTTP/1.1 4") || strings.HasPrefix(tc.want, "HTTP/1.1 5") {
			if !strings.Contains(got, `{"message":`) || !strings.Contains(got, "Connection: close") {
				t.Errorf("%s: want an error body and Connection: close, got %q", tc.name, got)
			}
		}
	}
	if got := raw(t, sock, "GET /state?q=1 HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"); strings.Count(got, "HTTP/1.1 200 OK") != 2 || !strings.HasSuffix(got, "\r\n\r\nhi") {
		t.Errorf("pipelined: %q", got)
	}
}

func TestHijack(t *testing.T) {
	sock := serve(t, testMux())
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// Stream bytes sent with the request reach the handler.
	io.WriteString(c, "POST /upgrade HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly ")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(c, "late")
	c.(*net.UnixConn).CloseWrite()
	b, _ := io.ReadAll(br)
	if string(b) != "EARLY LATE" {
		t.Errorf("stream: %q", b)
	}
}

// A handler waiting on its request's context hears the client hang up.
func TestContextCancelledOnHangup(t *testing.T) {
	done := make(chan struct{})
	mux := Mux{"POST /wait": func(w *ResponseWriter, r *Request) {
		<-r.Context().Done()
		close(done)
	}}
	sock := serve(t, mux)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /wait HTTP/1.1\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // not a timing assertion: lets the handler start first
	c.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handler's context not cancelled after the client hung up")
	}
}

// Flush puts the answer on the wire while the handler still runs.
func TestFlush(t *testing.T) {
	release := make(chan struct{})
	mux := Mux{"POST /delete": func(w *ResponseWriter, r *Request) {
		w.WriteHeader(204)
		w.Flush()
		<-release
	}}
	sock := serve(t, mux)
	defer close(release)
	resp, err := unixClient(sock, true).Post("http://shim/delete", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || !resp.Close {
		t.Errorf("flushed answer: %d close=%v", resp.StatusCode, resp.Close)
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET /state HTTP/1.1\r\nHost: shim\r\n\r\n",
		"POST /kill?signal=TERM&all=1 HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		"POST /exec HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n{}",
		"GET http://shim/state HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"\r\nGET * HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, code, err := readRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			if code != 0 && (code < 400 || code > 599) {
				t.Fatalf("error %v with status %d", err, code)
			}
			return
		}
		if req.ContentLength < 0 || req.ContentLength > MaxBodyBytes || req.Query == nil || req.Header == nil {
			t.Fatalf("accepted %+v", req)
		}
		io.Copy(io.Discard, req.Body)
	})
}

// fakeConn reads a fixed input and swallows what is written.
type fakeConn struct {
	net.Conn // nil: the methods below are all serve uses
	r        *bytes.Reader
	out      bytes.Buffer
}

func (f *fakeConn) Read(p []byte) (int, error)         { return f.r.Read(p) }
func (f *fakeConn) Write(p []byte) (int, error)        { return f.out.Write(p) }
func (f *fakeConn) Close() error                       { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error    { return nil }
func (f *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (f *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// The whole connection loop on arbitrary input: requests one after the
// other, bodies, hijacks; it must neither panic nor hang.
func FuzzServeConn(f *testing.F) {
	f.Add([]byte("GET /state?q=1 HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiPOST /none HTTP/1.1\r\n\r\n"))
	f.Add([]byte("POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nabc"))
	f.Add([]byte("POST /upgrade HTTP/1.1\r\n\r\nstream bytes"))
	f.Add([]byte("GET /nope HTTP/1.0\r\n\r\nGET /state HTTP/1.1\r\nConnection: close\r\n\r\n"))
	mux := testMux()
	delete(mux, "POST /wait") // it waits for a hang-up a fake conn cannot give
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &Server{Handler: mux.Serve, conns: map[*conn]struct{}{}}
		fc := &fakeConn{r: bytes.NewReader(b)}
		c := newConn(s, fc)
		s.conns[c] = struct{}{}
		c.serve()
		if fc.out.Len() > 0 && !bytes.HasPrefix(fc.out.Bytes(), []byte("HTTP/1.1 ")) {
			t.Fatalf("answer %q", fc.out.Bytes())
		}
	})
}
