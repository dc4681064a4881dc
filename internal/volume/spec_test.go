package volume

import (
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"

	"github.com/gorae/gorae/internal/errdefs"
)

func TestParseBind(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want MountPoint
	}{
		{"/host:/ctr", MountPoint{Type: mount.TypeBind, Source: "/host", Destination: "/ctr", RW: true, Propagation: "rprivate", CreateSource: true}},
		{"/host/:/ctr/:ro", MountPoint{Type: mount.TypeBind, Source: "/host", Destination: "/ctr", Mode: "ro", Propagation: "rprivate", CreateSource: true}},
		{"/h:/c:rw,rshared", MountPoint{Type: mount.TypeBind, Source: "/h", Destination: "/c", Mode: "rw,rshared", RW: true, Propagation: "rshared", CreateSource: true}},
		{"data:/d", MountPoint{Type: mount.TypeVolume, Name: "data", Destination: "/d", Driver: "local", RW: true, CopyData: true}},
		{"data:/d:ro,nocopy", MountPoint{Type: mount.TypeVolume, Name: "data", Destination: "/d", Driver: "local", Mode: "ro,nocopy"}},
		{"data:/d:z", MountPoint{Type: mount.TypeVolume, Name: "data", Destination: "/d", Driver: "local", Mode: "z", RW: true, CopyData: true}},
		{"/anon", MountPoint{Type: mount.TypeVolume, Destination: "/anon", Driver: "local", RW: true, CopyData: true}},
	} {
		got, err := ParseBind(c.raw)
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		got.Spec = mount.Mount{}
		if *got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.raw, *got, c.want)
		}
	}
	for _, bad := range []string{"", ":/x", "/x:ro", "/a:/b:bogus", "/a:/b:ro,rw", "/a:/b:c:d", "/x:relative", "only", "a/b:/x", "..:/x", "/a:/", "v:/x:shared,slave"} {
		if _, err := ParseBind(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v, want invalid parameter", bad, err)
		}
	}
	if mp, err := ParseBind("/x"); err != nil || !mp.Anonymous() {
		t.Fatalf("-v /x: %v", err)
	}
	if mp, err := ParseBind("nm:/x"); err != nil || mp.Anonymous() {
		t.Errorf("-v nm:/x: anonymous, or %v", err)
	}
}

func TestParseMount(t *testing.T) {
	mp, err := ParseMount(mount.Mount{Type: "tmpfs", Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 3 << 20, Mode: 0o1770}})
	if err != nil || mp.TmpfsData != "mode=1770,size=3m" {
		t.Errorf("tmpfs: %+v %v", mp, err)
	}
	mp, err = ParseMount(mount.Mount{Type: "tmpfs", Target: "/t", ReadOnly: true, TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1000}})
	if err != nil || mp.TmpfsData != "ro,size=1000" || mp.RW {
		t.Errorf("tmpfs ro: %+v %v", mp, err)
	}
	mp, err = ParseMount(mount.Mount{Type: "bind", Source: "/s", Target: "/t", BindOptions: &mount.BindOptions{Propagation: "rslave"}})
	if err != nil || mp.Propagation != "rslave" || mp.CreateSource {
		t.Errorf("bind: %+v %v", mp, err)
	}
	mp, err = ParseMount(mount.Mount{Type: "volume", Target: "/t", VolumeOptions: &mount.VolumeOptions{NoCopy: true}})
	if err != nil || mp.CopyData || !mp.Anonymous() {
		t.Errorf("anonymous nocopy volume: %+v %v", mp, err)
	}
	for _, bad := range []mount.Mount{
		{Type: "bind", Target: "/t"},
		{Type: "bind", Source: "rel", Target: "/t"},
		{Type: "bind", Source: "/s", Target: "/t", VolumeOptions: &mount.VolumeOptions{}},
		{Type: "volume", Source: "v", Target: "rel"},
		{Type: "volume", Source: "v", Target: "/t", BindOptions: &mount.BindOptions{}},
		{Type: "volume", Target: "/t", ReadOnly: true},
		{Type: "volume", Source: "a/b", Target: "/t"},
		{Type: "tmpfs", Source: "x", Target: "/t"},
		{Type: "tmpfs", Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: -1}},
		{Type: "tmpfs", Target: "/t", TmpfsOptions: &mount.TmpfsOptions{Options: [][]string{{"bogus"}}}},
		{Type: "npipe", Source: "/s", Target: "/t"},
		{Type: "", Target: "/t"},
		{Type: "bind", Source: "/s"},
	} {
		if _, err := ParseMount(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%+v: %v, want invalid parameter", bad, err)
		}
	}
}

