package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// activatedListeners are the sockets systemd passed (socket activation:
// LISTEN_PID, LISTEN_FDS, descriptors from 3): all of them for "fd://",
// one for "fd://N". The variables are cleared so the daemon's children
// (shims, runtimes) do not take the sockets for theirs.
func activatedListeners(addr string) ([]net.Listener, error) {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if pid != os.Getpid() || n <= 0 {
		return nil, fmt.Errorf("-H %s: no sockets from systemd (LISTEN_PID/LISTEN_FDS not set for this process); start gorae.socket, or listen on unix:///run/gorae/gorae.sock", addr)
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	want := -1
	if rest := strings.TrimPrefix(addr, "fd://"); rest != "" {
		v, err := strconv.Atoi(rest)
		if err != nil || v < 3 || v >= 3+n {
			return nil, fmt.Errorf("-H %s: descriptor must be one of 3..%d from systemd", addr, 2+n)
		}
		want = v
	}
	var ls []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		syscall.CloseOnExec(fd)
		if want != -1 && fd != want {
			continue
		}
		f := os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("-H %s: descriptor %d is not a listening socket: %w", addr, fd, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
