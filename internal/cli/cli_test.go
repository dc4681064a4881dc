package cli

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestCommandTree builds every command with its inherited flags (cobra
// panics on a shorthand defined twice) and checks docker's verbs exist.
func TestCommandTree(t *testing.T) {
	root := &cobra.Command{Use: "gorae"}
	New().Register(root)
	var walk func(*cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		c.InheritedFlags()
		c.LocalFlags()
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for _, path := range [][]string{
		{"run"}, {"create"}, {"ps"}, {"container", "ls"}, {"image", "ls"}, {"images"}, {"pull"}, {"push"},
		{"network", "create"}, {"volume", "prune"}, {"system", "df"}, {"context", "use"}, {"login"}, {"cp"},
	} {
		c, _, err := root.Find(path)
		if err != nil || c == root {
			t.Errorf("gorae %v: not found (%v)", path, err)
		}
	}
	if n < 90 {
		t.Errorf("command tree has %d commands; want docker's (90+)", n)
	}
}
