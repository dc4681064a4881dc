package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/api"
	"github.com/gorae/gorae/internal/daemon"
)

const defaultSocket = "unix:///run/gorae/gorae.sock"

func daemonCommand() *cobra.Command {
	var (
		cfg        daemon.Config
		configFile string
		hosts      []string
		tlsVerify  bool
		insecure   bool
	)
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the engine: the Docker Engine API on a unix socket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var fileCfg daemon.Config
			if err := daemon.LoadConfigFile(configFile, &fileCfg); err != nil {
				return err
			}
			// Flags override the file.
			fl := cmd.Flags()
			if !fl.Changed("data-root") {
				cfg.DataRoot = fileCfg.DataRoot
			}
			if !fl.Changed("exec-root") {
				cfg.ExecRoot = fileCfg.ExecRoot
			}
			if !fl.Changed("debug") {
				cfg.Debug = fileCfg.Debug
			}
			if !fl.Changed("default-runtime") {
				cfg.DefaultRuntime = fileCfg.DefaultRuntime
			}
			cfg.Runtimes, cfg.LogOpts, cfg.LogDriver, cfg.LiveRestore = fileCfg.Runtimes, fileCfg.LogOpts, fileCfg.LogDriver, fileCfg.LiveRestore
			if len(hosts) == 0 {
				hosts = fileCfg.Hosts
			}
			if len(hosts) == 0 {
				hosts = []string{defaultSocket}
			}
			level := slog.LevelInfo
			if cfg.Debug {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			return runDaemon(cmd.Context(), cfg, hosts, insecure)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.DataRoot, "data-root", "/var/lib/gorae", "root of persistent state")
	fl.StringVar(&cfg.ExecRoot, "exec-root", "/run/gorae", "root of runtime state")
	fl.StringVar(&configFile, "config-file", "/etc/gorae/daemon.json", "daemon configuration file")
	fl.StringArrayVarP(&hosts, "host", "H", nil, "address to listen on (unix:///path; fd:// for systemd socket activation; tcp needs TLS or --insecure-tcp)")
	fl.BoolVarP(&cfg.Debug, "debug", "D", false, "debug logging")
	fl.StringVar(&cfg.DefaultRuntime, "default-runtime", "gorae", "OCI runtime for containers (gorae, runc, crun or a daemon.json runtime)")
	fl.BoolVar(&tlsVerify, "tlsverify", false, "TLS for tcp listeners (not supported yet)")
	fl.BoolVar(&insecure, "insecure-tcp", false, "allow a plain tcp listener (anyone who reaches it is root on this host)")
	return cmd
}

func runDaemon(ctx context.Context, cfg daemon.Config, hosts []string, insecure bool) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	d, err := daemon.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	var ls []net.Listener
	for _, h := range hosts {
		if strings.HasPrefix(h, "fd://") {
			fls, err := activatedListeners(h)
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				return err
			}
			ls = append(ls, fls...)
			slog.Info("API listening on sockets from systemd", "addr", h, "count", len(fls))
			continue
		}
		l, err := listen(h, insecure)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return err
		}
		ls = append(ls, l)
		slog.Info("API listening", "addr", h)
	}
	srv := api.NewServer(d, api.Options{Version: daemon.EngineVersion, Debug: cfg.Debug})
	err = srv.Serve(ctx, ls...)
	slog.Info("daemon stopped; containers keep running under their monitors")
	return err
}

// listen opens one -H address. A unix socket is 0660, group "gorae" if
// that group exists, else root only.
func listen(addr string, insecure bool) (net.Listener, error) {
	proto, rest, ok := strings.Cut(addr, "://")
	if !ok {
		return nil, fmt.Errorf("-H %q: want unix:///path or tcp://host:port", addr)
	}
	switch proto {
	case "unix":
		if err := os.MkdirAll(filepath.Dir(rest), 0o755); err != nil {
			return nil, err
		}
		// A socket left by a daemon that died is replaced; one a live
		// daemon answers on is not.
		if c, err := net.Dial("unix", rest); err == nil {
			c.Close()
			return nil, fmt.Errorf("another daemon is listening on %s", rest)
		}
		os.Remove(rest)
		l, err := net.Listen("unix", rest)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", rest, err)
		}
		gid := 0
		if g, err := user.LookupGroup("gorae"); err == nil {
			gid, _ = strconv.Atoi(g.Gid)
		}
		os.Chown(rest, 0, gid)
		os.Chmod(rest, 0o660)
		return l, nil
	case "tcp":
		if !insecure {
			return nil, errors.New("a tcp listener without TLS gives root to anyone who reaches it: TLS is not supported yet, so pass --insecure-tcp to accept that, or use a unix socket")
		}
		return net.Listen("tcp", rest)
	}
	return nil, fmt.Errorf("-H %q: unsupported protocol %q", addr, proto)
}
