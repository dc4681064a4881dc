package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Offsets into struct seccomp_data.
const (
	offNr           = 0
	offArch         = 4
	offArgs         = 16
	seccompDataSize = 64
)

// Opcodes used by the compiler.
const (
	opLdAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opAndK   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opJa     = unix.BPF_JMP | unix.BPF_JA
	opJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJgtK   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	opJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	opJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	opRetK   = unix.BPF_RET | unix.BPF_K
)

// maxJump is the reach of a conditional jump's 8-bit offsets.
const maxJump = 255

// label names an emitted instruction by its distance from the end of the
// program, which does not change as more code is emitted in front of it.
type label int

// target is where control goes: an emitted instruction, or "return this
// action", which the assembler turns into a shared ret instruction.
type target struct {
	lbl   label
	ret   uint32
	isRet bool
}

func at(l label) target             { return target{lbl: l} }
func retTo(v uint32) target         { return target{ret: v, isRet: true} }
func (t target) same(u target) bool { return t == u }

// asm builds a classic BPF program back to front. Emitting every jump target
// before the jumps to it means each offset is known when the jump is written,
// so offsets beyond the 8-bit reach of conditional jumps are bridged on the
// spot with a ja (or a fresh ret) instead of needing a relaxation pass.
type asm struct {
	rev  []unix.SockFilter // instructions, last one first
	rets map[uint32]label  // nearest emitted ret per action
}

func newAsm() *asm { return &asm{rets: make(map[uint32]label)} }

// next is the label the next emitted instruction gets.
func (a *asm) next() label { return label(len(a.rev)) }

func (a *asm) emit(ins unix.SockFilter) label {
	a.rev = append(a.rev, ins)
	return label(len(a.rev) - 1)
}

// dist is the jump offset from the next emitted instruction to l.
func (a *asm) dist(l label) int { return int(a.next()-l) - 1 }

// reach resolves t for a jump emitted next, reporting false if it is too far
// for a conditional jump (or, for a ret, not emitted yet).
func (a *asm) reach(t target) (label, bool) {
	if t.isRet {
		l, ok := a.rets[t.ret]
		return l, ok && a.dist(l) <= maxJump
	}
	return t.lbl, a.dist(t.lbl) <= maxJump
}

// materialize emits an instruction right here that leads to t: a ret for an
// action, a long jump otherwise.
func (a *asm) materialize(t target) target {
	if t.isRet {
		l := a.emit(unix.SockFilter{Code: opRetK, K: t.ret})
		a.rets[t.ret] = l
		return at(l)
	}
	return at(a.emit(unix.SockFilter{Code: opJa, K: uint32(a.dist(t.lbl))}))
}

// jump emits "if A <op> k goto t else goto f" and returns its label.
func (a *asm) jump(op uint16, k uint32, t, f target) target {
	if t.same(f) {
		return t // the test decides nothing
	}
	for {
		lt, ok := a.reach(t)
		if !ok {
			t = a.materialize(t)
			continue
		}
		lf, ok := a.reach(f)
		if !ok {
			f = a.materialize(f)
			continue
		}
		return at(a.emit(unix.SockFilter{Code: op, Jt: uint8(a.dist(lt)), Jf: uint8(a.dist(lf)), K: k}))
	}
}

// seq emits a non-jump instruction that falls through to t.
func (a *asm) seq(ins unix.SockFilter, t target) target {
	if l, ok := a.reach(t); !ok || a.dist(l) != 0 {
		a.materialize(t)
	}
	return at(a.emit(ins))
}

// load emits "A = seccomp_data[off]" followed by t.
func (a *asm) load(off uint32, t target) target {
	return a.seq(unix.SockFilter{Code: opLdAbsW, K: off}, t)
}

// program returns the instructions in execution order, starting with entry.
func (a *asm) program(entry target) []unix.SockFilter {
	if l, ok := a.reach(entry); !ok || a.dist(l) != 0 {
		a.materialize(entry)
	}
	out := make([]unix.SockFilter, len(a.rev))
	for i, ins := range a.rev {
		out[len(out)-1-i] = ins
	}
	return out
}

// verify checks what the kernel's checker checks for the instructions we
// emit: known opcodes, loads inside seccomp_data, jumps inside the program and
// a ret at the end. Classic BPF only jumps forward, so this proves every path
// ends in a ret.
func verify(prog []unix.SockFilter) error {
	n := len(prog)
	if n == 0 {
		return fmt.Errorf("empty program")
	}
	if n > unix.BPF_MAXINSNS {
		return fmt.Errorf("%d instructions, more than the kernel's limit of %d", n, unix.BPF_MAXINSNS)
	}
	for i, ins := range prog {
		switch ins.Code {
		case opLdAbsW:
			if ins.K%4 != 0 || ins.K >= seccompDataSize {
				return fmt.Errorf("instruction %d: load at offset %d outside seccomp_data", i, ins.K)
			}
		case opAndK, opRetK:
		case opJa:
			if uint64(i)+1+uint64(ins.K) >= uint64(n) {
				return fmt.Errorf("instruction %d: jump past the end", i)
			}
		case opJeqK, opJgtK, opJgeK, opJsetK:
			if i+1+int(max(ins.Jt, ins.Jf)) >= n {
				return fmt.Errorf("instruction %d: jump past the end", i)
			}
		default:
			return fmt.Errorf("instruction %d: unexpected opcode %#x", i, ins.Code)
		}
	}
	if prog[n-1].Code != opRetK {
		return fmt.Errorf("last instruction is not a return")
	}
	return nil
}
