package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func (c *CLI) runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := c.runRun(ctxOf(cmd), &o, args)
			return reportRun(c, "run", err)
		},
	}
	addRunFlags(cmd.Flags(), &o)
	fl := cmd.Flags()
	fl.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	fl.BoolVar(&o.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fl.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fl.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	return cmd
}

func (c *CLI) createCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			o.detach = true // no streams to attach
			spec, err := o.parse(args[0], args[1:])
			if err != nil {
				return reportRun(c, "create", StatusError{Status: err.Error(), StatusCode: 125})
			}
			api, err := c.Client(ctx)
			if err != nil {
				return reportRun(c, "create", err)
			}
			id, err := c.createContainer(ctx, api, spec, &o)
			if err != nil {
				return reportRun(c, "create", err)
			}
			fmt.Fprintln(c.out, id)
			return nil
		},
	}
	addRunFlags(cmd.Flags(), &o)
	cmd.Flags().BoolVar(&o.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	return cmd
}

// reportRun prints run/create failures as docker does: "gorae: MSG", a
// pointer to --help, exit status 125 unless the error carries its own.
func reportRun(c *CLI, name string, err error) error {
	if err == nil {
		return nil
	}
	err = friendly(err)
	var se StatusError
	if errors.As(err, &se) {
		if se.Status == "" {
			return se
		}
	} else {
		se = StatusError{Status: err.Error(), StatusCode: 125}
	}
	fmt.Fprintf(c.errOut, "%s: %s\n\nRun '%s %s --help' for more information\n", binName, se.Status, binName, name)
	return StatusError{StatusCode: se.StatusCode}
}

func (c *CLI) runRun(ctx context.Context, o *runOptions, args []string) error {
	spec, err := o.parse(args[0], args[1:])
	if err != nil {
		return StatusError{Status: err.Error(), StatusCode: 125}
	}
	if o.detach && len(o.attach) > 0 {
		return StatusError{Status: "conflicting options: cannot specify both --attach and --detach", StatusCode: 125}
	}
	cfg := spec.config
	if !o.detach && cfg.Tty && cfg.AttachStdin {
		if _, ok := isTerminal(c.in); !ok {
			return StatusError{Status: "the input device is not a TTY", StatusCode: 1}
		}
	}
	if !o.detach && o.sigProxy && cfg.Tty {
		// docker: signals go through the tty, not the proxy.
		o.sigProxy = false
	}
	if cfg.Tty {
		cs := c.consoleSize()
		spec.hostConfig.ConsoleSize = [2]uint{cs.Height, cs.Width}
	}
	api, err := c.Client(ctx)
	if err != nil {
		return err
	}
	id, err := c.createContainer(ctx, api, spec, o)
	if err != nil {
		return err
	}
	attach := cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr
	var streamDone chan error
	if attach {
		resp, err := api.ContainerAttach(ctx, id, client.ContainerAttachOptions{
			Stream: true, Stdin: cfg.AttachStdin, Stdout: cfg.AttachStdout, Stderr: cfg.AttachStderr,
			DetachKeys: o.detachKeys,
		})
		if err != nil {
			return err
		}
		var in io.Reader
		if cfg.AttachStdin {
			in = c.in
		}
		streamDone = make(chan error, 1)
		go func() { streamDone <- c.stream(ctx, resp.HijackedResponse, in, cfg.Tty, o.detachKeys) }()
	}
	// Signals are forwarded from before the start: the container may
	// print (and the user may press ^C) before start returns.
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.sigProxy && !o.detach {
		proxySignals(sub, api, id)
	}
	// Wait before start, so a short-lived container's exit is not missed;
	// with --rm wait for the removal, so the CLI returns once it is gone.
	var wait <-chan int
	if !o.detach {
		wait = waitExit(ctx, api, id, o.rm)
	}
	if _, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if o.rm && !o.detach {
			<-wait
		}
		return startError(err)
	}
	if o.detach {
		fmt.Fprintln(c.out, id)
		return nil
	}
	if cfg.Tty {
		c.monitorTTYSize(sub, containerResizer(sub, api, id))
	}
	if streamDone != nil {
		if err := <-streamDone; err != nil {
			return detachedOK(err)
		}
	}
	if status := <-wait; status != 0 {
		return StatusError{StatusCode: status}
	}
	return nil
}

