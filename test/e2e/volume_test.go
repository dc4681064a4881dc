package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// volumeExists says whether the daemon lists the volume and whether its
// directory is on disk.
func volumeExists(t *testing.T, name string) (listed, onDisk bool) {
	t.Helper()
	out := must(t, "volume", "ls", "-q")
	for _, n := range strings.Fields(out) {
		listed = listed || n == name
	}
	_, err := os.Stat(filepath.Join(dataRoot, "volumes", name))
	return listed, err == nil
}

// Data written to a named volume by one container is read by the next;
// a volume in use cannot be removed (409, naming the container); the
// volume survives a daemon restart.
func TestVolumeNamedPersists(t *testing.T) {
	must(t, "run", "--rm", "-v", "e2e-data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	if out := must(t, "run", "--rm", "-v", "e2e-data:/data:ro", "busybox", "cat", "/data/f"); out != "kept\n" {
		t.Fatalf("second container read %q", out)
	}
	var vols []struct {
		Name, Driver, Mountpoint, Scope, CreatedAt string
	}
	if err := json.Unmarshal([]byte(must(t, "volume", "inspect", "e2e-data")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if v := vols[0]; v.Driver != "local" || v.Scope != "local" || v.Mountpoint != filepath.Join(dataRoot, "volumes", "e2e-data", "_data") || v.CreatedAt == "" {
		t.Errorf("inspect %+v", v)
	}
	id := strings.TrimSpace(must(t, "create", "--name", "vol-user", "-v", "e2e-data:/data", "busybox", "true"))
	out, err := docker(nil, "volume", "rm", "e2e-data")
	if err == nil || !strings.Contains(out, "volume is in use") || !strings.Contains(out, id) {
		t.Errorf("rm of a volume in use: %v %s", err, out)
	}
	if ps := must(t, "ps", "-a", "-q", "--no-trunc", "--filter", "volume=e2e-data"); strings.TrimSpace(ps) != id {
		t.Errorf("ps --filter volume=e2e-data: %q", ps)
	}
	var mounts []map[string]any
	json.Unmarshal([]byte(must(t, "inspect", "-f", "{{json .Mounts}}", "vol-user")), &mounts)
	if len(mounts) != 1 || mounts[0]["Type"] != "volume" || mounts[0]["Name"] != "e2e-data" || mounts[0]["Destination"] != "/data" ||
		mounts[0]["Driver"] != "local" || mounts[0]["Mode"] != "z" || mounts[0]["RW"] != true || mounts[0]["Propagation"] != "" {
		t.Errorf("inspect Mounts: %v", mounts)
	}
	df := must(t, "system", "df", "-v", "--format", "{{json .Volumes}}")
	if !strings.Contains(df, `"Name":"e2e-data"`) || !strings.Contains(df, `"Links":"1"`) {
		t.Errorf("system df -v volumes: %s", df)
	}

	stopDaemon(false)
	if err := startDaemon(); err != nil {
		t.Fatal(err)
	}
	if out, err := docker(nil, "volume", "rm", "e2e-data"); err == nil {
		t.Errorf("after a restart the volume is not in use any more: %s", out)
	}
	must(t, "rm", "vol-user")
	if out := must(t, "run", "--rm", "-v", "e2e-data:/data", "busybox", "cat", "/data/f"); out != "kept\n" {
		t.Errorf("after a restart: %q", out)
	}
	must(t, "volume", "rm", "e2e-data")
	if listed, onDisk := volumeExists(t, "e2e-data"); listed || onDisk {
		t.Errorf("after rm: listed %v, on disk %v", listed, onDisk)
	}
}

// An image's VOLUME becomes an anonymous volume holding the image's
// files (owner and mode kept); nocopy leaves it empty; rm -v and --rm
// remove anonymous volumes, never named ones.
func TestVolumeImageCopyUp(t *testing.T) {
	must(t, "run", "--name", "seed-src", "busybox", "sh", "-c", "mkdir /seed && echo seeded > /seed/f && chown 1000:1001 /seed/f && chmod 0750 /seed")
	must(t, "commit", "--change", "VOLUME /seed", "seed-src", "e2e-seeded")
	must(t, "rm", "seed-src")
	defer docker(nil, "rmi", "e2e-seeded")

	must(t, "create", "--name", "seeded", "e2e-seeded", "sh", "-c", "stat -c '%u:%g %a' /seed/f /seed; cat /seed/f")
	anon := strings.TrimSpace(must(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "seeded"))
	if len(anon) != 64 {
		t.Fatalf("anonymous volume name %q", anon)
	}
	if out := must(t, "start", "-a", "seeded"); out != "1000:1001 644\n0:0 750\nseeded\n" {
		t.Errorf("copied up: %q", out)
	}
	if out := must(t, "run", "--rm", "--mount", "type=volume,dst=/seed,volume-nocopy", "e2e-seeded", "ls", "-A", "/seed"); out != "" {
		t.Errorf("nocopy volume holds %q", out)
	}
	must(t, "rm", "-v", "seeded")
	if listed, onDisk := volumeExists(t, anon); listed || onDisk {
		t.Errorf("rm -v left the anonymous volume: listed %v, on disk %v", listed, onDisk)
	}
	// --rm takes the anonymous volume of -v /path, keeps the named one.
	before := must(t, "volume", "ls", "-q")
	must(t, "run", "--rm", "-v", "/anon", "-v", "e2e-kept:/kept", "busybox", "true")
	after := must(t, "volume", "ls", "-q")
	if strings.Count(after, "\n") != strings.Count(before, "\n")+1 || !strings.Contains(after, "e2e-kept") {
		t.Errorf("after run --rm: before %q, after %q", before, after)
	}
	must(t, "volume", "rm", "e2e-kept")
}

// --mount type=tmpfs,tmpfs-size and --tmpfs give tmpfs mounts of that
// size; a bind keeps its propagation and read-only mode.
func TestVolumeTmpfsAndBind(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "h"), []byte("host"), 0o644)
	out := must(t, "run", "--rm", "--mount", "type=tmpfs,dst=/t1,tmpfs-size=2m,tmpfs-mode=1770", "--tmpfs", "/t2:size=1m",
		"--mount", "type=bind,src="+host+",dst=/h,readonly,bind-propagation=rslave", "busybox", "sh", "-c",
		"df -k /t1 /t2 | tail -2 | awk '{print $2}'; stat -c %a /t1; cat /h/h; touch /h/x 2>/dev/null || echo ro")
	if out != "2048\n1024\n1770\nhostro\n" {
		t.Errorf("tmpfs sizes, mode, bind: %q", out)
	}
	id := strings.TrimSpace(must(t, "create", "--mount", "type=bind,src="+host+",dst=/h,bind-propagation=rslave", "--mount", "type=tmpfs,dst=/t", "busybox", "true"))
	defer docker(nil, "rm", id)
	var mounts []map[string]any
	json.Unmarshal([]byte(must(t, "inspect", "-f", "{{json .Mounts}}", id)), &mounts)
	if len(mounts) != 2 || mounts[0]["Type"] != "bind" || mounts[0]["Source"] != host || mounts[0]["Propagation"] != "rslave" ||
		mounts[1]["Type"] != "tmpfs" || mounts[1]["Source"] != "" {
		t.Errorf("inspect Mounts: %v", mounts)
	}
	if out, err := docker(nil, "run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-size=-1", "busybox", "true"); err == nil || !strings.Contains(out, "tmpfs") {
		t.Errorf("negative tmpfs size: %v %s", err, out)
	}
}

