package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// registryServeAddr is where the running daemon serves its image store
// (--registry-serve 127.0.0.1:0), read back from its log.
func registryServeAddr(t *testing.T) string {
	t.Helper()
	log, _ := os.ReadFile(daemonLog)
	m := regexp.MustCompile(`read-only as a registry" addr=(127\.0\.0\.1:\d+)`).FindAllSubmatch(log, -1)
	if len(m) == 0 {
		t.Fatal("the daemon log does not say where registry-serve listens")
	}
	return string(m[len(m)-1][1])
}

// The daemon's "registry-serve": skopeo pulls an image the docker CLI
// tagged straight from the daemon, and pushes are refused.
func TestRegistryServe(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("skopeo is not installed, and CI=true forbids skipping (apt-get install skopeo)")
		}
		t.Skip("skopeo is not installed")
	}
	addr := registryServeAddr(t)
	must(t, "tag", "busybox:latest", "example.com/team/bb:served")
	defer docker(nil, "rmi", "example.com/team/bb:served")
	out := filepath.Join(t.TempDir(), "oci")
	skopeo := func(args ...string) (string, error) {
		b, err := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...).CombinedOutput()
		return string(b), err
	}
	if b, err := skopeo("copy", "--src-tls-verify=false", "docker://"+addr+"/example.com/team/bb:served", "oci:"+out+":bb"); err != nil {
		t.Fatalf("skopeo copy from registry-serve: %v\n%s", err, b)
	}
	var idx struct{ Manifests []struct{ Digest string } }
	data, _ := os.ReadFile(filepath.Join(out, "index.json"))
	json.Unmarshal(data, &idx)
	id := strings.TrimSpace(must(t, "image", "inspect", "--format", "{{.ID}}", "busybox:latest"))
	raw, err := skopeo("inspect", "--tls-verify=false", "--raw", "docker://"+addr+"/library/busybox:latest")
	var m struct{ Config struct{ Digest string } }
	if err != nil || json.Unmarshal([]byte(raw), &m) != nil || len(idx.Manifests) != 1 || m.Config.Digest != id {
		t.Fatalf("copied %s; served manifest %s (%v) should have config %s", data, raw, err, id)
	}
	if b, err := skopeo("copy", "--dest-tls-verify=false", "oci:"+out+":bb", "docker://"+addr+"/library/pushed:x"); err == nil {
		t.Fatalf("a push to the read-only registry succeeded: %s", b)
	}
}

// `gorae registry serve` and `gorae registry gc` as commands: skopeo
// copies busybox from the daemon's registry-serve into the standalone
// registry, deletes it there, and gc reclaims its three blobs.
func TestRegistryServeCommand(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed") // TestRegistryServe fails under CI for that
	}
	root := t.TempDir()
	cmd := exec.Command(gorae, "registry", "serve", "--addr", "127.0.0.1:0", "--root", root)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var line string
	if _, err := fmt.Fscanln(stdout, new(string), new(string), &line); err != nil {
		t.Fatalf("gorae registry serve did not say where it listens: %v", err)
	}
	copyOut, err := exec.Command("skopeo", "--insecure-policy", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+registryServeAddr(t)+"/library/busybox:latest", "docker://"+line+"/lib/bb:1").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy between gorae's registries: %v\n%s", err, copyOut)
	}
	if out, err := exec.Command("skopeo", "delete", "--tls-verify=false", "docker://"+line+"/lib/bb:1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo delete: %v\n%s", err, out)
	}
	out, err := exec.Command(gorae, "registry", "gc", "--root", root, "--grace", "0s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "deleted 3 blobs") {
		t.Fatalf("gorae registry gc: %v\n%s", err, out)
	}
}

// The docker CLI through gorae's daemon pushes to `gorae registry serve`
// and pulls back from it: both of gorae's sides of the protocol at once.
func TestPushPullOwnRegistry(t *testing.T) {
	cmd := exec.Command(gorae, "registry", "serve", "--addr", "127.0.0.1:0", "--root", t.TempDir())
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var addr string
	if _, err := fmt.Fscanln(stdout, new(string), new(string), &addr); err != nil {
		t.Fatalf("gorae registry serve did not say where it listens: %v", err)
	}
	ref := addr + "/e2e/bb:1"
	must(t, "tag", "busybox:latest", ref)
	out := must(t, "push", ref)
	if !strings.Contains(out, "Pushed") || !regexp.MustCompile(`1: digest: sha256:[0-9a-f]{64} size: \d+`).MatchString(out) {
		t.Fatalf("push to gorae registry serve:\n%s", out)
	}
	if out := must(t, "push", ref); !strings.Contains(out, "Layer already exists") {
		t.Errorf("second push:\n%s", out)
	}
	must(t, "rmi", ref)
	if out := must(t, "pull", ref); !strings.Contains(out, "Downloaded newer image") && !strings.Contains(out, "Image is up to date") {
		t.Fatalf("pull from gorae registry serve:\n%s", out)
	}
	defer docker(nil, "rmi", ref)
	if out := must(t, "run", "--rm", ref, "echo", "from-own-registry"); out != "from-own-registry\n" {
		t.Errorf("run: %q", out)
	}
}
