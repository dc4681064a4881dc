package unixsock

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLongPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "x.sock")
	if len(p) < 120 {
		t.Fatalf("path too short for the test: %d", len(p))
	}
	l, err := Listen(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.WriteString(c, "hi")
			c.Close()
		}
	}()
	c, err := Dial(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	if string(b) != "hi" {
		t.Errorf("read %q", b)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("socket file not at its real path: %v", err)
	}
}