// volume ls filters, prune (anonymous only unless --all), and Docker's
// errors for bad names and unknown volumes.
func TestVolumeLsInspectPrune(t *testing.T) {
	must(t, "volume", "create", "--label", "e2e=prune", "--label", "tier=a", "e2e-named")
	must(t, "volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=1m", "e2e-opts")
	id := strings.TrimSpace(must(t, "create", "-v", "e2e-opts:/o", "--label", "x=y", "busybox", "true"))
	ls := func(args ...string) string {
		return strings.Join(strings.Fields(must(t, append([]string{"volume", "ls", "-q"}, args...)...)), " ")
	}
	if got := ls("--filter", "label=e2e=prune"); got != "e2e-named" {
		t.Errorf("label filter: %q", got)
	}
	if got := ls("--filter", "name=e2e-", "--filter", "dangling=true"); got != "e2e-named" {
		t.Errorf("name + dangling=true: %q", got)
	}
	if got := ls("--filter", "name=e2e-", "--filter", "dangling=false"); got != "e2e-opts" {
		t.Errorf("dangling=false: %q", got)
	}
	if got := ls("--filter", "driver=local", "--filter", "name=^e2e-named$"); got != "e2e-named" {
		t.Errorf("driver + name: %q", got)
	}
	if out, err := docker(nil, "volume", "ls", "--filter", "bogus=1"); err == nil {
		t.Errorf("unknown filter accepted: %s", out)
	}
	if out := must(t, "volume", "inspect", "-f", "{{.Options.type}} {{.Labels.tier}}", "e2e-opts", "e2e-named"); out != "tmpfs <no value>\n<no value> a\n" {
		t.Errorf("inspect options/labels: %q", out)
	}
	must(t, "start", "-a", id)

	// Default prune: anonymous volumes only; the named one stays.
	must(t, "create", "--name", "prune-anon", "-v", "/anon", "busybox", "true")
	anon := strings.TrimSpace(must(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "prune-anon"))
	must(t, "rm", "prune-anon")
	out := must(t, "volume", "prune", "-f")
	if !strings.Contains(out, anon) || strings.Contains(out, "e2e-named") {
		t.Errorf("prune: %s", out)
	}
	out = must(t, "volume", "prune", "-f", "--all", "--filter", "label=e2e=prune")
	if !strings.Contains(out, "e2e-named") || strings.Contains(out, "e2e-opts") {
		t.Errorf("prune --all --filter label: %s", out)
	}
	must(t, "rm", id)
	must(t, "volume", "rm", "e2e-opts")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"volume", "create", "bad/name"}, "includes invalid characters"},
		{[]string{"volume", "create", ".."}, "includes invalid characters"},
		{[]string{"volume", "create", "-o", "bogus=1", "e2e-bad"}, "invalid option"},
		{[]string{"volume", "inspect", "e2e-nosuch"}, "no such volume"},
		{[]string{"volume", "rm", "e2e-nosuch"}, "no such volume"},
		{[]string{"run", "--rm", "-v", "bad/name:/x", "busybox", "true"}, "includes invalid characters"},
	} {
		if out, err := docker(nil, c.args...); err == nil || !strings.Contains(out, c.want) {
			t.Errorf("docker %s: %v %s", strings.Join(c.args, " "), err, out)
		}
	}
	if _, onDisk := volumeExists(t, "e2e-bad"); onDisk {
		t.Error("a refused volume left a directory")
	}
}

