package volume

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/runtime"
)

func mountFlags(o string) (uintptr, string, error) {
	if o == "" {
		return 0, "", nil
	}
	return runtime.MountOptions(strings.Split(o, ","))
}

type sysMounter struct{}

func (sysMounter) mount(opts map[string]string, target string) error {
	flags, data, err := mountFlags(opts["o"])
	if err != nil {
		return err
	}
	typ := opts["type"]
	if err := unix.Mount(opts["device"], target, typ, flags, data); err != nil {
		return fmt.Errorf("mount(%s, %s, type %s, %q): %w", opts["device"], target, typ, opts["o"], err)
	}
	return nil
}

func (sysMounter) unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		// Still held by something we do not track (a shell's cwd):
		// detach, the kernel finishes when it is let go.
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("umount %s: %w", target, err)
	}
	return nil
}

// mounted says whether target is a mount point, from mountinfo.
func (sysMounter) mounted(target string) (bool, error) {
	if p, err := filepath.EvalSymlinks(target); err == nil {
		target = p
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == target {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + c - '0'
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
