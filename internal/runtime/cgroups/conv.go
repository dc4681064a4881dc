package cgroups

import (
	"errors"
	"strconv"
)

// sharesToWeight maps v1 cpu.shares [2, 262144] linearly onto v2 cpu.weight
// [1, 10000], as runc and crun do, so both runtimes give a container the
// same weight. 0 means unset.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// blkioWeightToIOWeight maps v1 blkio.weight [10, 1000] onto v2 io.weight
// [1, 10000]. 0 means unset.
func blkioWeightToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	v := uint64(w)
	if v < 10 {
		v = 10
	}
	if v > 1000 {
		v = 1000
	}
	return 1 + (v-10)*9999/990
}

// swapV2 converts the spec's swap (a v1-style memory+swap total) into v2
// memory.swap.max (swap alone). It reports whether memory.swap.max is to be
// written; -1 means "max".
func swapV2(limit, swap int64) (int64, bool, error) {
	// Unlimited memory with swap unset: unlimited swap too, as on v1.
	if limit == -1 && swap == 0 {
		return -1, true, nil
	}
	if swap == 0 {
		return 0, false, nil
	}
	if swap == -1 {
		return -1, true, nil
	}
	if limit == 0 || limit == -1 {
		return 0, false, errors.New("cgroups: memory.swap needs a memory.limit")
	}
	if limit < 0 {
		return 0, false, errors.New("cgroups: invalid memory.limit " + strconv.FormatInt(limit, 10))
	}
	if swap < limit {
		return 0, false, errors.New("cgroups: memory.swap (memory+swap) " + strconv.FormatInt(swap, 10) +
			" is below memory.limit " + strconv.FormatInt(limit, 10))
	}
	return swap - limit, true, nil
}

// cpuMax builds cpu.max ("$QUOTA $PERIOD"); "" when neither is set. A
// missing period keeps the cgroup's current one.
func cpuMax(quota *int64, period *uint64) string {
	var q int64
	var p uint64
	if quota != nil {
		q = *quota
	}
	if period != nil {
		p = *period
	}
	if q == 0 && p == 0 {
		return ""
	}
	s := "max"
	if q > 0 {
		s = strconv.FormatInt(q, 10)
	}
	if p != 0 {
		s += " " + strconv.FormatUint(p, 10)
	}
	return s
}
