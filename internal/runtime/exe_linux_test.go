package runtime

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// The init binary's /proc/self/fd link must survive the child's fd
// shuffle: a descriptor just above the passed ones is where Go's child
// puts its error pipe. Spawning through it must run the binary.
func TestExeClearOfChildFDs(t *testing.T) {
	var extra []*os.File
	for i := 0; i < 4; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	exe, err := os.Open("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	cmd := exec.Command(fdPath(exe))
	cmd.ExtraFiles = extra
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	done, err := exeClearOfChildFDs(cmd)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(cmd.Path, "/proc/self/fd/"))
	for _, f := range extra {
		if n <= int(f.Fd())+len(extra)+3 {
			t.Errorf("binary at fd %d, within reach of the child's shuffle of fd %d", n, f.Fd())
		}
	}
	err = cmd.Run()
	done()
	if err != nil {
		t.Fatalf("run through %s: %v", cmd.Path, err)
	}
}
