package seccomp

import "testing"

func BenchmarkCompileDocker(b *testing.B) {
	s := loadProfile(b, "testdata/docker-default.json")
	var names []string
	for i, n := range syscallNames {
		if i%7 != 3 {
			names = append(names, n)
		}
	}
	s.Syscalls[0].Names = names
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compileFor(s, "amd64"); err != nil {
			b.Fatal(err)
		}
	}
}
