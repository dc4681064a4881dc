package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/registry"
)

type fakeRow struct{ N, S string }

func (r fakeRow) Label(k string) string { return "l-" + k }

func TestListing(t *testing.T) {
	rows := []any{fakeRow{"a-1", "up"}, fakeRow{"b-2", "down"}}
	headers := map[string]string{"N": "NAME", "S": "STATE"}
	l := listing{table: "table {{.N}}\t{{.S}}", quiet: "{{.N}}", headers: headers}
	for _, c := range []struct {
		format string
		quiet  bool
		want   string
	}{
		{"", false, "NAME      STATE\na-1       up\nb-2       down\n"},
		{"", true, "a-1\nb-2\n"},
		{"table {{.S}}\t{{upper .N}}\t{{.Label \"x\"}}", false, "STATE     NAME      x\nup        A-1       l-x\ndown      B-2       l-x\n"},
		{"{{.N}}|{{join (split .N \"-\") \"+\"}}|{{title .S}}|{{truncate .N 1}}|{{pad .S 1 1}}|{{lower \"X\"}}", false, "a-1|a+1|Up|a| up |x\nb-2|b+2|Down|b| down |x\n"},
		{"json", false, `{"N":"a-1","S":"up"}` + "\n" + `{"N":"b-2","S":"down"}` + "\n"},
		{"{{json .}}", false, `{"N":"a-1","S":"up"}` + "\n" + `{"N":"b-2","S":"down"}` + "\n"},
	} {
		var buf bytes.Buffer
		l.format = c.format
		if err := l.render(&buf, c.quiet, rows); err != nil {
			t.Errorf("%q: %v", c.format, err)
			continue
		}
		if buf.String() != c.want {
			t.Errorf("%q:\n%q\nwant\n%q", c.format, buf.String(), c.want)
		}
	}
	var buf bytes.Buffer
	l.format = "{{.Nope"
	if err := l.render(&buf, false, rows); ExitCode(err) != 64 {
		t.Errorf("bad template: %v (exit %d), want docker's 64", err, ExitCode(err))
	}
}

func TestHumanAndIDs(t *testing.T) {
	if got := ellipsis("sh -c echo hello world", 20); got != "sh -c echo hello wo…" {
		t.Errorf("ellipsis %q", got)
	}
	if got := shortID("sha256:0123456789abcdef0123"); got != "0123456789ab" {
		t.Errorf("shortID %q", got)
	}
	if got := humanSize(2032000); got != "2.03MB" {
		t.Errorf("humanSize %q", got)
	}
}

func TestEscapeReader(t *testing.T) {
	keys, err := parseDetachKeys("")
	if err != nil || !bytes.Equal(keys, []byte{16, 17}) {
		t.Fatalf("default keys %v %v", keys, err)
	}
	// A lone ctrl-p passes on once the next byte breaks the sequence.
	r := &escapeReader{r: strings.NewReader("ab\x10c\x10\x10\x11ignored"), keys: keys}
	out, err := io.ReadAll(r)
	if !errors.Is(err, errDetached) || string(out) != "ab\x10c\x10" {
		t.Errorf("read %q, %v", out, err)
	}
	r = &escapeReader{r: strings.NewReader("plain"), keys: keys}
	if out, err := io.ReadAll(r); err != nil || string(out) != "plain" {
		t.Errorf("read %q, %v", out, err)
	}
	if k, err := parseDetachKeys("ctrl-a,x,ctrl-["); err != nil || !bytes.Equal(k, []byte{1, 'x', 27}) {
		t.Errorf("custom keys %v %v", k, err)
	}
	if _, err := parseDetachKeys("ctrl-"); err == nil {
		t.Error("ctrl- accepted")
	}
}

