// Package unixsock listens on and dials unix sockets whose path is longer
// than sun_path allows (108 bytes): deep state directories make such
// paths, and the kernel would refuse them. A long path is reached through
// /proc/self/fd/N/NAME, N being an O_PATH descriptor of its directory.
package unixsock

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxPath leaves room for the terminating NUL the kernel wants.
const maxPath = 100

// Short returns an address for path that fits sun_path, and a function to
// call once the socket is bound or connected.
func Short(path string) (string, func(), error) {
	if len(path) < maxPath {
		return path, func() {}, nil
	}
	dir := filepath.Dir(path)
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open %s: %w", dir, err)
	}
	short := "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + filepath.Base(path)
	if len(short) >= maxPath {
		unix.Close(dfd)
		return "", nil, fmt.Errorf("socket name %q is too long", filepath.Base(path))
	}
	return short, func() { unix.Close(dfd) }, nil
}

// Listen listens on the unix socket at path, however long.
func Listen(path string) (*net.UnixListener, error) {
	addr, done, err := Short(path)
	if err != nil {
		return nil, err
	}
	defer done()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// Closing the listener must not try to unlink the /proc alias.
	l.SetUnlinkOnClose(false)
	return l, nil
}

// Dial connects to the unix socket at path, however long.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	addr, done, err := Short(path)
	if err != nil {
		return nil, err
	}
	defer done()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	return c, nil
}
