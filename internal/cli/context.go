package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// contexts: docker's store (~/.docker/contexts/meta/<sha256(name)>/meta.json),
// read and written the same way, so `docker context` and `gorae context`
// share them.

type contextRow struct {
	Name, Description, DockerEndpoint, Error string
	Current                                  bool
}

func (c *CLI) contextCommand() *cobra.Command {
	group := &cobra.Command{Use: "context", Short: "Manage contexts", Args: noArgs, RunE: showHelp}

	var format string
	var quiet bool
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List contexts",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			metas, err := c.listContexts()
			if err != nil {
				return err
			}
			cur := c.contextName()
			defer func() {
				if os.Getenv("DOCKER_HOST") != "" && c.opts.context == "" {
					fmt.Fprintln(c.errOut, "Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.")
				}
			}()
			rows := []any{contextRow{Name: "default", Description: "Current DOCKER_HOST based configuration", DockerEndpoint: c.defaultEndpoint(), Current: cur == "default"}}
			sort.Slice(metas, func(i, j int) bool { return metas[i].Name < metas[j].Name })
			for _, m := range metas {
				desc, _ := m.Metadata["Description"].(string)
				rows = append(rows, contextRow{Name: m.Name, Description: desc, DockerEndpoint: m.Endpoints["docker"].Host, Current: cur == m.Name})
			}
			table := "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}"
			headers := map[string]string{"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT", "Error": "ERROR"}
			return listing{format: format, table: table, quiet: "{{.Name}}", headers: headers}.render(c.out, quiet, rows)
		},
	}
	ls.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only show context names")

	use := &cobra.Command{
		Use:   "use CONTEXT",
		Short: "Set the current docker context",
		Args:  requiresExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if name != "default" {
				if _, err := c.contextHost(name); err != nil {
					return err
				}
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			cfg.CurrentContext = name
			if name == "default" {
				cfg.CurrentContext = ""
			}
			if err := c.saveConfig(cfg); err != nil {
				return err
			}
			fmt.Fprintln(c.out, name)
			fmt.Fprintf(c.errOut, "Current context is now %q\n", name)
			return nil
		},
	}

	show := &cobra.Command{
		Use:   "show",
		Short: "Print the name of the current context",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(c.out, c.contextName())
			return nil
		},
	}

	var desc, docker string
	create := &cobra.Command{
		Use:   "create [OPTIONS] CONTEXT",
		Short: "Create a context",
		Args:  requiresExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if name == "default" {
				return errors.New(`"default" is a reserved context name`)
			}
			if _, err := c.contextHost(name); err == nil {
				return fmt.Errorf("context %q already exists", name)
			}
			host := ""
			for _, kv := range strings.Split(docker, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok && k == "host" {
					host = v
				}
			}
			if host == "" {
				host = c.defaultEndpoint()
			}
			meta := map[string]any{
				"Name":      name,
				"Metadata":  map[string]any{"Description": desc},
				"Endpoints": map[string]any{"docker": map[string]any{"Host": host, "SkipTLSVerify": false}},
			}
			b, _ := json.Marshal(meta)
			sum := sha256.Sum256([]byte(name))
			dir := filepath.Join(c.contextDir(), hex.EncodeToString(sum[:]))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o644); err != nil {
				return err
			}
			fmt.Fprintln(c.out, name)
			fmt.Fprintf(c.errOut, "Successfully created context %q\n", name)
			return nil
		},
	}
	create.Flags().StringVar(&desc, "description", "", "Description of the context")
	create.Flags().StringVar(&docker, "docker", "", "set the docker endpoint (host=unix:///path)")

	rm := &cobra.Command{
		Use:     "rm CONTEXT [CONTEXT...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more contexts",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []string
			for _, name := range args {
				sum := sha256.Sum256([]byte(name))
				dir := filepath.Join(c.contextDir(), hex.EncodeToString(sum[:]))
				if _, err := os.Stat(dir); err != nil {
					errs = append(errs, fmt.Sprintf("context %q does not exist", name))
					continue
				}
				if err := os.RemoveAll(dir); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(c.out, name)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
	}

	var inspFormat string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] [CONTEXT] [CONTEXT...]",
		Short: "Display detailed information on one or more contexts",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{c.contextName()}
			}
			var out []any
			for _, name := range args {
				if name == "default" {
					out = append(out, map[string]any{"Name": "default", "Endpoints": map[string]any{"docker": map[string]any{"Host": c.defaultEndpoint()}}})
					continue
				}
				sum := sha256.Sum256([]byte(name))
				b, err := os.ReadFile(filepath.Join(c.contextDir(), hex.EncodeToString(sum[:]), "meta.json"))
				if err != nil {
					return fmt.Errorf("context %q does not exist", name)
				}
				var m any
				json.Unmarshal(b, &m)
				out = append(out, m)
			}
			if inspFormat != "" {
				for _, o := range out {
					if err := formatOne(c.out, inspFormat, o); err != nil {
						return err
					}
				}
				return nil
			}
			b, _ := json.MarshalIndent(out, "", "    ")
			fmt.Fprintln(c.out, string(b))
			return nil
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Format output using a custom template")

	group.AddCommand(ls, use, show, create, rm, inspect)
	return group
}

// defaultEndpoint is the "default" context's address: the environment's
// or gorae's socket.
func (c *CLI) defaultEndpoint() string {
	for _, e := range []string{EnvHost, "DOCKER_HOST"} {
		if h := os.Getenv(e); h != "" {
			return normalizeHost(h)
		}
	}
	return DefaultHost
}
