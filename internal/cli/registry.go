package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (c *CLI) registryCommands() []*cobra.Command {
	return []*cobra.Command{c.loginCommand(), c.logoutCommand()}
}

func (c *CLI) loginCommand() *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			server := hubServer
			if len(args) == 1 {
				server = serverKey(args[0])
			}
			if passwordStdin {
				if password != "" {
					return errors.New("--password and --password-stdin are mutually exclusive")
				}
				if user == "" {
					return errors.New("must provide --username with --password-stdin")
				}
				b, err := io.ReadAll(c.in)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if password != "" && !passwordStdin {
				fmt.Fprintln(c.errOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			rd := bufio.NewReader(c.in)
			if user == "" {
				stored, _ := c.getAuth(server)
				prompt := "Username: "
				if stored.Username != "" {
					prompt = fmt.Sprintf("Username (%s): ", stored.Username)
				}
				fmt.Fprint(c.out, prompt)
				line, _ := rd.ReadString('\n')
				user = strings.TrimSpace(line)
				if user == "" {
					user = stored.Username
				}
				if user == "" {
					return errors.New("Error: Non-null Username Required")
				}
			}
			if password == "" {
				fmt.Fprint(c.out, "Password: ")
				if fd, ok := isTerminal(c.in); ok {
					b, err := term.ReadPassword(int(fd))
					fmt.Fprintln(c.out)
					if err != nil {
						return err
					}
					password = string(b)
				} else {
					line, _ := rd.ReadString('\n')
					password = strings.TrimRight(line, "\r\n")
				}
				if password == "" {
					return errors.New("Error: Password Required")
				}
			}
			api, err := c.Client(ctx)
			if err != nil {
				return err
			}
			r, err := api.RegistryLogin(ctx, client.RegistryLoginOptions{Username: user, Password: password, ServerAddress: server})
			if err != nil {
				return err
			}
			ac := registry.AuthConfig{Username: user, Password: password, ServerAddress: server}
			if r.Auth.IdentityToken != "" {
				ac.Password, ac.IdentityToken = "", r.Auth.IdentityToken
			}
			if err := c.storeAuth(ac); err != nil {
				return fmt.Errorf("Error saving credentials: %w", err)
			}
			if r.Auth.Status != "" && r.Auth.Status != "Login Succeeded" {
				fmt.Fprintln(c.out, r.Auth.Status)
			}
			fmt.Fprintln(c.out, "Login Succeeded")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&user, "username", "u", "", "Username")
	fl.StringVarP(&password, "password", "p", "", "Password or Personal Access Token (PAT)")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func (c *CLI) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := hubServer
			if len(args) == 1 {
				server = serverKey(args[0])
			}
			had, err := c.eraseAuth(server)
			if err != nil {
				return err
			}
			if !had {
				fmt.Fprintf(c.out, "Not logged in to %s\n", server)
				return nil
			}
			fmt.Fprintf(c.out, "Removing login credentials for %s\n", server)
			return nil
		},
	}
}
