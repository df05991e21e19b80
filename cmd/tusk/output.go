package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

// printer writes a command's result: JSON with -o json, else the human
// form that the command's table function writes.
type printer struct {
	w    io.Writer
	json bool
	tw   *tabwriter.Writer
}

func (o *rootOptions) printer(w io.Writer) *printer {
	return &printer{w: w, json: o.output == "json"}
}

// print writes v as indented JSON, or calls human.
func (p *printer) print(v any, human func(p *printer)) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	human(p)
	p.flush()
	return nil
}

// line writes one line of human output.
func (p *printer) line(format string, args ...any) {
	p.flush()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// row writes one row of a table (columns aligned when flushed).
func (p *printer) row(cols ...string) {
	if p.tw == nil {
		p.tw = tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	}
	fmt.Fprintln(p.tw, strings.Join(cols, "\t"))
}

func (p *printer) flush() {
	if p.tw != nil {
		p.tw.Flush()
		p.tw = nil
	}
}

// ---- formats ----

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func ftime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func fsize(n int64) string { return humanize.IBytes(uint64(n)) }

// plural is "1 file", "2 files".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine shortens a commit message to its first line.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	return s
}

// ---- running commands ----

// run wraps a command's work: in -o json mode an admin API error is also
// printed as JSON on stdout (with its code, and conflicting keys if any);
// in table mode the conflicting keys of a merge go to stderr. The error
// itself is returned for main to print as one line and exit 1.
func (o *rootOptions) run(cmd *cobra.Command, fn func(ctx context.Context, cl *client) error) error {
	cl, err := o.client()
	if err != nil {
		return err
	}
	return o.report(cmd, fn(cmd.Context(), cl))
}

// report prints an admin API error as JSON on stdout in -o json mode, and
// the conflicting keys of a merge or revert on stderr in table mode; it
// returns err for main to print as one line (exit 1).
func (o *rootOptions) report(cmd *cobra.Command, err error) error {
	var ae *apiv1.APIError
	if errors.As(err, &ae) {
		if o.output == "json" {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			enc.Encode(ae)
		} else if len(ae.Conflicts) > 0 {
			w := cmd.ErrOrStderr()
			fmt.Fprintf(w, "conflicting keys (%d):\n", len(ae.Conflicts))
			for _, k := range ae.Conflicts {
				fmt.Fprintf(w, "  %s\n", k)
			}
		}
	}
	if err != nil && errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return err
}

func stdout(cmd *cobra.Command) io.Writer { return cmd.OutOrStdout() }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
