package shimclient

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorae/gorae/internal/testenv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gorae/gorae/internal/logs"
	"github.com/gorae/gorae/internal/monitor"
	gruntime "github.com/gorae/gorae/internal/runtime"
)

var (
	goraeBin string
	rootfs   string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if ok, err := testenv.RequireRoot("monitor tests"); !ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("monitor tests: skipped, need root")
		return 0
	}
	tmp, err := os.MkdirTemp("", "gorae-shim-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	if goraeBin, err = testenv.BuildGorae(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rootfs = filepath.Join(tmp, "rootfs")
	if err := testenv.BusyboxRootfs(rootfs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// spawn makes a bundle running args and a shim for it.
func spawn(t *testing.T, tty, stdin bool, args ...string) (*Client, *monitor.Config) {
	return spawnWith(t, false, tty, stdin, args...)
}

func spawnWith(t *testing.T, builtin, tty, stdin bool, args ...string) (*Client, *monitor.Config) {
	t.Helper()
	bundle := t.TempDir()
	s := gruntime.DefaultSpec(false)
	s.Root = &specs.Root{Path: rootfs, Readonly: true}
	s.Process.Terminal = tty
	s.Process.Args = args
	b, _ := json.Marshal(s)
	os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
	dir := t.TempDir()
	cfg := &monitor.Config{
		ID: fmt.Sprintf("shim-%d-%d", os.Getpid(), time.Now().UnixNano()), Bundle: bundle, Dir: dir,
		Runtime: []string{goraeBin, "runtime"}, RuntimeRoot: filepath.Join(dir, "rt"),
		LogPath: filepath.Join(dir, "json.log"), OpenStdin: stdin, StdinOnce: stdin,
		BuiltinRuntime: builtin,
	}
	c, err := Spawn(context.Background(), goraeBin, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(context.Background(), true) })
	return c, cfg
}

func TestLifecycleLogsAndExit(t *testing.T) {
	for _, builtin := range []bool{false, true} {
		t.Run(fmt.Sprintf("builtin=%v", builtin), func(t *testing.T) { testLifecycle(t, builtin) })
	}
}

func testLifecycle(t *testing.T, builtin bool) {
	c, cfg := spawnWith(t, builtin, false, false, "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
	ctx := context.Background()
	st, err := c.State(ctx)
	if err != nil || st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("state after spawn: %+v %v", st, err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err == nil {
		t.Error("second start accepted")
	}
	e, err := c.Wait(ctx)
	if err != nil || e.Code != 3 {
		t.Fatalf("wait: %+v %v", e, err)
	}
	if rec, _ := monitor.ReadExit(cfg.Dir); rec == nil || rec.Code != 3 {
		t.Errorf("exit.json: %+v", rec)
	}
	entries, err := logs.ReadAll(cfg.LogPath, logs.ReadOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, en := range entries {
		got[en.Stream] += en.Log
	}
	if got["stdout"] != "out\n" || got["stderr"] != "err\n" {
		t.Errorf("log: %+v", entries)
	}
	if err := c.Delete(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, monitor.SocketFile)); err == nil {
		t.Error("shim socket left after delete")
	}
}

func TestAttachMultiplexedWithStdin(t *testing.T) {
	c, _ := spawn(t, false, true, "/bin/sh", "-c", "read line; echo got:$line; echo bye >&2")
	ctx := context.Background()
	conn, err := c.Attach(ctx, true, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "hello\n")
	CloseWrite(conn)
	if got := readFrames(conn); got[1] != "got:hello\n" || got[2] != "bye\n" {
		t.Errorf("stdout %q stderr %q", got[1], got[2])
	}
}

// readFrames reads Docker's multiplexed stream to its end: what came on
// each stream.
func readFrames(conn net.Conn) map[byte]string {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := map[byte]string{}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return got
		}
		b := make([]byte, binary.BigEndian.Uint32(hdr[4:]))
		io.ReadFull(conn, b)
		got[hdr[0]] += string(b)
	}
}

func TestTTYAndResizeAndKill(t *testing.T) {
	// The built-in runtime here, the exec'd one elsewhere.
	c, _ := spawnWith(t, true, true, true, "/bin/sh", "-c", "stty size; sleep 60")
	ctx := context.Background()
	if err := c.Resize(ctx, 33, 101); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Attach(ctx, true, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(out), "33 101") {
		n, err := conn.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			t.Fatalf("tty output %q: %v", out, err)
		}
	}
	if err := c.Kill(ctx, "KILL", false); err != nil {
		t.Fatal(err)
	}
	e, err := c.Wait(ctx)
	if err != nil || e.Signal != 9 || e.Code != 137 {
		t.Errorf("wait after kill: %+v %v", e, err)
	}
	if err := c.Kill(ctx, "KILL", false); err == nil {
		t.Error("kill of a stopped container accepted")
	}
}

