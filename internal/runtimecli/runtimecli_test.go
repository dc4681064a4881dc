package runtimecli

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"9": syscall.SIGKILL, "KILL": syscall.SIGKILL, "SIGKILL": syscall.SIGKILL, "kill": syscall.SIGKILL,
		"term": syscall.SIGTERM, "SIGUSR1": syscall.SIGUSR1, "RTMIN+1": syscall.Signal(35),
	} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "65", "BOGUS", "-1", ""} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) accepted", in)
		}
	}
}

func TestParseUser(t *testing.T) {
	u, err := parseUser("1000:1001")
	if err != nil || u.UID != 1000 || u.GID != 1001 {
		t.Errorf("parseUser = %+v %v", u, err)
	}
	if _, err := parseUser("bob"); err == nil {
		t.Error("names accepted: the runtime has no passwd lookup")
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512k": 512 << 10, "64m": 64 << 20, "1g": 1 << 30, "2GB": 2 << 30, "-1": -1} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-5", "1q"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}
