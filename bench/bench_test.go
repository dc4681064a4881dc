package main

import (
	"errors"
	"strings"
	"testing"
)

func TestQuantile(t *testing.T) {
	cases := []struct {
		xs     []float64
		q, out float64
	}{
		{[]float64{3, 1, 2}, 0.5, 2},
		{[]float64{4, 1, 3, 2}, 0.5, 2.5},
		{[]float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0.9, 9},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0.9, 10},
		{[]float64{7}, 0.9, 7},
	}
	for _, c := range cases {
		if got := quantile(c.xs, c.q); got != c.out {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.xs, c.q, got, c.out)
		}
	}
}

func TestLogMsg(t *testing.T) {
	cases := map[string]string{
		`time="2025-01-01T00:00:00Z" level=error msg="container_linux.go:380: starting container process caused: exec: \"x\": not found"`: `container_linux.go:380: starting container process caused: exec: "x": not found`,
		`time=2026-11-23T18:02:54.343Z level=error msg="start container c1: set capabilities: operation not permitted"`:                   "start container c1: set capabilities: operation not permitted",
		`level=error msg=plain rest=1`:                                             "plain",
		`cgroups in hybrid mode not supported, drop all controllers from cgroupv2`: "cgroups in hybrid mode not supported, drop all controllers from cgroupv2",
		`the msg= here is not logfmt`:                                              "the msg= here is not logfmt",
	}
	for in, want := range cases {
		if got := logMsg(in); got != want {
			t.Errorf("logMsg(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrLine(t *testing.T) {
	if got := errLine([]byte("first\nsecond\n\n  \n"), []byte("stdout")); got != "second" {
		t.Errorf("errLine = %q", got)
	}
	if got := errLine(nil, []byte("from stdout\n")); got != "from stdout" {
		t.Errorf("errLine (stdout) = %q", got)
	}
	if got := errLine([]byte(strings.Repeat("x", 300))); len(got) != 200 {
		t.Errorf("errLine did not truncate: %d", len(got))
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/tmp/a\040b/c\011d`); got != "/tmp/a b/c\td" {
		t.Errorf("unescapeMount = %q", got)
	}
	if got := unescapeMount(`/tmp/x\04`); got != `/tmp/x\04` {
		t.Errorf("unescapeMount (short) = %q", got)
	}
}

func TestRowVerdict(t *testing.T) {
	ms := func(xs ...float64) value { return value{samples: xs, unit: "ms"} }
	cases := []struct {
		r       row
		ratio   string
		verdict string
	}{
		{row{gorae: ms(10, 20, 30), peerValue: ms(40, 40, 40), target: target{max: 0.5}}, "0.50x", "meets"},
		{row{gorae: ms(30), peerValue: ms(40), target: target{max: 0.5}}, "0.75x", "misses"},
		{row{gorae: ms(30), peerValue: ms(10)}, "3.00x", "—"},
		{row{gorae: failed(errors.New("boom")), peerValue: ms(10), target: target{max: 1}}, "—", "—"},
		{row{gorae: ms(1), peerValue: notMeasured("x"), target: target{max: 1}}, "—", "—"},
	}
	for i, c := range cases {
		tab := table([]row{c.r})
		line := strings.Split(strings.TrimSpace(tab), "\n")[2]
		cells := strings.Split(line, " | ")
		if cells[4] != c.ratio || strings.TrimSuffix(cells[6], " |") != c.verdict {
			t.Errorf("case %d: got %q", i, line)
		}
	}
}

func TestTableEscapes(t *testing.T) {
	tab := table([]row{{figure: "a|b", gorae: failed(errors.New("x|y\nz")), peer: "p", peerValue: value{status: "—"}}})
	if !strings.Contains(tab, `a\|b`) || !strings.Contains(tab, `failed: x\|y z`) {
		t.Errorf("not escaped:\n%s", tab)
	}
}

func TestTargetString(t *testing.T) {
	for _, c := range []struct {
		t    target
		want string
	}{{target{}, "—"}, {target{max: 0.5}, "≤ 0.5x"}, {target{max: 3}, "≤ 3x"}, {target{max: 1}, "≤ 1x"}} {
		if got := c.t.String(); got != c.want {
			t.Errorf("%v: %q, want %q", c.t.max, got, c.want)
		}
	}
}

func TestValueString(t *testing.T) {
	v := value{samples: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, unit: "ms"}
	if got := v.String(); got != "5.50 ms (p90 9.00, n=10)" {
		t.Errorf("value = %q", got)
	}
	if got := (value{samples: []float64{123.4}, unit: "MiB"}).String(); got != "123 MiB" {
		t.Errorf("single = %q", got)
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	for i, want := range []string{"abc", "bca", "cab", "abc"} {
		if got := strings.Join(rotate(xs, i), ""); got != want {
			t.Errorf("rotate(%d) = %s, want %s", i, got, want)
		}
	}
	if len(rotate([]int(nil), 3)) != 0 {
		t.Error("rotate(nil)")
	}
}
