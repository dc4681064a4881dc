package image

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// changeCommands are the Dockerfile instructions `docker import --change`
// and `docker commit --change` accept: Docker's validCommitCommands.
// STOPSIGNAL, SHELL, ARG and the rest are refused, as Docker refuses them.
var changeCommands = map[string]bool{
	"cmd":         true,
	"entrypoint":  true,
	"env":         true,
	"expose":      true,
	"healthcheck": true,
	"label":       true,
	"onbuild":     true,
	"user":        true,
	"volume":      true,
	"workdir":     true,
}

// ApplyChanges applies Dockerfile instructions to cfg as `docker import
// --change` and `docker commit --change` do: the changes are joined into
// one Dockerfile and parsed with BuildKit's parser (the one Docker uses),
// variables ($VAR, ${VAR:-default}) expand from the ENV set so far, and
// each instruction is applied as Docker's builder applies it. os is the
// image's OS; it picks the default shell of the shell forms ("CMD echo
// hi" is ["/bin/sh","-c","echo hi"] on linux). cfg is changed only if
// every change applies.
func ApplyChanges(cfg *ContainerConfig, os string, changes []string) error {
	if len(changes) == 0 {
		return nil
	}
	res, err := parser.Parse(strings.NewReader(strings.Join(changes, "\n")))
	if err != nil {
		return fmt.Errorf("invalid --change: %w", err)
	}
	for _, n := range res.AST.Children {
		if name := strings.ToLower(n.Value); !changeCommands[name] {
			// Docker's words, which clients may match.
			return fmt.Errorf("%s is not a valid change command", name)
		}
	}
	work := cfg.clone()
	lex := shell.NewLex(res.EscapeToken)
	cmdSet := false
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseCommand(n)
		if err != nil {
			return fmt.Errorf("invalid --change %q: %w", n.Original, err)
		}
		envs := shell.EnvsFromSlice(work.Env)
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			err := ex.Expand(func(word string) (string, error) {
				w, _, err := lex.ProcessWord(word, envs)
				return w, err
			})
			if err != nil {
				return fmt.Errorf("invalid --change %q: %w", n.Original, err)
			}
		}
		if err := applyChange(&work, os, cmd, lex, envs, &cmdSet); err != nil {
			return fmt.Errorf("invalid --change %q: %w", n.Original, err)
		}
	}
	*cfg = work
	return nil
}

// applyChange applies one parsed instruction, as Docker's dispatchers do.
func applyChange(cfg *ContainerConfig, os string, cmd instructions.Command, lex *shell.Lex, envs shell.EnvGetter, cmdSet *bool) error {
	switch c := cmd.(type) {
	case *instructions.CmdCommand:
		cfg.Cmd = withShell(cfg, os, c.ShellDependantCmdLine)
		if len(c.CmdLine) != 0 {
			*cmdSet = true
		}
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = withShell(cfg, os, c.ShellDependantCmdLine)
		if !*cmdSet {
			// An ENTRYPOINT resets a CMD it did not come with.
			cfg.Cmd = nil
		}
	case *instructions.EnvCommand:
		for _, e := range c.Env {
			set := false
			for i, kv := range cfg.Env {
				k, _, _ := strings.Cut(kv, "=")
				if shell.EqualEnvKeys(k, e.Key) {
					cfg.Env[i] = e.Key + "=" + e.Value
					set = true
					break
				}
			}
			if !set {
				cfg.Env = append(cfg.Env, e.Key+"="+e.Value)
			}
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, l := range c.Labels {
			cfg.Labels[l.Key] = l.Value
		}
	case *instructions.ExposeCommand:
		// EXPOSE alone expands one word into several ($PORTS="80 443").
		var words []string
		for _, p := range c.Ports {
			ws, err := lex.ProcessWords(p, envs)
			if err != nil {
				return err
			}
			words = append(words, ws...)
		}
		for _, w := range words {
			ports, err := parseExposedPort(w)
			if err != nil {
				return err
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		}
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return errors.New("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.WorkdirCommand:
		if c.Path == "" {
			return errors.New("WORKDIR needs a path")
		}
		if path.IsAbs(c.Path) {
			cfg.WorkingDir = c.Path
		} else {
			cfg.WorkingDir = path.Join("/", cfg.WorkingDir, c.Path)
		}
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &HealthConfig{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
	default:
		return fmt.Errorf("%s is not a valid change command", strings.ToLower(cmd.Name()))
	}
	return nil
}

// withShell is the command line of CMD or ENTRYPOINT: the JSON form as
// written, the shell form behind the image's shell (default /bin/sh -c,
// cmd /S /C on windows).
func withShell(cfg *ContainerConfig, os string, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell || c.CmdLine == nil {
		return c.CmdLine
	}
	sh := cfg.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
		if os == "windows" {
			sh = []string{"cmd", "/S", "/C"}
		}
	}
	return append(append([]string{}, sh...), c.CmdLine...)
}

// parseExposedPort is EXPOSE's port syntax, as Docker reads it:
// port[-port][/tcp|udp|sctp], where a host part (ip:hostport:port) is
// accepted and ignored; a range is every port in it.
func parseExposedPort(raw string) ([]string, error) {
	spec := raw
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		spec = spec[i+1:]
	}
	port, proto, _ := strings.Cut(spec, "/")
	if port == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", raw)
	}
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	startS, endS, isRange := strings.Cut(port, "-")
	start, err := strconv.ParseUint(startS, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", port)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(endS, 10, 16); err != nil || end < start {
			return nil, fmt.Errorf("invalid containerPort: %s", port)
		}
	}
	out := make([]string, 0, end-start+1)
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}
