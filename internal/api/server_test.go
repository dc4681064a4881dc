package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/errdefs"
)

// request runs one request through s's handler in memory.
func request(t *testing.T, s *Server, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// quiet is a logger for servers whose failures the test provokes.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestServer() (*Server, *fakeBackend) {
	f := newFake()
	return NewServer(f, Options{Version: "test", Logger: quiet}), f
}

// message is the "message" of Docker's error body.
func message(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q is not Docker's JSON: %v", rec.Body, err)
	}
	return e.Message
}

func TestVersionsAndRoutes(t *testing.T) {
	s, _ := newTestServer()
	for _, c := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/_ping", 200, ""},
		{"GET", "/v1.50/_ping", 200, ""},
		{"GET", "/v1.24/containers/json", 200, ""},
		{"GET", "/v1.41/version", 200, ""},
		{"GET", "/v1.99/_ping", 400, "client version 1.99 is too new. Maximum supported API version is 1.50"},
		{"GET", "/v1.51/containers/json", 400, "client version 1.51 is too new. Maximum supported API version is 1.50"},
		{"GET", "/v1.23/_ping", 400, "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"GET", "/v1.9/_ping", 400, "client version 1.9 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"GET", "/vx/_ping", 404, "page not found"},
		{"GET", "/v1.50/nope", 404, "page not found"},
		{"GET", "/", 404, "page not found"},
		{"GET", "/volumesx", 404, "page not found"},
		{"POST", "/containers/json", 405, "method POST not allowed for /containers/json"},
		{"DELETE", "/v1.50/containers/c1/start", 405, "method DELETE not allowed for /containers/c1/start"},
		{"GET", "/images/busybox/tag", 405, "method GET not allowed for /images/busybox/tag"},
		{"POST", "/images/busybox/json", 405, "method POST not allowed for /images/busybox/json"},
		{"GET", "/images/busybox/nonsense", 404, "page not found"},
		{"GET", "/images/busybox", 404, "page not found"},
		{"GET", "/containers/json?all=%zz", 400, ""},
		{"GET", "/networks/nope", 404, "network nope not found"},
		{"POST", "/containers/c1/exec", 400, "exec: a JSON body with Cmd is required"},
		{"POST", "/networks/prune", 200, ""},
	} {
		rec := request(t, s, c.method, c.path, "")
		if rec.Code != c.code {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, rec.Code, c.code, rec.Body)
			continue
		}
		if c.code >= 400 {
			if got := message(t, rec); c.msg != "" && got != c.msg {
				t.Errorf("%s %s: message %q, want %q", c.method, c.path, got, c.msg)
			}
		}
		for _, h := range []string{"API-Version", "OSType", "Docker-Experimental", "Server"} {
			if rec.Header().Get(h) == "" {
				t.Errorf("%s %s: no %s header", c.method, c.path, h)
			}
		}
		if c.code == 405 && rec.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

func TestPing(t *testing.T) {
	s, _ := newTestServer()
	for _, method := range []string{"GET", "HEAD"} {
		rec := request(t, s, method, "/_ping", "")
		want := map[string]string{
			"API-Version": "1.50", "OSType": "linux", "Docker-Experimental": "false", "Builder-Version": "1",
			"Cache-Control": "no-cache, no-store, must-revalidate",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s _ping: %s = %q, want %q", method, k, got, v)
			}
		}
		body := "OK"
		if method == "HEAD" {
			body = ""
		}
		if rec.Code != 200 || rec.Body.String() != body {
			t.Errorf("%s _ping: %d %q", method, rec.Code, rec.Body)
		}
	}
}

func TestVersionStatesAPIRange(t *testing.T) {
	s, _ := newTestServer()
	rec := request(t, s, "GET", "/version", "")
	var v struct{ ApiVersion, MinAPIVersion, Version string }
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.ApiVersion != APIVersion || v.MinAPIVersion != MinAPIVersion || v.Version != "0.1.0" {
		t.Errorf("/version: %s (%v)", rec.Body, err)
	}
}

