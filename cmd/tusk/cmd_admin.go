package main

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
)

// ---- user ----

func newUserCmd(o *rootOptions) *cobra.Command {
	var admin, noKey, createRepos bool
	create := &cobra.Command{
		Use:   "create USER [--admin | --create-repos] [--no-key]",
		Short: "Create a user and its first access key (the secret is shown only now)",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if admin && createRepos {
				return usagef("user create: --admin users may create repos anyway; give --admin or --create-repos, not both")
			}
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				return runUserCreate(ctx, o, cl, cmd, apiv1.CreateUserRequest{Name: args[0], Admin: admin, NoKey: noKey, CreateRepos: createRepos})
			})
		},
	}
	create.Flags().BoolVar(&admin, "admin", false, "an admin user: every permission on every repo, and user management")
	create.Flags().BoolVar(&noKey, "no-key", false, "create no access key (tusk key create USER later)")
	create.Flags().BoolVar(&createRepos, "create-repos", false, "let the user create repos (S3 CreateBucket, tusk repo create); it owns and administers them")
	return newGroup("user", "Create, list and delete users (admin users only)",
		create,
		&cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List users with their permissions",
			Args:    nargs(0, 0),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runUserList(ctx, o, cl, cmd) })
			},
		},
		&cobra.Command{
			Use:   "set-create-repos USER true|false",
			Short: "Allow (true) or forbid (false) a user to create repos",
			Long: `Allow (true) or forbid (false) a non-admin user to create repos, with S3
CreateBucket or tusk repo create, as an S3 account creates buckets: the user
owns each repo it creates and is its admin. Repos it made stay its own when
the flag is turned off. Admin users may always create repos.`,
			Args:      nargs(2, 2),
			ValidArgs: []string{"true", "false"},
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error {
					return runUserSetCreateRepos(ctx, o, cl, cmd, args[0], args[1])
				})
			},
		},
		&cobra.Command{
			Use:   "delete USER",
			Short: "Delete a user and revoke all its access keys",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runUserDelete(ctx, o, cl, cmd, args[0]) })
			},
		},
	)
}

func printNewKey(p *printer, k *apiv1.NewKey) {
	p.line("Access key: %s", k.AccessKey)
	p.line("Secret key: %s", k.SecretKey)
	p.line("The secret is shown only now; store it safely (tusk login --access-key %s --secret-key ...).", k.AccessKey)
}

func runUserCreate(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, req apiv1.CreateUserRequest) error {
	var res apiv1.NewUser
	if err := cl.do(ctx, "POST", "/users", nil, req, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		role, note := "user", ""
		switch {
		case res.User.Admin:
			role = "admin user"
		case res.User.CreateRepos:
			note = " (may create repos)"
		}
		p.line("Created %s %s%s", role, res.User.Name, note)
		if res.Key != nil {
			printNewKey(p, res.Key)
		}
	})
}

func permString(perms map[string]string) string {
	if len(perms) == 0 {
		return "-"
	}
	repos := make([]string, 0, len(perms))
	for r := range perms {
		repos = append(repos, r)
	}
	sort.Strings(repos)
	var parts []string
	for _, r := range repos {
		parts = append(parts, r+":"+perms[r])
	}
	return strings.Join(parts, ",")
}

func runUserList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command) error {
	var us []apiv1.UserInfo
	if err := cl.do(ctx, "GET", "/users", nil, nil, &us); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(us, func(p *printer) {
		p.row("USER", "ADMIN", "CREATE-REPOS", "KEYS", "PERMISSIONS", "CREATED")
		for _, u := range us {
			perms := permString(u.Perms)
			if u.Admin {
				perms = "all"
			}
			p.row(u.Name, yesno(u.Admin), yesno(u.CreateRepos), strconv.Itoa(u.Keys), perms, ftime(u.Created))
		}
	})
}

func runUserSetCreateRepos(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, name, val string) error {
	on, err := strconv.ParseBool(val)
	if err != nil {
		return usagef("user set-create-repos %s: want true or false, not %q", name, val)
	}
	var u apiv1.UserInfo
	if err := cl.do(ctx, "PUT", "/users/"+p(name)+"/create-repos", nil, apiv1.SetCreateReposRequest{CreateRepos: &on}, &u); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(u, func(p *printer) {
		if u.CreateRepos {
			p.line("User %s may create repos: it owns and administers the repos it creates", u.Name)
		} else {
			p.line("User %s may no longer create repos (the repos it made stay its own)", u.Name)
		}
	})
}