// startError gives a failed start docker's exit status: 127 for a command
// that is not there, 126 for one that cannot be run, 125 otherwise.
func startError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		code = 127
	case strings.Contains(msg, syscall.EACCES.Error()) || strings.Contains(msg, syscall.EISDIR.Error()):
		code = 126
	}
	return StatusError{Status: msg, StatusCode: code}
}

// waitExit asks for the container's next exit (or its removal) and
// delivers its status.
func waitExit(ctx context.Context, api *client.Client, id string, removed bool) <-chan int {
	cond := container.WaitConditionNextExit
	if removed {
		cond = container.WaitConditionRemoved
	}
	res := api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: cond})
	ch := make(chan int, 1)
	go func() {
		select {
		case r := <-res.Result:
			ch <- int(r.StatusCode)
		case err := <-res.Error:
			if err != nil {
				fmt.Fprintln(os.Stderr, "error waiting for the container:", err)
			}
			ch <- 125
		}
	}()
	return ch
}

// createContainer creates, pulling the image first per --pull: "always";
// "missing" (pull when create says there is no such image); "never".
func (c *CLI) createContainer(ctx context.Context, api *client.Client, spec *containerSpec, o *runOptions) (string, error) {
	ref := spec.config.Image
	switch o.pull {
	case "always":
		if err := c.pullImage(ctx, api, ref, o.platform, c.errOut, o.quiet); err != nil {
			return "", err
		}
	case "missing", "never", "":
	default:
		return "", StatusError{Status: fmt.Sprintf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", o.pull), StatusCode: 125}
	}
	create := func() (client.ContainerCreateResult, error) {
		return api.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: spec.config, HostConfig: spec.hostConfig, NetworkingConfig: spec.netConfig,
			Platform: spec.platform, Name: o.name,
		})
	}
	resp, err := create()
	if err != nil && isNoSuchImage(err) && (o.pull == "missing" || o.pull == "") {
		fmt.Fprintf(c.errOut, "Unable to find image '%s' locally\n", familiarTagged(ref))
		if perr := c.pullImage(ctx, api, ref, o.platform, c.errOut, o.quiet); perr != nil {
			return "", perr
		}
		resp, err = create()
	}
	if err != nil {
		return "", err
	}
	for _, w := range resp.Warnings {
		fmt.Fprintf(c.errOut, "WARNING: %s\n", w)
	}
	if o.cidfile != "" {
		if err := writeCIDFile(o.cidfile, resp.ID); err != nil {
			return "", err
		}
	}
	return resp.ID, nil
}

func writeCIDFile(path, id string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", path)
		}
		return fmt.Errorf("failed to create the container ID file: %w", err)
	}
	defer f.Close()
	_, err = f.WriteString(id)
	return err
}

func isNoSuchImage(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "no such image") || strings.Contains(m, "image not known")
}

// familiarTagged is the short name docker prints: busybox:latest.
func familiarTagged(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}

