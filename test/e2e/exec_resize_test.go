package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A client's first act after an exec with a terminal starts is a resize
// (the docker CLI does it at once): the terminal must be there by the
// time the start answers, and the size must reach the process.
func TestExecResizeRightAfterStart(t *testing.T) {
	id := strings.TrimSpace(must(t, "run", "-d", "busybox", "sleep", "60"))
	defer docker(nil, "rm", "-f", id)
	httpc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", sock)
	}}}
	body := `{"AttachStdin":true,"AttachStdout":true,"Tty":true,"Cmd":["sh","-c","sleep 0.5; stty size"]}`
	resp, err := httpc.Post("http://d/containers/"+id+"/exec", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Id string }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := `{"Detach":false,"Tty":true}`
	conn.Write([]byte("POST /exec/" + created.Id + "/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: " + itoa(len(start)) + "\r\n\r\n" + start))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "101") {
		t.Fatalf("exec start: %q %v", status, err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
	}
	r, err := httpc.Post("http://d/exec/"+created.Id+"/resize?h=33&w=111", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode/100 != 2 {
		t.Fatalf("resize right after start: %s", r.Status)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out strings.Builder
	buf := make([]byte, 256)
	for !strings.Contains(out.String(), "\n") {
		n, err := br.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(out.String(), "33 111") {
		t.Errorf("stty size in the exec: %q, want 33 111", out.String())
	}
}
