package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// rootOptions are flags shared by every command.
type rootOptions struct {
	logFormat string // json | console | auto
	logLevel  string
}

// usageError marks errors that should exit with code 2.
type usageError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func newRootCmd(opts *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "tusk",
		Short:         "Tusk: Git for data behind the S3 protocol",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	cmd.PersistentFlags().StringVar(&opts.logFormat, "log-format", "auto", "log format: json, console, or auto (console on a terminal)")
	cmd.PersistentFlags().StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.AddCommand(newServeCmd(opts), newVersionCmd())
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.Println("tusk", version)
			return nil
		},
	}
}
