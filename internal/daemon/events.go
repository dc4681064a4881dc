package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// eventLog keeps recent events for `since` queries and fans new ones out
// to subscribers. Slow subscribers lose events rather than stall the
// engine.
type eventLog struct {
	mu   sync.Mutex
	past []events.Message
	subs map[chan events.Message]struct{}
}

const eventHistory = 1024

func newEventLog() *eventLog { return &eventLog{subs: map[chan events.Message]struct{}{}} }

func (l *eventLog) publish(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := time.Now().UTC()
	m := events.Message{
		Type:     typ,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.past = append(l.past, m)
	if len(l.past) > eventHistory {
		l.past = append(l.past[:0], l.past[len(l.past)-eventHistory:]...)
	}
	for ch := range l.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// subscribe returns past events since `since` and a channel of new ones.
func (l *eventLog) subscribe(since time.Time) ([]events.Message, chan events.Message, func()) {
	ch := make(chan events.Message, 256)
	l.mu.Lock()
	var past []events.Message
	if !since.IsZero() {
		for _, m := range l.past {
			if m.TimeNano >= since.UnixNano() {
				past = append(past, m)
			}
		}
	}
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	return past, ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}

// eventMatches applies Docker's event filters: type, event/action,
// container/image/id, label (key or key=value).
func eventMatches(m events.Message, f map[string][]string) bool {
	anyOf := func(key string, match func(string) bool) bool {
		vals, ok := f[key]
		if !ok || len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if match(v) {
				return true
			}
		}
		return false
	}
	name := m.Actor.Attributes["name"]
	return anyOf("type", func(v string) bool { return string(m.Type) == v }) &&
		anyOf("event", func(v string) bool { return string(m.Action) == v || strings.HasPrefix(string(m.Action), v+":") }) &&
		anyOf("container", func(v string) bool {
			return m.Type == events.ContainerEventType && (strings.HasPrefix(m.Actor.ID, v) || name == v)
		}) &&
		anyOf("image", func(v string) bool {
			return m.Actor.Attributes["image"] == v || (m.Type == events.ImageEventType && (m.Actor.ID == v || name == v))
		}) &&
		anyOf("label", func(v string) bool {
			k, val, hasVal := strings.Cut(v, "=")
			got, ok := m.Actor.Attributes[k]
			return ok && (!hasVal || got == val)
		})
}

// Events implements the API's event stream.
func (d *Daemon) Events(ctx context.Context, since, until time.Time, filters map[string][]string) (<-chan events.Message, error) {
	past, ch, cancel := d.events.subscribe(since)
	out := make(chan events.Message, 64)
	go func() {
		defer close(out)
		defer cancel()
		send := func(m events.Message) bool {
			if !until.IsZero() && m.TimeNano > until.UnixNano() {
				return false
			}
			if !eventMatches(m, filters) {
				return true
			}
			select {
			case out <- m:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, m := range past {
			if !send(m) {
				return
			}
		}
		var timeout <-chan time.Time
		if !until.IsZero() {
			d := time.Until(until)
			if d <= 0 {
				return
			}
			timeout = time.After(d)
		}
		for {
			select {
			case m := <-ch:
				if !send(m) {
					return
				}
			case <-timeout:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
