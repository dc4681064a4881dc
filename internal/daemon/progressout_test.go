package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestProgressStreamShape checks the JSON lines the docker CLI reads
// during pull and push: a status with an id and progressDetail for each
// layer step (the CLI draws a bar from current/total), plain status lines,
// the aux message with the pushed digest, and errors as errorDetail plus
// error.
func TestProgressStreamShape(t *testing.T) {
	var buf bytes.Buffer
	out := &progressOut{w: &buf}
	out.status("v1", "Pulling from team/app")
	out.layer("0123456789ab", "Downloading", 1<<20, 4<<20)
	out.layer("0123456789ab", "Pull complete", 0, 0)
	out.aux(struct {
		Tag, Digest string
		Size        int64
	}{"v1", "sha256:abc", 528})
	out.error(errors.New("manifest unknown"))

	var lines []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5", len(lines))
	}
	if lines[0]["status"] != "Pulling from team/app" || lines[0]["id"] != "v1" || lines[0]["progressDetail"] != nil {
		t.Errorf("status line %v", lines[0])
	}
	pd, _ := lines[1]["progressDetail"].(map[string]any)
	if lines[1]["id"] != "0123456789ab" || pd["current"] != float64(1<<20) || pd["total"] != float64(4<<20) || !strings.Contains(lines[1]["progress"].(string), "/4.194MB") {
		t.Errorf("layer progress line %v", lines[1])
	}
	if pd, ok := lines[2]["progressDetail"].(map[string]any); !ok || len(pd) != 0 || lines[2]["progress"] != nil {
		t.Errorf("layer step without counts %v: want an empty progressDetail", lines[2])
	}
	if aux, _ := lines[3]["aux"].(map[string]any); aux["Digest"] != "sha256:abc" || aux["Tag"] != "v1" || aux["Size"] != float64(528) {
		t.Errorf("aux line %v", lines[3])
	}
	if ed, _ := lines[4]["errorDetail"].(map[string]any); ed["message"] != "manifest unknown" || lines[4]["error"] != "manifest unknown" {
		t.Errorf("error line %v", lines[4])
	}
}

func TestPullRef(t *testing.T) {
	for _, c := range []struct{ from, tag, want string }{
		{"busybox", "", "docker.io/library/busybox:latest"},
		{"busybox", "1.36", "docker.io/library/busybox:1.36"},
		{"127.0.0.1:5000/team/app", "v1", "127.0.0.1:5000/team/app:v1"},
		{"busybox", "sha256:" + strings.Repeat("a", 64), "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64)},
		{"busybox:1.36", "", "docker.io/library/busybox:1.36"},
	} {
		ref, err := pullRef(c.from, c.tag)
		if err != nil || ref.String() != c.want {
			t.Errorf("pullRef(%q, %q) = %v, %v; want %s", c.from, c.tag, ref, err, c.want)
		}
	}
	for _, bad := range [][2]string{{"Busybox", ""}, {"busybox", "sha256:zz"}, {"busybox", "bad tag"}} {
		if _, err := pullRef(bad[0], bad[1]); err == nil {
			t.Errorf("pullRef(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
