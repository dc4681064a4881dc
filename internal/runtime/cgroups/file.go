package cgroups

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FileError reports a failed access to one cgroup file, naming the file and,
// for writes, the value, in the form crun uses:
//
//	write /sys/fs/cgroup/memory/x/memory.limit_in_bytes: 1048576: device or resource busy
type FileError struct {
	Op    string // "read" or "write"
	Path  string
	Value string // the value written; empty for reads
	Err   error  // usually a unix.Errno, so errors.Is(err, fs.ErrNotExist) works
}

func (e *FileError) Error() string {
	if e.Op == "write" {
		return e.Op + " " + e.Path + ": " + e.Value + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Path + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// traceWrite, when set by a test, sees every value written, in order; cgroup
// files such as devices.allow take several writes that a file's final
// content cannot show.
var traceWrite func(path, value string)

// writeFile writes value to dir/name with a single write(2): cgroupfs takes
// one value per write, and raw syscalls keep the kernel's errno intact for
// the error message. O_TRUNC makes a fake cgroupfs of plain files behave.
func writeFile(dir, name, value string) error {
	path := dir + "/" + name
	if traceWrite != nil {
		traceWrite(path, value)
	}
	fd, err := openRetry(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC)
	if err != nil {
		return &FileError{Op: "write", Path: path, Value: value, Err: err}
	}
	defer unix.Close(fd)
	b := []byte(value)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &FileError{Op: "write", Path: path, Value: value, Err: err}
		}
		b = b[n:]
	}
	return nil
}

// readFile returns the content of dir/name. Cgroup files are small; one
// buffer usually suffices.
func readFile(dir, name string) (string, error) {
	path := dir + "/" + name
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return "", &FileError{Op: "read", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &FileError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return string(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readUint reads a single unsigned value; "max" reads as math.MaxUint64.
func readUint(dir, name string) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	return parseUint(dir+"/"+name, strings.TrimSpace(s))
}

func parseUint(path, s string) (uint64, error) {
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Negative values (v1 cpu.cfs_quota_us = -1) mean "no limit".
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, &FileError{Op: "read", Path: path, Err: errors.New("cannot parse " + strconv.Quote(s))}
	}
	return v, nil
}

// forEachKV calls fn for each "key value" line, as in memory.stat or cpu.stat.
func forEachKV(content string, fn func(key, value string)) {
	for len(content) > 0 {
		line := content
		if i := strings.IndexByte(content, '\n'); i >= 0 {
			line, content = content[:i], content[i+1:]
		} else {
			content = ""
		}
		k, v, ok := strings.Cut(line, " ")
		if ok {
			fn(k, strings.TrimSpace(v))
		}
	}
}

func isNotExist(err error) bool {
	return errors.Is(err, unix.ENOENT)
}

// openFiles keeps cgroup files open across several writes to the same
// file (one per device rule): opening and closing a kernfs file costs
// several times more than a write, and each write(2) is still parsed on
// its own.
type openFiles struct {
	dir string
	fds map[string]int
}

func (o *openFiles) write(name, value string) error {
	path := o.dir + "/" + name
	if traceWrite != nil {
		traceWrite(path, value)
	}
	fd, ok := o.fds[name]
	if !ok {
		var err error
		if fd, err = openRetry(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC); err != nil {
			return &FileError{Op: "write", Path: path, Value: value, Err: err}
		}
		if o.fds == nil {
			o.fds = map[string]int{}
		}
		o.fds[name] = fd
	}
	for {
		n, err := unix.Write(fd, []byte(value))
		if err == unix.EINTR {
			continue
		}
		if err == nil && n != len(value) {
			err = unix.EIO // cgroupfs takes a value whole or not at all
		}
		if err != nil {
			return &FileError{Op: "write", Path: path, Value: value, Err: err}
		}
		return nil
	}
}

func (o *openFiles) close() {
	for _, fd := range o.fds {
		unix.Close(fd)
	}
}
