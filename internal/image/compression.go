package image

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compression is how an input stream (a `docker load` archive, a
// `docker import` tarball) is compressed, told by its first bytes as
// Docker's DecompressStream tells it.
type compression int

const (
	uncompressed compression = iota
	compressedGzip
	compressedZstd
	compressedBzip2
	compressedXz
)

func (c compression) String() string {
	switch c {
	case compressedGzip:
		return "gzip"
	case compressedZstd:
		return "zstd"
	case compressedBzip2:
		return "bzip2"
	case compressedXz:
		return "xz"
	}
	return "none"
}

var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// detectCompression tells the compression from the first six bytes.
func detectCompression(head []byte) compression {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return compressedGzip
	case bytes.HasPrefix(head, magicZstd):
		return compressedZstd
	case bytes.HasPrefix(head, magicBzip2):
		return compressedBzip2
	case bytes.HasPrefix(head, magicXz):
		return compressedXz
	}
	return uncompressed
}

// zstdMaxWindow bounds the memory a zstd frame may ask for: 128 MiB admits
// `zstd --long` (window log 27) and keeps a hostile header from reserving
// gigabytes (the snapshotter uses the same bound).
const zstdMaxWindow = 128 << 20

// decompress returns the uncompressed stream of r, whichever of tar, gzip,
// zstd, bzip2 or xz it is, as `docker load` and `docker import` accept.
// xz needs the xz program, as it does for Docker. Close releases the
// decoder; it does not close r.
func decompress(ctx context.Context, r io.Reader) (io.ReadCloser, compression, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(len(magicXz)) // a short input is a short tar: the tar reader says so
	c := detectCompression(head)
	switch c {
	case compressedGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("read gzip header: %w", err)
		}
		return zr, c, nil
	case compressedZstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, c, fmt.Errorf("start zstd decoder: %w", err)
		}
		return zr.IOReadCloser(), c, nil
	case compressedBzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	case compressedXz:
		rc, err := xzReader(ctx, br)
		return rc, c, err
	}
	return io.NopCloser(br), c, nil
}

// xzReader decompresses with the xz program: Go's standard library has no
// xz, and Docker shells out to xz as well.
func xzReader(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
	path, err := exec.LookPath("xz")
	if err != nil {
		return nil, errors.New("the input is xz-compressed and the xz program is not installed (apt-get install xz-utils, or decompress it first)")
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, path, "-d", "-c", "-q")
	cmd.Stdin = r
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("xz: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start xz: %w", err)
	}
	return &xzStream{out: out, cmd: cmd, cancel: cancel, stderr: &stderr}, nil
}

type xzStream struct {
	out    io.ReadCloser
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr *strings.Builder
	done   bool
	err    error
}

func (x *xzStream) Read(p []byte) (int, error) {
	if x.done {
		return 0, x.err
	}
	n, err := x.out.Read(p)
	if err == io.EOF {
		// The end of xz's output is the end of the stream only if xz
		// says the input was whole.
		x.done, x.err = true, io.EOF
		if werr := x.cmd.Wait(); werr != nil {
			x.err = fmt.Errorf("xz -d: %v: %s", werr, strings.TrimSpace(x.stderr.String()))
		}
		x.cancel()
		return n, x.err
	}
	return n, err
}

func (x *xzStream) Close() error {
	if !x.done {
		x.done, x.err = true, errors.New("xz stream closed")
		x.cancel()
		x.out.Close()
		x.cmd.Wait()
	}
	return nil
}
