package cgroups

import "testing"

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{
		0: 0, 1: 1, 2: 1, 1024: 39, 512: 20, 262144: 10000, 300000: 10000, 100: 4,
	} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestBlkioWeightToIOWeight(t *testing.T) {
	for w, want := range map[uint16]uint64{0: 0, 10: 1, 1000: 10000, 500: 4950, 5: 1, 2000: 10000} {
		if got := blkioWeightToIOWeight(w); got != want {
			t.Errorf("blkioWeightToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}

func TestSwapV2(t *testing.T) {
	type res struct {
		v   int64
		set bool
		err bool
	}
	for _, c := range []struct {
		limit, swap int64
		want        res
	}{
		{0, 0, res{0, false, false}},
		{100, 0, res{0, false, false}},
		{-1, 0, res{-1, true, false}},
		{100, -1, res{-1, true, false}},
		{100, 100, res{0, true, false}},
		{100, 300, res{200, true, false}},
		{100, 50, res{0, false, true}},
		{0, 100, res{0, false, true}},
		{-1, 100, res{0, false, true}},
		{-5, 100, res{0, false, true}},
	} {
		v, set, err := swapV2(c.limit, c.swap)
		got := res{v, set, err != nil}
		if got != c.want {
			t.Errorf("swapV2(%d, %d) = %+v (%v), want %+v", c.limit, c.swap, got, err, c.want)
		}
	}
}

func TestCPUMax(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	u := func(v uint64) *uint64 { return &v }
	for _, c := range []struct {
		q    *int64
		p    *uint64
		want string
	}{
		{nil, nil, ""},
		{i(0), u(0), ""},
		{i(50000), u(100000), "50000 100000"},
		{i(50000), nil, "50000"},
		{nil, u(100000), "max 100000"},
		{i(-1), u(100000), "max 100000"},
		{i(-1), nil, "max"},
	} {
		if got := cpuMax(c.q, c.p); got != c.want {
			t.Errorf("cpuMax(%v, %v) = %q, want %q", c.q, c.p, got, c.want)
		}
	}
}

func TestPidsMax(t *testing.T) {
	for l, want := range map[int64]string{-1: "max", 0: "max", 16: "16"} {
		if got := pidsMax(l); got != want {
			t.Errorf("pidsMax(%d) = %q", l, got)
		}
	}
}
