package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gorae/gorae/internal/snapshot"
)

// debugCommand holds tools for looking at gorae's parts in isolation:
// not for daily use, hence hidden.
func debugCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "debug", Short: "Tools to exercise gorae's parts alone", Hidden: true}
	cmd.AddCommand(&cobra.Command{
		Use:   "apply-layer LAYER DIR",
		Short: "Unpack a layer tar (gzip, zstd or plain) into DIR as the image store does, and print its diffID",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			if err := os.MkdirAll(args[1], 0o755); err != nil {
				return err
			}
			res, err := snapshot.Apply(context.Background(), args[1], f)
			if err != nil {
				return err
			}
			fmt.Println(res.DiffID, res.Size)
			return nil
		},
	})
	return cmd
}
