package server

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
)

// BenchmarkPushPull pushes (monolithic POST) and pulls a 64 MiB blob over
// loopback HTTP: the registry's share of a push or pull.
func BenchmarkPushPull(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	d := digest.FromBytes(data)
	tr := newTestRegistry(b, Options{})
	b.Run("push", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := range b.N {
			res, err := http.Post(fmt.Sprintf("%s/v2/bench%d/blobs/uploads/?digest=%s", tr.url, i, d), "application/octet-stream", bytes.NewReader(data))
			if err != nil || res.StatusCode != 201 {
				b.Fatal(res, err)
			}
			res.Body.Close()
		}
	})
	b.Run("pull", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for range b.N {
			res, err := http.Get(fmt.Sprintf("%s/v2/bench0/blobs/%s", tr.url, d))
			if err != nil || res.StatusCode != 200 {
				b.Fatal(res, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
