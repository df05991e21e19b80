package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// rootOptions are flags shared by every command.
type rootOptions struct {
	logFormat string // json | console | auto
	logLevel  string

	output     string // table | json
	endpoint   string // --endpoint (wins over TUSK_ENDPOINT and the config file)
	configFile string // --config (default: $XDG_CONFIG_HOME/tusk/config.yaml)

	cl *client // built on first use
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

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func newRootCmd(opts *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tusk",
		Short: "Tusk: Git for data behind the S3 protocol",
		Long: `Tusk is Git for data behind the S3 protocol. tusk serve runs the gateway; every
other command is the admin CLI, speaking to a running gateway's admin API.

The CLI finds the gateway and your keys in --endpoint, then TUSK_ENDPOINT,
TUSK_ACCESS_KEY and TUSK_SECRET_KEY, then the config file that tusk login
writes ($XDG_CONFIG_HOME/tusk/config.yaml, by default ~/.config/tusk/config.yaml).

Refs are written REPO@REF (a branch, a tag or a commit id; REPO alone is main)
and objects REPO@REF:PATH. Every command prints a table, or JSON with -o json.
Exit codes: 0 ok, 1 failure, 2 usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRunE,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch opts.output {
			case "table", "json":
			default:
				return usagef("bad --output %q: use table or json", opts.output)
			}
			return nil
		},
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := cmd.PersistentFlags()
	pf.StringVar(&opts.logFormat, "log-format", "auto", "log format: json, console, or auto (console on a terminal)")
	pf.StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVarP(&opts.output, "output", "o", "table", "output format: table or json")
	pf.StringVar(&opts.endpoint, "endpoint", "", "the gateway's URL (default: TUSK_ENDPOINT, the config file, or http://127.0.0.1:9000)")
	pf.StringVar(&opts.configFile, "config", "", "config file (default $XDG_CONFIG_HOME/tusk/config.yaml or ~/.config/tusk/config.yaml)")
	cmd.AddCommand(
		newServeCmd(opts),
		newVersionCmd(opts),
		newLoginCmd(opts),
		newWhoamiCmd(opts),
		newRepoCmd(opts),
		newBranchCmd(opts),
		newTagCmd(opts),
		newLogCmd(opts),
		newDiffCmd(opts),
		newCommitCmd(opts),
		newMergeCmd(opts),
		newRevertCmd(opts),
		newResetCmd(opts),
		newLsCmd(opts),
		newCatCmd(opts),
		newPutCmd(opts),
		newImportCmd(opts),
		newGetCmd(opts),
		newPurgeCmd(opts),
		newUserCmd(opts),
		newKeyCmd(opts),
		newPermCmd(opts),
		newAuditCmd(opts),
		newGCCmd(opts),
		newBackupCmd(opts), // cmd_backup.go
		newRestoreCmd(opts),
		newMirrorCmd(opts),
		newCompletionCmd(),
	)
	cmd.AddCommand(newPipelineCmds(opts)...) // cmd_pipeline.go
	return cmd
}

// groupRunE runs for a command group called without (or with an unknown)
// subcommand: a usage error.
func groupRunE(cmd *cobra.Command, args []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if len(args) == 0 {
		return usagef("%s needs a command: %s (see %s --help)", cmd.CommandPath(), strings.Join(names, ", "), cmd.CommandPath())
	}
	return usagef("unknown command %q for %s: use %s (see %s --help)", args[0], cmd.CommandPath(), strings.Join(names, ", "), cmd.CommandPath())
}

// newGroup returns a command group: its subcommands do the work.
func newGroup(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: groupRunE}
	c.AddCommand(subs...)
	return c
}

// nargs validates the positional argument count (usage error otherwise).
func nargs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || (max >= 0 && len(args) > max) {
			return usagef("usage: %s", cmd.UseLine())
		}
		return nil
	}
}
