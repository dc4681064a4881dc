package daemon

import (
	"context"
	"strings"
	"testing"

	ctrstore "github.com/gorae/gorae/internal/container"
)

// A bug that panics inside start becomes a failed start (which ends the
// container and, for --rm, removes it) rather than a container left
// Created with its `docker run --rm` waiting for ever.
func TestStartPanicIsAnError(t *testing.T) {
	d := &Daemon{} // no stores: start panics on its first use of one
	c := ctrstore.New(ctrstore.NewID(), "/panicky")
	err := d.startRecovering(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "internal error starting container") {
		t.Fatalf("want the panic as an error, got %v", err)
	}
}
