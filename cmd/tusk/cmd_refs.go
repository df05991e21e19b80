package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

// ---- repo ----

func newRepoCmd(o *rootOptions) *cobra.Command {
	var force bool
	del := &cobra.Command{
		Use:   "delete REPO",
		Short: "Delete a repo with its history (refused while it holds keys or pipelines read it, unless --force)",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runRepoDelete(ctx, o, cl, cmd, args[0], force) })
		},
	}
	del.Flags().BoolVar(&force, "force", false, "delete the repo even if its branches and tags hold keys, stopping the pipelines that read it")
	return newGroup("repo", "Create, list and delete repos; make them public",
		&cobra.Command{
			Use:   "create REPO",
			Short: "Create a repo (with its branch main); you own it and become its admin",
			Long: `Create a repo with its branch main (S3 bucket REPO). You own it and become
its admin. Admin users may create repos; other users need the create-repos
flag (tusk user create --create-repos, or tusk user set-create-repos).`,
			Args: nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runRepoCreate(ctx, o, cl, cmd, args[0]) })
			},
		},
		&cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List the repos you can read",
			Args:    nargs(0, 0),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runRepoList(ctx, o, cl, cmd) })
			},
		},
		del,
		&cobra.Command{
			Use:       "set-public REPO true|false",
			Short:     "Allow (true) or forbid (false) anonymous reads of a repo",
			Args:      nargs(2, 2),
			ValidArgs: []string{"true", "false"},
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error {
					return runRepoSetPublic(ctx, o, cl, cmd, args[0], args[1])
				})
			},
		},
	)
}

func runRepoCreate(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	repo, err := needRepo(arg, "repo create")
	if err != nil {
		return err
	}
	var r apiv1.RepoInfo
	if err := cl.do(ctx, "POST", "/repos", nil, apiv1.CreateRepoRequest{Name: repo}, &r); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(r, func(p *printer) {
		p.line("Created repo %s with branch main (S3 bucket %s)", r.Name, r.Name)
	})
}

func runRepoList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command) error {
	var rs []apiv1.RepoInfo
	if err := cl.do(ctx, "GET", "/repos", nil, nil, &rs); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(rs, func(p *printer) {
		if len(rs) == 0 {
			p.line("No repos that you can read. Create one with tusk repo create REPO.")
			return
		}
		p.row("REPO", "PUBLIC", "OWNER", "PERMISSION", "CREATED")
		for _, r := range rs {
			p.row(r.Name, yesno(r.Public), r.Owner, r.Permission, ftime(r.Created))
		}
	})
}

func runRepoDelete(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string, force bool) error {
	repo, err := needRepo(arg, "repo delete")
	if err != nil {
		return err
	}
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	var res apiv1.RepoDeleted
	if err := cl.do(ctx, "DELETE", "/repos/"+p(repo), q, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("Deleted repo %s", repo)
		if len(res.Stopped) > 0 {
			p.line("Stopped pipelines %s: they read %s (tusk pipeline update restarts one, tusk pipeline delete removes it)",
				strings.Join(res.Stopped, ", "), repo)
		}
	})
}

func runRepoSetPublic(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, val string) error {
	repo, err := needRepo(arg, "repo set-public")
	if err != nil {
		return err
	}
	pub, err := strconv.ParseBool(val)
	if err != nil {
		return usagef("repo set-public %s: want true or false, not %q", repo, val)
	}
	var r apiv1.RepoInfo
	if err := cl.do(ctx, "PUT", "/repos/"+p(repo)+"/public", nil, apiv1.SetPublicRequest{Public: &pub}, &r); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(r, func(p *printer) {
		if r.Public {
			p.line("Repo %s is public: anyone may read it, without keys", repo)
		} else {
			p.line("Repo %s is private: only users with a permission on it may read it", repo)
		}
	})
}

// ---- branch ----

func newBranchCmd(o *rootOptions) *cobra.Command {
	var from string
	create := &cobra.Command{
		Use:   "create REPO@BRANCH [--from REF]",
		Short: "Create a branch at a ref (default main's head); O(1)",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runBranchCreate(ctx, o, cl, cmd, args[0], from) })
		},
	}
	create.Flags().StringVar(&from, "from", "main", "branch, tag or commit to start from")
	var required []string
	protect := func(use, short string, on bool) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " REPO@BRANCH",
			Short: short,
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var req *[]string
				if cmd.Flags().Changed("require-pipeline") {
					req = &[]string{}
					for _, r := range required {
						if r != "" {
							*req = append(*req, r)
						}
					}
				}
				return o.run(cmd, func(ctx context.Context, cl *client) error {
					return runBranchProtect(ctx, o, cl, cmd, args[0], on, req)
				})
			},
		}
		if on {
			c.Use += " [--require-pipeline P]..."
			c.Flags().StringSliceVar(&required, "require-pipeline", nil,
				"a merge gate: merges need pipeline P to succeed on their source first (repeat for more; replaces the list; \"\" clears it)")
		}
		return c
	}
	return newGroup("branch", "Create, list, delete and protect branches",
		create,
		&cobra.Command{
			Use:     "list REPO",
			Aliases: []string{"ls"},
			Short:   "List a repo's branches",
			Args:    nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runBranchList(ctx, o, cl, cmd, args[0]) })
			},
		},
		&cobra.Command{
			Use:   "delete REPO@BRANCH",
			Short: "Delete a branch, even if it holds keys (its commits stay reachable by id until GC)",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runBranchDelete(ctx, o, cl, cmd, args[0]) })
			},
		},
		protect("protect", "Protect a branch: it takes no direct writes, only merges", true),
		protect("unprotect", "Unprotect a branch: it takes direct writes again", false),
	)
}