func TestTmpfsOptions(t *testing.T) {
	got, err := TmpfsOptions("size=1m,exec,mode=1777,size=2m")
	if err != nil || strings.Join(got, ",") != "nosuid,nodev,exec,mode=1777,size=2m" {
		t.Errorf("merged %v %v", got, err)
	}
	if got, _ := TmpfsOptions(""); strings.Join(got, ",") != "noexec,nosuid,nodev" {
		t.Errorf("defaults %v", got)
	}
	for _, bad := range []string{"bogus", "size=", "size=abc", "mode=9", "uid=-1", "rbind", "size=1mm", "foo=bar"} {
		if _, err := TmpfsOptions(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v, want invalid parameter", bad, err)
		}
	}
}

func TestParseVolumesFrom(t *testing.T) {
	for in, want := range map[string][2]string{"c1": {"c1", "rw"}, "c1:ro": {"c1", "ro"}, "c1:rw": {"c1", "rw"}, "c1:z": {"c1", "z"}} {
		ref, mode, err := ParseVolumesFrom(in)
		if err != nil || ref != want[0] || mode != want[1] {
			t.Errorf("%s: %s %s %v", in, ref, mode, err)
		}
	}
	for _, bad := range []string{"", ":ro", "c1:bogus", "c1:rshared", "c1:nocopy"} {
		if _, _, err := ParseVolumesFrom(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The parsers read what any API client sends: they must never panic, and
// what they accept must be sane.
func FuzzParseBind(f *testing.F) {
	for _, s := range []string{"/h:/c", "v:/d:ro,nocopy", "/anon", "a:b:c:d", "/h:/c:rw,rshared,z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		mp, err := ParseBind(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(mp.Destination, "/") || mp.Destination == "/" {
			t.Fatalf("%q accepted with destination %q", raw, mp.Destination)
		}
		if mp.Type == mount.TypeVolume && mp.Name != "" && ValidateName(mp.Name) != nil {
			t.Fatalf("%q accepted with volume name %q", raw, mp.Name)
		}
	})
}

func FuzzTmpfsOptions(f *testing.F) {
	for _, s := range []string{"size=1m,mode=1777", "exec", "uid=1000,gid=1000,nr_inodes=10", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, opts string) {
		out, err := TmpfsOptions(opts)
		if err != nil {
			return
		}
		for _, o := range out {
			if strings.ContainsAny(o, ",") {
				t.Fatalf("%q gave option %q", opts, o)
			}
		}
	})
}

func FuzzParseMountTmpfs(f *testing.F) {
	f.Add("/t", int64(1<<20), uint32(0o1777), "nr_inodes", "10", true)
	f.Fuzz(func(t *testing.T, target string, size int64, mode uint32, k, v string, ro bool) {
		m := mount.Mount{Type: "tmpfs", Target: target, ReadOnly: ro, TmpfsOptions: &mount.TmpfsOptions{SizeBytes: size, Options: [][]string{{k, v}}}}
		m.TmpfsOptions.Mode = os.FileMode(mode & 0o7777)
		mp, err := ParseMount(m)
		if err == nil && strings.Count(mp.TmpfsData, "size=") > 1 {
			t.Fatalf("%+v gave %q", m, mp.TmpfsData)
		}
	})
}
