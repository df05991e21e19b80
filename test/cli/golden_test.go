package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The golden tests record human output of every command, in order, on a
// fresh server; ids, keys and times are masked.

var commitRe = regexp.MustCompile(`[0-9a-f]{32}`)

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenRefs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	tr := &transcript{}
	tr.add(a, "repo", "create", "images")
	tr.add(a, "repo", "create", "images")
	tr.add(a, "repo", "create", "Bad_Name")
	tr.add(a, "repo", "list")
	tr.add(a, "repo", "set-public", "images", "true")
	tr.add(a, "repo", "list")
	tr.add(a, "repo", "set-public", "images", "maybe")
	tr.add(a, "repo", "set-public", "images", "false")
	tr.add(a, "branch", "create", "images@dev")
	tr.add(a, "branch", "create", "images@feature", "--from", "dev")
	tr.add(a, "branch", "create", "images@dev")
	tr.add(a, "branch", "create", "images@deadbeef00")
	tr.add(a, "branch", "list", "images")
	tr.add(a, "branch", "protect", "images@main")
	tr.add(a, "branch", "list", "images")
	tr.add(a, "branch", "delete", "images@main")
	tr.add(a, "branch", "unprotect", "images@main")
	tr.add(a, "branch", "delete", "images@feature")
	tr.add(a, "branch", "delete", "images@nope")
	tr.add(a, "branch", "delete", "images")
	tr.add(a, "branch", "list", "nope")
	tr.add(a, "tag", "create", "images@v1")
	tr.add(a, "tag", "create", "images@v2", "--from", "dev")
	tr.add(a, "tag", "list", "images")
	tr.add(a, "tag", "delete", "images@v1")
	tr.add(a, "tag", "delete", "images@v1")
	tr.add(a, "log", "images")
	tr.add(a, "log", "images@nope")
	tr.add(a, "ls", "nope")
	tr.add(a, "repo")
	tr.add(a, "repo", "frobnicate")
	tr.add(a, "frobnicate")
	tr.add(a, "repo", "create")
	tr.add(a, "repo", "list", "--output", "yaml")
	tr.add(a, "log", "images", "--limit", "x")
	tr.add(a, "repo", "delete", "images")
	tr.add(a, "repo", "list")
	tr.check(t, "refs")
}

