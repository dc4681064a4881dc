package snapshot

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression of a layer blob, told by its first bytes, never by a media
// type: registries and docker save tars get media types wrong.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "none"
}

var (
	gzipMagic  = []byte{0x1f, 0x8b}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// DetectCompression tells the compression of a blob from its first bytes
// (six are enough). Formats OCI layers may not use are an error, so a
// bzip2 or xz layer fails with its name rather than as a broken tar.
func DetectCompression(head []byte) (Compression, error) {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip, nil
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd, nil
	case bytes.HasPrefix(head, bzip2Magic):
		return 0, fmt.Errorf("layer is bzip2-compressed: OCI layers are tar, gzip or zstd (recompress it with gzip)")
	case bytes.HasPrefix(head, xzMagic):
		return 0, fmt.Errorf("layer is xz-compressed: OCI layers are tar, gzip or zstd (recompress it with gzip)")
	}
	return Uncompressed, nil
}

// zstdMaxWindow bounds the memory a zstd frame may ask for: 128 MiB admits
// `zstd --long` (window log 27) and keeps a hostile header from reserving
// gigabytes.
const zstdMaxWindow = 128 << 20

// decompress returns the uncompressed stream of r and what it was.
func decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(len(xzMagic)) // short input is a short tar; the tar reader says so
	c, err := DetectCompression(head)
	if err != nil {
		return nil, 0, err
	}
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("reading gzip header: %w", err)
		}
		return zr, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, c, fmt.Errorf("starting zstd decoder: %w", err)
		}
		return zstdCloser{zr}, c, nil
	}
	return io.NopCloser(br), c, nil
}

// zstdCloser adapts Decoder.Close, which returns nothing, and stops its
// goroutines.
type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }
