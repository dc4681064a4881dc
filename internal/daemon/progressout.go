package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
)

// progressOut writes Docker's JSON message stream (pull, push): one
// object a line, flushed at once, from any goroutine.
type progressOut struct {
	mu      sync.Mutex
	w       io.Writer
	written bool
}

// started reports whether anything was written: until then an error can
// still be the request's HTTP status.
func (p *progressOut) started() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.written
}

func (p *progressOut) write(m jsonstream.Message, bar string) {
	p.writeErr(m, bar, "")
}

func (p *progressOut) writeErr(m jsonstream.Message, bar, errText string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(struct {
		jsonstream.Message
		// progress is the text form of progressDetail, which the CLI
		// shows when its output is not a terminal.
		Progress string `json:"progress,omitempty"`
		// error repeats errorDetail's message, as Docker sends it.
		ErrorText string `json:"error,omitempty"`
	}{m, bar, errText})
	p.written = true
	p.w.Write(append(b, '\r', '\n'))
	if f, ok := p.w.(interface{ Flush() }); ok {
		f.Flush()
	}
}

// status is a line without progress: {"status": …, "id": …}.
func (p *progressOut) status(id, status string) {
	p.write(jsonstream.Message{ID: id, Status: status}, "")
}

// layer is a layer's step: Docker sends progressDetail (empty if no
// counts) with every layer status, which the CLI's bars expect.
func (p *progressOut) layer(id, status string, current, total int64) {
	bar := ""
	if total > 0 {
		bar = progressBar(current, total)
	}
	p.write(jsonstream.Message{ID: id, Status: status, Progress: &jsonstream.Progress{Current: current, Total: total}}, bar)
}

func (p *progressOut) aux(v any) {
	raw, _ := json.Marshal(v)
	m := json.RawMessage(raw)
	p.write(jsonstream.Message{Progress: &jsonstream.Progress{}, Aux: &m}, "")
}

func (p *progressOut) error(err error) {
	p.writeErr(jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}}, "", err.Error())
}

// progressBar is Docker's text bar: "[=====>      ]  1.2MB/3.4MB".
func progressBar(current, total int64) string {
	const width = 50
	n := 0
	if total > 0 {
		n = int(min(current, total) * width / total)
	}
	bar := strings.Repeat("=", n)
	if n < width {
		bar += ">" + strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf("[%s] %8s/%s", bar, units.HumanSize(float64(current)), units.HumanSize(float64(total)))
}
