package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

const (
	// APIVersion is the Engine API version gorae advertises in _ping's
	// API-Version header and in /version; clients negotiate down to it.
	// It is Docker 28.2's, so the docker CLI 28.2 speaks it natively.
	APIVersion = "1.50"
	// MinAPIVersion is the oldest version a client may name in its path.
	MinAPIVersion = "1.24"

	defaultBodyLimit = 16 << 20
	// shutdownGrace is how long Serve waits for requests in flight once
	// its context ends; streams are ended at once, not waited for.
	shutdownGrace = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// Version is gorae's version, sent in the Server header.
	Version string
	// Debug logs every request, not only failures.
	Debug bool
	// BodyLimit caps JSON request bodies (0: 16 MiB). Bodies that are
	// streams (image load and import) are not capped.
	BodyLimit int64
	// Logger receives request failures (nil: slog.Default()).
	Logger *slog.Logger
}

// Server serves the Docker Engine API for a Backend.
type Server struct {
	b    Backend
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// streams ends long responses (events, logs -f, wait, attach, stats)
	// when Serve's context ends: http.Server.Shutdown waits for them but
	// cannot end them, and does not see hijacked connections at all.
	streams     context.Context
	stopStreams context.CancelFunc
}

// NewServer returns a Server for b; it serves nothing until Serve, or
// until its Handler is mounted elsewhere.
func NewServer(b Backend, opts Options) *Server {
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = defaultBodyLimit
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{b: b, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.routes()
	return s
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// Serve serves the API on the listeners until ctx ends, then shuts down
// gracefully: it stops accepting, ends streams and waits a while for the
// other requests. It returns early, with the error, if a listener fails.
// A Server is served once.
func (s *Server) Serve(ctx context.Context, listeners ...net.Listener) error {
	if len(listeners) == 0 {
		return errors.New("api: serve: no listeners")
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("api: serve on %s: %w", l.Addr(), err)
			}
		}()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	s.stopStreams()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		s.log.Warn("api: shutdown: closing requests still running", "err", serr)
		srv.Close()
	}
	return err
}

type ctxKey struct{}

// requestInfo is what the middleware decoded for the route: the API version
// the client asked for and the query.
type requestInfo struct {
	version string
	form    url.Values
}

func reqInfo(r *http.Request) requestInfo {
	if v, ok := r.Context().Value(ctxKey{}).(requestInfo); ok {
		return v
	}
	return requestInfo{version: APIVersion, form: r.URL.Query()}
}

// form is the request's query. Only the URL counts: parsing a POST body
// as a form, as http.Request.ParseForm would, would eat image tarballs.
func form(r *http.Request) url.Values { return reqInfo(r).form }

// version is the API version the client asked for in the path (or ours).
func version(r *http.Request) string { return reqInfo(r).version }

// ServeHTTP routes one request: version prefix, query, then the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			s.recovered(rw, r, p)
		}
		if s.opts.Debug {
			s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "status", rw.status, "duration", time.Since(start))
		}
	}()
	h := rw.Header()
	h.Set("Server", "gorae/"+s.opts.Version+" (linux)")
	h.Set("API-Version", APIVersion)
	h.Set("OSType", "linux")
	h.Set("Docker-Experimental", "false")

	r, err := prepare(r)
	if err != nil {
		s.fail(rw, r, err)
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(rw, r)
		return
	}
	s.mux.ServeHTTP(rw, r)
}

// prepare strips the /vX.Y prefix, checks the version against the range
// we serve and parses the query, as Docker's version middleware does.
func prepare(r *http.Request) (*http.Request, error) {
	v, n := splitVersion(r.URL.Path)
	if v == "" {
		v = APIVersion
	}
	u := *r.URL
	if n > 0 {
		u.Path = u.Path[n:]
		if strings.HasPrefix(u.RawPath, r.URL.Path[:n]) {
			u.RawPath = u.RawPath[n:]
		} else {
			u.RawPath = ""
		}
	}
	q, qerr := url.ParseQuery(u.RawQuery)
	// WithContext copies the request, so the caller's keeps its URL.
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, requestInfo{version: v, form: q}))
	r.URL = &u
	if versionLess(v, MinAPIVersion) {
		return r, invalidf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion)
	}
	if versionLess(APIVersion, v) {
		return r, invalidf("client version %s is too new. Maximum supported API version is %s", v, APIVersion)
	}
	if qerr != nil {
		return r, invalidf("invalid query %q: %v", r.URL.RawQuery, qerr)
	}
	return r, nil
}

// noRoute answers a request no pattern matches: 405 if the path is known
// for other methods, else Docker's 404. ServeMux knows which; it is asked
// through a recorder because it would answer in plain text.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}}
	s.mux.ServeHTTP(rec, r)
	if rec.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeErrorBody(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed for %s", r.Method, r.URL.Path))
		return
	}
	writeErrorBody(w, http.StatusNotFound, "page not found")
}

// recovered turns a handler's panic into a 500, so no request can take
// the daemon down; http.ErrAbortHandler keeps its meaning.
func (s *Server) recovered(w *responseWriter, r *http.Request, p any) {
	if p == http.ErrAbortHandler {
		panic(p)
	}
	s.log.Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
	if w.started || w.hijacked {
		return
	}
	writeErrorBody(w, http.StatusInternalServerError, fmt.Sprintf("internal error serving %s %s: %v", r.Method, r.URL.Path, p))
}

// apiFunc is a route: it writes a response, or returns an error for the
// caller to map to Docker's status and body.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(pattern string, f apiFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail reports err as Docker does, unless the response is already under
// way: then the status is gone and the error can only be logged.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", code, "err", err}
	if rw, ok := w.(*responseWriter); ok && (rw.started || rw.hijacked) {
		if r.Context().Err() == nil && s.streams.Err() == nil {
			s.log.Warn("api: error after the response started", attrs...)
		}
		return
	}
	switch {
	case code == http.StatusInternalServerError && r.Context().Err() == nil:
		s.log.Error("api: request failed", attrs...)
	case s.opts.Debug:
		s.log.Debug("api: request refused", attrs...)
	}
	writeErrorBody(w, code, err.Error())
}
