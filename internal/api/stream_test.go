package api

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// TestWaitSendsStatusFirst: `docker run` relies on the 200 arriving
// before the container exits.
func TestWaitSendsStatusFirst(t *testing.T) {
	s, f := newTestServer()
	f.waitCh = make(chan container.WaitResponse)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1.50/containers/c1/wait?condition=next-exit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("wait: %s %s", resp.Status, resp.Header)
	}
	f.waitCh <- container.WaitResponse{StatusCode: 3, Error: &container.WaitExitError{Message: "oom"}}
	var wr container.WaitResponse
	if err := json.NewDecoder(resp.Body).Decode(&wr); err != nil || wr.StatusCode != 3 || wr.Error == nil || wr.Error.Message != "oom" {
		t.Fatalf("wait body: %+v %v", wr, err)
	}
}

func TestWaitUnknownContainerIs404(t *testing.T) {
	s, f := newTestServer()
	f.errs["ContainerWait"] = notFound("container", "x")
	if rec := request(t, s, "POST", "/containers/x/wait", ""); rec.Code != 404 || message(t, rec) != "No such container: x" {
		t.Fatalf("wait x: %d %s", rec.Code, rec.Body)
	}
}

func TestLogsContentTypeAndErrors(t *testing.T) {
	for _, c := range []struct {
		tty     bool
		version string
		want    string
	}{
		{false, "1.50", "application/vnd.docker.multiplexed-stream"},
		{false, "1.41", "application/vnd.docker.raw-stream"},
		{true, "1.50", "application/vnd.docker.raw-stream"},
	} {
		s, f := newTestServer()
		f.tty, f.logs = c.tty, "line\n"
		rec := request(t, s, "GET", "/v"+c.version+"/containers/c1/logs?stdout=1", "")
		if rec.Code != 200 || rec.Header().Get("Content-Type") != c.want || rec.Body.String() != "line\n" {
			t.Errorf("logs tty=%v v%s: %d %q %q", c.tty, c.version, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	// An error before any output keeps its status.
	s, f := newTestServer()
	f.errs["ContainerLogs"] = errors.New("log file unreadable")
	if rec := request(t, s, "GET", "/containers/c1/logs?stdout=1", ""); rec.Code != 500 || message(t, rec) != "log file unreadable" {
		t.Errorf("logs failing early: %d %s", rec.Code, rec.Body)
	}
	// An error after output is told in band, as a stderr frame.
	s, f = newTestServer()
	f.logs, f.logsErr = "x", errors.New("rotated away")
	rec := request(t, s, "GET", "/containers/c1/logs?stdout=1", "")
	want := "x" + stderrFrame("Error grabbing logs: rotated away\n")
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("logs failing late: %d %q, want %q", rec.Code, rec.Body, want)
	}
}

// TestLogsFollowStartsAtOnce: a follower of a quiet container sees the
// response start before any line.
func TestLogsFollowStartsAtOnce(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := &blockingLogs{fakeBackend: newFake(), release: release}
	ts := httptest.NewServer(NewServer(b, Options{Logger: quiet}).Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/containers/c1/logs?stdout=1&follow=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("logs -f did not start: %v", err)
	}
	resp.Body.Close()
}

// blockingLogs' ContainerLogs writes nothing until released.
type blockingLogs struct {
	*fakeBackend
	release chan struct{}
}

func (b *blockingLogs) ContainerLogs(ctx context.Context, ref string, opts LogOptions, w io.Writer) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

func TestEventsStream(t *testing.T) {
	s, f := newTestServer()
	f.events = []events.Message{
		{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "c1", Attributes: map[string]string{"image": "busybox"}}, Time: 1},
		{Type: events.NetworkEventType, Action: events.ActionConnect, Actor: events.Actor{ID: "n1"}, Time: 2},
	}
	rec := request(t, s, "GET", `/v1.50/events?since=1700000000&until=1700000010.25&filters={"type":["container"]}`, "")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("events: %d %s", rec.Code, rec.Body)
	}
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("events: %d lines: %q", len(lines), rec.Body)
	}
	var first map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	if first["status"] != "start" || first["id"] != "c1" || first["from"] != "busybox" || first["Action"] != "start" {
		t.Errorf("container event for 1.50 lacks the legacy fields: %s", lines[0])
	}
	if strings.Contains(lines[1], `"status"`) {
		t.Errorf("network event has legacy fields: %s", lines[1])
	}
	c := f.last()
	if !c.args[0].(time.Time).Equal(time.Unix(1700000000, 0)) || !c.args[1].(time.Time).Equal(time.Unix(1700000010, 250000000)) {
		t.Errorf("events since/until decoded as %v", c.args)
	}
	if rec := request(t, s, "GET", "/events?since=20&until=10", ""); rec.Code != 400 {
		t.Errorf("until before since: %d", rec.Code)
	}
}

