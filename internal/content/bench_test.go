package content_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorae/gorae/internal/content"
)

// BenchmarkWrite measures WriteBlob (hash, buffered write, fsync, link) fed
// in io.Copy's 32 KiB pieces, as a download or decompressor feeds it.
// BenchmarkWriteBaseline copies the same bytes the same way to a plain file
// with fsync: the physical reference on this disk, so the ratio is the
// store's cost.
func BenchmarkWrite(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 20, 64 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			s, err := content.NewLocal(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			rand.Read(data)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Vary one byte so every iteration writes a new blob.
				data[0], data[1] = byte(i), byte(i>>8)
				if _, _, err := content.WriteBlob(context.Background(), s, stream(data), int64(size), ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteBaseline(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 20, 64 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			dir := b.TempDir()
			data := make([]byte, size)
			rand.Read(data)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(f, stream(data))
				f.Sync()
				f.Close()
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// stream hides bytes.Reader's WriterTo, so copies go in 32 KiB pieces.
func stream(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} }
