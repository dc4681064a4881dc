package image

import (
	"encoding/json"
	"slices"
	"testing"
)

// The expected configs are what Docker 20.10.24's `docker import -c …`
// recorded for the same changes (`docker image inspect --format
// '{{json .Config}}'`), byte for byte.
func TestApplyChangesAsDocker(t *testing.T) {
	tests := []struct {
		changes []string
		want    string
	}{
		{[]string{
			"CMD echo hi", "ENV A B", `ENV C=d E="f g"`, "EXPOSE 80 90-91/udp", "WORKDIR app", "WORKDIR $A/x",
			"USER nobody", `LABEL a=b "c d"=e`, `VOLUME /data ["/v2"]`, "ONBUILD RUN echo $A",
			"HEALTHCHECK --interval=5s CMD true", `ENTRYPOINT ["/bin/ep"]`,
		}, `{"User":"nobody","ExposedPorts":{"80/tcp":{},"90/udp":{},"91/udp":{}},"Env":["A=B","C=d","E=f g"],"Entrypoint":["/bin/ep"],"Cmd":["/bin/sh","-c","echo hi"],"Volumes":{"/data":{},"[/v2]":{}},"WorkingDir":"/app/B/x","Labels":{"a":"b","c d":"e"},"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000},"OnBuild":["RUN echo $A"]}`},
		{[]string{"ENTRYPOINT /ep x"}, `{"Entrypoint":["/bin/sh","-c","/ep x"]}`},
		{[]string{`ENTRYPOINT ["/ep"]`, `CMD ["a"]`}, `{"Entrypoint":["/ep"],"Cmd":["a"]}`},
		{[]string{"CMD [not json"}, `{"Cmd":["/bin/sh","-c","[not json"]}`},
		{[]string{`VOLUME /data ["/v2"]`}, `{"Volumes":{"/data":{},"[/v2]":{}}}`},
	}
	for _, tc := range tests {
		var cfg ContainerConfig
		if err := ApplyChanges(&cfg, "linux", tc.changes); err != nil {
			t.Fatalf("%q: %v", tc.changes, err)
		}
		got, _ := json.Marshal(cfg)
		if string(got) != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.changes, got, tc.want)
		}
	}
}

func TestApplyChanges(t *testing.T) {
	base := ContainerConfig{Env: []string{"PATH=/bin", "HOME=/root"}, Cmd: []string{"sh"}, WorkingDir: "/srv"}
	tests := []struct {
		name    string
		changes []string
		check   func(t *testing.T, c ContainerConfig)
	}{
		{"ENTRYPOINT resets a CMD it did not come with", []string{`ENTRYPOINT ["/ep"]`}, func(t *testing.T, c ContainerConfig) {
			if c.Cmd != nil || !slices.Equal(c.Entrypoint, []string{"/ep"}) {
				t.Fatalf("%+v", c)
			}
		}},
		{"CMD before ENTRYPOINT stays", []string{`CMD ["a"]`, `ENTRYPOINT ["/ep"]`}, func(t *testing.T, c ContainerConfig) {
			if !slices.Equal(c.Cmd, []string{"a"}) {
				t.Fatalf("%+v", c)
			}
		}},
		{"ENV replaces and expands", []string{"ENV HOME=/home/x", "ENV P=${HOME}:${UNSET:-dflt}", "WORKDIR rel"}, func(t *testing.T, c ContainerConfig) {
			if !slices.Equal(c.Env, []string{"PATH=/bin", "HOME=/home/x", "P=/home/x:dflt"}) || c.WorkingDir != "/srv/rel" {
				t.Fatalf("%+v", c)
			}
		}},
		{"EXPOSE expands one word into several", []string{"ENV PORTS='80 443/udp'", "EXPOSE $PORTS"}, func(t *testing.T, c ContainerConfig) {
			if len(c.ExposedPorts) != 2 || c.ExposedPorts["443/udp"] != struct{}{} {
				t.Fatalf("%+v", c.ExposedPorts)
			}
		}},
		{"shell form uses the image's shell", []string{"CMD echo hi"}, func(t *testing.T, c ContainerConfig) {
			if !slices.Equal(c.Cmd, []string{"/bin/bash", "-c", "echo hi"}) {
				t.Fatalf("%+v", c.Cmd)
			}
		}},
		{"HEALTHCHECK NONE", []string{"HEALTHCHECK NONE"}, func(t *testing.T, c ContainerConfig) {
			if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"NONE"}) {
				t.Fatalf("%+v", c.Healthcheck)
			}
		}},
		{"lower-case instructions and a continuation", []string{"label a=1 \\\n  b=2", "user 1000:1000"}, func(t *testing.T, c ContainerConfig) {
			if c.Labels["b"] != "2" || c.User != "1000:1000" {
				t.Fatalf("%+v", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base.clone()
			if tc.name == "shell form uses the image's shell" {
				c.Shell = []string{"/bin/bash", "-c"}
			}
			if err := ApplyChanges(&c, "linux", tc.changes); err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestApplyChangesRefused(t *testing.T) {
	for _, tc := range []struct {
		changes []string
		want    string
	}{
		{[]string{"STOPSIGNAL SIGKILL"}, "stopsignal is not a valid change command"},
		{[]string{`SHELL ["/bin/bash","-c"]`}, "shell is not a valid change command"},
		{[]string{"RUN rm -rf /"}, "run is not a valid change command"},
		{[]string{"FROM scratch"}, "from is not a valid change command"},
		{[]string{"ENV A=1", "EXPOSE 80/xyz"}, "invalid proto: xyz"},
		{[]string{"ENV A B", "EXPOSE $A"}, "invalid containerPort: B"},
		{[]string{"EXPOSE 90-80"}, "invalid containerPort: 90-80"},
		{[]string{"EXPOSE 70000"}, "invalid containerPort: 70000"},
		{[]string{`VOLUME [""]`}, "VOLUME specified can not be an empty string"},
		{[]string{"ONBUILD ONBUILD RUN x"}, "Chaining ONBUILD"},
		{[]string{"HEALTHCHECK --interval=x CMD true"}, "invalid --change"},
		{[]string{"WORKDIR"}, "WORKDIR requires exactly one argument"},
	} {
		cfg := ContainerConfig{Env: []string{"X=1"}}
		err := ApplyChanges(&cfg, "linux", tc.changes)
		mustContain(t, err, tc.want)
		if !slices.Equal(cfg.Env, []string{"X=1"}) {
			t.Fatalf("%q: a refused change altered the config: %+v", tc.changes, cfg)
		}
	}
}
