package cgroups

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// On cgroup v2 the device allow-list is a BPF_PROG_TYPE_CGROUP_DEVICE
// program attached to the cgroup. The program is generated here from the
// rules and loaded with raw bpf(2): it uses five instruction patterns, which
// does not justify a BPF library dependency.
//
// Semantics, per access bit (mknod, read, write) of a request: the last rule
// that matches the device and holds that bit decides it; a bit no rule
// decides is denied. The request is allowed only if all its bits are. This
// is what replaying the rules into a v1 devices cgroup after "deny all"
// gives, including allows that add up ("r" then "w" allows "rw").
//
// The program walks the rules from last to first keeping the undecided bits
// in r6: an allow rule clears its bits and allows once none are left; a deny
// rule that holds an undecided bit denies.

// bpfInsn is struct bpf_insn.
type bpfInsn struct {
	code uint8
	regs uint8 // dst in the low nibble, src in the high nibble
	off  int16
	imm  int32
}

const (
	bpfLdxW    = 0x61 // BPF_LDX|BPF_MEM|BPF_W: dst = *(u32 *)(src + off)
	bpfAnd32K  = 0x54 // BPF_ALU|BPF_AND|BPF_K
	bpfRsh32K  = 0x74 // BPF_ALU|BPF_RSH|BPF_K
	bpfMov32K  = 0xb4 // BPF_ALU|BPF_MOV|BPF_K
	bpfMov32X  = 0xbc // BPF_ALU|BPF_MOV|BPF_X
	bpfJeqK    = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
	bpfJneK    = 0x55 // BPF_JMP|BPF_JNE|BPF_K
	bpfExit    = 0x95 // BPF_JMP|BPF_EXIT
	regCtx     = 1
	regType    = 2
	regAccess  = 3
	regMajor   = 4
	regMinor   = 5
	regPending = 6
	regTmp     = 1 // ctx is dead once loaded
)

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// deviceProgram compiles the rules. allowAll is set when the rules allow
// everything, so that no program is needed.
func deviceProgram(rules []deviceRule) (prog []bpfInsn, allowAll bool) {
	prog = []bpfInsn{
		// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
		// access_type = type | access << 16.
		insn(bpfLdxW, regType, regCtx, 0, 0),
		insn(bpfAnd32K, regType, 0, 0, 0xffff),
		insn(bpfLdxW, regAccess, regCtx, 0, 0),
		insn(bpfRsh32K, regAccess, 0, 0, 16),
		insn(bpfLdxW, regMajor, regCtx, 4, 0),
		insn(bpfLdxW, regMinor, regCtx, 8, 0),
		insn(bpfMov32X, regPending, regAccess, 0, 0),
	}
	emitted := 0
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if r.access == 0 {
			continue
		}
		if emitted == 0 && r.allow && r.matchesAll() {
			return nil, true
		}
		emitted++
		// Each check jumps to the end of this rule's block on mismatch;
		// the offset is patched once the block is complete.
		var jumps []int
		jumpIfNot := func(reg uint8, v int64) {
			jumps = append(jumps, len(prog))
			prog = append(prog, insn(bpfJneK, reg, 0, 0, int32(v)))
		}
		switch r.typ {
		case 'b':
			jumpIfNot(regType, unix.BPF_DEVCG_DEV_BLOCK)
		case 'c':
			jumpIfNot(regType, unix.BPF_DEVCG_DEV_CHAR)
		}
		if r.major >= 0 {
			jumpIfNot(regMajor, r.major)
		}
		if r.minor >= 0 {
			jumpIfNot(regMinor, r.minor)
		}
		if r.allow {
			prog = append(prog,
				insn(bpfAnd32K, regPending, 0, 0, int32(^uint32(r.access)&0xffff)),
			)
			jumps = append(jumps, len(prog))
			prog = append(prog,
				insn(bpfJneK, regPending, 0, 0, 0),
				insn(bpfMov32K, 0, 0, 0, 1),
				insn(bpfExit, 0, 0, 0, 0),
			)
		} else {
			prog = append(prog,
				insn(bpfMov32X, regTmp, regPending, 0, 0),
				insn(bpfAnd32K, regTmp, 0, 0, int32(r.access)),
			)
			jumps = append(jumps, len(prog))
			prog = append(prog,
				insn(bpfJeqK, regTmp, 0, 0, 0),
				insn(bpfMov32K, 0, 0, 0, 0),
				insn(bpfExit, 0, 0, 0, 0),
			)
		}
		for _, j := range jumps {
			prog[j].off = int16(len(prog) - j - 1)
		}
		// A rule for every device and access decides all that is left;
		// earlier rules can never be reached.
		if r.matchesAll() {
			break
		}
	}
	prog = append(prog,
		insn(bpfMov32K, 0, 0, 0, 0),
		insn(bpfExit, 0, 0, 0, 0),
	)
	return prog, false
}

