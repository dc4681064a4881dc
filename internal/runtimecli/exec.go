package runtimecli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/runtime"
)

func execCmd(g *globals) *cobra.Command {
	var (
		processFile, consoleSocket, pidFile, cwd, user, apparmor, label string
		envs, caps, gids                                                []string
		tty, detach, noNewPrivs, ignorePaused                           bool
		preserveFDs                                                     int
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] ID [COMMAND [ARG...]]",
		Short: "Run a new process in a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			c, err := runtime.Load(g.root, id)
			if err != nil {
				return err
			}
			var p *specs.Process
			if processFile != "" {
				if p, err = loadProcess(processFile); err != nil {
					return err
				}
			} else {
				if len(args) < 2 {
					return errors.New("exec: give a command, or --process FILE")
				}
				// runc's rule: the container's process is the template,
				// the flags override it.
				base := specs.Process{}
				if c.Config.Process != nil {
					base = *c.Config.Process
				}
				p = &base
				p.Args = args[1:]
				p.Terminal = tty
				p.ConsoleSize = nil
				if cwd != "" {
					p.Cwd = cwd
				}
				p.Env = append(append([]string(nil), p.Env...), envs...)
				if noNewPrivs {
					p.NoNewPrivileges = true
				}
				if apparmor != "" {
					p.ApparmorProfile = apparmor
				}
				if label != "" {
					p.SelinuxLabel = label
				}
				if user != "" {
					u, err := parseUser(user)
					if err != nil {
						return err
					}
					p.User.UID, p.User.GID = u.UID, u.GID
				}
				for _, g := range gids {
					n, err := strconv.ParseUint(g, 10, 32)
					if err != nil {
						return fmt.Errorf("--additional-gids %q: %w", g, err)
					}
					p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
				}
				if len(caps) > 0 {
					pc := specs.LinuxCapabilities{}
					if p.Capabilities != nil {
						pc = *p.Capabilities
					}
					for _, c := range caps {
						c = strings.ToUpper(c)
						if !strings.HasPrefix(c, "CAP_") {
							c = "CAP_" + c
						}
						pc.Bounding = append(pc.Bounding, c)
						pc.Effective = append(pc.Effective, c)
						pc.Permitted = append(pc.Permitted, c)
						pc.Inheritable = append(pc.Inheritable, c)
						pc.Ambient = append(pc.Ambient, c)
					}
					p.Capabilities = &pc
				}
			}
			o := runtime.ExecOptions{
				Root: g.root, ID: id, Process: p, PidFile: pidFile, ConsoleSocket: consoleSocket,
				PreserveFDs: preserveFDs, IgnorePaused: ignorePaused,
			}
			code, err := runtime.ExecAndWait(ctx(), o, detach)
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitError{code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.StringVarP(&processFile, "process", "p", "", "process.json to run (instead of COMMAND)")
	fl.StringVar(&consoleSocket, "console-socket", "", "unix socket to send the pty master to")
	fl.StringVar(&pidFile, "pid-file", "", "file to write the process's pid to")
	fl.StringVar(&cwd, "cwd", "", "working directory in the container")
	fl.StringArrayVarP(&envs, "env", "e", nil, "set an environment variable (repeatable)")
	fl.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-terminal")
	fl.StringVarP(&user, "user", "u", "", "UID[:GID] to run as")
	fl.StringSliceVarP(&gids, "additional-gids", "g", nil, "additional group IDs")
	fl.StringArrayVarP(&caps, "cap", "c", nil, "add a capability (repeatable)")
	fl.BoolVarP(&detach, "detach", "d", false, "return once the process has started")
	fl.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privs")
	fl.StringVar(&apparmor, "apparmor", "", "AppArmor profile")
	fl.StringVar(&label, "process-label", "", "SELinux label (accepted; SELinux is not applied)")
	fl.IntVar(&preserveFDs, "preserve-fds", 0, "pass N extra file descriptors (from 3)")
	fl.BoolVar(&ignorePaused, "ignore-paused", false, "exec even if the container is paused")
	fl.String("cgroup", "", "accepted for runc compatibility")
	return cmd
}

func parseUser(s string) (specs.User, error) {
	var u specs.User
	us, gs, hasG := strings.Cut(s, ":")
	n, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return u, fmt.Errorf("--user %q: want UID[:GID] as numbers", s)
	}
	u.UID = uint32(n)
	if hasG {
		n, err := strconv.ParseUint(gs, 10, 32)
		if err != nil {
			return u, fmt.Errorf("--user %q: want UID[:GID] as numbers", s)
		}
		u.GID = uint32(n)
	}
	return u, nil
}

// psTable prints `ps -ef` (or ps with the given args) limited to the
// container's pids, as runc does.
func psTable(pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 {
		return nil
	}
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return errors.New("ps output has no PID column")
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Fprintln(os.Stdout, lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if n, err := strconv.Atoi(f[col]); err == nil && in[n] {
			fmt.Fprintln(os.Stdout, l)
		}
	}
	return nil
}
