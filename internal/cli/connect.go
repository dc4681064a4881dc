package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// DefaultHost is where gorae's daemon listens unless told otherwise.
const DefaultHost = "unix:///run/gorae/gorae.sock"

// Environment the CLI reads besides docker's own (DOCKER_HOST,
// DOCKER_CONTEXT, DOCKER_CONFIG, DOCKER_API_VERSION).
const (
	// EnvHost names the daemon; it wins over DOCKER_HOST, so gorae can
	// be pointed elsewhere than a docker CLI on the same shell.
	EnvHost = "GORAE_HOST"
	// EnvDaemonFlags are extra flags for an auto-started daemon
	// (e.g. "--data-root /tmp/x --exec-root /run/x"): tests start from a
	// cold state without touching the system's roots.
	EnvDaemonFlags = "GORAE_DAEMON_FLAGS"
	// EnvNoAutostart=1 turns auto-start off.
	EnvNoAutostart = "GORAE_NO_AUTOSTART"
)

// Client returns the API client, connecting on first use: the host from
// the flags, environment or context; the API version negotiated with the
// daemon; the daemon started first when it is ours to start.
func (c *CLI) Client(ctx context.Context) (*client.Client, error) {
	if c.api != nil {
		return c.api, nil
	}
	host, autostart, err := c.resolveHost()
	if err != nil {
		return nil, err
	}
	c.host = host
	if autostart {
		if err := maybeStartDaemon(ctx, host, c.errOut); err != nil {
			return nil, err
		}
	}
	opts := []client.Opt{client.WithHost(host), client.WithAPIVersionNegotiation(), client.WithUserAgent("gorae-cli")}
	if v := os.Getenv("DOCKER_API_VERSION"); v != "" {
		opts = append(opts, client.WithAPIVersion(v))
	}
	if c.opts.tlsVerify || c.opts.tls || os.Getenv("DOCKER_TLS_VERIFY") != "" {
		opts = append(opts, client.WithTLSClientConfigFromEnv())
	}
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", host, err)
	}
	c.api = api
	return api, nil
}

// resolveHost picks the daemon address the way docker does, with
// GORAE_HOST first among the environment: --context, -H, GORAE_HOST,
// DOCKER_HOST, DOCKER_CONTEXT, the config's current context, the default.
// autostart says the address is gorae's own default, which the CLI may
// start a daemon on.
func (c *CLI) resolveHost() (host string, autostart bool, err error) {
	if c.opts.context != "" && len(c.opts.hosts) > 0 {
		return "", false, StatusError{Status: `conflicting options: cannot specify both "--host" and "--context"`, StatusCode: 1}
	}
	name := c.opts.context
	if name == "" {
		switch {
		case len(c.opts.hosts) > 1:
			return "", false, errors.New("specify only one -H")
		case len(c.opts.hosts) == 1:
			return normalizeHost(c.opts.hosts[0]), false, nil
		case os.Getenv(EnvHost) != "":
			h := normalizeHost(os.Getenv(EnvHost))
			return h, strings.HasPrefix(h, "unix://"), nil
		case os.Getenv("DOCKER_HOST") != "":
			return normalizeHost(os.Getenv("DOCKER_HOST")), false, nil
		case os.Getenv("DOCKER_CONTEXT") != "":
			name = os.Getenv("DOCKER_CONTEXT")
		default:
			name = c.currentContext()
		}
	}
	if name == "" || name == "default" {
		return DefaultHost, true, nil
	}
	h, err := c.contextHost(name)
	return h, false, err
}

// normalizeHost accepts docker's short forms: a bare path is a unix
// socket, host:port is tcp.
func normalizeHost(h string) string {
	switch {
	case strings.Contains(h, "://"):
		return h
	case strings.HasPrefix(h, "/"):
		return "unix://" + h
	case strings.HasPrefix(h, ":") || strings.Contains(h, ":"):
		return "tcp://" + h
	}
	return h
}

// configDir is docker's client config directory: --config, DOCKER_CONFIG,
// ~/.docker.
func (c *CLI) configDir() string {
	if c.opts.configDir != "" {
		return c.opts.configDir
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

func (c *CLI) currentContext() string {
	cfg, _ := c.loadConfig()
	return cfg.CurrentContext
}

// contextMeta is the part of docker's context store we read:
// contexts/meta/<sha256 of the name>/meta.json.
type contextMeta struct {
	Name      string
	Metadata  map[string]any `json:",omitempty"`
	Endpoints map[string]struct {
		Host          string `json:",omitempty"`
		SkipTLSVerify bool
	}
}

func (c *CLI) contextDir() string { return filepath.Join(c.configDir(), "contexts", "meta") }

func (c *CLI) contextHost(name string) (string, error) {
	sum := sha256.Sum256([]byte(name))
	b, err := os.ReadFile(filepath.Join(c.contextDir(), hex.EncodeToString(sum[:]), "meta.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("context %q does not exist", name)
		}
		return "", fmt.Errorf("read context %q: %w", name, err)
	}
	var m contextMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("context %q: %w", name, err)
	}
	ep, ok := m.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return "", fmt.Errorf("context %q has no docker endpoint", name)
	}
	return ep.Host, nil
}

func (c *CLI) listContexts() ([]contextMeta, error) {
	entries, err := os.ReadDir(c.contextDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []contextMeta
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(c.contextDir(), e.Name(), "meta.json"))
		if err != nil {
			continue
		}
		var m contextMeta
		if json.Unmarshal(b, &m) == nil && m.Name != "" {
			out = append(out, m)
		}
	}
	return out, nil
}

// dialUnix reports whether something answers on a unix socket address.
func dialUnix(path string, timeout time.Duration) bool {
	conn, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