// A create that fails leaves no volume behind: a bad mount is refused
// before anything is made; a failure after the volume was made undoes it.
func TestVolumeFailedCreateLeavesNothing(t *testing.T) {
	if out, err := docker(nil, "create", "-v", "e2e-half1:/a", "--mount", "type=bind,src=/nonexistent-gorae,dst=/b", "busybox", "true"); err == nil || !strings.Contains(out, "bind source path does not exist") {
		t.Errorf("bad bind: %v %s", err, out)
	}
	must(t, "create", "--name", "half-dup", "busybox", "true")
	defer docker(nil, "rm", "half-dup")
	if out, err := docker(nil, "create", "--name", "half-dup", "-v", "e2e-half2:/a", "-v", "/anon", "busybox", "true"); err == nil {
		t.Errorf("duplicate name accepted: %s", out)
	}
	if out, err := docker(nil, "create", "-v", "e2e-half3:/a", "-v", "/x:/a", "busybox", "true"); err == nil || !strings.Contains(out, "Duplicate mount point") {
		t.Errorf("duplicate destination: %v %s", err, out)
	}
	for _, n := range []string{"e2e-half1", "e2e-half2", "e2e-half3"} {
		if listed, onDisk := volumeExists(t, n); listed || onDisk {
			t.Errorf("%s left behind: listed %v, on disk %v", n, listed, onDisk)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dataRoot, "volumes"))
	for _, e := range ents {
		if len(e.Name()) == 64 && !strings.Contains(must(t, "ps", "-a", "--filter", "volume="+e.Name(), "-q"), "\n") {
			t.Errorf("orphan anonymous volume %s", e.Name())
		}
	}
}

// --volumes-from shares the other container's volumes (read-only with
// :ro); docker cp reaches into a volume of a running and of a stopped
// container.
func TestVolumesFromAndCopy(t *testing.T) {
	must(t, "run", "-d", "--name", "vf-src", "-v", "e2e-shared:/shared", "busybox", "sleep", "30")
	defer docker(nil, "rm", "-f", "vf-src")
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in.txt"), []byte("copied"), 0o644)
	must(t, "cp", filepath.Join(host, "in.txt"), "vf-src:/shared/")
	out := must(t, "run", "--rm", "--volumes-from", "vf-src:ro", "busybox", "sh", "-c", "cat /shared/in.txt; touch /shared/x 2>/dev/null || echo ro")
	if out != "copiedro\n" {
		t.Errorf("volumes-from: %q", out)
	}
	must(t, "rm", "-f", "vf-src")
	must(t, "create", "--name", "vf-stopped", "-v", "e2e-shared:/shared", "busybox", "true")
	defer docker(nil, "rm", "vf-stopped")
	must(t, "cp", "vf-stopped:/shared/in.txt", filepath.Join(host, "back.txt"))
	if b, _ := os.ReadFile(filepath.Join(host, "back.txt")); string(b) != "copied" {
		t.Errorf("cp from a stopped container's volume: %q", b)
	}
	must(t, "rm", "vf-stopped")
	must(t, "volume", "rm", "e2e-shared")
}