func TestResolveHost(t *testing.T) {
	cfg := t.TempDir()
	c := New()
	c.opts.configDir = cfg
	for _, e := range []string{"GORAE_HOST", "DOCKER_HOST", "DOCKER_CONTEXT"} {
		t.Setenv(e, "")
	}
	check := func(want string, wantAuto bool) {
		t.Helper()
		h, auto, err := c.resolveHost()
		if err != nil || h != want || auto != wantAuto {
			t.Errorf("host %q auto %v err %v; want %q %v", h, auto, err, want, wantAuto)
		}
	}
	check(DefaultHost, true)
	t.Setenv("DOCKER_HOST", "unix:///d.sock")
	check("unix:///d.sock", false)
	t.Setenv("GORAE_HOST", "/g.sock")
	check("unix:///g.sock", true)
	c.opts.hosts = []string{"127.0.0.1:2375"}
	check("tcp://127.0.0.1:2375", false)
	c.opts.hosts = nil
	t.Setenv("GORAE_HOST", "")
	t.Setenv("DOCKER_HOST", "")
	// A context written as docker writes it, made current in config.json.
	create, _, _ := c.contextCommand().Find([]string{"create"})
	c.out, c.errOut = io.Discard, io.Discard
	if err := create.RunE(create, []string{"remote"}); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(cfg, "contexts", "meta")
	entries, _ := os.ReadDir(meta)
	if len(entries) != 1 {
		t.Fatalf("context store: %v", entries)
	}
	b, _ := os.ReadFile(filepath.Join(meta, entries[0].Name(), "meta.json"))
	os.WriteFile(filepath.Join(meta, entries[0].Name(), "meta.json"), bytes.Replace(b, []byte(DefaultHost), []byte("unix:///remote.sock"), 1), 0o644)
	t.Setenv("DOCKER_CONTEXT", "remote")
	check("unix:///remote.sock", false)
	t.Setenv("DOCKER_CONTEXT", "")
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"currentContext":"remote","other":1}`), 0o600)
	check("unix:///remote.sock", false)
	c.opts.context = "nope"
	if _, _, err := c.resolveHost(); err == nil || !strings.Contains(err.Error(), `"nope" does not exist`) {
		t.Errorf("unknown context: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	cfg := t.TempDir()
	c := New()
	c.opts.configDir = cfg
	// Plain: base64 in auths, unknown keys kept.
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths":{},"proxies":{"x":1}}`), 0o600)
	if err := c.storeAuth(registry.AuthConfig{Username: "u", Password: "p:w", ServerAddress: "reg.local:5000"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(cfg, "config.json"))
	var raw map[string]json.RawMessage
	json.Unmarshal(b, &raw)
	if _, ok := raw["proxies"]; !ok || !strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte("u:p:w"))) {
		t.Errorf("config.json %s", b)
	}
	if ac, _ := c.getAuth("reg.local:5000"); ac.Username != "u" || ac.Password != "p:w" {
		t.Errorf("getAuth %+v", ac)
	}
	if enc := c.encodedAuth("reg.local:5000/a/b:1"); enc == "" {
		t.Error("no X-Registry-Auth for a stored registry")
	}
	if had, err := c.eraseAuth("reg.local:5000"); !had || err != nil {
		t.Errorf("erase %v %v", had, err)
	}
	// A credential helper (docker-credential-*) for one registry.
	bin := t.TempDir()
	store := filepath.Join(bin, "store")
	helper := "#!/bin/sh\ncase $1 in\nstore) cat > " + store + ";;\nget) cat >/dev/null; echo '{\"Username\":\"hu\",\"Secret\":\"hs\"}';;\nerase) rm -f " + store + ";;\nesac\n"
	os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(helper), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"credHelpers":{"h.local":"fake"}}`), 0o600)
	if err := c.storeAuth(registry.AuthConfig{Username: "a", Password: "b", ServerAddress: "h.local"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(store); !strings.Contains(string(b), `"Secret":"b"`) || !strings.Contains(string(b), `"ServerURL":"h.local"`) {
		t.Errorf("helper got %s", b)
	}
	if ac, err := c.getAuth("h.local"); err != nil || ac.Username != "hu" || ac.Password != "hs" {
		t.Errorf("helper get %+v %v", ac, err)
	}
	if registryHost("busybox") != hubServer || registryHost("h.local/x") != "h.local" {
		t.Error("registryHost")
	}
}
