package seccomp

import (
	"bufio"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSyscallTableSorted(t *testing.T) {
	if !slices.IsSorted(syscallNames[:]) {
		t.Fatal("syscallNames is not sorted: lookup's binary search needs it")
	}
	if len(syscallNames) < 400 {
		t.Fatalf("only %d syscalls in the table", len(syscallNames))
	}
}

// TestSyscallTableMatchesHeaders holds the generated table against the
// kernel headers installed on this machine (linux-libc-dev), where present.
func TestSyscallTableMatchesHeaders(t *testing.T) {
	headers := []struct {
		path string
		id   int
	}{
		{"/usr/include/x86_64-linux-gnu/asm/unistd_64.h", abiX86_64},
		{"/usr/include/x86_64-linux-gnu/asm/unistd_32.h", abiX86},
		{"/usr/include/x86_64-linux-gnu/asm/unistd_x32.h", abiX32},
	}
	def := regexp.MustCompile(`^#define __NR_(\w+)\s+(?:\(__X32_SYSCALL_BIT \+ )?(\d+)\)?$`)
	checked := 0
	for _, h := range headers {
		f, err := os.Open(h.path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			m := def.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			want, _ := strconv.Atoi(m[2])
			got, ok := lookup(m[1], &abis[h.id])
			if !ok {
				// The table may be older or newer than the headers on
				// either side; only disagreements matter.
				continue
			}
			if int(got) != want {
				t.Errorf("%s: %s is %d in the table, %d in the header", h.path, m[1], got, want)
			}
			checked++
		}
		f.Close()
	}
	if checked == 0 {
		t.Skip("no x86 kernel headers installed (apt-get install linux-libc-dev)")
	}
	t.Logf("%d syscall numbers agree with the installed headers", checked)
}

// TestSyscallTableMatchesNative checks the native column against the numbers
// golang.org/x/sys was generated with.
func TestSyscallTableMatchesNative(t *testing.T) {
	fam, ok := families[runtime.GOARCH]
	if !ok {
		t.Skipf("no table for %s", runtime.GOARCH)
	}
	a := &abis[fam[0]]
	for name, want := range map[string]uintptr{
		"read": unix.SYS_READ, "getcwd": unix.SYS_GETCWD, "mkdirat": unix.SYS_MKDIRAT,
		"openat": unix.SYS_OPENAT, "clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3,
		"seccomp": unix.SYS_SECCOMP, "personality": unix.SYS_PERSONALITY, "getpid": unix.SYS_GETPID,
	} {
		got, ok := lookup(name, a)
		if !ok || uintptr(got) != want {
			t.Errorf("%s: table says %d (found %v), x/sys/unix says %d", name, got, ok, want)
		}
	}
}
