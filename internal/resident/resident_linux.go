// Package resident gives back the memory a long-lived, mostly idle
// process holds only because it once touched it.
//
// A container's monitor runs for the container's lifetime but does almost
// nothing after the start: it waits, and copies a little output. Yet the Go
// runtime and the start path touched most of the binary's text and
// read-only data (~6 MiB mapped in every monitor) and grew a heap. Those
// pages stay mapped, and so counted in the monitor's RSS, until the
// process ends.
package resident

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Trim unmaps the resident pages of the executable's read-only mappings
// (text, rodata) and returns the free heap to the kernel. Nothing is lost:
// the file's pages stay in the page cache, shared by every process that
// maps them, and the few the process still runs fault back in on use.
// Writable mappings are never touched (madvise(DONTNEED) would reset a
// private writable mapping to the file's contents).
func Trim() {
	debug.FreeOSMemory()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-00737000 r-xp 00000000 fe:00 762040   /path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") || fields[1][3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// The raw call: the range is not Go memory, so no []byte may name it.
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
