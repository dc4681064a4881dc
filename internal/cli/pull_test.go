package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// TestPullProgressAndAuth: gorae pull against a fake Engine API: the
// credentials from config.json go in X-Registry-Auth, and the daemon's
// progress stream is rendered as plain lines off a terminal; `run` pulls
// a missing image first, as docker does.
func TestPullProgressAndAuth(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var gotAuth, gotRef string
	created := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.50")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("/v1.50/images/create", func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotRef = r.Header.Get("X-Registry-Auth"), r.URL.Query().Get("fromImage")+":"+r.URL.Query().Get("tag")
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.Encode(map[string]any{"status": "Pulling from library/busybox", "id": "latest"})
		enc.Encode(map[string]any{"status": "Downloading", "id": "abc123", "progressDetail": map[string]int{"current": 50, "total": 100}})
		enc.Encode(map[string]any{"status": "Download complete", "id": "abc123"})
		enc.Encode(map[string]any{"status": "Status: Downloaded newer image for busybox:latest"})
	})
	mux.HandleFunc("/v1.50/containers/create", func(w http.ResponseWriter, r *http.Request) {
		created++
		w.Header().Set("Content-Type", "application/json")
		if created == 1 {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"No such image: busybox:latest"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"Id":"0123456789abcdef","Warnings":[]}`)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()

	cfg := filepath.Join(dir, "cfg")
	os.MkdirAll(cfg, 0o700)
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("me:secret"))+`"}}}`), 0o600)
	var out, errOut bytes.Buffer
	c := &CLI{in: os.Stdin, out: &out, errOut: &errOut}
	c.opts.configDir = cfg
	c.opts.hosts = []string{"unix://" + sock}
	ctx := context.Background()
	api, err := c.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pullImage(ctx, api, "busybox:latest", "", &out, false); err != nil {
		t.Fatal(err)
	}
	auth, _ := base64.URLEncoding.DecodeString(gotAuth)
	if !strings.Contains(string(auth), `"username":"me"`) || !strings.Contains(string(auth), `"password":"secret"`) {
		t.Errorf("X-Registry-Auth %q", auth)
	}
	if gotRef != "docker.io/library/busybox:latest" && gotRef != "busybox:latest" {
		t.Errorf("pulled %q", gotRef)
	}
	for _, want := range []string{"latest: Pulling from library/busybox", "abc123: Download complete", "Status: Downloaded newer image"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	// create → no such image → pull → create again.
	var o runOptions
	o.pull = "missing"
	spec := &containerSpec{config: &container.Config{Image: "busybox"}, hostConfig: &container.HostConfig{}}
	id, err := c.createContainer(ctx, api, spec, &o)
	if err != nil || id != "0123456789abcdef" || created != 2 {
		t.Fatalf("create with pull: %q %v (creates %d)", id, err, created)
	}
	if !strings.Contains(errOut.String(), "Unable to find image 'busybox:latest' locally") {
		t.Errorf("stderr %q", errOut.String())
	}
}
