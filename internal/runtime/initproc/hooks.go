package initproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// HooksOf never returns nil, so callers can index any hook list.
func HooksOf(s *specs.Spec) *specs.Hooks {
	if s == nil || s.Hooks == nil {
		return &specs.Hooks{}
	}
	return s.Hooks
}

// RunHooks runs each hook in order with the container state on stdin, as
// runtime-spec says; the first failure stops the rest.
func RunHooks(ctx context.Context, kind string, hooks []specs.Hook, st specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(ctx, h, state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// RunHooksWarn runs every hook in order and only logs the failures, for the
// poststop hooks: runtime-spec says a failed one is a warning, and the
// remaining hooks and the lifecycle go on as if it had succeeded.
func RunHooksWarn(ctx context.Context, kind string, hooks []specs.Hook, st specs.State, attrs ...any) {
	if len(hooks) == 0 {
		return
	}
	state, err := json.Marshal(st)
	if err != nil {
		slog.Warn(kind+" hooks not run", append(attrs, "err", err)...)
		return
	}
	for i, h := range hooks {
		if err := runHook(ctx, h, state); err != nil {
			slog.Warn(fmt.Sprintf("%s hook #%d (%s) failed", kind, i, h.Path), append(attrs, "err", err)...)
		}
	}
}

func runHook(ctx context.Context, h specs.Hook, state []byte) error {
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout %d must be positive", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("timed out after %ds", *h.Timeout)
		}
		if msg := oneLine(out.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}

// oneLine folds a hook's multi-line output into one line of an error.
func oneLine(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\n", "; ")) }
