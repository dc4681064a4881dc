package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// value is one side of a figure: samples in unit, or why there are none.
type value struct {
	samples []float64
	unit    string // "ms", "MiB", "s"
	status  string // "" if measured; else "not measured: ...", "failed: ...", "—"
}

func notMeasured(reason string) value { return value{status: "not measured: " + reason} }

func failed(err error) value { return value{status: "failed: " + err.Error()} }

func (v value) ok() bool { return v.status == "" && len(v.samples) > 0 }

func (v value) median() float64 { return quantile(v.samples, 0.5) }

func (v value) p90() float64 { return quantile(v.samples, 0.9) }

// quantile: the median interpolates between the middle two; other quantiles
// use the nearest rank (p90 of 10 samples is the 9th smallest).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if q == 0.5 {
		n := len(s)
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	i := int(math.Ceil(q*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

func (v value) String() string {
	if v.status != "" {
		return v.status
	}
	if len(v.samples) == 0 {
		return "—"
	}
	if len(v.samples) == 1 {
		return fmtNum(v.samples[0]) + " " + v.unit
	}
	return fmt.Sprintf("%s %s (p90 %s, n=%d)", fmtNum(v.median()), v.unit, fmtNum(v.p90()), len(v.samples))
}

func fmtNum(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.Abs(x) >= 100:
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// target is what the issue asks of a ratio gorae/peer.
type target struct {
	max float64 // the ratio must be at most this; 0 means no target
}

func (t target) String() string {
	if t.max == 0 {
		return "—"
	}
	return fmt.Sprintf("≤ %sx", strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", t.max), "0"), "."))
}

// row is one line of the table: gorae against one peer on one figure.
type row struct {
	figure    string
	gorae     value
	peer      string
	peerValue value
	target    target
}

func (r row) ratio() (float64, bool) {
	if !r.gorae.ok() || !r.peerValue.ok() || r.peerValue.median() == 0 {
		return 0, false
	}
	return r.gorae.median() / r.peerValue.median(), true
}

func (r row) verdict() string {
	x, ok := r.ratio()
	if !ok || r.target.max == 0 {
		return "—"
	}
	if x <= r.target.max {
		return "meets"
	}
	return "misses"
}

// side is one contestant of an alternating measurement.
type side struct {
	name string
	peer bool // a peer that fails its warm-up is "not measured", gorae "failed"
	// preset, when its status is set, is the side's outcome: it is not run.
	preset value
	// once runs the thing measured once (iteration i) and returns its
	// duration; an error fails the side.
	once func(i int) (time.Duration, error)
}

// alternate runs the sides in turns, A B C, B C A, C A B, ... (each side once
// per turn, the first rotating, so that no side always runs first or always
// after the same one), n turns after the warm-up turns, and returns each
// side's latencies in ms. A side whose run fails stops there and reports the
// failure; the others go on.
func (b *bench) alternate(what string, sides []side, warmup, n int) map[string]value {
	out := map[string]value{}
	live := map[string]bool{}
	for _, s := range sides {
		if s.preset.status != "" {
			out[s.name] = s.preset
			continue
		}
		if s.once == nil {
			out[s.name] = failed(fmt.Errorf("%s: nothing to run", s.name))
			continue
		}
		live[s.name] = true
		out[s.name] = value{unit: "ms"}
	}
	fail := func(s side, err error, warm bool) {
		delete(live, s.name)
		if warm && s.peer {
			out[s.name] = notMeasured(err.Error())
		} else {
			out[s.name] = failed(err)
		}
		b.logf("%s: %s: %v", what, s.name, err)
	}
	for i := 0; i < warmup+n; i++ {
		if b.ctx.Err() != nil {
			for name := range live {
				out[name] = value{status: "failed: interrupted"}
			}
			return out
		}
		for _, s := range rotate(sides, i) {
			if !live[s.name] {
				continue
			}
			d, err := s.once(i)
			if err != nil {
				fail(s, err, i < warmup)
				continue
			}
			if i >= warmup {
				v := out[s.name]
				v.samples = append(v.samples, float64(d)/float64(time.Millisecond))
				out[s.name] = v
			}
		}
		if (i+1-warmup)%20 == 0 && i >= warmup {
			b.logf("%s: %d/%d", what, i+1-warmup, n)
		}
	}
	return out
}

// rotate returns xs starting at index i mod len(xs).
func rotate[T any](xs []T, i int) []T {
	if len(xs) == 0 {
		return xs
	}
	i %= len(xs)
	return append(append([]T{}, xs[i:]...), xs[:i]...)
}
