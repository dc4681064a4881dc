package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestFilterFlags(t *testing.T) {
	if err := FlagSupported("SECCOMP_FILTER_FLAG_FAST"); err == nil {
		t.Error("unknown flag reported as supported")
	}
	if FlagSupported(specs.LinuxSeccompFlagSpecAllow) != nil {
		t.Skip("kernel without SECCOMP_FILTER_FLAG_SPEC_ALLOW (Linux < 4.17)")
	}
	t.Logf("supported: %v", SupportedFlags())
	tests := []struct {
		name string
		in   []specs.LinuxSeccompFlag
		want uintptr
	}{
		{"nil asks for spec allow, like runc", nil, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{"empty means none", []specs.LinuxSeccompFlag{}, 0},
		{"log", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, unix.SECCOMP_FILTER_FLAG_LOG},
		{"tsync is ignored", []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagSpecAllow}, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	}
	for _, tt := range tests {
		got, err := filterFlags(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %#x, %v; want %#x", tt.name, got, err, tt.want)
		}
	}
	if _, err := filterFlags([]specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestCheckActions(t *testing.T) {
	prog := []unix.SockFilter{
		{Code: opRetK, K: unix.SECCOMP_RET_KILL_PROCESS},
		{Code: opRetK, K: unix.SECCOMP_RET_LOG},
		{Code: opRetK, K: unix.SECCOMP_RET_ERRNO | 1},
	}
	if err := checkActions(prog); err != nil {
		t.Skipf("kernel before 4.14? %v", err)
	}
	bogus := []unix.SockFilter{{Code: opRetK, K: unix.SECCOMP_RET_KILL_PROCESS}, {Code: opRetK, K: 0x7fe00000}}
	if err := checkActions(bogus); err != nil {
		t.Errorf("actions are only probed for KILL_PROCESS and LOG: %v", err)
	}
}
