package main

import (
	"context"
	"crypto/tls"
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

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gorae/gorae/internal/api"
	"github.com/gorae/gorae/internal/daemon"
	"github.com/gorae/gorae/internal/registry"
)

const defaultSocket = "unix:///run/gorae/gorae.sock"

func daemonCommand() *cobra.Command {
	var (
		cfg        daemon.Config
		configFile string
		hosts      []string
		tlsOpts    tlsOptions
		insecure   bool
		ulimits    []string
		netFlags   networkFlags
	)
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the engine: the Docker Engine API on a unix socket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// daemon.json, read once: the engine's keys and the listener's.
			var file struct {
				daemon.Config
				tlsOptions
			}
			if err := daemon.LoadConfigFile(configFile, &file); err != nil {
				return err
			}
			fileCfg := file.Config
			fl := cmd.Flags()
			// Flags override the file.
			fromFile(fl, "tls", &tlsOpts.TLS, file.TLS)
			fromFile(fl, "tlsverify", &tlsOpts.Verify, file.Verify)
			fromFile(fl, "tlscacert", &tlsOpts.CACert, file.CACert)
			fromFile(fl, "tlscert", &tlsOpts.Cert, file.Cert)
			fromFile(fl, "tlskey", &tlsOpts.Key, file.Key)
			tlsCfg, err := tlsOpts.config()
			if err != nil {
				return err
			}
			fromFile(fl, "data-root", &cfg.DataRoot, fileCfg.DataRoot)
			fromFile(fl, "exec-root", &cfg.ExecRoot, fileCfg.ExecRoot)
			fromFile(fl, "debug", &cfg.Debug, fileCfg.Debug)
			fromFile(fl, "registry-serve", &cfg.RegistryServe, fileCfg.RegistryServe)
			fromFile(fl, "default-runtime", &cfg.DefaultRuntime, fileCfg.DefaultRuntime)
			fromFile(fl, "seccomp-profile", &cfg.SeccompProfile, fileCfg.SeccompProfile)
			cfg.Runtimes, cfg.LogOpts, cfg.LogDriver, cfg.LiveRestore = fileCfg.Runtimes, fileCfg.LogOpts, fileCfg.LogDriver, fileCfg.LiveRestore
			cfg.DefaultUlimits = fileCfg.DefaultUlimits
			if len(ulimits) > 0 {
				if cfg.DefaultUlimits, err = parseUlimits(ulimits); err != nil {
					return err
				}
			}
			if err := netFlags.merge(fl, &cfg, fileCfg); err != nil {
				return err
			}
			// Registries: the flags add to the file's lists, as dockerd's do.
			cfg.InsecureRegistries = append(fileCfg.InsecureRegistries, cfg.InsecureRegistries...)
			cfg.RegistryMirrors = append(fileCfg.RegistryMirrors, cfg.RegistryMirrors...)
			if err := (registry.Hosts{Mirrors: cfg.RegistryMirrors, Insecure: cfg.InsecureRegistries}).Validate(); err != nil {
				return fmt.Errorf("%s: %w", configFile, err)
			}
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
			return runDaemon(cmd.Context(), cfg, hosts, listenOptions{insecure: insecure, tls: tlsCfg})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.DataRoot, "data-root", "/var/lib/gorae", "root of persistent state")
	fl.StringVar(&cfg.ExecRoot, "exec-root", "/run/gorae", "root of runtime state")
	fl.StringVar(&cfg.RegistryServe, "registry-serve", "", "also serve the image store read-only as an OCI registry on this host:port (no auth: loopback or a trusted network)")
	fl.StringVar(&configFile, "config-file", "/etc/gorae/daemon.json", "daemon configuration file")
	fl.StringArrayVarP(&hosts, "host", "H", nil, "address to listen on (unix:///path; fd:// for systemd socket activation; tcp needs TLS or --insecure-tcp)")
	fl.BoolVarP(&cfg.Debug, "debug", "D", false, "debug logging")
	fl.StringVar(&cfg.DefaultRuntime, "default-runtime", "gorae", "OCI runtime for containers (gorae, runc, crun or a daemon.json runtime)")
	fl.StringVar(&cfg.SeccompProfile, "seccomp-profile", "", "seccomp profile for containers: builtin, unconfined or a file in Docker's format")
	fl.StringArrayVar(&ulimits, "default-ulimit", nil, "default ulimit for containers, NAME=SOFT[:HARD] (repeatable)")
	fl.BoolVar(&tlsOpts.TLS, "tls", false, "serve tcp listeners over TLS (implied by --tlsverify)")
	fl.BoolVar(&tlsOpts.Verify, "tlsverify", false, "TLS, and only clients with a certificate signed by --tlscacert get in")
	fl.StringVar(&tlsOpts.CACert, "tlscacert", "", "CA that signs client certificates (default ~/.docker/ca.pem)")
	fl.StringVar(&tlsOpts.Cert, "tlscert", "", "server certificate (default ~/.docker/cert.pem)")
	fl.StringVar(&tlsOpts.Key, "tlskey", "", "server key (default ~/.docker/key.pem)")
	fl.StringArrayVar(&cfg.InsecureRegistries, "insecure-registry", nil, "registry (host[:port] or CIDR) that may be reached over plain HTTP; loopback always may")
	fl.StringArrayVar(&cfg.RegistryMirrors, "registry-mirror", nil, "mirror of Docker Hub to pull from first (https:// or http:// URL)")
	fl.BoolVar(&insecure, "insecure-tcp", false, "allow a plain tcp listener (anyone who reaches it is root on this host)")
	netFlags.add(fl, &cfg)
	return cmd
}

