package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"plain", "tab\tquote\"back\\slash\n", "<html>&", "\x00\x01\x1f", "héllo ☃", "bad\xffutf8", "\u2028\u2029"} {
		want, _ := json.Marshal(s)
		if strings.Contains(s, "\xff") {
			want = []byte(`"bad\ufffdutf8"`)
		}
		if got := appendJSONString(nil, []byte(s)); string(got) != string(want) {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, err := NewWriter(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	i := 0
	w.now = func() time.Time { i++; return base.Add(time.Duration(i) * time.Second) }
	w.Copy("stdout", strings.NewReader("one\ntwo\nno newline"))
	w.Write("stderr", []byte("err\n"))
	w.Close()
	b, _ := os.ReadFile(p)
	first := strings.SplitN(string(b), "\n", 2)[0]
	if first != `{"log":"one\n","stream":"stdout","time":"2026-01-02T03:04:06.000000006Z"}` {
		t.Errorf("line format: %s", first)
	}
	all, err := ReadAll(p, ReadOptions{Tail: -1})
	if err != nil || len(all) != 4 || all[2].Log != "no newline" || all[3].Stream != "stderr" {
		t.Fatalf("ReadAll = %+v, %v", all, err)
	}
	tail, _ := ReadAll(p, ReadOptions{Tail: 2})
	if len(tail) != 2 || tail[0].Log != "no newline" {
		t.Errorf("tail 2 = %+v", tail)
	}
	since, _ := ReadAll(p, ReadOptions{Tail: -1, Since: base.Add(2 * time.Second)})
	if len(since) != 3 {
		t.Errorf("since = %+v", since)
	}
}

func TestLongLinesSplit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l.log")
	w, _ := NewWriter(p, Options{})
	long := strings.Repeat("x", 40*1024) + "\n"
	w.Copy("stdout", strings.NewReader(long))
	w.Close()
	all, _ := ReadAll(p, ReadOptions{Tail: -1})
	var joined strings.Builder
	for _, e := range all {
		joined.WriteString(e.Log)
		if len(e.Log) > maxLine {
			t.Errorf("piece of %d bytes", len(e.Log))
		}
	}
	if len(all) != 3 || joined.String() != long {
		t.Errorf("%d pieces, joined ok=%v", len(all), joined.String() == long)
	}
}

func TestRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.log")
	w, _ := NewWriter(p, Options{MaxSize: 1000, MaxFile: 3})
	for i := 0; i < 100; i++ {
		w.Write("stdout", []byte(strings.Repeat("a", 50)+"\n"))
	}
	w.Close()
	for _, f := range []string{p, p + ".1", p + ".2"} {
		fi, err := os.Stat(f)
		if err != nil || fi.Size() > 1000 {
			t.Errorf("%s: %v size %d", f, err, fi.Size())
		}
	}
	if _, err := os.Stat(p + ".3"); err == nil {
		t.Error("more than max-file files kept")
	}
	all, _ := ReadAll(p, ReadOptions{Tail: -1})
	if len(all) == 0 || len(all) >= 100 {
		t.Errorf("%d entries after rotation", len(all))
	}
	// Single file: truncated in place.
	p2 := filepath.Join(t.TempDir(), "one.log")
	w2, _ := NewWriter(p2, Options{MaxSize: 500, MaxFile: 1})
	for i := 0; i < 50; i++ {
		w2.Write("stdout", []byte("line\n"))
	}
	w2.Close()
	if fi, _ := os.Stat(p2); fi.Size() > 500 {
		t.Errorf("single file grew to %d", fi.Size())
	}
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions(map[string]string{"max-size": "10m", "max-file": "3"})
	if err != nil || o.MaxSize != 10_000_000 || o.MaxFile != 3 {
		t.Errorf("%+v %v", o, err)
	}
	for _, bad := range []map[string]string{{"max-size": "x"}, {"max-file": "0"}, {"max-file": "2"}, {"bogus": "1"}} {
		if _, err := ParseOptions(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestMalformedLinesSkipped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.log")
	os.WriteFile(p, []byte(`{"log":"ok\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}`+"\n"+`{"log":"cut`), 0o644)
	all, err := ReadAll(p, ReadOptions{Tail: -1})
	if err != nil || len(all) != 1 {
		t.Errorf("%+v %v", all, err)
	}
}

func BenchmarkWrite(b *testing.B) {
	w, _ := NewWriter(filepath.Join(b.TempDir(), "b.log"), Options{})
	line := []byte("a typical log line of a container, about eighty bytes long, with a newline\n")
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		w.Write("stdout", line)
	}
}

func TestFollowSeesNewLinesAndRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.log")
	// Rotation every ~3 lines, slower than the 100 ms poll: a follower
	// that polls can only lose lines if a file rotates twice within one
	// poll (documented on Follow).
	w, _ := NewWriter(p, Options{MaxSize: 350, MaxFile: 2})
	w.Write("stdout", []byte("old\n"))
	after := time.Now().Add(-time.Hour)
	var got []string
	stop := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			time.Sleep(50 * time.Millisecond)
			w.Write("stdout", []byte(fmt.Sprintf("line %d padded to rotate soon.....................\n", i)))
		}
		time.Sleep(150 * time.Millisecond)
		close(stop)
	}()
	finished := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	err := Follow(context.Background(), p, after, func(e Entry) error { got = append(got, e.Log); return nil }, finished)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 || got[0] != "old\n" {
		t.Errorf("followed %d lines: %q", len(got), got)
	}
}