// TestErrorMapping: the class of the Backend's error picks the status,
// the body is Docker's.
func TestErrorMapping(t *testing.T) {
	base := errors.New("boom")
	for _, c := range []struct {
		err  error
		code int
	}{
		{errdefs.NotFound(fmt.Errorf("No such container: x")), 404},
		{errdefs.Conflict(base), 409},
		{errdefs.InvalidParameter(base), 400},
		{errdefs.NotModified(base), 304},
		{errdefs.Forbidden(base), 403},
		{errdefs.Unavailable(base), 503},
		{errdefs.NotImplemented(base), 501},
		{fmt.Errorf("start: %w", errdefs.Conflict(base)), 409},
		{base, 500},
	} {
		s, f := newTestServer()
		f.errs["ContainerStart"] = c.err
		rec := request(t, s, "POST", "/v1.50/containers/c1/start", "")
		if rec.Code != c.code {
			t.Errorf("%v: status %d, want %d", c.err, rec.Code, c.code)
			continue
		}
		if c.code == 304 {
			if rec.Body.Len() != 0 {
				t.Errorf("304 with a body: %q", rec.Body)
			}
			continue
		}
		if got := message(t, rec); got != c.err.Error() {
			t.Errorf("message %q, want %q", got, c.err.Error())
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("error Content-Type %q", ct)
		}
	}
}

func TestPanicIsA500(t *testing.T) {
	s, f := newTestServer()
	f.panics["ContainerInspect"] = true
	rec := request(t, s, "GET", "/containers/c1/json", "")
	if rec.Code != 500 || !strings.Contains(message(t, rec), "panic") && !strings.Contains(message(t, rec), "internal error") {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
	if rec := request(t, s, "GET", "/_ping", ""); rec.Code != 200 {
		t.Fatalf("server unusable after a panic: %d", rec.Code)
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFake()
	s := NewServer(f, Options{BodyLimit: 64, Logger: quiet})
	body := `{"Image":"busybox","Env":["` + strings.Repeat("x", 100) + `"]}`
	rec := request(t, s, "POST", "/containers/create", body)
	if rec.Code != http.StatusRequestEntityTooLarge || f.called("ContainerCreate") {
		t.Fatalf("oversized body: %d %s", rec.Code, rec.Body)
	}
	// Streamed bodies are not limited.
	rec = request(t, s, "POST", "/images/load", strings.Repeat("t", 1000), "Content-Type", "application/x-tar")
	if rec.Code != 200 {
		t.Fatalf("load of 1000 bytes with a 64-byte JSON limit: %d %s", rec.Code, rec.Body)
	}
}

func TestSplitVersion(t *testing.T) {
	for path, want := range map[string]string{
		"/v1.50/_ping": "1.50", "/v1/_ping": "1", "/_ping": "", "/volumes": "", "/v1.50": "", "/v/x": "", "/v1.x/y": "",
	} {
		if got, _ := splitVersion(path); got != want {
			t.Errorf("splitVersion(%q) = %q, want %q", path, got, want)
		}
	}
	for _, c := range []struct {
		a, b string
		less bool
	}{{"1.9", "1.24", true}, {"1.24", "1.9", false}, {"1.50", "1.50", false}, {"1.50", "1.50.1", true}, {"2", "1.99", false}} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestFilters(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string][]string
		bad  bool
	}{
		{``, nil, false},
		{`{}`, nil, false},
		{`{"status":{"running":true,"exited":true}}`, map[string][]string{"status": {"exited", "running"}}, false},
		{`{"status":["running"],"label":["a=b"]}`, map[string][]string{"status": {"running"}, "label": {"a=b"}}, false},
		{`{"status":"running"}`, nil, true},
		{`{`, nil, true},
		{`[1]`, nil, true},
	} {
		got, err := filtersValue(map[string][]string{"filters": {c.in}})
		if (err != nil) != c.bad || !reflect.DeepEqual(got, c.want) {
			t.Errorf("filters %s: %v %v", c.in, got, err)
		}
		if err != nil && !errdefs.IsInvalidParameter(err) {
			t.Errorf("filters %s: error not a 400: %v", c.in, err)
		}
	}
}
