package main

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/pipelines/worker"
)

// newWorkerCmd is `tusk worker`, hidden: the local runner starts it to run
// datums (it reads its task, JSON, on stdin and writes one result per line).
func newWorkerCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:                "worker",
		Short:              "Run datums of a pipeline job (started by the gateway's runner; reads its task on stdin)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWorker(cmd.Context(), args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

func runWorker(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) error {
	if code := worker.Main(ctx, args, in, out, errw); code != 0 {
		os.Exit(code)
	}
	return nil
}
