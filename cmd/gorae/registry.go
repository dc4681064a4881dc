package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/daemon"
	"github.com/gorae/gorae/internal/registry/server"
)

func registryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run an OCI distribution registry, or collect its garbage",
	}
	cmd.AddCommand(registryServeCommand(), registryGCCommand())
	return cmd
}

func registryServeCommand() *cobra.Command {
	var addr, root, htpasswd, cert, key string
	var debug bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a registry (OCI distribution spec v1.1) from a directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			if (cert == "") != (key == "") {
				return errors.New("TLS needs both --tls-cert and --tls-key")
			}
			st, err := server.NewFS(root)
			if err != nil {
				return err
			}
			opts := server.Options{}
			if htpasswd != "" {
				if opts.Auth, err = server.LoadHtpasswd(htpasswd); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("registry: listen on %s: %w", addr, err)
			}
			// The bound address, so that --addr 127.0.0.1:0 is usable.
			fmt.Fprintf(cmd.OutOrStdout(), "listening on %s\n", l.Addr())
			slog.Info("registry serving", "addr", l.Addr().String(), "root", root, "tls", cert != "", "auth", htpasswd != "")
			return serveHTTP(ctx, l, server.New(st, opts), cert, key)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:5000", "address to listen on (host:port; port 0 picks one)")
	fl.StringVar(&root, "root", "/var/lib/gorae-registry", "directory of the registry's storage")
	fl.StringVar(&htpasswd, "htpasswd", "", "require basic auth against this htpasswd file (bcrypt entries: htpasswd -B)")
	fl.StringVar(&cert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fl.StringVar(&key, "tls-key", "", "private key of --tls-cert (PEM)")
	fl.BoolVarP(&debug, "debug", "D", false, "debug logging")
	return cmd
}

// serveHTTP serves h on l until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, l net.Listener, h http.Handler, cert, key string) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- srv.ServeTLS(l, cert, key)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func registryGCCommand() *cobra.Command {
	var root string
	var opts server.GCOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete the blobs no manifest of the registry references",
		Long: `Delete the blobs no manifest of the registry references.

Safe while the registry serves: gc locks out manifest pushes (not blob
uploads) from mark to sweep, and spares blobs younger than --grace, which
may belong to a push whose manifest has not arrived yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(root); err != nil {
				return fmt.Errorf("registry gc: %w", err)
			}
			st, err := server.NewFS(root)
			if err != nil {
				return err
			}
			res, err := st.GC(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			verb := "deleted"
			if opts.DryRun {
				verb = "would delete"
			}
			for _, d := range res.Deleted {
				fmt.Fprintf(out, "%s %s\n", verb, d)
			}
			fmt.Fprintf(out, "%d blobs referenced, %s %d blobs (%d bytes), %d unreferenced kept for the grace period\n",
				res.Referenced, verb, len(res.Deleted), res.Bytes, res.Spared)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&root, "root", "/var/lib/gorae-registry", "directory of the registry's storage")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "list what would be deleted, delete nothing")
	fl.DurationVar(&opts.Grace, "grace", server.DefaultGCGrace, "spare unreferenced blobs younger than this (pushes in progress)")
	return cmd
}

// serveImageRegistry serves the daemon's image store read-only at addr
// (daemon.json "registry-serve"; "" is off) until ctx ends.
func serveImageRegistry(ctx context.Context, d *daemon.Daemon, addr string) error {
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("registry-serve: listen on %s: %w (change or remove \"registry-serve\" in daemon.json)", addr, err)
	}
	slog.Info("serving the image store read-only as a registry", "addr", l.Addr().String())
	go func() {
		if err := serveHTTP(ctx, l, server.New(d.RegistryStorage(), server.Options{}), "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("registry-serve stopped", "err", err)
		}
	}()
	return nil
}