func runBranchCreate(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, from string) error {
	t, err := needRef(arg, "REPO@BRANCH")
	if err != nil {
		return err
	}
	var b apiv1.BranchInfo
	if err := cl.do(ctx, "POST", "/repos/"+p(t.Repo)+"/branches", nil, apiv1.CreateRefRequest{Name: t.Ref, From: from}, &b); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(b, func(p *printer) {
		p.line("Created branch %s of %s at %s (from %s; S3 bucket %s.%s)", b.Name, b.Repo, short(b.Head), from, b.Name, b.Repo)
	})
}

func runBranchList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	repo, err := needRepo(arg, "branch list")
	if err != nil {
		return err
	}
	var bs []apiv1.BranchInfo
	if err := cl.do(ctx, "GET", "/repos/"+p(repo)+"/branches", nil, nil, &bs); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(bs, func(p *printer) {
		p.row("BRANCH", "HEAD", "PROTECTED")
		for _, b := range bs {
			prot := yesno(b.Protected)
			if len(b.RequiredPipelines) > 0 {
				prot += " (requires " + strings.Join(b.RequiredPipelines, ",") + ")"
			}
			if b.Output != "" {
				prot = "output of " + b.Output
			}
			p.row(b.Name, short(b.Head), prot)
		}
	})
}

func runBranchDelete(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	t, err := needRef(arg, "REPO@BRANCH")
	if err != nil {
		return err
	}
	var res map[string]string
	if err := cl.do(ctx, "DELETE", "/repos/"+p(t.Repo)+"/branches/"+p(t.Ref), nil, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("Deleted branch %s of %s (its head was %s)", t.Ref, t.Repo, short(res["head"]))
	})
}

func runBranchProtect(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string, on bool, required *[]string) error {
	t, err := needRef(arg, "REPO@BRANCH")
	if err != nil {
		return err
	}
	var b apiv1.BranchInfo
	req := apiv1.SetProtectedRequest{Protected: &on, RequiredPipelines: required}
	if err := cl.do(ctx, "PUT", "/repos/"+p(t.Repo)+"/branches/"+p(t.Ref)+"/protected", nil, req, &b); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(b, func(p *printer) {
		switch {
		case b.Protected && len(b.RequiredPipelines) > 0:
			p.line("Branch %s of %s is protected: it takes only merges, once pipelines %s succeeded on their source",
				b.Name, b.Repo, strings.Join(b.RequiredPipelines, ", "))
		case b.Protected:
			p.line("Branch %s of %s is protected: it takes only merges", b.Name, b.Repo)
		default:
			p.line("Branch %s of %s is no longer protected", b.Name, b.Repo)
		}
	})
}

// ---- tag ----

func newTagCmd(o *rootOptions) *cobra.Command {
	var from string
	create := &cobra.Command{
		Use:   "create REPO@TAG [--from REF]",
		Short: "Tag the commit a ref points at (default main's head); O(1)",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runTagCreate(ctx, o, cl, cmd, args[0], from) })
		},
	}
	create.Flags().StringVar(&from, "from", "main", "branch, tag or commit to tag")
	return newGroup("tag", "Create, list and delete tags",
		create,
		&cobra.Command{
			Use:     "list REPO",
			Aliases: []string{"ls"},
			Short:   "List a repo's tags",
			Args:    nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runTagList(ctx, o, cl, cmd, args[0]) })
			},
		},
		&cobra.Command{
			Use:   "delete REPO@TAG",
			Short: "Delete a tag",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runTagDelete(ctx, o, cl, cmd, args[0]) })
			},
		},
	)
}

func runTagCreate(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg, from string) error {
	t, err := needRef(arg, "REPO@TAG")
	if err != nil {
		return err
	}
	var tg apiv1.TagInfo
	if err := cl.do(ctx, "POST", "/repos/"+p(t.Repo)+"/tags", nil, apiv1.CreateRefRequest{Name: t.Ref, From: from}, &tg); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(tg, func(p *printer) {
		p.line("Created tag %s of %s at %s (from %s)", tg.Name, tg.Repo, short(tg.Commit), from)
	})
}

func runTagList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	repo, err := needRepo(arg, "tag list")
	if err != nil {
		return err
	}
	var ts []apiv1.TagInfo
	if err := cl.do(ctx, "GET", "/repos/"+p(repo)+"/tags", nil, nil, &ts); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(ts, func(p *printer) {
		if len(ts) == 0 {
			p.line("Repo %s has no tags.", repo)
			return
		}
		p.row("TAG", "COMMIT", "CREATED")
		for _, t := range ts {
			p.row(t.Name, short(t.Commit), ftime(t.Created))
		}
	})
}

func runTagDelete(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	t, err := needRef(arg, "REPO@TAG")
	if err != nil {
		return err
	}
	var res map[string]string
	if err := cl.do(ctx, "DELETE", "/repos/"+p(t.Repo)+"/tags/"+p(t.Ref), nil, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("Deleted tag %s of %s (it pointed at %s)", t.Ref, t.Repo, short(res["commit"]))
	})
}
