package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestMain lets the test binary be a registry server process of its own
// (GORAE_REGISTRY_HELPER=root), so a test can kill it with SIGKILL.
func TestMain(m *testing.M) {
	if root := os.Getenv("GORAE_REGISTRY_HELPER"); root != "" {
		st, err := NewFS(root)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(l.Addr())
		http.Serve(l, New(st, Options{}))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startHelper runs a registry process on root and returns its address.
func startHelper(t *testing.T, root string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GORAE_REGISTRY_HELPER="+root)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("registry helper did not start: %v", err)
	}
	return cmd, strings.TrimSpace(line)
}

// A registry killed with SIGKILL in the middle of a monolithic and a
// chunked upload: after the restart nothing of either is visible, the
// ingests are gone, and the sessions are unknown.
func TestKilledUploadLeavesNothing(t *testing.T) {
	root := t.TempDir()
	cmd, addr := startHelper(t, root)
	data := []byte(strings.Repeat("partial upload ", 10000))
	d := digest.FromBytes(data)

	// Chunked: one chunk in, the blob not finished.
	res, err := http.Post("http://"+addr+"/v2/crash/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	req, _ := http.NewRequest("PATCH", "http://"+addr+loc, strings.NewReader(string(data[:1000])))
	if res, err = http.DefaultClient.Do(req); err != nil || res.StatusCode != 202 {
		t.Fatalf("PATCH: %v %v", res, err)
	}
	res.Body.Close()

	// Monolithic: the body half sent when the server dies.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v2/crash/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", d, addr, len(data))
	conn.Write(data[:len(data)/2])
	// Wait until the server streams it into an ingest (two: both uploads).
	for i := 0; ; i++ {
		if entries, _ := os.ReadDir(filepath.Join(root, "ingest")); len(entries) == 2 {
			break
		}
		if i == 1000 {
			t.Fatal("the server never started the two ingests")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	_, addr = startHelper(t, root)
	for _, dir := range []string{"blobs/sha256", "ingest"} {
		if entries, _ := os.ReadDir(filepath.Join(root, dir)); len(entries) != 0 {
			t.Errorf("after the kill %s holds %d entries", dir, len(entries))
		}
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/v2/crash/blobs/" + d.String(), 404}, {"GET", loc, 404}} {
		req, _ := http.NewRequest(c.method, "http://"+addr+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s %s after restart: %d, want %d", c.method, c.path, res.StatusCode, c.want)
		}
	}
}
