package daemon

import (
	"testing"

	ctr "github.com/moby/moby/api/types/container"

	"github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/volume"
)

func TestVolumeFilter(t *testing.T) {
	v := &volume.Volume{Name: "web-data", Driver: "local", Labels: map[string]string{"tier": "db", "keep": ""}}
	for _, c := range []struct {
		f     map[string][]string
		users int
		want  bool
	}{
		{nil, 0, true},
		{map[string][]string{"name": {"web"}}, 0, true},
		{map[string][]string{"name": {"^data"}}, 0, false},
		{map[string][]string{"name": {"nope", "data$"}}, 0, true},
		{map[string][]string{"driver": {"local"}}, 0, true},
		{map[string][]string{"driver": {"nfs"}}, 0, false},
		{map[string][]string{"label": {"tier=db", "keep"}}, 0, true},
		{map[string][]string{"label": {"tier=web"}}, 0, false},
		{map[string][]string{"label!": {"keep"}}, 0, false},
		{map[string][]string{"dangling": {"true"}}, 1, false},
		{map[string][]string{"dangling": {"1"}}, 0, true},
		{map[string][]string{"dangling": {"false"}}, 1, true},
		{map[string][]string{"dangling": {"0"}}, 0, false},
	} {
		match, err := volumeFilter(c.f, "name", "driver", "label", "label!", "dangling")
		if err != nil {
			t.Fatal(err)
		}
		if got := match(v, c.users); got != c.want {
			t.Errorf("%v with %d users: %v, want %v", c.f, c.users, got, c.want)
		}
	}
	for _, bad := range []map[string][]string{{"bogus": {"1"}}, {"dangling": {"maybe"}}} {
		if _, err := volumeFilter(bad, "name", "dangling"); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// A record from before volumes keeps its binds and tmpfs mounts.
func TestLegacyMountPoints(t *testing.T) {
	c := container.New("id", "/old")
	c.HostConfig = &ctr.HostConfig{Binds: []string{"/srv:/data:ro", "bad"}}
	legacyMountPoints(c)
	if len(c.MountPoints) != 1 || c.MountPoints[0].Source != "/srv" || c.MountPoints[0].RW {
		t.Errorf("mount points %+v", c.MountPoints)
	}
	if !usesVolume(c, "/srv") || !usesVolume(c, "/data") || usesVolume(c, "/other") {
		t.Error("volume= filter")
	}
}
