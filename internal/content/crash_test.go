package content_test

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
)

const crashHelperEnv = "GORAE_CONTENT_CRASH_HELPER"

// TestMain lets the crash test run this binary as its writer process.
func TestMain(m *testing.M) {
	if root := os.Getenv(crashHelperEnv); root != "" {
		crashHelper(root)
		return
	}
	os.Exit(m.Run())
}

// crashHelper writes blobs until it is killed: big and small, some
// aborted, some committed with a wrong digest.
func crashHelper(root string) {
	s, err := content.NewLocal(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	buf := make([]byte, 256<<10)
	for {
		w, err := s.Writer(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for range mrand.IntN(8) + 1 {
			rand.Read(buf)
			w.Write(buf[:mrand.IntN(len(buf))])
		}
		switch mrand.IntN(4) {
		case 0:
			w.Abort()
		case 1:
			w.Commit(ctx, -1, digest.FromString("wrong"))
		default:
			if err := w.Commit(ctx, w.Size(), w.Digest()); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
}

// TestLocalKill9 kills a writer at random points and checks that the
// reopened store holds only whole, correct blobs and no ingests.
func TestLocalKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	root := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 8 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+root)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+mrand.IntN(150)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: helper ended on its own: %v", round, err)
		}

		s, err := content.NewLocal(root)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if left := ingests(t, root); len(left) != 0 {
			t.Fatalf("round %d: ingests left after reopening: %v", round, left)
		}
		n := 0
		err = s.Walk(context.Background(), func(i content.Info) error {
			n++
			rc, _, err := content.Open(context.Background(), s, i.Digest)
			if err != nil {
				return err
			}
			defer rc.Close()
			got, err := digest.FromReader(rc)
			if err != nil {
				return err
			}
			if got != i.Digest {
				return fmt.Errorf("blob %s holds bytes of digest %s", i.Digest, got)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: %d blobs verified", round, n)
	}
}