// The daemon can go away and come back: a shim needs nothing from it, and
// a new Client over the same directory finds everything again.
func TestShimOutlivesItsClient(t *testing.T) {
	c, cfg := spawn(t, false, false, "/bin/sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done")
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := &Client{Dir: cfg.Dir}
	e, err := c2.Wait(ctx)
	if err != nil || e.Code != 0 {
		t.Fatalf("wait from a new client: %+v %v", e, err)
	}
	entries, _ := logs.ReadAll(cfg.LogPath, logs.ReadOptions{Tail: -1})
	if len(entries) != 3 {
		t.Errorf("log has %d lines, want 3", len(entries))
	}
}

func TestSpawnReportsRuntimeError(t *testing.T) {
	bundle := t.TempDir()
	s := gruntime.DefaultSpec(false)
	s.Root = &specs.Root{Path: rootfs}
	s.Process.Terminal = false
	s.Process.Args = []string{"/bin/no-such-program"}
	b, _ := json.Marshal(s)
	os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
	dir := t.TempDir()
	_, err := Spawn(context.Background(), goraeBin, &monitor.Config{ID: "bad-" + fmt.Sprint(os.Getpid()), Bundle: bundle, Dir: dir, Runtime: []string{goraeBin, "runtime"}, RuntimeRoot: filepath.Join(dir, "rt")})
	if err == nil || !strings.Contains(err.Error(), "no-such-program") {
		t.Fatalf("want the runtime's error naming the program, got %v", err)
	}
}

// exec through the hijacked stream, then its state; and the refusals the
// daemon passes on keep their status and message.
func TestExecAndErrors(t *testing.T) {
	c, _ := spawn(t, false, false, "/bin/sleep", "60")
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p := gruntime.DefaultSpec(false).Process
	p.Terminal = false
	p.Args = []string{"/bin/sh", "-c", "echo hi; echo oops >&2; exit 4"}
	conn, err := c.Exec(ctx, monitor.ExecRequest{ID: "e1", Process: p})
	if err != nil {
		t.Fatal(err)
	}
	got := readFrames(conn)
	conn.Close()
	if got[1] != "hi\n" || got[2] != "oops\n" {
		t.Errorf("exec output: %q", got)
	}
	st, err := c.ExecState(ctx, "e1")
	if err != nil || st.Running || st.ExitCode == nil || *st.ExitCode != 4 {
		t.Errorf("exec state: %+v %v", st, err)
	}
	var me *Error
	if _, err := c.ExecState(ctx, "nope"); !errors.As(err, &me) || me.Status != 404 || !strings.Contains(me.Message, "nope") {
		t.Errorf("unknown exec: %v", err)
	}
	if err := c.Resize(ctx, 10, 10); !errors.As(err, &me) || me.Status != 409 {
		t.Errorf("resize without a terminal: %v", err)
	}
	if pids, err := c.Pids(ctx); err != nil || len(pids) == 0 {
		t.Errorf("pids: %v %v", pids, err)
	}
}
