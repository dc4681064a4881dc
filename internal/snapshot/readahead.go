package snapshot

import (
	"errors"
	"io"
	"sync"
)

// readAhead reads its source on a goroutine of its own, a few chunks ahead
// of the consumer. For a layer, the source is the decompressor and the
// consumer writes files: on two cores inflating and extracting then overlap
// instead of taking turns, as `tar -xz` gets from running gzip in a second
// process. (klauspost/pgzip is this same structure around gzip.)
type readAhead struct {
	full chan chunk
	free chan []byte
	stop chan struct{}
	done sync.WaitGroup

	cur  chunk
	off  int
	err  error
	once sync.Once
}

type chunk struct {
	b   []byte
	err error
}

func newReadAhead(r io.Reader, size, n int) *readAhead {
	ra := &readAhead{
		full: make(chan chunk, n),
		free: make(chan []byte, n),
		stop: make(chan struct{}),
	}
	for range n {
		ra.free <- make([]byte, size)
	}
	ra.done.Add(1)
	go ra.fill(r)
	return ra
}

func (ra *readAhead) fill(r io.Reader) {
	defer ra.done.Done()
	for {
		var b []byte
		select {
		case b = <-ra.free:
		case <-ra.stop:
			return
		}
		n, err := io.ReadFull(r, b)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		select {
		case ra.full <- chunk{b[:n], err}:
		case <-ra.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off == len(ra.cur.b) {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.cur.b != nil {
			ra.free <- ra.cur.b[:cap(ra.cur.b)]
		}
		ra.cur, ra.off = <-ra.full, 0
		ra.err = ra.cur.err
	}
	n := copy(p, ra.cur.b[ra.off:])
	ra.off += n
	return n, nil
}

// Close stops the reading goroutine and waits for it, so the source is no
// longer read once Close returns.
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.stop) })
	ra.done.Wait()
	return nil
}
