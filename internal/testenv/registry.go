package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DockerRegistry is Debian's docker-registry (distribution 2.8) running
// on a loopback port for one test.
type DockerRegistry struct {
	// Host is 127.0.0.1:PORT, as image references name it.
	Host string
	cmd  *exec.Cmd
	log  string
}

// StartDockerRegistry runs docker-registry on 127.0.0.1 at a free port,
// storing under dir, with its own config (never the system service);
// htpasswd lines ("user:bcrypt-hash"), if any, turn on basic auth.
// ok is false when the binary is missing outside CI (the caller skips);
// under CI=true that is an error, as for root.
func StartDockerRegistry(dir string, htpasswd ...string) (r *DockerRegistry, ok bool, err error) {
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if os.Getenv("CI") == "true" {
			return nil, false, fmt.Errorf("docker-registry not installed (scripts/install-deps.sh installs it)")
		}
		return nil, false, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, false, err
	}
	host := l.Addr().String()
	l.Close() // distribution takes an address, not a socket: reuse the port at once
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), host)
	if len(htpasswd) > 0 {
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, []byte(strings.Join(htpasswd, "\n")+"\n"), 0o600); err != nil {
			return nil, false, err
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: gorae-test\n    path: %s\n", pw)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, false, err
	}
	r = &DockerRegistry{Host: host, log: filepath.Join(dir, "registry.log")}
	logf, err := os.Create(r.log)
	if err != nil {
		return nil, false, err
	}
	defer logf.Close()
	r.cmd = exec.Command(bin, "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("start docker-registry: %w", err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (len(htpasswd) > 0 && resp.StatusCode == http.StatusUnauthorized) {
				return r, true, nil
			}
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, false, fmt.Errorf("docker-registry on %s did not answer /v2/: %v\n%s", host, err, r.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is what the registry wrote.
func (r *DockerRegistry) Log() string {
	b, _ := os.ReadFile(r.log)
	return strings.TrimSpace(string(b))
}

// Stop ends the registry (by its PID) and waits for it.
func (r *DockerRegistry) Stop() {
	if r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// NeedDockerRegistry starts a DockerRegistry for test t, stopped when t
// ends; it skips t if docker-registry is missing (failing under CI=true).
func NeedDockerRegistry(t testing.TB, htpasswd ...string) *DockerRegistry {
	t.Helper()
	r, ok, err := StartDockerRegistry(t.TempDir(), htpasswd...)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("docker-registry not installed (scripts/install-deps.sh)")
	}
	t.Cleanup(r.Stop)
	return r
}
