package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gorae/gorae/internal/testenv"
)

// TestPushPullRun: a local image goes to Debian's docker-registry on
// loopback and back through the docker CLI — tag, push, rmi, run (which
// pulls the missing image), pull — with Docker's progress output.
func TestPushPullRun(t *testing.T) {
	reg := testenv.NeedDockerRegistry(t)
	name := reg.Host + "/e2e/bb:v1"

	// An image of two layers: busybox, and one the registry alone will
	// hold once it is removed here.
	must(t, "run", "--name", "e2e-mkimg", "busybox", "sh", "-c", "echo hello-registry > /hello")
	must(t, "commit", "e2e-mkimg", name)
	must(t, "rm", "e2e-mkimg")
	out := must(t, "login", "-u", "gorae", "-p", "any", reg.Host)
	if !strings.Contains(out, "Login Succeeded") {
		t.Errorf("docker login: %s", out)
	}

	out = must(t, "push", name)
	for _, want := range []string{"The push refers to repository [" + reg.Host + "/e2e/bb]", "Pushed", "v1: digest: sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker push output lacks %q:\n%s", want, out)
		}
	}
	pushed := regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`).FindStringSubmatch(out)
	if pushed == nil {
		t.Fatalf("no digest line in docker push output:\n%s", out)
	}
	if out := must(t, "push", name); !strings.Contains(out, "Layer already exists") {
		t.Errorf("second push does not skip the layers the registry has:\n%s", out)
	}

	must(t, "rmi", name)
	// run of a missing image: the CLI pulls it, then runs it.
	out = must(t, "run", "--rm", name, "cat", "/hello")
	for _, want := range []string{"Unable to find image", "Pull complete", "Digest: " + pushed[1], "hello-registry"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker run of a missing image lacks %q:\n%s", want, out)
		}
	}

	must(t, "rmi", name)
	out = must(t, "pull", name)
	for _, want := range []string{"v1: Pulling from e2e/bb", "Already exists", "Pull complete", "Digest: " + pushed[1], "Status: Downloaded newer image for " + name} {
		if !strings.Contains(out, want) {
			t.Errorf("docker pull output lacks %q:\n%s", want, out)
		}
	}
	if out := must(t, "pull", name); !strings.Contains(out, "Status: Image is up to date for "+name) {
		t.Errorf("second pull:\n%s", out)
	}
	if out := must(t, "image", "inspect", "-f", "{{.RepoDigests}}", name); !strings.Contains(out, reg.Host+"/e2e/bb@"+pushed[1]) {
		t.Errorf("RepoDigests after pull: %s", out)
	}
	if out := must(t, "run", "--rm", "--pull", "always", name, "cat", "/hello"); !strings.Contains(out, "hello-registry") {
		t.Errorf("run --pull always: %s", out)
	}

	out, err := docker(nil, "pull", reg.Host+"/e2e/nosuch:v1")
	if err == nil || !strings.Contains(out, "e2e/nosuch") {
		t.Errorf("pull of an unknown repository: err %v\n%s", err, out)
	}

	// pull -a: every tag.
	must(t, "tag", name, reg.Host+"/e2e/bb:v2")
	must(t, "push", reg.Host+"/e2e/bb:v2")
	must(t, "rmi", name, reg.Host+"/e2e/bb:v2")
	out = must(t, "pull", "-a", reg.Host+"/e2e/bb")
	for _, want := range []string{"v1: Pulling from e2e/bb", "v2: Pulling from e2e/bb", "Status: Downloaded newer image for " + reg.Host + "/e2e/bb"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker pull -a output lacks %q:\n%s", want, out)
		}
	}
	must(t, "rmi", name, reg.Host+"/e2e/bb:v2")
}

// TestRegistryLogin: docker login against a registry with htpasswd basic
// auth (a wrong password is refused by the daemon's check), then push
// and pull with the credentials the CLI sends in X-Registry-Auth, and a
// pull without them refused.
func TestRegistryLogin(t *testing.T) {
	// bcrypt of "s3cret-pw" (cost 5): the test needs no bcrypt of its own.
	reg := testenv.NeedDockerRegistry(t, "gorae:$2b$05$T4N/vrSku74eKh7hWuvcl.RiftIbsckYQvxwmgfW5IHrprfCF9qDa")
	name := reg.Host + "/private/bb:v1"
	if out, err := docker(nil, "login", "-u", "gorae", "-p", "wrong", reg.Host); err == nil || !strings.Contains(out, "unauthorized") {
		t.Errorf("login with a wrong password: err %v\n%s", err, out)
	}
	if out := must(t, "login", "-u", "gorae", "-p", "s3cret-pw", reg.Host); !strings.Contains(out, "Login Succeeded") {
		t.Errorf("docker login: %s", out)
	}
	must(t, "tag", "busybox:latest", name)
	if out := must(t, "push", name); !strings.Contains(out, "v1: digest: sha256:") {
		t.Errorf("push with credentials:\n%s", out)
	}
	must(t, "rmi", name)
	must(t, "logout", reg.Host)
	if out, err := docker(nil, "pull", name); err == nil || !strings.Contains(out, "pull access denied") {
		t.Errorf("pull without credentials: err %v\n%s", err, out)
	}
	must(t, "login", "-u", "gorae", "-p", "s3cret-pw", reg.Host)
	if out := must(t, "pull", name); !strings.Contains(out, "Digest: sha256:") {
		t.Errorf("pull with credentials:\n%s", out)
	}
	must(t, "rmi", name)
	must(t, "logout", reg.Host)
}
