package runtime

import (
	"os"
	"testing"
)

// The fallback where overlayfs is missing: a sealed copy that cannot be
// written, opened through its /proc/self/fd path as exec.Cmd will.
func TestMemfdExeIsSealed(t *testing.T) {
	f, err := memfdExe("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, _ := os.Stat("/proc/self/exe")
	got, err := os.Stat(fdPath(f))
	if err != nil || got.Size() != want.Size() {
		t.Fatalf("copy: %v, size %d want %d", err, got.Size(), want.Size())
	}
	if w, err := os.OpenFile(fdPath(f), os.O_WRONLY, 0); err == nil {
		_, werr := w.Write([]byte("x"))
		w.Close()
		if werr == nil {
			t.Fatal("wrote to the sealed copy")
		}
	}
}
