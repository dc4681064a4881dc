package api

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

const dockerCLI = "/usr/local/bin/docker"

// TestDockerCLI drives the server with the real docker CLI (28.2.2), the
// judge of compatibility: it negotiates from _ping, hijacks attach and
// decodes every answer its own way.
func TestDockerCLI(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	f := newFake()
	f.logs = stdoutFrame("hello from c1\n")
	f.attach = func(o AttachOptions) error {
		_, err := o.Stdout.Write([]byte(stdoutFrame("hi\n")))
		return err
	}
	f.waitCh = nil
	sock := serveUnix(t, NewServer(f, Options{Version: "0.1.0", Logger: quiet}))
	tmp := t.TempDir()
	env := append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir(), "DOCKER_CLI_HINTS=false")

	docker := func(args ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerCLI, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	for _, c := range []struct {
		args []string
		want string // in stdout
		fail string // in stderr, for a command that must fail
	}{
		{[]string{"version", "--format", "{{.Server.APIVersion}} {{.Server.Version}} {{.Server.MinAPIVersion}}"}, "1.50 0.1.0 1.24", ""},
		{[]string{"info", "--format", "{{.Name}} {{.OSType}}"}, "testhost linux", ""},
		{[]string{"ps", "-a"}, "busybox:latest", ""},
		{[]string{"ps", "-a", "--filter", "status=running", "--format", "{{.Names}} {{.Status}}"}, "web Up 5 minutes", ""},
		{[]string{"inspect", "--format", "{{.State.Status}} {{.Name}}", "web"}, "running /web", ""},
		{[]string{"container", "inspect", "nope"}, "", "No such container: nope"},
		{[]string{"inspect", "nope"}, "", "No such object: nope"},
		{[]string{"logs", "--tail", "3", "web"}, "hello from c1", ""},
		{[]string{"images"}, "busybox", ""},
		{[]string{"image", "inspect", "--format", "{{.Id}}", "docker.io/library/busybox:latest"}, "sha256:abc", ""},
		{[]string{"image", "inspect", "ghcr.io/no/such:1"}, "", "No such image: ghcr.io/no/such:1"},
		{[]string{"top", "web"}, "sleep", ""},
		{[]string{"system", "df"}, "Images", ""},
		{[]string{"pull", "busybox"}, "Pulling from library/busybox", ""},
		{[]string{"push", "localhost:5000/me/bb:v1"}, "The push refers to repository", ""},
		{[]string{"run", "--rm", "busybox", "echo", "hi"}, "hi", ""},
		{[]string{"stop", "-t", "3", "web"}, "web", ""},
		{[]string{"start", "web"}, "web", ""},
		{[]string{"restart", "-s", "SIGINT", "web"}, "web", ""},
		{[]string{"kill", "-s", "HUP", "web"}, "web", ""},
		{[]string{"pause", "web"}, "web", ""},
		{[]string{"unpause", "web"}, "web", ""},
		{[]string{"wait", "web"}, "0", ""},
		{[]string{"update", "--restart", "always", "web"}, "web", ""},
		{[]string{"stats", "--no-stream", "web"}, "CONTAINER", ""},
		{[]string{"events", "--since", "1700000000", "--until", "1700000010"}, "", ""},
		{[]string{"export", "-o", tmp + "/rootfs.tar", "web"}, "", ""},
		{[]string{"import", tmp + "/rootfs.tar", "me/rootfs:v1"}, "sha256:imported", ""},
		{[]string{"commit", "-c", "CMD sh", "web", "me/snap:v1"}, "sha256:committed", ""},
		{[]string{"save", "-o", tmp + "/img.tar", "busybox:latest"}, "", ""},
		{[]string{"load", "-i", tmp + "/img.tar"}, "Loaded image: busybox:latest", ""},
		{[]string{"tag", "busybox", "localhost:5000/me/bb:v1"}, "", ""},
		{[]string{"rmi", "localhost:5000/me/bb:v1"}, "Untagged: localhost:5000/me/bb:v1", ""},
		{[]string{"container", "prune", "-f"}, "Total reclaimed space", ""},
		{[]string{"system", "prune", "-f"}, "Total reclaimed space", ""},
		{[]string{"exec", "web", "echo", "hi"}, "exec output", ""},
		{[]string{"rm", "-f", "web"}, "web", ""},
		{[]string{"rm", "web"}, "", "No such container: web"},
	} {
		out, stderr, err := docker(c.args...)
		name := "docker " + strings.Join(c.args, " ")
		switch {
		case c.fail != "" && (err == nil || !strings.Contains(stderr, c.fail)):
			t.Errorf("%s: want failure with %q; got err %v, stderr %q", name, c.fail, err, stderr)
		case c.fail == "" && (err != nil || !strings.Contains(out, c.want)):
			t.Errorf("%s: want %q in stdout; got %q, err %v, stderr %q", name, c.want, out, err, stderr)
		}
	}
	// The run above went through create, attach, start and wait.
	for _, call := range []string{"ContainerCreate", "ContainerAttach", "ContainerStart", "ContainerWait"} {
		if !f.called(call) {
			t.Errorf("docker run made no %s call", call)
		}
	}
	if got := callArgs(f, "ContainerStop"); got == nil || *got[2].(*int) != 3 {
		t.Errorf("docker stop -t 3 sent %v", got)
	}
	if got := callArgs(f, "ImageImport"); got == nil || got[0] != "ROOTFS" || got[1] != "me/rootfs:v1" || got[2] != "" {
		// The CLI sends the whole reference as repo; the daemon parses it
		// as Docker's RepoTagReference does.
		t.Errorf("docker import sent %v", got)
	}
	if got := callArgs(f, "ContainerCommit"); got == nil || got[1].(CommitOptions).Repo != "docker.io/me/snap" || len(got[1].(CommitOptions).Changes) != 1 {
		t.Errorf("docker commit sent %v", got)
	}
	var runCfg *container.Config
	for _, c := range f.calls {
		if c.name == "ContainerCreate" {
			runCfg = c.args[1].(*container.Config)
		}
	}
	if runCfg == nil || runCfg.Image != "busybox" || strings.Join(runCfg.Cmd, " ") != "echo hi" {
		t.Errorf("docker run created %+v", runCfg)
	}
}

// callArgs are the arguments of the fake's last call of name.
func callArgs(f *fakeBackend, name string) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].name == name {
			return f.calls[i].args
		}
	}
	return nil
}
