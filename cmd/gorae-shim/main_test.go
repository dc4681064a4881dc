package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The shim's size is what a running container costs (its text is resident
// in full): it must not link net/http and what that brings (crypto/tls,
// x509, http2 …). Its API is served by internal/minihttp instead.
func TestShimDoesNotLinkNetHTTP(t *testing.T) {
	// go test puts GOROOT/bin first in PATH.
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "net/http" || p == "crypto/tls" || p == "crypto/x509" {
			t.Errorf("cmd/gorae-shim links %s (go list -deps ./cmd/gorae-shim; keep net/http on the daemon's side, in monitor/shimclient)", p)
		}
	}
}