// TestEventsFlushEachMessage reads an open stream message by message.
func TestEventsFlushEachMessage(t *testing.T) {
	s, f := newTestServer()
	f.events = []events.Message{{Type: events.ImageEventType, Action: events.ActionTag, Actor: events.Actor{ID: "sha256:abc"}}}
	f.eventsOpen = true
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"Action":"tag"`) {
		t.Fatalf("first event not flushed: %q %v", line, err)
	}
}

func TestStatsStream(t *testing.T) {
	s, f := newTestServer()
	f.stats = func(w io.Writer) error {
		for range 3 {
			if _, err := io.WriteString(w, `{"read":"x"}`+"\n"); err != nil {
				return err
			}
		}
		return nil
	}
	rec := request(t, s, "GET", "/containers/c1/stats", "")
	if rec.Code != 200 || strings.Count(rec.Body.String(), "\n") != 3 || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("stats: %d %q", rec.Code, rec.Body)
	}
	f.errs["ContainerStats"] = notFound("container", "c9")
	if rec := request(t, s, "GET", "/containers/c9/stats?stream=0", ""); rec.Code != 404 {
		t.Errorf("stats of a missing container: %d", rec.Code)
	}
}

func TestLoadErrorInBand(t *testing.T) {
	s, f := newTestServer()
	f.load = func(r io.Reader, w io.Writer) error {
		_, _ = io.WriteString(w, `{"stream":"Loading layer"}`+"\n")
		return errors.New("layer sha256:1 is corrupt")
	}
	rec := request(t, s, "POST", "/images/load?quiet=0", "TAR")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"errorDetail":{"message":"layer sha256:1 is corrupt"}`) {
		t.Errorf("load failing late: %d %s", rec.Code, rec.Body)
	}
	f.load = func(r io.Reader, w io.Writer) error { return invalidf("not a docker save archive") }
	if rec := request(t, s, "POST", "/images/load", "TAR"); rec.Code != 400 {
		t.Errorf("load failing early: %d %s", rec.Code, rec.Body)
	}
}

// attachRequest sends a raw attach request and reads the response head.
func attachRequest(t *testing.T, addr, target string, upgrade bool, extra string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	head := "POST " + target + " HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\n"
	if upgrade {
		head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"+extra); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("attach response: %v", err)
	}
	return conn, br, resp
}

func TestAttachHijack(t *testing.T) {
	s, f := newTestServer()
	f.tty = true
	// The fake container echoes its stdin until EOF.
	f.attach = func(o AttachOptions) error {
		if o.Stdin == nil || o.Stdout == nil {
			return errors.New("stdin and stdout expected")
		}
		_, err := io.Copy(o.Stdout, o.Stdin)
		return err
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	addr := ts.Listener.Addr().String()

	// Upgrade, with stdin sent before the answer (it must not be lost).
	conn, br, resp := attachRequest(t, addr, "/v1.50/containers/c1/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-p,ctrl-q", true, "early ")
	defer conn.Close()
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" || resp.Header.Get("Upgrade") != "tcp" || resp.Header.Get("API-Version") != APIVersion {
		t.Fatalf("attach upgrade: %s %v", resp.Status, resp.Header)
	}
	_, _ = io.WriteString(conn, "hello")
	_ = conn.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "early hello" {
		t.Fatalf("echo through attach: %q %v", got, err)
	}
	o := f.last().args[1].(AttachOptions)
	if !o.Stream || !o.UseStdout || !o.UseStderr || o.Logs || o.DetachKeys != "ctrl-p,ctrl-q" || o.CloseWrite == nil {
		t.Errorf("attach options %+v", o)
	}

	// Without Upgrade: 200 and the raw stream.
	conn2, br2, resp2 := attachRequest(t, addr, "/containers/c1/attach?stream=1&stdin=1&stdout=1", false, "")
	defer conn2.Close()
	if resp2.StatusCode != 200 || resp2.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Fatalf("attach without upgrade: %s %v", resp2.Status, resp2.Header)
	}
	_, _ = io.WriteString(conn2, "x")
	_ = conn2.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(br2); string(got) != "x" {
		t.Errorf("echo without upgrade: %q", got)
	}
}

func TestAttachMultiplexedAndErrors(t *testing.T) {
	s, f := newTestServer()
	f.attach = func(o AttachOptions) error {
		if o.Stdin != nil {
			return errors.New("no stdin was asked for")
		}
		return errors.New("container exited")
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	addr := ts.Listener.Addr().String()

	conn, br, resp := attachRequest(t, addr, "/v1.50/containers/c1/attach?stream=1&stdout=1", true, "")
	defer conn.Close()
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
		t.Fatalf("attach non-tty: %s %v", resp.Status, resp.Header)
	}
	got, _ := io.ReadAll(br)
	if want := stderrFrame("Error attaching: container exited\n"); string(got) != want {
		t.Errorf("in-band attach error %q, want %q", got, want)
	}

	// Unknown container and bad detach keys: plain HTTP errors, no hijack.
	for target, code := range map[string]int{
		"/containers/nope/attach?stream=1&stdout=1":                404,
		"/containers/c1/attach?stream=1&stdout=1&detachKeys=ctrl-": 400,
		"/containers/c1/attach?stream=1&detachKeys=ctrl-1":         400,
	} {
		conn, _, resp := attachRequest(t, addr, target, true, "")
		conn.Close()
		if resp.StatusCode != code || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %s, want %d", target, resp.Status, code)
		}
	}
}

// TestServeShutsDown: Serve returns once its context ends, ending open
// streams instead of waiting for them.
func TestServeShutsDown(t *testing.T) {
	f := newFake()
	f.eventsOpen = true
	s := NewServer(f, Options{Logger: quiet})
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()

	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := hc.Get("http://docker/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(shutdownGrace / 2):
		t.Fatal("Serve waited for an open event stream")
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("event stream did not end cleanly: %v", err)
	}
}

// stderrFrame is text as one stderr frame of Docker's multiplexed stream.
func stderrFrame(text string) string {
	hdr := []byte{2, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(text)))
	return string(hdr) + text
}
