package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorae/gorae/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const crashHelperEnv = "GORAE_IMAGE_CRASH_HELPER"

func TestMain(m *testing.M) {
	if root := os.Getenv(crashHelperEnv); root != "" {
		if err := crashHelper(root); err != nil {
			fmt.Fprintln(os.Stderr, "crash helper:", err)
			os.Exit(2)
		}
		return
	}
	os.Exit(m.Run())
}

// writeTestImage writes the blobs of a one-platform image and returns its
// manifest's descriptor.
func writeTestImage(ctx context.Context, cs content.Store, lease *Lease, layers [][]byte) (ocispec.Descriptor, error) {
	put := func(mt string, b []byte) (ocispec.Descriptor, error) {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		lease.Add(d.Digest)
		_, _, err := content.WriteBlob(ctx, cs, bytes.NewReader(b), d.Size, d.Digest)
		return d, err
	}
	cfg := Config{Architecture: DefaultPlatform().Architecture, OS: "linux", RootFS: ocispec.RootFS{Type: "layers"}}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest}
	m.SchemaVersion = 2
	for _, l := range layers {
		d, err := put(ocispec.MediaTypeImageLayer, l)
		if err != nil {
			return d, err
		}
		m.Layers = append(m.Layers, d)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, d.Digest)
	}
	data, _ := json.Marshal(cfg)
	var err error
	if m.Config, err = put(ocispec.MediaTypeImageConfig, data); err != nil {
		return m.Config, err
	}
	data, _ = json.Marshal(m)
	return put(ocispec.MediaTypeImageManifest, data)
}

// crashHelper works the store until it is killed: creates images that
// share base layers, tags, untags, deletes, prunes and collects.
func crashHelper(root string) error {
	ctx := context.Background()
	cs, err := content.NewLocal(filepath.Join(root, "content"))
	if err != nil {
		return err
	}
	s, err := NewStore(ctx, filepath.Join(root, "image"), cs)
	if err != nil {
		return err
	}
	bases := [][]byte{layer("base0", 64<<10), layer("base1", 32<<10), layer("base2", 16<<10)}
	name := func() string { return fmt.Sprintf("img%d:t%d", mrand.IntN(4), mrand.IntN(2)) }
	for i := 0; ; i++ {
		switch op := mrand.IntN(10); {
		case op < 5:
			lease := s.Lease()
			top := randomBytes(1 + mrand.IntN(128<<10))
			m, err := writeTestImage(ctx, cs, lease, [][]byte{bases[mrand.IntN(len(bases))], top})
			if err != nil {
				return err
			}
			img, err := s.Create(ctx, m)
			if err != nil {
				return err
			}
			ref, _ := ParseReference(name())
			if err := s.Tag(ctx, ref, img.ID); err != nil {
				return err
			}
			lease.Release()
		case op < 7:
			_, err := s.Delete(ctx, name(), DeleteOptions{Force: mrand.IntN(2) == 0})
			if err != nil && !strings.Contains(err.Error(), "no such image") {
				return err
			}
		case op < 8:
			ref, _ := ParseReference(name())
			s.Untag(ctx, ref)
		case op < 9:
			if _, err := s.Prune(ctx, PruneOptions{}); err != nil {
				return err
			}
		default:
			if _, err := s.GC(ctx, GCOptions{}); err != nil {
				return err
			}
		}
	}
}

// TestKill9 kills the helper at random points and checks, each time, that
// the store reopens and keeps its promises: no name without its image, no
// image without its blobs, no blob whose bytes are not its digest's, no
// leftover temp file or ingest.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	root := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := range 12 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+root)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+mrand.IntN(250)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: helper ended on its own: %s", round, stderr.String())
		}

		cs, err := content.NewLocal(filepath.Join(root, "content"))
		if err != nil {
			t.Fatalf("round %d: reopen content: %v", round, err)
		}
		s, err := NewStore(ctx, filepath.Join(root, "image"), cs)
		if err != nil {
			t.Fatalf("round %d: reopen images: %v", round, err)
		}
		if err := s.Verify(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, pattern := range []string{"content/ingest/*", "image/.tmp-*", "image/images/.tmp-*"} {
			if left, _ := filepath.Glob(filepath.Join(root, pattern)); len(left) > 0 {
				t.Fatalf("round %d: left after reopening: %v", round, left)
			}
		}
		blobs := 0
		err = cs.Walk(ctx, func(i content.Info) error {
			blobs++
			rc, _, err := content.Open(ctx, cs, i.Digest)
			if err != nil {
				return err
			}
			defer rc.Close()
			if got, err := digest.FromReader(rc); err != nil || got != i.Digest {
				return fmt.Errorf("blob %s holds %s (%v)", i.Digest, got, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, img := range s.Images() {
			for _, r := range s.References(img.ID) {
				if got, err := s.Get(ctx, r.String()); err != nil || got.ID != img.ID {
					t.Fatalf("round %d: name %s does not resolve to its image: %v", round, r, err)
				}
			}
		}
		// What the crash left collects cleanly, and the store stays whole.
		if _, err := s.GC(ctx, GCOptions{}); err != nil {
			t.Fatalf("round %d: gc: %v", round, err)
		}
		if err := s.Verify(ctx); err != nil {
			t.Fatalf("round %d: after gc: %v", round, err)
		}
		t.Logf("round %d: %d images, %d blobs verified", round, len(s.Images()), blobs)
	}
}
