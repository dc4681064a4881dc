package snapshot

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// The benchmark layer: about 200 MB of gzip (GORAE_BENCH_LAYER_MB to
// change), many files of mixed sizes and compressibility, generated from a
// fixed seed into a temporary directory that TestMain removes, or kept at
// $GORAE_BENCH_LAYER across runs. Never in the repository.
var benchLayerFile struct {
	once           sync.Once
	dir, path      string
	tarSize, gzLen int64
	files          int
	err            error
}

func cleanupBench() {
	if benchLayerFile.dir != "" {
		os.RemoveAll(benchLayerFile.dir)
	}
}

func benchLayer(b *testing.B) (path string, tarSize, gzSize int64) {
	l := &benchLayerFile
	l.once.Do(func() {
		mb := 200
		if v, err := strconv.Atoi(os.Getenv("GORAE_BENCH_LAYER_MB")); err == nil && v > 0 {
			mb = v
		}
		if keep := os.Getenv("GORAE_BENCH_LAYER"); keep != "" {
			// A layer kept between runs (it takes seconds to generate);
			// the caller removes it.
			l.path = keep
			if fi, err := os.Stat(keep); err == nil {
				l.gzLen = fi.Size()
				l.tarSize, l.err = tarSizeOf(keep)
				return
			}
		} else {
			l.dir, l.err = os.MkdirTemp("", "gorae-snapshot-bench-")
			if l.err != nil {
				return
			}
			l.path = filepath.Join(l.dir, "layer.tar.gz")
		}
		start := time.Now()
		l.tarSize, l.gzLen, l.files, l.err = writeBenchLayer(l.path, int64(mb)<<20)
		b.Logf("generated %s: %d files, %.0f MB tar, %.0f MB gzip, in %v",
			l.path, l.files, float64(l.tarSize)/1e6, float64(l.gzLen)/1e6, time.Since(start).Round(time.Millisecond))
	})
	if l.err != nil {
		b.Fatalf("generating the benchmark layer: %v", l.err)
	}
	return l.path, l.tarSize, l.gzLen
}

func tarSizeOf(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, err
	}
	return io.Copy(io.Discard, zr)
}

