// Command tusk is Tusk's one binary: `tusk serve` runs the gateway; the
// other subcommands are the admin CLI.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd(&rootOptions{}).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tusk:", err)
		os.Exit(exitCode(err))
	}
}