func TestGoldenHistory(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	a.dir = t.TempDir()
	tr := &transcript{}
	writeFile(t, filepath.Join(a.dir, "src", "a.txt"), "alpha\n")
	writeFile(t, filepath.Join(a.dir, "src", "b", "c.txt"), "gamma\n")
	writeFile(t, filepath.Join(a.dir, "src", "b", "d.json"), `{"d": 4}`+"\n")
	writeFile(t, filepath.Join(a.dir, "A.txt"), "ALPHA, longer\n")
	writeFile(t, filepath.Join(a.dir, "new.txt"), "new\n")

	tr.add(a, "repo", "create", "data")
	tr.add(a, "put", "src", "data@main:in", "-m", "first batch")
	tr.add(a, "ls", "data")
	tr.add(a, "ls", "data:in")
	tr.add(a, "ls", "data@main:in/")
	tr.add(a, "ls", "-r", "data")
	tr.add(a, "ls", "data:in/a.txt")
	tr.add(a, "ls", "data:nothing")
	tr.add(a, "cat", "data:in/a.txt")
	tr.add(a, "cat", "data:in/zzz")
	tr.add(a, "cat", "data")
	tr.add(a, "log", "data")
	tr.add(a, "branch", "create", "data@dev")
	tr.add(a, "put", "A.txt", "data@dev:in/a.txt", "-m", "change a")
	tr.add(a, "put", "new.txt", "data@dev:in/", "-m", "add new")
	tr.add(a, "diff", "data@main", "data@dev")
	tr.add(a, "diff", "data@main", "data@dev", "--prefix", "in/b/")
	tr.add(a, "diff", "data@main", "other@dev")
	tr.add(a, "merge", "data@dev", "data@main")
	tr.add(a, "merge", "data@dev", "data@main")

	// A conflict on conf.txt: main and dev write it differently.
	writeFile(t, filepath.Join(a.dir, "conf.txt"), "main side\n")
	tr.add(a, "put", "conf.txt", "data@main:conf.txt", "-m", "main writes conf")
	writeFile(t, filepath.Join(a.dir, "conf.txt"), "dev side\n")
	tr.add(a, "put", "conf.txt", "data@dev:conf.txt", "-m", "dev writes conf")
	tr.add(a, "merge", "data@dev", "data@main")
	tr.add(a, "merge", "data@dev", "data@main", "--strategy", "both")
	tr.add(a, "merge", "data@dev", "data@main", "--strategy", "ours")
	tr.add(a, "cat", "data:conf.txt")
	writeFile(t, filepath.Join(a.dir, "conf.txt"), "dev again\n")
	tr.add(a, "put", "conf.txt", "data@dev:conf.txt", "-m", "dev writes conf again")
	writeFile(t, filepath.Join(a.dir, "conf.txt"), "main again\n")
	tr.add(a, "put", "conf.txt", "data@main:conf.txt", "-m", "main writes conf again")
	tr.add(a, "merge", "data@dev", "data@main", "--strategy", "theirs", "-m", "take dev's conf")
	tr.add(a, "cat", "data:conf.txt")
	tr.add(a, "log", "data", "--limit", "3")
	tr.add(a, "log", "data", "--path", "in/a.txt")

	// Revert the change of in/a.txt on main, then reset dev to main.
	var lg struct {
		Commits []struct{ ID, Message string }
	}
	a.json(&lg, "log", "data", "--path", "in/a.txt", "--limit", "1")
	tr.add(a, "revert", "data@main", lg.Commits[0].ID[:12])
	tr.add(a, "cat", "data:in/a.txt")
	tr.add(a, "revert", "data@main", lg.Commits[0].ID)
	tr.add(a, "reset", "data@dev", "main")
	tr.add(a, "diff", "data@main", "data@dev")
	tr.add(a, "reset", "data@dev", "nope")

	// An open commit, written through S3.
	r := tr.add(a, "commit", "start", "data@main", "-m", "open batch")
	id := commitRe.FindString(r.stdout)
	if id == "" {
		t.Fatalf("no commit id in %q", r.stdout)
	}
	c := srv.s3(adminKey, adminSecret)
	for _, k := range []string{"batch/1", "batch/2"} {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(id[:16] + ".data"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	tr.add(a, "commit", "list", "data")
	tr.add(a, "ls", "data@"+id+":batch/")
	tr.add(a, "commit", "finish", "data@"+id)
	tr.add(a, "commit", "finish", "data@"+id)
	tr.add(a, "ls", "data:batch/")
	r = tr.add(a, "commit", "start", "data@dev")
	id = commitRe.FindString(r.stdout)
	tr.add(a, "commit", "abort", "data@"+id[:12])
	tr.add(a, "commit", "abort", "data@"+id[:12])
	tr.add(a, "commit", "list", "data")
	tr.add(a, "commit", "finish", "data")

	// get: a tree, one file, one file into a directory, stdout.
	tr.add(a, "get", "data@main:in", "out")
	tr.add(a, "get", "data:in/b/c.txt", "one.txt")
	tr.add(a, "get", "data:in/b/c.txt", "out")
	tr.add(a, "get", "data:in/b/c.txt", "-")
	tr.add(a, "get", "data:nothing", "out")
	for _, f := range []string{"out/a.txt", "out/b/c.txt", "out/b/d.json", "out/new.txt", "one.txt", "out/c.txt"} {
		b, err := os.ReadFile(filepath.Join(a.dir, f))
		if err != nil {
			t.Errorf("get did not write %s: %v", f, err)
			continue
		}
		tr.buf.WriteString("# " + f + ": " + string(b))
	}
	tr.check(t, "history")
}

func TestGoldenAdmin(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	a.dir = t.TempDir()
	writeFile(t, filepath.Join(a.dir, "f.txt"), "to be purged\n")
	tr := &transcript{}
	tr.add(a, "whoami")
	tr.add(a, "version")
	tr.add(a, "version", "--client")
	tr.add(a, "repo", "create", "data")
	tr.add(a, "put", "f.txt", "data:f.txt")
	tr.add(a, "put", "f.txt", "data:copy.txt")
	tr.add(a, "user", "create", "alice")
	tr.add(a, "user", "create", "alice")
	tr.add(a, "user", "create", "Not Valid")
	tr.add(a, "user", "create", "bob", "--admin", "--no-key")
	tr.add(a, "user", "create", "carol", "--create-repos", "--no-key")
	tr.add(a, "user", "create", "dan", "--admin", "--create-repos")
	tr.add(a, "user", "set-create-repos", "alice", "true")
	tr.add(a, "user", "set-create-repos", "alice", "false")
	tr.add(a, "user", "set-create-repos", "alice", "maybe")
	tr.add(a, "user", "set-create-repos", "bob", "true")
	tr.add(a, "user", "set-create-repos", "nobody", "true")
	tr.add(a, "user", "list")
	tr.add(a, "key", "create", "alice")
	tr.add(a, "key", "create", "nobody")
	tr.add(a, "key", "list", "alice")
	tr.add(a, "perm", "grant", "alice", "data", "write")
	tr.add(a, "perm", "revoke", "alice", "data", "write")
	tr.add(a, "perm", "revoke", "alice", "data")
	tr.add(a, "perm", "grant", "alice", "data", "owner")
	tr.add(a, "perm", "grant", "alice", "nope", "read")
	tr.add(a, "perm", "grant", "alice", "data", "read")
	tr.add(a, "user", "list")

	var keys []struct{ ID string }
	a.json(&keys, "key", "list", "alice")
	alice := srv.as(keys[0].ID, "wrong-secret")
	tr.add(alice, "repo", "list")
	tr.add(a, "key", "revoke", keys[0].ID)
	tr.add(a, "key", "revoke", keys[0].ID)
	tr.add(a, "key", "revoke", adminKey)

	tr.add(a, "purge", "data:f.txt")
	tr.add(a, "purge", "data")
	tr.add(a, "purge", "data:f.txt", "--yes")
	tr.add(a, "cat", "data:f.txt")
	tr.add(a, "cat", "data:copy.txt")
	tr.add(a, "ls", "data")
	tr.add(a, "audit")
	tr.add(a, "audit", "--action", "purge")
	tr.add(a, "user", "delete", "bob")
	tr.add(a, "user", "delete", "bob")
	tr.add(a, "user", "delete", "admin")
	tr.check(t, "admin")
}
