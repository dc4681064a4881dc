package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// childEnv selects a loadChild scenario in a re-executed test binary:
// installing a filter cannot be undone, so it happens in a child process.
const childEnv = "GORAE_SECCOMP_TEST_CHILD"

// profileEnv passes the child the absolute path of the Docker-shaped
// profile, as it runs in a temporary directory.
const profileEnv = "GORAE_SECCOMP_TEST_PROFILE"

func TestMain(m *testing.M) {
	if scenario := os.Getenv(childEnv); scenario != "" {
		if err := loadChild(scenario); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root, and CI runs as root")
		}
		t.Skip("needs root: loading a filter without no_new_privs takes CAP_SYS_ADMIN")
	}
}

func runChild(t *testing.T, scenario string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	profile, err := filepath.Abs("testdata/docker-default.json")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), childEnv+"="+scenario, profileEnv+"="+profile)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child %s: %v", scenario, err)
	}
	return string(out)
}

func TestLoadErrno(t *testing.T) {
	requireRoot(t)
	out := runChild(t, "errno")
	if !strings.Contains(out, "errno scenario ok") {
		t.Fatal("child did not finish its checks")
	}
}

func TestLoadDockerProfile(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip("no /bin/true to exec under the filter")
	}
	out := runChild(t, "docker")
	if !strings.Contains(out, "docker scenario ok") {
		t.Fatal("child did not finish its checks")
	}
}

// loadChild runs in the re-executed binary: it installs a filter on its
// locked thread and checks what the syscalls made from that thread return.
func loadChild(scenario string) error {
	runtime.LockOSThread() // never unlocked: the thread carries the filter
	switch scenario {
	case "errno":
		return errnoScenario()
	case "docker":
		return dockerScenario()
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

func expectErrno(what string, err error, want unix.Errno) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: got %v, want %v", what, err, want)
	}
	fmt.Printf("%s: %v as expected\n", what, want)
	return nil
}

func errnoScenario() error {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_TSYNC"},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getcwd"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.EPERM))},
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uptr(uint(unix.ENOSYS))},
		},
	}
	if err := Load(s); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	_, _, e := unix.Syscall(unix.SYS_GETCWD, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
	if err := expectErrno("getcwd", errnoErr(e), unix.EPERM); err != nil {
		return err
	}
	if err := expectErrno("mkdirat", unix.Mkdirat(unix.AT_FDCWD, "made-under-filter", 0o755), unix.ENOSYS); err != nil {
		return err
	}
	if _, err := os.Stat("made-under-filter"); !os.IsNotExist(err) {
		return fmt.Errorf("mkdirat reached the kernel: %v", err)
	}
	if pid := unix.Getpid(); pid != os.Getpid() {
		return fmt.Errorf("getpid under the filter returned %d", pid)
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname under the filter: %w", err)
	}
	// TSYNC was asked for but must not be used: only this thread is filtered.
	filtered, err := filteredThreads()
	if err != nil {
		return err
	}
	if len(filtered) != 1 || filtered[0] != unix.Gettid() {
		return fmt.Errorf("filtered threads %v, want only this one (%d)", filtered, unix.Gettid())
	}
	fmt.Println("errno scenario ok")
	return nil
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// filteredThreads lists the threads of this process in seccomp filter mode.
func filteredThreads() ([]int, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		if bytes.Contains(b, []byte("\nSeccomp:\t2\n")) {
			var tid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &tid)
			out = append(out, tid)
		}
	}
	return out, nil
}

func dockerScenario() error {
	b, err := os.ReadFile(os.Getenv(profileEnv))
	if err != nil {
		return err
	}
	var s *specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if err := Load(s); err != nil {
		return err
	}
	if err := expectErrno("mount", unix.Mount("none", "no-such-dir", "tmpfs", 0, ""), unix.EPERM); err != nil {
		return err
	}
	_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	if err := expectErrno("clone3", errnoErr(e), unix.ENOSYS); err != nil {
		return err
	}
	_, _, e = unix.Syscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0) // READ_IMPLIES_EXEC
	if err := expectErrno("personality(READ_IMPLIES_EXEC)", errnoErr(e), unix.EPERM); err != nil {
		return err
	}
	if _, _, e = unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0); e != 0 {
		return fmt.Errorf("personality query: %v", e)
	}
	_, err = unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	if err := expectErrno("socket(AF_VSOCK)", err, unix.EPERM); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fmt.Errorf("socket(AF_UNIX): %w", err)
	}
	unix.Close(fd)
	fmt.Println("docker scenario ok")
	// The filter survives execve: /bin/true has to start under it.
	return unix.Exec("/bin/true", []string{"true"}, os.Environ())
}
