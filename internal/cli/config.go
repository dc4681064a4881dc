package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// configFile is the part of docker's ~/.docker/config.json gorae uses.
// Unknown keys survive a rewrite (login, logout) through extra.
type configFile struct {
	Auths          map[string]authEntry `json:"auths"`
	CredsStore     string               `json:"credsStore,omitempty"`
	CredHelpers    map[string]string    `json:"credHelpers,omitempty"`
	CurrentContext string               `json:"currentContext,omitempty"`
	PsFormat       string               `json:"psFormat,omitempty"`
	ImagesFormat   string               `json:"imagesFormat,omitempty"`
	DetachKeys     string               `json:"detachKeys,omitempty"`

	extra map[string]json.RawMessage
}

type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

func (c *CLI) configPath() string { return filepath.Join(c.configDir(), "config.json") }

func (c *CLI) loadConfig() (*configFile, error) {
	cfg := &configFile{}
	b, err := os.ReadFile(c.configPath())
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(b, cfg); err != nil {
		return cfg, fmt.Errorf("read %s: %w", c.configPath(), err)
	}
	json.Unmarshal(b, &cfg.extra)
	return cfg, nil
}

func (c *CLI) saveConfig(cfg *configFile) error {
	m := cfg.extra
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	set := func(k string, v any, empty bool) {
		if empty {
			delete(m, k)
			return
		}
		b, _ := json.Marshal(v)
		m[k] = b
	}
	set("auths", cfg.Auths, false)
	set("credsStore", cfg.CredsStore, cfg.CredsStore == "")
	set("credHelpers", cfg.CredHelpers, len(cfg.CredHelpers) == 0)
	set("currentContext", cfg.CurrentContext, cfg.CurrentContext == "")
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.configDir(), 0o700); err != nil {
		return err
	}
	tmp := c.configPath() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.configPath())
}

// configFormat is a default --format from config.json (psFormat,
// imagesFormat).
func (c *CLI) configFormat(key string) string {
	cfg, _ := c.loadConfig()
	switch key {
	case "psFormat":
		return cfg.PsFormat
	case "imagesFormat":
		return cfg.ImagesFormat
	}
	return ""
}

// The registry key of Docker Hub in config.json, as docker writes it.
const hubServer = "https://index.docker.io/v1/"

// registryHost is the config.json key for an image reference's registry.
func registryHost(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return hubServer
	}
	return serverKey(reference.Domain(named))
}

func serverKey(host string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	h = strings.TrimSuffix(h, "/")
	if h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io" || strings.HasPrefix(h, "index.docker.io/v1") || h == "" {
		return hubServer
	}
	return h
}

// credentialHelper names the docker-credential-* program for a server:
// credHelpers[server], else credsStore, else none (base64 in config.json).
func (cfg *configFile) credentialHelper(server string) string {
	if h := cfg.CredHelpers[server]; h != "" {
		return h
	}
	return cfg.CredsStore
}

// getAuth finds the credentials for server.
func (c *CLI) getAuth(server string) (registry.AuthConfig, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return registry.AuthConfig{}, err
	}
	ac := registry.AuthConfig{ServerAddress: server}
	if h := cfg.credentialHelper(server); h != "" {
		var out struct{ Username, Secret string }
		b, err := runCredHelper(h, "get", server)
		if err != nil {
			if strings.Contains(err.Error(), "credentials not found") {
				return ac, nil
			}
			return ac, err
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return ac, fmt.Errorf("docker-credential-%s get: %w", h, err)
		}
		if out.Username == "<token>" {
			ac.IdentityToken = out.Secret
		} else {
			ac.Username, ac.Password = out.Username, out.Secret
		}
		return ac, nil
	}
	e, ok := cfg.Auths[server]
	if !ok {
		return ac, nil
	}
	if e.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return ac, fmt.Errorf("%s: bad auth for %s: %w", c.configPath(), server, err)
		}
		ac.Username, ac.Password, _ = strings.Cut(string(raw), ":")
	}
	ac.IdentityToken = e.IdentityToken
	return ac, nil
}

// storeAuth saves credentials where config.json says: a helper or
// base64 in auths.
func (c *CLI) storeAuth(ac registry.AuthConfig) error {
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	server := ac.ServerAddress
	if cfg.Auths == nil {
		cfg.Auths = map[string]authEntry{}
	}
	if h := cfg.credentialHelper(server); h != "" {
		user, secret := ac.Username, ac.Password
		if ac.IdentityToken != "" {
			user, secret = "<token>", ac.IdentityToken
		}
		in, _ := json.Marshal(map[string]string{"ServerURL": server, "Username": user, "Secret": secret})
		if _, err := runCredHelperInput(h, "store", in); err != nil {
			return err
		}
		cfg.Auths[server] = authEntry{}
		return c.saveConfig(cfg)
	}
	e := authEntry{IdentityToken: ac.IdentityToken}
	if ac.IdentityToken == "" {
		e.Auth = base64.StdEncoding.EncodeToString([]byte(ac.Username + ":" + ac.Password))
	}
	cfg.Auths[server] = e
	return c.saveConfig(cfg)
}

func (c *CLI) eraseAuth(server string) (bool, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return false, err
	}
	_, had := cfg.Auths[server]
	if h := cfg.credentialHelper(server); h != "" {
		if _, err := runCredHelper(h, "erase", server); err == nil {
			had = true
		}
	}
	delete(cfg.Auths, server)
	return had, c.saveConfig(cfg)
}

// encodedAuth is the X-Registry-Auth header value for an image ref.
func (c *CLI) encodedAuth(ref string) string {
	ac, err := c.getAuth(registryHost(ref))
	if err != nil || (ac.Username == "" && ac.IdentityToken == "") {
		return ""
	}
	s, _ := authconfig.Encode(ac)
	return s
}

// runCredHelper speaks the docker-credential-* protocol: the verb as
// argument, the server URL (or JSON) on stdin, JSON on stdout.
func runCredHelper(helper, verb, server string) ([]byte, error) {
	return runCredHelperInput(helper, verb, []byte(server))
}

func runCredHelperInput(helper, verb string, in []byte) ([]byte, error) {
	cmd := exec.Command("docker-credential-"+helper, verb)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String() + errb.String())
		return nil, fmt.Errorf("docker-credential-%s %s: %v: %s", helper, verb, err, msg)
	}
	return out.Bytes(), nil
}

// jsonMarshal encodes without HTML escaping, as docker's json template
// function does.
func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
