package api

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/moby/moby/api/types/common"

	"github.com/gorae/gorae/internal/errdefs"
)

// statusOf is Docker's status for err: errdefs' class, or 413 for a body
// over the limit.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return errdefs.HTTPStatus(err)
}

// writeErrorBody writes Docker's error body {"message": "..."}.
func writeErrorBody(w http.ResponseWriter, code int, msg string) {
	_ = writeJSON(w, code, common.ErrorResponse{Message: msg})
}

// writeJSON writes v as the whole response, without HTML escaping, as
// Docker does.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code == http.StatusNotModified || code == http.StatusNoContent {
		return nil // these statuses have no body
	}
	return writeJSONBody(w, v)
}

// writeJSONBody writes v as one line of JSON.
func writeJSONBody(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// responseWriter remembers whether the response has started (its status
// is sent) or the connection was hijacked, so errors that come later are
// logged rather than written into the middle of a stream.
type responseWriter struct {
	http.ResponseWriter
	status   int
	started  bool
	hijacked bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.started {
		w.status, w.started = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.status, w.started = http.StatusOK, true
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends the status and what is buffered.
func (w *responseWriter) Flush() {
	if !w.started {
		w.status, w.started = http.StatusOK, true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (attach).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// started reports whether w's status has been sent.
func started(w http.ResponseWriter) bool {
	rw, ok := w.(*responseWriter)
	return ok && (rw.started || rw.hijacked)
}

// flushWriter writes through to the client at once: logs, stats, events
// and progress must arrive as they happen, not when a buffer fills.
// Backends may write from several goroutines (stdout and stderr), so
// writes are serialised.
type flushWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
}

func newFlushWriter(w http.ResponseWriter) *flushWriter { return &flushWriter{w: w} }

func (f *flushWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, http.NewResponseController(f.w).Flush()
}

// Flush sends the status line and headers before any data, so a client
// waiting on a quiet stream (logs -f, events) knows it is connected.
func (f *flushWriter) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !started(f.w) {
		f.w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(f.w).Flush()
}

// writeStreamError reports an error in a stream that has started, the
// way Docker's clients display it: in a JSON progress stream as an
// errorDetail message.
func writeStreamError(w io.Writer, err error) {
	msg := err.Error()
	b, _ := json.Marshal(struct {
		ErrorDetail struct {
			Message string `json:"message"`
		} `json:"errorDetail"`
		Error string `json:"error"`
	}{ErrorDetail: struct {
		Message string `json:"message"`
	}{msg}, Error: msg})
	_, _ = w.Write(append(b, '\n'))
}

// writeStderrText writes text into a stdout/stderr stream: as a stderr
// frame of Docker's multiplexed format, or as is in a raw (tty) stream.
func writeStderrText(w io.Writer, multiplexed bool, text string) {
	if !multiplexed {
		_, _ = io.WriteString(w, text)
		return
	}
	frame := make([]byte, 8, 8+len(text))
	frame[0] = 2 // stderr
	binary.BigEndian.PutUint32(frame[4:], uint32(len(text)))
	_, _ = w.Write(append(frame, text...))
}

// recorder captures what ServeMux would answer for an unmatched request.
type recorder struct {
	header http.Header
	code   int
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(p []byte) (int, error) { return len(p), nil }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