// setDevicesV2 installs the rules on cgroup dir, replacing a program we
// attached before. The new program is attached before the old is detached:
// while both are attached a device must pass both, so the switch never
// grants more than either list.
func setDevicesV2(dir string, rules []specs.LinuxDeviceCgroup) error {
	rs, err := parseDeviceRules(rules)
	if err != nil {
		return err
	}
	prog, allowAll := deviceProgram(rs)
	if len(prog) > 0xffff {
		return fmt.Errorf("cgroups: device program too long (%d rules)", len(rs))
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroups: open %s: %w", dir, err)
	}
	defer unix.Close(dirfd)
	old, err := queryDevicePrograms(dirfd)
	if err != nil {
		return fmt.Errorf("cgroups: query device programs of %s: %w", dir, err)
	}
	if !allowAll {
		fd, err := loadDeviceProgram(prog)
		if err != nil {
			return fmt.Errorf("cgroups: load device program for %s: %w", dir, err)
		}
		err = attachDeviceProgram(dirfd, fd)
		unix.Close(fd) // the attachment holds the program
		if err != nil {
			return fmt.Errorf("cgroups: attach device program to %s: %w", dir, err)
		}
	}
	for _, id := range old {
		if err := detachDeviceProgram(dirfd, id); err != nil {
			return fmt.Errorf("cgroups: detach old device program %d from %s: %w", id, dir, err)
		}
	}
	return nil
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// progLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to
// expected_attach_type; the kernel zero-fills the rest.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

func loadDeviceProgram(prog []bpfInsn) (int, error) {
	license := []byte("Apache-2.0\x00")
	attr := progLoadAttr{
		progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:            uint32(len(prog)),
		insns:              uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		expectedAttachType: unix.BPF_CGROUP_DEVICE,
	}
	copy(attr.progName[:], "gorae_devices")
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil && err != unix.EPERM {
		// Load again with the verifier log, only on failure: the log
		// costs time and a buffer.
		logBuf := make([]byte, 64*1024)
		attr.logLevel = 1
		attr.logSize = uint32(len(logBuf))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
		if _, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err2 != nil {
			if log := strings.TrimSpace(strings.TrimRight(string(logBuf), "\x00")); log != "" {
				err = fmt.Errorf("%w: verifier: %s", err, log)
			}
		}
		runtime.KeepAlive(logBuf)
	}
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	return fd, err
}

// progAttachAttr is the BPF_PROG_ATTACH/DETACH part of union bpf_attr.
type progAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

func attachDeviceProgram(dirfd, progfd int) error {
	attr := progAttachAttr{
		targetFd:    uint32(dirfd),
		attachBpfFd: uint32(progfd),
		attachType:  unix.BPF_CGROUP_DEVICE,
		// ALLOW_MULTI keeps programs of parent cgroups (systemd's, a
		// parent container's) in force alongside ours.
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	_, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

func detachDeviceProgram(dirfd int, id uint32) error {
	idAttr := struct{ id, nextID, openFlags uint32 }{id: id}
	progfd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&idAttr), unsafe.Sizeof(idAttr))
	if err == unix.ENOENT {
		return nil // gone meanwhile
	}
	if err != nil {
		return err
	}
	defer unix.Close(progfd)
	attr := progAttachAttr{
		targetFd:    uint32(dirfd),
		attachBpfFd: uint32(progfd),
		attachType:  unix.BPF_CGROUP_DEVICE,
	}
	_, err = bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == unix.ENOENT {
		return nil
	}
	return err
}

// progQueryAttr is the BPF_PROG_QUERY part of union bpf_attr.
type progQueryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

// queryDevicePrograms lists the device programs attached directly to the
// cgroup (not inherited ones).
func queryDevicePrograms(dirfd int) ([]uint32, error) {
	ids := make([]uint32, 64)
	for {
		attr := progQueryAttr{
			targetFd:   uint32(dirfd),
			attachType: unix.BPF_CGROUP_DEVICE,
			progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
			progCnt:    uint32(len(ids)),
		}
		_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(ids)
		if err == unix.ENOSPC {
			ids = make([]uint32, 2*len(ids))
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.progCnt], nil
	}
}
