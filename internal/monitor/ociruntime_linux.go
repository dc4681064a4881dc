package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gorae/gorae/internal/runtime"
)

// ociRuntime is what the shim asks of the OCI runtime for its container.
// Calls are made with the shim's runMu held, so the reaper never steals
// the exit of a process the call waits for.
type ociRuntime interface {
	Create(ctx context.Context, stdio [3]*os.File, consoleSocket, pidFile string) error
	Start(ctx context.Context) error
	Kill(ctx context.Context, signal string, all bool) error
	Delete(ctx context.Context, force bool) error
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	Pids(ctx context.Context) ([]int, error)
	// Exec starts a process in the container and returns its pid; the
	// process ends up the shim's child (or orphan), for the reaper.
	Exec(ctx context.Context, opts runtime.ExecOptions) (int, error)
}

func (s *shim) newRuntime() ociRuntime {
	if s.cfg.BuiltinRuntime {
		return &builtinRuntime{id: s.cfg.ID, bundle: s.cfg.Bundle, root: s.cfg.RuntimeRoot}
	}
	return &execRuntime{cfg: s.cfg}
}

// builtinRuntime is gorae's own runtime called as a library: one process
// start fewer per operation than exec'ing `gorae runtime`, and errors
// come back as values instead of through a log file.
type builtinRuntime struct{ id, bundle, root string }

func (b *builtinRuntime) Create(ctx context.Context, stdio [3]*os.File, consoleSocket, pidFile string) error {
	_, err := runtime.Create(ctx, runtime.CreateOptions{
		Root: b.root, ID: b.id, Bundle: b.bundle, PidFile: pidFile, ConsoleSocket: consoleSocket,
		Stdin: stdio[0], Stdout: stdio[1], Stderr: stdio[2],
	})
	return err
}

func (b *builtinRuntime) Start(ctx context.Context) error { return runtime.Start(ctx, b.root, b.id) }

func (b *builtinRuntime) Kill(ctx context.Context, signal string, all bool) error {
	sig, err := runtime.ParseSignal(signal)
	if err != nil {
		return err
	}
	return runtime.Kill(b.root, b.id, sig, all)
}

func (b *builtinRuntime) Delete(ctx context.Context, force bool) error {
	return runtime.Delete(ctx, b.root, b.id, force)
}

func (b *builtinRuntime) Pause(ctx context.Context) error  { return runtime.Pause(b.root, b.id) }
func (b *builtinRuntime) Resume(ctx context.Context) error { return runtime.Resume(b.root, b.id) }

func (b *builtinRuntime) Pids(ctx context.Context) ([]int, error) {
	return runtime.Pids(b.root, b.id)
}

func (b *builtinRuntime) Exec(ctx context.Context, opts runtime.ExecOptions) (int, error) {
	opts.Root, opts.ID = b.root, b.id
	proc, err := runtime.Exec(ctx, opts)
	if err != nil {
		return 0, err
	}
	pid := proc.Pid
	proc.Release()
	return pid, nil
}

// execRuntime runs a runtime binary with runc's command line (runc, crun,
// or a configured one).
type execRuntime struct{ cfg *Config }

func (e *execRuntime) Create(ctx context.Context, stdio [3]*os.File, consoleSocket, pidFile string) error {
	args := []string{"create", "--bundle", e.cfg.Bundle, "--pid-file", pidFile}
	if consoleSocket != "" {
		args = append(args, "--console-socket", consoleSocket)
	}
	_, err := e.run(ctx, stdio, append(args, e.cfg.ID)...)
	return err
}

func (e *execRuntime) Start(ctx context.Context) error {
	_, err := e.run(ctx, [3]*os.File{}, "start", e.cfg.ID)
	return err
}

func (e *execRuntime) Kill(ctx context.Context, signal string, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := e.run(ctx, [3]*os.File{}, append(args, e.cfg.ID, signal)...)
	return err
}

func (e *execRuntime) Delete(ctx context.Context, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := e.run(ctx, [3]*os.File{}, append(args, e.cfg.ID)...)
	return err
}

func (e *execRuntime) Pause(ctx context.Context) error {
	_, err := e.run(ctx, [3]*os.File{}, "pause", e.cfg.ID)
	return err
}

func (e *execRuntime) Resume(ctx context.Context) error {
	_, err := e.run(ctx, [3]*os.File{}, "resume", e.cfg.ID)
	return err
}

func (e *execRuntime) Pids(ctx context.Context) ([]int, error) {
	out, err := e.run(ctx, [3]*os.File{}, "ps", "--format", "json", e.cfg.ID)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("%s ps: %w", filepath.Base(e.cfg.Runtime[0]), err)
	}
	return pids, nil
}

// run runs the runtime with --root/--log and args; stdio entries left nil
// are collected (stdout returned, stderr used for the error).
func (e *execRuntime) run(ctx context.Context, stdio [3]*os.File, args ...string) ([]byte, error) {
	logPath := filepath.Join(e.cfg.Dir, runtimeLog)
	argv := append(append([]string(nil), e.cfg.Runtime[1:]...), "--root", e.cfg.RuntimeRoot, "--log", logPath, "--log-format", "json")
	cmd := exec.CommandContext(ctx, e.cfg.Runtime[0], append(argv, args...)...)
	var out, errBuf bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], &out, &errBuf
	if stdio[1] != nil {
		cmd.Stdout = stdio[1]
	}
	if stdio[2] != nil {
		cmd.Stderr = stdio[2]
	}
	if err := cmd.Run(); err != nil {
		name := filepath.Base(e.cfg.Runtime[0])
		if msg := lastRuntimeError(logPath); msg != "" {
			return nil, fmt.Errorf("%s %s: %s", name, args[0], msg)
		}
		if msg := strings.TrimSpace(errBuf.String()); msg != "" {
			return nil, fmt.Errorf("%s %s: %s", name, args[0], msg)
		}
		return nil, fmt.Errorf("%s %s: %w", name, args[0], err)
	}
	return out.Bytes(), nil
}

// Exec runs `RUNTIME exec --detach` with the process in a file; the
// runtime exits once the process runs, which the shim, as subreaper,
// then inherits.
func (e *execRuntime) Exec(ctx context.Context, opts runtime.ExecOptions) (int, error) {
	b, err := json.Marshal(opts.Process)
	if err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(e.cfg.Dir, "exec-process-*.json")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return 0, err
	}
	f.Close()
	pidFile := f.Name() + ".pid"
	defer os.Remove(pidFile)
	args := []string{"exec", "--process", f.Name(), "--detach", "--pid-file", pidFile}
	if opts.ConsoleSocket != "" {
		args = append(args, "--console-socket", opts.ConsoleSocket)
	}
	if _, err := e.run(ctx, [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}, append(args, e.cfg.ID)...); err != nil {
		return 0, err
	}
	pb, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("%s exec: no pid file: %w", filepath.Base(e.cfg.Runtime[0]), err)
	}
	var pid int
	if _, err := fmt.Sscan(string(pb), &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s exec: bad pid file %q", filepath.Base(e.cfg.Runtime[0]), pb)
	}
	return pid, nil
}
