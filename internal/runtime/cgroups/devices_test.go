package cgroups

import (
	"fmt"
	"math/rand"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runDeviceProgram interprets the instructions deviceProgram emits, with
// the kernel's semantics, on one device request.
func runDeviceProgram(t *testing.T, prog []bpfInsn, typ, access, major, minor uint32) bool {
	t.Helper()
	ctx := [3]uint32{typ | access<<16, major, minor}
	var reg [11]uint64
	reg[1] = 0xdead0000 // ctx pointer stand-in
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		switch in.code {
		case bpfLdxW:
			if reg[src] != 0xdead0000 || in.off%4 != 0 || in.off < 0 || in.off > 8 {
				t.Fatalf("pc %d: bad ctx load r%d+%d", pc, src, in.off)
			}
			reg[dst] = uint64(ctx[in.off/4])
		case bpfAnd32K:
			reg[dst] = uint64(uint32(reg[dst]) & uint32(in.imm))
		case bpfRsh32K:
			reg[dst] = uint64(uint32(reg[dst]) >> uint32(in.imm))
		case bpfMov32K:
			reg[dst] = uint64(uint32(in.imm))
		case bpfMov32X:
			reg[dst] = uint64(uint32(reg[src]))
		case bpfJeqK, bpfJneK:
			eq := reg[dst] == uint64(int64(in.imm))
			if eq == (in.code == bpfJeqK) {
				pc += int(in.off)
				if pc+1 >= len(prog) || pc+1 < 0 {
					t.Fatalf("jump out of program at %d", pc)
				}
			}
		case bpfExit:
			if reg[0] > 1 {
				t.Fatalf("returns %d", reg[0])
			}
			return reg[0] == 1
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, in.code)
		}
	}
	t.Fatal("fell off the end of the program")
	return false
}

// referenceAllowed replays the rules per access bit: the last rule that
// matches the device and holds the bit decides it.
func referenceAllowed(rules []deviceRule, typ byte, access uint8, major, minor int64) bool {
	for bit := uint8(1); bit <= 4; bit <<= 1 {
		if access&bit == 0 {
			continue
		}
		allowed := false
		for _, r := range rules {
			if (r.typ == 'a' || r.typ == typ) && (r.major < 0 || r.major == major) &&
				(r.minor < 0 || r.minor == minor) && r.access&bit != 0 {
				allowed = r.allow
			}
		}
		if !allowed {
			return false
		}
	}
	return true
}

func devType(c byte) uint32 {
	if c == 'b' {
		return unix.BPF_DEVCG_DEV_BLOCK
	}
	return unix.BPF_DEVCG_DEV_CHAR
}

func allowedBy(t *testing.T, rules []specs.LinuxDeviceCgroup, typ byte, access string, major, minor uint32) bool {
	t.Helper()
	rs, err := parseDeviceRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	prog, allowAll := deviceProgram(rs)
	if allowAll {
		return true
	}
	var acc uint32
	for _, c := range access {
		acc |= map[rune]uint32{'r': accRead, 'w': accWrite, 'm': accMknod}[c]
	}
	return runDeviceProgram(t, prog, devType(typ), acc, major, minor)
}

func dev(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		d.Major = &major
	}
	if minor >= 0 {
		d.Minor = &minor
	}
	return d
}

// dockerDefault is the device list docker puts in every spec.
var dockerDefault = []specs.LinuxDeviceCgroup{
	dev(false, "", -1, -1, "rwm"),
	dev(true, "c", -1, -1, "m"),
	dev(true, "b", -1, -1, "m"),
	dev(true, "c", 1, 3, "rwm"),
	dev(true, "c", 1, 5, "rwm"),
	dev(true, "c", 1, 7, "rwm"),
	dev(true, "c", 1, 8, "rwm"),
	dev(true, "c", 1, 9, "rwm"),
	dev(true, "c", 5, 0, "rwm"),
	dev(true, "c", 5, 1, "rwm"),
	dev(true, "c", 5, 2, "rwm"),
	dev(true, "c", 136, -1, "rwm"),
	dev(true, "c", 10, 200, "rwm"),
}

