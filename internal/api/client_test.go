package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// serveUnix serves s on a unix socket in a temporary directory until the
// test ends, as the daemon serves gorae.sock.
func serveUnix(t *testing.T, s *Server) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "gorae.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sock
}

// stdoutFrame is text as one stdout frame of Docker's multiplexed stream.
func stdoutFrame(text string) string {
	hdr := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(text)))
	return string(hdr) + text
}

// TestGoSDK drives the server with Docker's own Go client
// (github.com/moby/moby/client): it negotiates the version from _ping and
// decodes every answer with Docker's types, so it judges the wire format.
func TestGoSDK(t *testing.T) {
	f := newFake()
	f.logs = stdoutFrame("hello from c1\n")
	f.events = []events.Message{{Type: events.ContainerEventType, Action: events.ActionDie, Actor: events.Actor{ID: "c1"}, Time: 1700000000}}
	f.attach = func(o AttachOptions) error {
		in, _ := io.ReadAll(o.Stdin)
		_, err := io.WriteString(o.Stdout, stdoutFrame("got "+string(in)))
		return err
	}
	sock := serveUnix(t, NewServer(f, Options{Version: "0.1.0", Logger: quiet}))
	cli, err := client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ping, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil || ping.APIVersion != APIVersion || ping.OSType != "linux" {
		t.Fatalf("ping: %+v %v", ping, err)
	}
	if v := cli.ClientVersion(); v != APIVersion {
		t.Errorf("client negotiated %s, want %s", v, APIVersion)
	}
	ver, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil || ver.Version != "0.1.0" || ver.APIVersion != APIVersion || ver.MinAPIVersion != MinAPIVersion {
		t.Fatalf("version: %+v %v", ver, err)
	}
	if _, err := cli.Info(ctx, client.InfoOptions{}); err != nil {
		t.Fatalf("info: %v", err)
	}

	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("status", "running")})
	if err != nil || len(list.Items) != 1 || list.Items[0].Names[0] != "/web" {
		t.Fatalf("container list: %+v %v", list, err)
	}
	if got := f.last().args[0].(ContainerListOptions); !got.All || len(got.Filters["status"]) != 1 {
		t.Errorf("list options as decoded: %+v", got)
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "job", Config: &container.Config{Image: "busybox", Cmd: []string{"true"}},
		HostConfig: &container.HostConfig{AutoRemove: true},
	})
	if err != nil || len(created.ID) != 64 {
		t.Fatalf("create: %+v %v", created, err)
	}
	insp, err := cli.ContainerInspect(ctx, "web", client.ContainerInspectOptions{})
	if err != nil || insp.Container.State == nil || !insp.Container.State.Running {
		t.Fatalf("inspect: %+v %v", insp, err)
	}
	if _, err := cli.ContainerInspect(ctx, "nope", client.ContainerInspectOptions{}); err == nil || !strings.Contains(err.Error(), "No such container: nope") {
		t.Errorf("inspect of a missing container: %v", err)
	}
	if _, err := cli.ContainerStart(ctx, "web", client.ContainerStartOptions{}); err != nil {
		t.Errorf("start: %v", err)
	}
	wait := cli.ContainerWait(ctx, "web", client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 {
			t.Errorf("wait: %+v", r)
		}
	case err := <-wait.Error:
		t.Fatalf("wait: %v", err)
	}

	logs, err := cli.ContainerLogs(ctx, "web", client.ContainerLogsOptions{ShowStdout: true, Tail: "5", Since: "2023-11-14T22:13:20Z"})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil || stdout.String() != "hello from c1\n" {
		t.Errorf("logs: %q %q %v", stdout.String(), stderr.String(), err)
	}
	logs.Close()
	if opts := f.last().args[1].(LogOptions); opts.Tail != 5 || !opts.Since.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("log options as decoded: %+v", opts)
	}

	att, err := cli.ContainerAttach(ctx, "web", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	_, _ = io.WriteString(att.Conn, "ping")
	_ = att.CloseWrite()
	stdout.Reset()
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil || stdout.String() != "got ping" {
		t.Errorf("attach: %q %v", stdout.String(), err)
	}
	att.Close()

	ev := cli.Events(ctx, client.EventsListOptions{Since: "1700000000"})
	select {
	case m := <-ev.Messages:
		if m.Action != events.ActionDie || m.Actor.ID != "c1" {
			t.Errorf("event: %+v", m)
		}
	case err := <-ev.Err:
		t.Fatalf("events: %v", err)
	}

	imgs, err := cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil || len(imgs.Items) != 2 {
		t.Fatalf("image list: %+v %v", imgs, err)
	}
	img, err := cli.ImageInspect(ctx, "docker.io/library/busybox:latest")
	if err != nil || img.ID != "sha256:abc" {
		t.Fatalf("image inspect: %+v %v", img, err)
	}
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: "busybox:latest", Target: "localhost:5000/me/bb:v1"}); err != nil {
		t.Errorf("image tag: %v", err)
	}
	if got := f.last().args; got[0] != "busybox:latest" || got[1] != "localhost:5000/me/bb" || got[2] != "v1" {
		t.Errorf("tag decoded as %v", got)
	}
	rm, err := cli.ImageRemove(ctx, "localhost:5000/me/bb:v1", client.ImageRemoveOptions{Force: true})
	if err != nil || len(rm.Items) != 1 {
		t.Fatalf("image remove: %+v %v", rm, err)
	}
	if _, err := cli.ContainerRemove(ctx, "web", client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Errorf("container remove: %v", err)
	}
	if _, err := cli.ContainerRemove(ctx, "web", client.ContainerRemoveOptions{}); err == nil {
		t.Errorf("removing a removed container succeeded")
	}
}