func runUserDelete(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, name string) error {
	var res map[string]string
	if err := cl.do(ctx, "DELETE", "/users/"+p(name), nil, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) { p.line("Deleted user %s and revoked its access keys", name) })
}

// ---- key ----

func newKeyCmd(o *rootOptions) *cobra.Command {
	return newGroup("key", "Create, list and revoke access keys (admin users only)",
		&cobra.Command{
			Use:   "create USER",
			Short: "Create an access key for a user (the secret is shown only now)",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runKeyCreate(ctx, o, cl, cmd, args[0]) })
			},
		},
		&cobra.Command{
			Use:     "list [USER]",
			Aliases: []string{"ls"},
			Short:   "List access keys (of one user), never their secrets",
			Args:    nargs(0, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				user := ""
				if len(args) == 1 {
					user = args[0]
				}
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runKeyList(ctx, o, cl, cmd, user) })
			},
		},
		&cobra.Command{
			Use:   "revoke KEYID",
			Short: "Revoke an access key: it stops working at once",
			Args:  nargs(1, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runKeyRevoke(ctx, o, cl, cmd, args[0]) })
			},
		},
	)
}

func runKeyCreate(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, user string) error {
	var k apiv1.NewKey
	if err := cl.do(ctx, "POST", "/keys", nil, apiv1.CreateKeyRequest{User: user}, &k); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(k, func(p *printer) {
		p.line("Created an access key for %s", k.User)
		printNewKey(p, &k)
	})
}

func runKeyList(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, user string) error {
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
	}
	var ks []apiv1.KeyInfo
	if err := cl.do(ctx, "GET", "/keys", q, nil, &ks); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(ks, func(p *printer) {
		if len(ks) == 0 {
			p.line("No access keys.")
			return
		}
		p.row("KEY", "USER", "CREATED")
		for _, k := range ks {
			p.row(k.ID, k.User, ftime(k.Created))
		}
	})
}

func runKeyRevoke(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, id string) error {
	var res map[string]string
	if err := cl.do(ctx, "DELETE", "/keys/"+p(id), nil, nil, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) { p.line("Revoked access key %s of %s", id, res["user"]) })
}

// ---- perm ----

func newPermCmd(o *rootOptions) *cobra.Command {
	levels := []string{"read", "write", "admin"}
	return newGroup("perm", "Grant and revoke per-repo permissions (read < write < admin)",
		&cobra.Command{
			Use:   "grant USER REPO read|write|admin",
			Short: "Set USER's permission on REPO (admin users and the repo's admins may)",
			Long: `Set USER's permission on REPO to read (list and get), write (also put, delete,
open commits, merge, revert) or admin (also branches, tags, reset, purge,
permissions, deleting the repo). Admin users have every permission anyway.`,
			Args:      nargs(3, 3),
			ValidArgs: levels,
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runPerm(ctx, o, cl, cmd, true, args) })
			},
		},
		&cobra.Command{
			Use:   "revoke USER REPO [read|write|admin]",
			Short: "Take a permission (and those above it) away; without a level, all of them",
			Long: `Take LEVEL and every level above it away from USER on REPO: revoking write
from a writer or an admin leaves read; revoking read (or giving no level)
leaves nothing.`,
			Args:      nargs(2, 3),
			ValidArgs: levels,
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.run(cmd, func(ctx context.Context, cl *client) error { return runPerm(ctx, o, cl, cmd, false, args) })
			},
		},
	)
}

