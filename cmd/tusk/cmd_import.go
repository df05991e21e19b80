package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

type importOptions struct {
	message string
	link    bool
}

func newImportCmd(o *rootOptions) *cobra.Command {
	im := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import SRC REPO[@BRANCH][:PREFIX] [-m MSG] [--link]",
		Short: "Register files of the gateway's host on a branch as one commit",
		Long: `Register every regular file under SRC, a directory (or one file) on the
GATEWAY's host, as key PREFIX/ + its path relative to SRC (a file: key PREFIX,
or PREFIX/NAME when PREFIX is empty or ends in '/'), all in ONE commit on
BRANCH (default main). SRC is an absolute path or file:///path under one of the
server's import roots (tusk serve --import-root DIR); admin users only.

Each file is read once by the gateway, for its SHA-256 and MD5. By default it is
copied into the blob store; with --link it is hard-linked there instead (no
copy, no extra space: the disk backend, on the same file system; elsewhere it
is copied). A linked file IS the stored version: never change it in place
afterwards (replace it instead). Symbolic links and special files are skipped
and listed. If anything fails, nothing is committed. Progress is drawn on a
terminal.`,
		Args: nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runImport(ctx, o, cl, cmd, args[0], args[1], im) })
		},
	}
	cmd.Flags().StringVarP(&im.message, "message", "m", "", "commit message (default: import SRC)")
	cmd.Flags().BoolVar(&im.link, "link", false, "hard-link the files into the blob store instead of copying them")
	return cmd
}

func runImport(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, src, dest string, im *importOptions) error {
	t, err := optPath(dest, "REPO[@BRANCH][:PREFIX]")
	if err != nil {
		return err
	}
	req := apiv1.ImportRequest{Source: src, Branch: t.refOrMain(), Prefix: t.Path, Message: im.message}
	if im.link {
		req.Mode = "link"
	}
	resp, err := cl.send(ctx, "POST", "/repos/"+p(t.Repo)+"/import", nil, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	res, err := readImport(resp.Body, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		how := fmt.Sprintf("%d copied", res.Copied)
		if res.Linked > 0 {
			how = fmt.Sprintf("%d linked, %d copied", res.Linked, res.Copied)
		}
		p.line("Imported %s (%s; %s) into %s@%s as commit %s in %.1fs", plural(int(res.Files), "file"), fsize(res.Bytes), how,
			res.Repo, res.Branch, res.Commit, res.Seconds)
		if res.SkippedCount > 0 {
			p.line("Skipped %s (symbolic links or special files): %s", plural(int(res.SkippedCount), "file"), strings.Join(res.Skipped, ", "))
		}
	})
}

// readImport reads the import's newline-delimited answer, drawing its
// progress lines on w when w is a terminal, and returns its result or its
// error.
func readImport(r io.Reader, w io.Writer) (*apiv1.ImportResult, error) {
	term := isTerminal(w)
	drawn := false
	defer func() {
		if drawn {
			fmt.Fprintln(w)
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l apiv1.ImportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("decoding the gateway's answer: %w", err)
		}
		switch {
		case l.Error != nil:
			return nil, l.Error
		case l.Result != nil:
			return l.Result, nil
		case l.Progress != nil && term:
			pr := l.Progress
			rate := 0.0
			if pr.Seconds > 0 {
				rate = float64(pr.Files) / pr.Seconds
			}
			fmt.Fprintf(w, "\rimport  %d files  %s  %.0f files/s  %.0fs ", pr.Files, fsize(pr.Bytes), rate, pr.Seconds)
			drawn = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the gateway's answer: %w", err)
	}
	return nil, fmt.Errorf("the gateway's answer ended before the import's outcome: it may still be running; tusk commit list shows its open commit")
}
