// Package logs is the json-file log format Docker writes and `docker logs`
// reads: one JSON object per line, {"log","stream","time"}, in a file that
// rotates at max-size into at most max-file files.
package logs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Entry is one line of a container's output.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// maxLine is where Docker splits a long line: the pieces carry no
// newline, so a reader can join them.
const maxLine = 16 * 1024

// Options are the json-file log-opts.
type Options struct {
	// MaxSize in bytes; 0 means the file grows without bound.
	MaxSize int64
	// MaxFile is how many files to keep, current included (>= 1).
	MaxFile int
}

// ParseOptions reads Docker's log-opts (max-size "10m", max-file "3").
func ParseOptions(opts map[string]string) (Options, error) {
	o := Options{MaxFile: 1}
	if v, ok := opts["max-size"]; ok && v != "-1" {
		n, err := parseSize(v)
		if err != nil {
			return o, fmt.Errorf("log-opt max-size=%q: %w", v, err)
		}
		o.MaxSize = n
	}
	if v, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, fmt.Errorf("log-opt max-file=%q: want a number >= 1", v)
		}
		if o.MaxSize == 0 && n > 1 {
			return o, errors.New("log-opt max-file needs max-size")
		}
		o.MaxFile = n
	}
	for k := range opts {
		switch k {
		case "max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size":
		default:
			return o, fmt.Errorf("unknown log-opt %q for the json-file driver", k)
		}
	}
	return o, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, num = 1000, s[:n-1]
		case 'm', 'M':
			mult, num = 1000*1000, s[:n-1]
		case 'g', 'G':
			mult, num = 1000*1000*1000, s[:n-1]
		case 'b', 'B':
			num = s[:n-1]
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, errors.New("want a size like 10m or 500k")
	}
	return int64(v * float64(mult)), nil
}

// Writer appends entries to path, rotating as Options say. It is safe
// for concurrent use by the stdout and stderr copiers.
type Writer struct {
	mu   sync.Mutex
	path string
	opts Options
	f    *os.File
	size int64
	buf  []byte
	now  func() time.Time
}

// NewWriter opens (or creates) the log file for appending.
func NewWriter(path string, opts Options) (*Writer, error) {
	if opts.MaxFile < 1 {
		opts.MaxFile = 1
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open container log %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{path: path, opts: opts, f: f, size: fi.Size(), now: time.Now}, nil
}

// Write logs one chunk of a stream. Callers pass whole lines where they
// can (see Copy); a chunk without a trailing newline is a partial line.
func (w *Writer) Write(stream string, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.now().UTC()
	for len(p) > 0 {
		n := len(p)
		if n > maxLine {
			n = maxLine
		}
		w.buf = w.buf[:0]
		w.buf = append(w.buf, `{"log":`...)
		w.buf = appendJSONString(w.buf, p[:n])
		w.buf = append(w.buf, `,"stream":"`...)
		w.buf = append(w.buf, stream...)
		w.buf = append(w.buf, `","time":"`...)
		w.buf = t.AppendFormat(w.buf, time.RFC3339Nano)
		w.buf = append(w.buf, "\"}\n"...)
		if w.opts.MaxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.opts.MaxSize {
			if err := w.rotate(); err != nil {
				return err
			}
		}
		m, err := w.f.Write(w.buf)
		w.size += int64(m)
		if err != nil {
			return fmt.Errorf("write container log %s: %w", w.path, err)
		}
		p = p[n:]
	}
	return nil
}

// rotate shifts path.N-1 → path.N … path → path.1 and starts afresh.
func (w *Writer) rotate() error {
	if w.opts.MaxFile <= 1 {
		// Docker keeps one file by truncating it.
		if err := w.f.Truncate(0); err != nil {
			return fmt.Errorf("truncate container log %s: %w", w.path, err)
		}
		w.size = 0
		return nil
	}
	w.f.Close()
	for i := w.opts.MaxFile - 1; i >= 1; i-- {
		from := w.path
		if i > 1 {
			from = w.path + "." + strconv.Itoa(i-1)
		}
		os.Rename(from, w.path+"."+strconv.Itoa(i))
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("reopen container log %s after rotation: %w", w.path, err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// Copy reads r to EOF and logs it line by line as stream.
func (w *Writer) Copy(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if werr := w.Write(stream, line); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
}

// appendJSONString quotes b as encoding/json does, without its
// reflection and allocation: this runs for every line a container prints.
func appendJSONString(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, b[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		// Multi-byte: pass valid UTF-8 through, replace invalid bytes.
		r, size := utf8.DecodeRune(b[i:])
		if r == 0xFFFD && size == 1 {
			dst = append(dst, b[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, b[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}

// ReadOptions select entries as `docker logs` does.
type ReadOptions struct {
	Since, Until time.Time
	// Tail keeps only the last N entries; < 0 means all.
	Tail int
}

// ReadAll returns the entries of path and its rotated files, oldest
// first, filtered by opts. Malformed lines (a crash mid-write) are
// skipped rather than failing the read.
func ReadAll(path string, opts ReadOptions) ([]Entry, error) {
	var files []string
	for i := 50; i >= 1; i-- {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	files = append(files, path)
	var out []Entry
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("open container log %s: %w", p, err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			var e Entry
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
				continue
			}
			if !opts.Until.IsZero() && e.Time.After(opts.Until) {
				continue
			}
			out = append(out, e)
			if opts.Tail >= 0 && len(out) > 2*opts.Tail+1024 {
				out = append(out[:0], out[len(out)-opts.Tail:]...)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read container log %s: %w", p, err)
		}
	}
	if opts.Tail >= 0 && len(out) > opts.Tail {
		out = out[len(out)-opts.Tail:]
	}
	return out, nil
}