func runPerm(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, grant bool, args []string) error {
	user := args[0]
	repo, err := needRepo(args[1], "perm")
	if err != nil {
		return err
	}
	level := ""
	if len(args) == 3 {
		level = args[2]
		if _, err := auth.ParsePerm(level); err != nil {
			return usagef("unknown permission %q: use read, write or admin", level)
		}
	}
	var res apiv1.PermInfo
	path := "/users/" + p(user) + "/perms/" + p(repo)
	if grant {
		err = cl.do(ctx, "PUT", path, nil, apiv1.PermRequest{Permission: level}, &res)
	} else {
		q := url.Values{}
		if level != "" {
			q.Set("permission", level)
		}
		err = cl.do(ctx, "DELETE", path, q, nil, &res)
	}
	if err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		if res.Permission == "none" {
			p.line("%s now has no permission on %s", res.User, res.Repo)
		} else {
			p.line("%s now has %s permission on %s", res.User, res.Permission, res.Repo)
		}
	})
}

// ---- gc (audit: cmd_audit.go) ----

func newGCCmd(o *rootOptions) *cobra.Command {
	var dryRun bool
	var retention time.Duration
	cmd := &cobra.Command{
		Use:   "gc [--dry-run] [--retention D]",
		Short: "Collect garbage now: unreferenced blobs, and commits unreachable for longer than the retention",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if retention < 0 {
				return usageError{fmt.Errorf("--retention %s: give a duration of 0 or more", retention)}
			}
			if cmd.Flags().Changed("retention") && retention == 0 {
				retention = time.Nanosecond // 0: unreachable commits go now
			}
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runGC(ctx, o, cl, cmd, dryRun, retention) })
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be deleted, delete nothing")
	cmd.Flags().DurationVar(&retention, "retention", 0, "keep unreachable commits younger than this; 0 collects them now (default: the server's, 7 days)")
	return cmd
}

func runGC(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, dryRun bool, retention time.Duration) error {
	req := apiv1.GCRequest{DryRun: dryRun}
	if retention > 0 {
		req.Retention = retention.String()
	}
	var res apiv1.GCResult
	if err := cl.do(ctx, "POST", "/gc", nil, req, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		verb := "Deleted"
		if dryRun {
			verb = "Would delete"
		}
		p.line("%s %s (%s), %s and %s in %.1fs", verb, plural(res.BlobsDeleted, "blob"), fsize(res.BytesFreed),
			plural(res.CommitsDeleted, "commit"), plural(res.NodesDeleted, "tree node"), res.TookSeconds)
	})
}

// ---- whoami, version, completion ----

func newWhoamiCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the user your access key belongs to, and its permissions",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error {
				var w apiv1.WhoAmI
				if err := cl.do(ctx, "GET", "/whoami", nil, nil, &w); err != nil {
					return err
				}
				return o.printer(stdout(cmd)).print(w, func(p *printer) {
					role := ""
					if w.Admin {
						role = " (admin user)"
					}
					p.line("%s%s at %s, access key %s", w.User, role, cl.base, w.AccessKey)
					if !w.Admin {
						p.line("permissions: %s", permString(w.Perms))
					}
				})
			})
		},
	}
}

type versionResult struct {
	Client   string `json:"client"`
	Server   string `json:"server,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Error    string `json:"server_error,omitempty"`
}

func newVersionCmd(o *rootOptions) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of tusk and of the gateway it talks to",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(cmd.Context(), o, cmd, clientOnly)
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only this binary's version")
	return cmd
}

func runVersion(ctx context.Context, o *rootOptions, cmd *cobra.Command, clientOnly bool) error {
	res := versionResult{Client: version}
	if !clientOnly {
		if cl, err := o.client(); err != nil {
			res.Error = err.Error()
		} else {
			res.Endpoint = cl.base
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			var v apiv1.VersionInfo
			if err := cl.do(ctx, "GET", "/version", nil, nil, &v); err != nil {
				res.Error = err.Error()
			} else {
				res.Server = v.Version
			}
		}
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("tusk %s", res.Client)
		switch {
		case res.Server != "":
			p.line("server %s at %s", res.Server, res.Endpoint)
		case res.Error != "":
			fmt.Fprintf(cmd.ErrOrStderr(), "server: %s\n", res.Error)
		}
	})
}

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print a completion script for your shell. For example:
  bash: source <(tusk completion bash)
  zsh:  tusk completion zsh > "${fpath[1]}/_tusk"
  fish: tusk completion fish > ~/.config/fish/completions/tusk.fish`,
		Args:      nargs(1, 1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return usagef("completion: unknown shell %q: use bash, zsh or fish", args[0])
		},
	}
}
