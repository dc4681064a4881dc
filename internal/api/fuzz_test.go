package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hijackRecorder is a ResponseRecorder whose connection can be hijacked:
// the server gets one end of a net.Pipe, whose other end is drained.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	client net.Conn
	done   chan struct{}
	raw    strings.Builder
}

func newHijackRecorder() *hijackRecorder {
	return &hijackRecorder{ResponseRecorder: httptest.NewRecorder(), done: make(chan struct{})}
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	server, client := net.Pipe()
	h.client = client
	go func() {
		defer close(h.done)
		_, _ = io.Copy(&h.raw, client)
	}()
	return server, bufio.NewReadWriter(bufio.NewReader(server), bufio.NewWriter(server)), nil
}

// hijackedStatus is the status the server wrote on a hijacked connection.
func (h *hijackRecorder) hijackedStatus() int {
	if h.client == nil {
		return 0
	}
	<-h.done
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(h.raw.String())), nil)
	if err != nil {
		return -1
	}
	return resp.StatusCode
}

// every route, with a valid container or image name in its path.
var everyRoute = []struct{ method, path string }{
	{"GET", "/_ping"}, {"HEAD", "/_ping"}, {"GET", "/version"}, {"GET", "/info"}, {"GET", "/events"}, {"GET", "/system/df"},
	{"GET", "/containers/json"}, {"POST", "/containers/create"}, {"POST", "/containers/prune"},
	{"GET", "/containers/c1/json"}, {"POST", "/containers/c1/start"}, {"POST", "/containers/c1/stop"},
	{"POST", "/containers/c1/restart"}, {"POST", "/containers/c1/kill"}, {"POST", "/containers/c1/pause"},
	{"POST", "/containers/c1/unpause"}, {"POST", "/containers/c1/wait"}, {"POST", "/containers/c1/rename"},
	{"POST", "/containers/c1/update"}, {"POST", "/containers/c1/resize"}, {"POST", "/containers/c1/attach"},
	{"GET", "/containers/c1/logs"}, {"GET", "/containers/c1/top"}, {"GET", "/containers/c1/stats"},
	{"GET", "/containers/c1/export"}, {"DELETE", "/containers/c1"}, {"POST", "/commit"},
	{"GET", "/images/json"}, {"GET", "/images/get"}, {"POST", "/images/create"}, {"POST", "/images/load"},
	{"POST", "/images/prune"}, {"GET", "/images/docker.io/library/busybox:latest/json"},
	{"GET", "/images/busybox/history"}, {"GET", "/images/busybox/get"}, {"POST", "/images/busybox/tag"},
	{"DELETE", "/images/busybox:latest"},
}

var malformedQueries = []string{
	"", "%zz", "t=soon&signal=&h=-5&w=wide", "limit=many&all=maybe&size=%00",
	"filters={", `filters={"status":"running"}`, "filters=[]", "filters=null",
	"since=yesterday", "until=1.2.3", "since=-5", "tail=ten", "tail=-7",
	"condition=sometime", "platform=a/b/c/d", "platform=/", "detachKeys=ctrl-", "detachKeys=ctrl-1,ctrl-@@",
	"stdout=1&stderr=1&follow=1&since=99999999999999999999", "stream=1&one-shot=1", "h=99999999&w=1",
	"fromSrc=-&fromImage=", "fromSrc=ftp://x", "names=", "repo=&tag=:::", "container=&pause=no",
	"name=%2F..%2F", "changes=BOGUS&changes=", "quiet=" + strings.Repeat("1", 1000),
}

var malformedBodies = []struct{ body, contentType string }{
	{"", ""}, {"{", "application/json"}, {"[]", "application/json"}, {`"str"`, "application/json"},
	{"null", "application/json"}, {`{"Image":5}`, "application/json"}, {`{"HostConfig":[]}`, "application/json"},
	{`{"Image":"b","HostConfig":{"PortBindings":{"x":"y"}}}`, "application/json"},
	{`{"ExposedPorts":{"not-a-port":{}},"Image":"b"}`, "application/json"},
	{`{"Memory":-1e400}`, "application/json"}, {"\x00\xff\xfe", "application/json"},
	{`{"Image":"b"}`, "text/plain"}, {`{"Image":"b"}`, "application/json; charset=\x00"},
	{`{"Image":"b"}}`, "application/json"}, {strings.Repeat("[", 10000), "application/json"},
}

// serveAny sends one request through the handler in memory and returns
// its status (of the hijacked answer for attach).
func serveAny(s *Server, method, path, query, body, contentType string) (int, bool) {
	target := "http://docker" + path
	if query != "" {
		target += "?" + query
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		return 0, false
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := newHijackRecorder()
	s.Handler().ServeHTTP(rec, req)
	if code := rec.hijackedStatus(); code != 0 {
		return code, true
	}
	return rec.Code, true
}

// TestMalformedRequestsAreRefusedNot500 sends broken parameters and bodies
// to every route: a 4xx or a success, never a server fault (501 is the
// honest answer of routes gorae does not have yet).
func TestMalformedRequestsAreRefusedNot500(t *testing.T) {
	s, _ := newTestServer()
	n := 0
	for _, r := range everyRoute {
		for _, q := range malformedQueries {
			for _, b := range malformedBodies {
				for _, prefix := range []string{"", "/v1.24", "/v1.50"} {
					code, ok := serveAny(s, r.method, prefix+r.path, q, b.body, b.contentType)
					if !ok {
						continue
					}
					n++
					if code >= 500 && code != http.StatusNotImplemented || code < 100 {
						t.Errorf("%s %s%s?%s body %q (%s): status %d", r.method, prefix, r.path, q, b.body, b.contentType, code)
					}
				}
			}
		}
	}
	t.Logf("%d requests", n)
}

// FuzzRequest: no request makes the server panic or answer 500 while the
// Backend succeeds.
func FuzzRequest(f *testing.F) {
	for i, r := range everyRoute {
		q := malformedQueries[i%len(malformedQueries)]
		b := malformedBodies[i%len(malformedBodies)]
		f.Add(r.method, r.path, q, b.body, b.contentType)
	}
	f.Add("POST", "/v1.50/containers/create", "name=x", `{"Image":"busybox","HostConfig":{"Binds":["/:/x"]}}`, "application/json")
	s, _ := newTestServer()
	f.Fuzz(func(t *testing.T, method, path, query, body, contentType string) {
		switch method {
		case "GET", "HEAD", "POST", "PUT", "DELETE":
		default:
			return
		}
		if !strings.HasPrefix(path, "/") {
			return
		}
		code, ok := serveAny(s, method, path, query, body, contentType)
		if ok && (code == http.StatusInternalServerError || code < 100) {
			t.Errorf("%s %s?%s body %q: status %d", method, path, query, body, code)
		}
	})
}
