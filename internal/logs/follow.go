package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"syscall"
	"time"
)

// Follow calls fn for every entry of path newer than after, then for
// each new one as it is written, until done() reports the writer has
// finished (checked after draining), fn returns an error, or ctx ends.
// It survives rotation by reopening the path when the file is replaced
// or truncated. Polling (every 100 ms) keeps it simple and needs no
// inotify watch per follower.
func Follow(ctx context.Context, path string, after time.Time, fn func(Entry) error, done func() bool) error {
	var (
		f   *os.File
		br  *bufio.Reader
		ino uint64
		off int64
	)
	open := func() error {
		if f != nil {
			f.Close()
		}
		var err error
		f, err = os.Open(path)
		if err != nil {
			f = nil
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err == nil {
			ino = st.Ino
		}
		br = bufio.NewReaderSize(f, 64*1024)
		off = 0
		return nil
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	if err := open(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var partial []byte
	// drain reads what the open file has beyond what we consumed.
	drain := func() error {
		if f == nil {
			return nil
		}
		for {
			line, err := br.ReadBytes('\n')
			off += int64(len(line))
			if len(line) > 0 && line[len(line)-1] == '\n' {
				line = append(partial, line...)
				partial = nil
				var e Entry
				if json.Unmarshal(line, &e) == nil && e.Time.After(after) {
					if ferr := fn(e); ferr != nil {
						return ferr
					}
					after = e.Time
				}
			} else if len(line) > 0 {
				partial = append(partial, line...)
			}
			if err != nil {
				return nil
			}
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		finished := done()
		if err := drain(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if finished {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// Rotation: the path now names another file, or ours shrank.
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err == nil && (f == nil || st.Ino != ino || st.Size < off) {
			// What the old file got before it was renamed away comes
			// first (a truncated one has nothing more to give).
			if err := drain(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			partial = nil
			open()
		}
	}
}
