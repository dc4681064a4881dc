package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	nr   int32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], uint32(d.nr))
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// emulate runs a classic BPF program on d the way the kernel's seccomp
// interpreter would, independently of the compiler's own checks. It returns
// the filter's verdict and the number of instructions executed.
func emulate(prog []unix.SockFilter, d seccompData) (ret uint32, steps int, err error) {
	data := d.bytes()
	var a, x uint32
	var mem [16]uint32
	for pc := 0; ; pc++ {
		if pc >= len(prog) {
			return 0, steps, fmt.Errorf("fell off the end of the program")
		}
		steps++
		ins := prog[pc]
		k := ins.K
		src := k
		if ins.Code&0x08 == unix.BPF_X {
			src = x
		}
		switch ins.Code & 0x07 {
		case unix.BPF_LD, unix.BPF_LDX:
			var v uint32
			switch ins.Code & 0xe0 {
			case unix.BPF_ABS:
				if ins.Code&0x18 != unix.BPF_W || k%4 != 0 || int(k)+4 > len(data) {
					return 0, steps, fmt.Errorf("pc %d: bad load %#x at %d", pc, ins.Code, k)
				}
				v = binary.LittleEndian.Uint32(data[k:])
			case unix.BPF_IMM:
				v = k
			case unix.BPF_MEM:
				if k >= 16 {
					return 0, steps, fmt.Errorf("pc %d: bad scratch slot %d", pc, k)
				}
				v = mem[k]
			case unix.BPF_LEN:
				v = uint32(len(data))
			default:
				return 0, steps, fmt.Errorf("pc %d: unsupported load mode %#x", pc, ins.Code)
			}
			if ins.Code&0x07 == unix.BPF_LD {
				a = v
			} else {
				x = v
			}
		case unix.BPF_ST:
			mem[k%16] = a
		case unix.BPF_STX:
			mem[k%16] = x
		case unix.BPF_ALU:
			switch ins.Code & 0xf0 {
			case unix.BPF_ADD:
				a += src
			case unix.BPF_SUB:
				a -= src
			case unix.BPF_MUL:
				a *= src
			case unix.BPF_DIV:
				if src == 0 {
					return 0, steps, nil
				}
				a /= src
			case unix.BPF_MOD:
				if src == 0 {
					return 0, steps, nil
				}
				a %= src
			case unix.BPF_OR:
				a |= src
			case unix.BPF_AND:
				a &= src
			case unix.BPF_XOR:
				a ^= src
			case unix.BPF_LSH:
				a <<= src
			case unix.BPF_RSH:
				a >>= src
			case unix.BPF_NEG:
				a = -a
			default:
				return 0, steps, fmt.Errorf("pc %d: unsupported alu %#x", pc, ins.Code)
			}
		case unix.BPF_JMP:
			var cond bool
			switch ins.Code & 0xf0 {
			case unix.BPF_JA:
				pc += int(k)
				continue
			case unix.BPF_JEQ:
				cond = a == src
			case unix.BPF_JGT:
				cond = a > src
			case unix.BPF_JGE:
				cond = a >= src
			case unix.BPF_JSET:
				cond = a&src != 0
			default:
				return 0, steps, fmt.Errorf("pc %d: unsupported jump %#x", pc, ins.Code)
			}
			if cond {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case unix.BPF_RET:
			if ins.Code&0x18 == unix.BPF_A {
				return a, steps, nil
			}
			return k, steps, nil
		case unix.BPF_MISC:
			if ins.Code&0xf8 == unix.BPF_TAX {
				x = a
			} else {
				a = x
			}
		}
	}
}

// allPathsReturn walks every path of prog from the first instruction and
// reports the first that runs off the end or jumps outside the program.
func allPathsReturn(prog []unix.SockFilter) error {
	reach := make([]bool, len(prog))
	if len(prog) == 0 {
		return fmt.Errorf("empty program")
	}
	reach[0] = true
	for pc, ins := range prog {
		if !reach[pc] {
			continue
		}
		var next []int
		switch {
		case ins.Code&0x07 == unix.BPF_RET:
		case ins.Code == unix.BPF_JMP|unix.BPF_JA:
			next = []int{pc + 1 + int(ins.K)}
		case ins.Code&0x07 == unix.BPF_JMP:
			next = []int{pc + 1 + int(ins.Jt), pc + 1 + int(ins.Jf)}
		default:
			next = []int{pc + 1}
		}
		for _, n := range next {
			if n < 0 || n >= len(prog) {
				return fmt.Errorf("instruction %d (%#x) leads to %d, outside the %d-instruction program", pc, ins.Code, n, len(prog))
			}
			reach[n] = true
		}
	}
	return nil
}