// listenOptions say how tcp addresses may be served.
type listenOptions struct {
	insecure bool
	tls      *tls.Config
}

func runDaemon(ctx context.Context, cfg daemon.Config, hosts []string, lo listenOptions) error {
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
		l, err := listen(h, lo)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return err
		}
		ls = append(ls, l)
		slog.Info("API listening", "addr", h)
	}
	if err := serveImageRegistry(ctx, d, cfg.RegistryServe); err != nil {
		for _, l := range ls {
			l.Close()
		}
		return err
	}
	srv := api.NewServer(d, api.Options{Version: daemon.EngineVersion, Debug: cfg.Debug})
	err = srv.Serve(ctx, ls...)
	slog.Info("daemon stopped; containers keep running under their monitors")
	return err
}

// listen opens one -H address. A unix socket is 0660, group "gorae" if
// that group exists, else root only.
func listen(addr string, lo listenOptions) (net.Listener, error) {
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
		if lo.tls != nil {
			l, err := net.Listen("tcp", rest)
			if err != nil {
				return nil, fmt.Errorf("listen on %s: %w", rest, err)
			}
			return tls.NewListener(l, lo.tls), nil
		}
		if !lo.insecure {
			return nil, errors.New("a tcp listener without TLS gives root to anyone who reaches it: use --tlsverify with --tlscacert/--tlscert/--tlskey, or pass --insecure-tcp to accept that, or use a unix socket")
		}
		slog.Warn("API on plain tcp: anyone who reaches " + rest + " is root on this host")
		return net.Listen("tcp", rest)
	}
	return nil, fmt.Errorf("-H %q: unsupported protocol %q", addr, proto)
}

// fromFile gives dst daemon.json's value unless the flag was given.
func fromFile[T any](fl *pflag.FlagSet, flag string, dst *T, file T) {
	if !fl.Changed(flag) {
		*dst = file
	}
}

// parseUlimits reads --default-ulimit NAME=SOFT[:HARD] as dockerd does.
func parseUlimits(in []string) (map[string]*container.Ulimit, error) {
	out := map[string]*container.Ulimit{}
	for _, s := range in {
		name, val, ok := strings.Cut(s, "=")
		soft, hard, hasHard := strings.Cut(val, ":")
		sv, err1 := strconv.ParseInt(soft, 10, 64)
		hv, err2 := sv, error(nil)
		if hasHard {
			hv, err2 = strconv.ParseInt(hard, 10, 64)
		}
		if !ok || name == "" || err1 != nil || err2 != nil || sv > hv {
			return nil, fmt.Errorf("--default-ulimit %q: want NAME=SOFT[:HARD] with SOFT <= HARD", s)
		}
		out[name] = &container.Ulimit{Name: name, Soft: sv, Hard: hv}
	}
	return out, nil
}