func TestDeviceProgramDockerDefault(t *testing.T) {
	for _, c := range []struct {
		typ          byte
		access       string
		major, minor uint32
		want         bool
	}{
		{'c', "rw", 1, 3, true},   // /dev/null
		{'c', "r", 1, 9, true},    // /dev/urandom
		{'c', "rw", 136, 4, true}, // pty
		{'c', "rw", 10, 200, true},
		{'c', "m", 4, 1, true}, // mknod any char device
		{'b', "m", 8, 0, true},
		{'b', "r", 8, 0, false}, // /dev/sda
		{'b', "rw", 8, 0, false},
		{'c', "r", 4, 1, false}, // tty1
		{'c', "rm", 4, 1, false},
		{'c', "rw", 1, 4, false}, // /dev/port
	} {
		got := allowedBy(t, dockerDefault, c.typ, c.access, c.major, c.minor)
		if got != c.want {
			t.Errorf("%c %d:%d %s: allowed = %v, want %v", c.typ, c.major, c.minor, c.access, got, c.want)
		}
	}
}

func TestDeviceProgramShapes(t *testing.T) {
	// Privileged containers allow everything: no program at all.
	rs, _ := parseDeviceRules([]specs.LinuxDeviceCgroup{dev(false, "", -1, -1, "rwm"), dev(true, "a", -1, -1, "rwm")})
	if _, all := deviceProgram(rs); !all {
		t.Error("allow-all last: want no program")
	}
	// Rules before a final deny-all are unreachable and not emitted.
	rs, _ = parseDeviceRules([]specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwm"), dev(false, "", -1, -1, "")})
	prog, all := deviceProgram(rs)
	if all || len(prog) != 7+5+2 {
		t.Errorf("deny-all last: %d instructions, allowAll=%v", len(prog), all)
	}
	if allowedBy(t, []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwm"), dev(false, "", -1, -1, "")}, 'c', "r", 1, 3) {
		t.Error("deny-all last allowed /dev/null")
	}
	// Allows add up per access bit, as v1 exceptions merge.
	merge := []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 3, "w")}
	if !allowedBy(t, merge, 'c', "rw", 1, 3) || allowedBy(t, merge, 'c', "rwm", 1, 3) {
		t.Error("r + w should allow rw and not rwm")
	}
	// A later partial deny takes away only its bits.
	partial := []specs.LinuxDeviceCgroup{dev(true, "a", -1, -1, "rwm"), dev(false, "c", 1, 3, "w")}
	if !allowedBy(t, partial, 'c', "r", 1, 3) || allowedBy(t, partial, 'c', "rw", 1, 3) || !allowedBy(t, partial, 'c', "rw", 1, 5) {
		t.Error("partial deny")
	}
	if _, err := parseDeviceRules([]specs.LinuxDeviceCgroup{dev(true, "c", 1<<40, 0, "r")}); err == nil {
		t.Error("huge major accepted")
	}
}

// TestDeviceProgramRandom checks the compiled program against the
// reference on random rule lists.
func TestDeviceProgramRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	types := []string{"a", "b", "c"}
	nums := []int64{-1, 1, 3, 8}
	for iter := 0; iter < 2000; iter++ {
		n := rng.Intn(6)
		var rules []specs.LinuxDeviceCgroup
		for i := 0; i < n; i++ {
			acc := ""
			for _, c := range "rwm" {
				if rng.Intn(2) == 0 {
					acc += string(c)
				}
			}
			rules = append(rules, dev(rng.Intn(2) == 0, types[rng.Intn(3)], nums[rng.Intn(4)], nums[rng.Intn(4)], acc))
		}
		rs, err := parseDeviceRules(rules)
		if err != nil {
			t.Fatal(err)
		}
		prog, allowAll := deviceProgram(rs)
		for _, typ := range []byte{'b', 'c'} {
			for _, maj := range []int64{1, 3, 8} {
				for _, min := range []int64{1, 3, 8} {
					for acc := uint8(1); acc <= accAll; acc++ {
						want := referenceAllowed(rs, typ, acc, maj, min)
						got := allowAll || runDeviceProgram(t, prog, devType(typ), uint32(acc), uint32(maj), uint32(min))
						if got != want {
							t.Fatalf("rules %s, request %c %d:%d acc=%d: program %v, reference %v",
								fmt.Sprint(rs), typ, maj, min, acc, got, want)
						}
					}
				}
			}
		}
	}
}