// benchWorkDir is where benchmarks unpack: a temporary directory, or one
// under $GORAE_BENCH_DIR to measure another filesystem (a tmpfs takes the
// disk out and leaves the CPU work).
func benchWorkDir(b *testing.B) string {
	parent := os.Getenv("GORAE_BENCH_DIR")
	if parent == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeBenchLayer writes files until the gzip output reaches gzTarget:
// a realistic mix of many small files and a few large ones, some text-like
// (compressible about 3:1), some random (incompressible), plus symlinks and
// hard links.
func writeBenchLayer(path string, gzTarget int64) (tarSize, gzSize int64, files int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	gzOut := &countWriter{w: bufio.NewWriterSize(f, 1<<20)}
	zw := gzip.NewWriter(gzOut)
	tarOut := &countWriter{w: zw}
	tw := tar.NewWriter(tarOut)

	chacha := rand.NewChaCha8([32]byte{'g', 'o', 'r', 'a', 'e'})
	rng := rand.New(chacha)
	// A corpus of words: text files are windows into it.
	words := make([]string, 800)
	for i := range words {
		w := make([]byte, 2+rng.IntN(9))
		for j := range w {
			w[j] = 'a' + byte(rng.IntN(26))
		}
		words[i] = string(w)
	}
	corpus := make([]byte, 0, 8<<20)
	for len(corpus) < 8<<20 {
		corpus = append(corpus, words[rng.IntN(len(words))]...)
		if rng.IntN(12) == 0 {
			corpus = append(corpus, '\n')
		} else {
			corpus = append(corpus, ' ')
		}
	}
	random := make([]byte, 32<<20)
	chacha.Read(random)

	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	hdr := func(h *tar.Header) error {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		return tw.WriteHeader(h)
	}
	for d := range 40 {
		for s := range 6 {
			name := fmt.Sprintf("usr/d%02d/s%d/", d, s)
			if s == 0 {
				if err := hdr(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("usr/d%02d/", d), Mode: 0o755}); err != nil {
					return 0, 0, 0, err
				}
			}
			if err := hdr(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	var last string
	for i := 0; gzOut.n < gzTarget; i++ {
		var size int
		// Sizes as in a distribution's /usr: mostly small files, the
		// bytes mostly in a few large ones.
		switch p := rng.IntN(1000); {
		case p < 750:
			size = 100 + rng.IntN(8<<10)
		case p < 970:
			size = 8<<10 + rng.IntN(56<<10)
		case p < 997:
			size = 64<<10 + rng.IntN(960<<10)
		default:
			size = 1<<20 + rng.IntN(15<<20)
		}
		pool := random
		if rng.IntN(100) < 55 {
			pool = corpus
		}
		size = min(size, len(pool))
		off := rng.IntN(len(pool) - size + 1)
		src := pool[off : off+size]
		name := fmt.Sprintf("usr/d%02d/s%d/f%06d", rng.IntN(40), rng.IntN(6), i)
		if err := hdr(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(src))}); err != nil {
			return 0, 0, 0, err
		}
		if _, err := tw.Write(src); err != nil {
			return 0, 0, 0, err
		}
		files++
		if i%100 == 50 {
			if err := hdr(&tar.Header{Typeflag: tar.TypeSymlink, Name: name + ".sym", Linkname: "../s0/x", Mode: 0o777}); err != nil {
				return 0, 0, 0, err
			}
			if err := hdr(&tar.Header{Typeflag: tar.TypeLink, Name: name + ".lnk", Linkname: last, Mode: 0o644}); err != nil {
				return 0, 0, 0, err
			}
		}
		last = name
	}
	if err := tw.Close(); err != nil {
		return 0, 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, 0, err
	}
	if err := gzOut.w.(*bufio.Writer).Flush(); err != nil {
		return 0, 0, 0, err
	}
	return tarOut.n, gzOut.n, files, f.Close()
}

// BenchmarkApply unpacks the layer with Apply and with `tar -xzf` (GNU tar
// running gzip, the physical reference on this disk), alternating, each
// into a fresh directory after a sync, and reports both in MB of gzip per
// second.
func BenchmarkApply(b *testing.B) {
	requireRoot(b)
	layer, tarSize, gzSize := benchLayer(b)
	work := benchWorkDir(b)
	var goraeT, tarT time.Duration
	n := 0
	runGorae := func(dir string) {
		f, err := os.Open(layer)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		start := time.Now()
		if _, err := Apply(b.Context(), dir, f); err != nil {
			b.Fatal(err)
		}
		goraeT += time.Since(start)
	}
	runTar := func(dir string) {
		start := time.Now()
		if out, err := exec.Command("tar", "-xzf", layer, "-C", dir).CombinedOutput(); err != nil {
			b.Fatalf("tar: %v %s", err, out)
		}
		tarT += time.Since(start)
	}
	for b.Loop() {
		n++
		for i, run := range []func(string){runGorae, runTar} {
			if n%2 == 0 {
				run = []func(string){runTar, runGorae}[i]
			}
			dir := filepath.Join(work, "x")
			os.Mkdir(dir, 0o755)
			unix.Sync()
			run(dir)
			os.RemoveAll(dir)
		}
	}
	mb := float64(gzSize) / 1e6 * float64(n)
	b.ReportMetric(mb/goraeT.Seconds(), "gorae-MB/s")
	b.ReportMetric(mb/tarT.Seconds(), "tar-MB/s")
	b.ReportMetric(float64(tarSize)/1e6, "tar-MB")
	b.ReportMetric(float64(gzSize)/1e6, "gzip-MB")
}

// BenchmarkApplyReadAhead measures what decompressing on a goroutine of its
// own buys over decompressing in line.
func BenchmarkApplyReadAhead(b *testing.B) {
	requireRoot(b)
	layer, _, gzSize := benchLayer(b)
	for _, ra := range []bool{true, false} {
		b.Run(fmt.Sprintf("readahead=%v", ra), func(b *testing.B) {
			b.SetBytes(gzSize)
			work := benchWorkDir(b)
			for b.Loop() {
				b.StopTimer()
				dir := filepath.Join(work, "x")
				os.RemoveAll(dir)
				os.Mkdir(dir, 0o755)
				unix.Sync()
				f, _ := os.Open(layer)
				b.StartTimer()
				_, err := Apply(b.Context(), dir, f, func(c *applyConfig) { c.readAhead = ra })
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecompress is the ceiling: gzip alone, hashing included, no
// files written.
func BenchmarkDecompress(b *testing.B) {
	layer, _, gzSize := benchLayer(b)
	b.SetBytes(gzSize)
	for b.Loop() {
		f, _ := os.Open(layer)
		src, _, err := decompress(f)
		if err != nil {
			b.Fatal(err)
		}
		hr := &hashReader{r: src, h: sha256.New()}
		io.Copy(io.Discard, hr)
		src.Close()
		f.Close()
	}
}