func (c *CLI) startCommand() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  requiresMinArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			if !attach && !interactive {
				var failed []string
				err := c.forEach(ctx, args, func(ctx context.Context, id string) error {
					_, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{})
					if err != nil {
						failed = append(failed, id)
					}
					return err
				})
				if err != nil {
					return fmt.Errorf("%w\nError: failed to start containers: %s", err, strings.Join(failed, ", "))
				}
				return nil
			}
			if len(args) > 1 {
				return errors.New("you cannot start and attach multiple containers at once")
			}
			info, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			cfg := info.Container.Config
			withStdin := interactive && cfg.OpenStdin
			resp, err := api.ContainerAttach(ctx, args[0], client.ContainerAttachOptions{
				Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys,
			})
			if err != nil {
				return err
			}
			var in io.Reader
			if withStdin {
				in = c.in
			}
			done := make(chan error, 1)
			go func() { done <- c.stream(ctx, resp.HijackedResponse, in, cfg.Tty, detachKeys) }()
			wait := waitExit(ctx, api, info.Container.ID, false)
			if _, err := api.ContainerStart(ctx, args[0], client.ContainerStartOptions{}); err != nil {
				return startError(err)
			}
			if cfg.Tty {
				sub, cancel := context.WithCancel(ctx)
				defer cancel()
				c.monitorTTYSize(sub, containerResizer(sub, api, args[0]))
			}
			if err := <-done; err != nil {
				return detachedOK(err)
			}
			if status := <-wait; status != 0 {
				return StatusError{StatusCode: status}
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	fl.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	fl.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func (c *CLI) attachCommand() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  requiresExactArgs(1),
		RunE: c.withAPI(func(ctx context.Context, api *client.Client, cmd *cobra.Command, args []string) error {
			info, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			st := info.Container.State
			if st == nil || !st.Running {
				return errors.New("You cannot attach to a stopped container, start it first")
			}
			if st.Paused {
				return errors.New("You cannot attach to a paused container, unpause it first")
			}
			cfg := info.Container.Config
			withStdin := !noStdin && cfg.OpenStdin
			resp, err := api.ContainerAttach(ctx, args[0], client.ContainerAttachOptions{
				Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys,
			})
			if err != nil {
				return err
			}
			sub, cancel := context.WithCancel(ctx)
			defer cancel()
			if cfg.Tty {
				c.monitorTTYSize(sub, containerResizer(sub, api, args[0]))
			} else if sigProxy {
				proxySignals(sub, api, info.Container.ID)
			}
			var in io.Reader
			if withStdin {
				in = c.in
			}
			// The container's own status, as docker attach exits with it:
			// asked for before streaming, so an exit that lands as the
			// stream ends is the one reported.
			wait := waitExit(ctx, api, info.Container.ID, false)
			if err := c.stream(ctx, resp.HijackedResponse, in, cfg.Tty, detachKeys); err != nil {
				return detachedOK(err)
			}
			if status := <-wait; status != 0 {
				return StatusError{StatusCode: status}
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	fl.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	fl.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func (c *CLI) execCommand() *cobra.Command {
	var o struct {
		detach, interactive, tty, privileged bool
		env, envFile                         []string
		workdir, user, detachKeys            string
	}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  requiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			if o.tty && o.interactive && !o.detach {
				if _, ok := isTerminal(c.in); !ok {
					return errors.New("the input device is not a TTY")
				}
			}
			env, err := readKVFiles(o.envFile)
			if err != nil {
				return err
			}
			env = append(env, expandEnv(o.env)...)
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			opts := client.ExecCreateOptions{
				User: o.user, Privileged: o.privileged, TTY: o.tty, AttachStdin: o.interactive && !o.detach,
				AttachStdout: !o.detach, AttachStderr: !o.detach, DetachKeys: o.detachKeys, Env: env,
				WorkingDir: o.workdir, Cmd: args[1:],
			}
			if o.tty {
				opts.ConsoleSize = c.consoleSize()
			}
			ex, err := api.ExecCreate(ctx, args[0], opts)
			if err != nil {
				return err
			}
			if o.detach {
				_, err := api.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true, TTY: o.tty})
				return err
			}
			resp, err := api.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: o.tty, ConsoleSize: opts.ConsoleSize})
			if err != nil {
				return err
			}
			sub, cancel := context.WithCancel(ctx)
			defer cancel()
			if o.tty {
				c.monitorTTYSize(sub, func(h, w uint) error {
					_, err := api.ExecResize(sub, ex.ID, client.ExecResizeOptions{Height: h, Width: w})
					return err
				})
			}
			var in io.Reader
			if opts.AttachStdin {
				in = c.in
			}
			if err := c.stream(ctx, resp.HijackedResponse, in, o.tty, o.detachKeys); err != nil {
				return detachedOK(err)
			}
			st, err := api.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
			if err != nil {
				return err
			}
			if st.ExitCode != 0 {
				return StatusError{StatusCode: st.ExitCode}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	fl.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fl.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	fl.StringArrayVar(&o.envFile, "env-file", nil, "Read in a file of environment variables")
	fl.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	fl.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.StringVarP(&o.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	fl.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

func containerResizer(ctx context.Context, api *client.Client, id string) func(h, w uint) error {
	return func(h, w uint) error {
		_, err := api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
		return err
	}
}

// detachedOK: typing the detach keys is a clean end, as in docker.
func detachedOK(err error) error {
	if errors.Is(err, errDetached) {
		return nil
	}
	return err
}
