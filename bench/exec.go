package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bench is the state of one run: where things are, what was started, and the
// stack of undo functions that cleanup runs.
type bench struct {
	// layerDiffID is the image figures' layer's diffID, set by bigLayer.
	layerDiffID string
	ctx         context.Context
	cancel      context.CancelFunc
	quick       bool
	sz          sizes
	start       time.Time
	// loadStart is the load average when the run began: other work on the
	// machine makes every figure slower, the ratios less so.
	loadStart string

	repo       string // repository root (holds go.mod)
	tmp        string // everything the run creates lives under here
	id         string // unique prefix for names: gorae-bench-<pid>
	gorae      string // bin/gorae
	goraeGiven bool   // -gorae: measured as given, not built
	goraeErr   error  // why bin/gorae could not be built
	rootfs     string // busybox rootfs
	bundle     string // OCI bundle running /bin/true on rootfs
	imageTar   string // tar of rootfs, imported as busybox:latest
	dockerCLI  string

	tools   []tool            // versions, for the report
	missing map[string]string // binary -> why it is not there

	netnsOnce sync.Once
	netns     string // /run/netns/<name>
	netnsErr  error

	engines map[string]*engineSlot

	mu          sync.Mutex
	undo        []undoFunc
	cleaned     bool
	cleanDone   chan struct{}
	interrupted atomic.Bool // by SIGINT/SIGTERM/SIGHUP: no report
	logMu       sync.Mutex
}

type undoFunc struct {
	what string
	f    func() error
}

func (b *bench) logf(format string, args ...any) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// atCleanup pushes an undo function; cleanup runs them last-in first-out. One
// pushed after cleanup ran (a race with a signal) runs at once.
func (b *bench) atCleanup(what string, f func() error) {
	b.mu.Lock()
	if b.cleaned {
		b.mu.Unlock()
		b.runUndo(undoFunc{what, f})
		return
	}
	b.undo = append(b.undo, undoFunc{what, f})
	b.mu.Unlock()
}

// cleanup runs the undo functions once; a second caller (main after a
// signal, or the signal handler after main) waits until they are done.
func (b *bench) cleanup() {
	b.mu.Lock()
	if b.cleaned {
		b.mu.Unlock()
		<-b.cleanDone
		return
	}
	b.cleaned = true
	b.cleanDone = make(chan struct{})
	undo := b.undo
	b.undo = nil
	b.mu.Unlock()
	defer close(b.cleanDone)
	for i := len(undo) - 1; i >= 0; i-- {
		b.runUndo(undo[i])
	}
}

func (b *bench) runUndo(u undoFunc) {
	defer func() {
		if r := recover(); r != nil {
			b.logf("cleanup: %s: panic: %v", u.what, r)
		}
	}()
	if err := u.f(); err != nil {
		b.logf("cleanup: %s: %v", u.what, err)
	}
}

// cmdError is a failed command: its error line is what the table shows.
type cmdError struct {
	cmd  string
	line string // the most telling line of stderr (or stdout)
	err  error
}

func (e *cmdError) Error() string {
	if e.line != "" {
		return e.line
	}
	return fmt.Sprintf("%s: %v", e.cmd, e.err)
}

func (e *cmdError) Unwrap() error { return e.err }

// errLine picks the line of a failed command's output that says why: the last
// non-empty line, trimmed of the usual log prefixes.
func errLine(out ...[]byte) string {
	for _, o := range out {
		lines := strings.Split(strings.TrimSpace(string(o)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			l := strings.TrimSpace(lines[i])
			if l == "" {
				continue
			}
			l = logMsg(l)
			if len(l) > 200 {
				l = l[:197] + "..."
			}
			return l
		}
	}
	return ""
}

// logMsg returns the msg of a logfmt line (runc's and gorae's error lines:
// time=... level=error msg="..."), else the line.
func logMsg(l string) string {
	i := strings.Index(l, "msg=")
	if i < 0 || !strings.Contains(l[:i], "level=") {
		return l
	}
	rest := l[i+len("msg="):]
	if strings.HasPrefix(rest, `"`) {
		if q, err := strconv.QuotedPrefix(rest); err == nil {
			if m, err := strconv.Unquote(q); err == nil {
				return m
			}
		}
		return strings.Trim(rest, `"`)
	}
	if j := strings.IndexByte(rest, ' '); j >= 0 {
		return rest[:j]
	}
	return rest
}

// cmd describes one command to run.
type cmd struct {
	name    string
	args    []string
	env     []string // added to os.Environ
	stdin   string   // file to read stdin from
	timeout time.Duration
	// detached: not cancelled with the run (cleanup commands)
	detached bool
}

func command(name string, args ...string) cmd { return cmd{name: name, args: args} }

func (c cmd) String() string { return strings.Join(append([]string{c.name}, c.args...), " ") }

// result is what a finished command did.
type result struct {
	dur    time.Duration // from start to exit, the figure the latency rows use
	stdout []byte
	stderr []byte
}

// run runs c to completion. A non-zero exit, a timeout or a cancellation is
// an error (*cmdError) naming its stderr line.
func (b *bench) run(c cmd) (result, error) {
	timeout := c.timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	parent := b.ctx
	if c.detached {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	x := exec.CommandContext(ctx, c.name, c.args...)
	x.WaitDelay = 5 * time.Second
	if len(c.env) > 0 {
		x.Env = append(os.Environ(), c.env...)
	}
	var stdout, stderr bytes.Buffer
	x.Stdout, x.Stderr = &stdout, &stderr
	if c.stdin != "" {
		f, err := os.Open(c.stdin)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		x.Stdin = f
	}
	t := time.Now()
	err := x.Run()
	r := result{dur: time.Since(t), stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if err != nil {
		e := &cmdError{cmd: c.String(), line: errLine(r.stderr, r.stdout), err: err}
		if ctx.Err() == context.DeadlineExceeded {
			e.line = fmt.Sprintf("timed out after %s: %s", timeout, e.line)
		} else if parent.Err() != nil {
			e.line = "interrupted"
		}
		if e.line == "" {
			e.line = fmt.Sprintf("%s: %v", c.name, err)
		}
		return r, e
	}
	return r, nil
}

// output runs c and returns its trimmed stdout.
func (b *bench) output(c cmd) (string, error) {
	r, err := b.run(c)
	return strings.TrimSpace(string(r.stdout)), err
}

// lastLines returns the last n lines of a log file, for a daemon that died.
func lastLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// isNotFound reports whether err is a missing executable.
func isNotFound(err error) bool {
	var ee *exec.Error
	return errors.As(err, &ee)
}
