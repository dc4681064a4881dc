package cgroups

import (
	"fmt"
	"math"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Device access bits, numbered as the BPF device program sees them.
const (
	accMknod = 1 << 0
	accRead  = 1 << 1
	accWrite = 1 << 2
	accAll   = accMknod | accRead | accWrite
)

// deviceRule is one validated entry of linux.resources.devices.
type deviceRule struct {
	allow  bool
	typ    byte  // 'a' (all), 'b' or 'c'
	major  int64 // -1 = any
	minor  int64 // -1 = any
	access uint8 // acc* bits
}

func parseDeviceRules(in []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	out := make([]deviceRule, 0, len(in))
	for i, d := range in {
		r := deviceRule{allow: d.Allow, major: -1, minor: -1}
		switch d.Type {
		case "", "a":
			r.typ = 'a'
		case "b", "c":
			r.typ = d.Type[0]
		default:
			return nil, fmt.Errorf("cgroups: devices[%d]: invalid type %q", i, d.Type)
		}
		if d.Major != nil && *d.Major >= 0 {
			r.major = *d.Major
		}
		if d.Minor != nil && *d.Minor >= 0 {
			r.minor = *d.Minor
		}
		// Type "a" is every device, whatever numbers come with it (the v1
		// kernel ignores them too).
		if r.typ == 'a' {
			r.major, r.minor = -1, -1
		}
		// Device numbers are 12+20 bits; anything larger is a typo and
		// would not fit the BPF program's 32-bit immediates.
		if r.major > math.MaxInt32 || r.minor > math.MaxInt32 {
			return nil, fmt.Errorf("cgroups: devices[%d]: device number %d:%d out of range", i, r.major, r.minor)
		}
		if d.Access == "" {
			r.access = accAll
		}
		for _, c := range d.Access {
			switch c {
			case 'r':
				r.access |= accRead
			case 'w':
				r.access |= accWrite
			case 'm':
				r.access |= accMknod
			default:
				return nil, fmt.Errorf("cgroups: devices[%d]: invalid access %q", i, d.Access)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// v1String is the rule as devices.allow/devices.deny take it.
func (r deviceRule) v1String() string {
	if r.typ == 'a' {
		return "a *:* rwm"
	}
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	acc := ""
	if r.access&accRead != 0 {
		acc += "r"
	}
	if r.access&accWrite != 0 {
		acc += "w"
	}
	if r.access&accMknod != 0 {
		acc += "m"
	}
	return string(r.typ) + " " + num(r.major) + ":" + num(r.minor) + " " + acc
}

// matchesAll reports whether the rule covers every device and access.
func (r deviceRule) matchesAll() bool {
	return r.typ == 'a' && r.access == accAll
}
