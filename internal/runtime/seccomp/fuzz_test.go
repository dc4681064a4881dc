package seccomp

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// FuzzCompile feeds JSON profiles to the compiler: it must never panic, and
// any program it returns must fit the kernel's limit, end every path in a
// return, and agree with the reference on a few syscalls.
func FuzzCompile(f *testing.F) {
	if b, err := os.ReadFile("testdata/docker-default.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_ARM"],` +
		`"syscalls":[{"names":["socket","connect","ipc"],"action":"SCMP_ACT_ALLOW"},` +
		`{"names":["ioctl"],"action":"SCMP_ACT_TRACE","errnoRet":7,"args":[{"index":1,"value":4294967296,"op":"SCMP_CMP_GE"},{"index":1,"value":9,"op":"SCMP_CMP_NE"}]},` +
		`{"names":["clone"],"action":"SCMP_ACT_KILL_PROCESS","args":[{"index":0,"value":2114060288,"valueTwo":16,"op":"SCMP_CMP_MASKED_EQ"}]}]}`))
	rng := rand.New(rand.NewPCG(3, 5))
	for range 8 {
		b, _ := json.Marshal(randomProfile(rng))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.LinuxSeccomp
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}
		for _, goarch := range []string{"amd64", "arm64"} {
			prog, err := compileFor(&s, goarch)
			if err != nil {
				continue
			}
			if len(prog) > unix.BPF_MAXINSNS {
				t.Fatalf("%s: %d instructions", goarch, len(prog))
			}
			if err := allPathsReturn(prog); err != nil {
				t.Fatalf("%s: %v", goarch, err)
			}
			rng := rand.New(rand.NewPCG(uint64(len(data)), 1))
			for range 20 {
				d := randomCall(rng, goarch)
				got, _, err := emulate(prog, d)
				if err != nil {
					t.Fatalf("%s: %v", goarch, err)
				}
				if want := reference(&s, goarch, d); got != want {
					t.Fatalf("%s nr=%d arch=%#x args=%#x: got %#x, want %#x", goarch, d.nr, d.arch, d.args, got, want)
				}
			}
		}
	})
}
