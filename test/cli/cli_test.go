package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// JSON shapes the tests read (a subset of the admin API's wire types).
type (
	commitJSON struct {
		ID      string   `json:"id"`
		Parents []string `json:"parents"`
		Author  string   `json:"author"`
		Message string   `json:"message"`
	}
	logJSON struct {
		Commits []commitJSON `json:"commits"`
	}
	mergeJSON struct {
		Commit      string   `json:"commit"`
		FastForward bool     `json:"fast_forward"`
		UpToDate    bool     `json:"up_to_date"`
		Changed     int      `json:"changed"`
		Conflicts   []string `json:"conflicts"`
	}
	newKeyJSON struct {
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
		User      string `json:"user"`
	}
	newUserJSON struct {
		User struct {
			Name string `json:"name"`
		} `json:"user"`
		Key struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		} `json:"key"`
	}
)

func (c *cli) head(repo, ref string) string {
	c.t.Helper()
	var lg logJSON
	c.json(&lg, "log", repo+"@"+ref, "--limit", "1")
	return lg.Commits[0].ID
}

func (c *cli) cat(target string) string {
	c.t.Helper()
	return c.ok("cat", target).stdout
}

func (c *cli) putString(dir, target, data string) {
	c.t.Helper()
	f := filepath.Join(dir, fmt.Sprintf("upload-%d", len(data)))
	writeFile(c.t, f, data)
	c.ok("put", f, target)
}

// TestEveryCommandJSON runs every command with -o json and checks what it
// answers.
func TestEveryCommandJSON(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()

	var repo struct {
		Name, Permission string
		Public           bool
	}
	a.json(&repo, "repo", "create", "jrepo")
	if repo.Name != "jrepo" || repo.Permission != "admin" {
		t.Fatalf("repo create: %+v", repo)
	}
	var repos []struct{ Name string }
	a.json(&repos, "repo", "list")
	if len(repos) != 1 || repos[0].Name != "jrepo" {
		t.Fatalf("repo list: %+v", repos)
	}
	a.json(&repo, "repo", "set-public", "jrepo", "true")
	if !repo.Public {
		t.Fatal("set-public true")
	}
	a.json(&repo, "repo", "set-public", "jrepo", "false")

	var br struct {
		Name, Head string
		Protected  bool
	}
	a.json(&br, "branch", "create", "jrepo@dev")
	if br.Name != "dev" || len(br.Head) != 32 {
		t.Fatalf("branch create: %+v", br)
	}
	var brs []struct{ Name string }
	a.json(&brs, "branch", "list", "jrepo")
	if len(brs) != 2 {
		t.Fatalf("branch list: %+v", brs)
	}
	a.json(&br, "branch", "protect", "jrepo@dev")
	if !br.Protected {
		t.Fatal("protect")
	}
	a.json(&br, "branch", "unprotect", "jrepo@dev")
	if br.Protected {
		t.Fatal("unprotect")
	}
	var tag struct{ Name, Commit string }
	a.json(&tag, "tag", "create", "jrepo@v1", "--from", "dev")
	if tag.Commit != br.Head {
		t.Fatalf("tag create: %+v, head %s", tag, br.Head)
	}
	var tags []struct{ Name string }
	a.json(&tags, "tag", "list", "jrepo")
	if len(tags) != 1 {
		t.Fatalf("tag list %+v", tags)
	}
	var del map[string]string
	a.json(&del, "tag", "delete", "jrepo@v1")
	if del["deleted"] != "jrepo@v1" {
		t.Fatalf("tag delete: %v", del)
	}

	writeFile(t, filepath.Join(dir, "tree", "x.txt"), "x")
	writeFile(t, filepath.Join(dir, "tree", "y", "z.txt"), "zz")
	var put struct {
		Commit string
		Files  int
		Bytes  int64
	}
	a.json(&put, "put", filepath.Join(dir, "tree"), "jrepo@dev:t")
	if put.Files != 2 || put.Bytes != 3 || len(put.Commit) != 32 {
		t.Fatalf("put: %+v", put)
	}
	var ls struct {
		Commit   string
		Objects  []struct{ Key string }
		Prefixes []string
	}
	a.json(&ls, "ls", "jrepo@dev:t")
	if ls.Commit != put.Commit || len(ls.Objects) != 1 || ls.Objects[0].Key != "t/x.txt" || fmt.Sprint(ls.Prefixes) != "[t/y/]" {
		t.Fatalf("ls: %+v", ls)
	}
	var get struct {
		Files  int
		Commit string
	}
	a.json(&get, "get", "jrepo@dev:t", filepath.Join(dir, "back"))
	if get.Files != 2 || get.Commit != put.Commit {
		t.Fatalf("get: %+v", get)
	}
	if a.cat("jrepo@dev:t/y/z.txt") != "zz" {
		t.Fatal("cat")
	}
	var diff struct {
		Entries                 []struct{ Key, Change string }
		Added, Changed, Removed int
	}
	a.json(&diff, "diff", "jrepo@main", "jrepo@dev")
	if diff.Added != 2 || len(diff.Entries) != 2 {
		t.Fatalf("diff: %+v", diff)
	}
	var lg logJSON
	a.json(&lg, "log", "jrepo@dev", "--path", "t/y/")
	if len(lg.Commits) != 1 || lg.Commits[0].ID != put.Commit || lg.Commits[0].Author != "admin" {
		t.Fatalf("log --path: %+v", lg)
	}
	var mr mergeJSON
	a.json(&mr, "merge", "jrepo@dev", "jrepo@main")
	if !mr.FastForward || mr.Commit != put.Commit {
		t.Fatalf("merge: %+v", mr)
	}
	var cm commitJSON
	a.json(&cm, "revert", "jrepo@main", put.Commit)
	if len(cm.ID) != 32 || cm.Message != "revert "+put.Commit {
		t.Fatalf("revert: %+v", cm)
	}
	a.json(&cm, "reset", "jrepo@main", "dev")
	if cm.ID != put.Commit {
		t.Fatalf("reset: %+v", cm)
	}
	var oc struct{ ID, Bucket, Branch string }
	a.json(&oc, "commit", "start", "jrepo@dev", "-m", "m")
	var ocs []struct{ ID string }
	a.json(&ocs, "commit", "list", "jrepo")
	if len(ocs) != 1 || ocs[0].ID != oc.ID || oc.Bucket != oc.ID[:16]+".jrepo" {
		t.Fatalf("commit list: %+v (started %+v)", ocs, oc)
	}
	a.json(&cm, "commit", "finish", "jrepo@"+oc.ID)
	if cm.ID != oc.ID || cm.Message != "m" {
		t.Fatalf("commit finish: %+v", cm)
	}
	a.json(&oc, "commit", "start", "jrepo@dev")
	var ab map[string]string
	a.json(&ab, "commit", "abort", "jrepo@"+oc.ID)
	if ab["aborted"] != oc.ID {
		t.Fatalf("commit abort: %v", ab)
	}

	var nu newUserJSON
	a.json(&nu, "user", "create", "jane")
	if nu.User.Name != "jane" || !strings.HasPrefix(nu.Key.AccessKey, "TK") || len(nu.Key.SecretKey) < 30 {
		t.Fatalf("user create: %+v", nu)
	}
	var users []struct {
		Name  string
		Admin bool
		Perms map[string]string
		Keys  int
	}
	var pi struct{ User, Repo, Permission string }
	a.json(&pi, "perm", "grant", "jane", "jrepo", "write")
	if pi.Permission != "write" {
		t.Fatalf("perm grant: %+v", pi)
	}
	a.json(&users, "user", "list")
	if len(users) != 2 || users[1].Name != "jane" || users[1].Perms["jrepo"] != "write" || users[1].Keys != 1 {
		t.Fatalf("user list: %+v", users)
	}
	a.json(&pi, "perm", "revoke", "jane", "jrepo", "write")
	if pi.Permission != "read" {
		t.Fatalf("perm revoke write: %+v", pi)
	}
	var nk newKeyJSON
	a.json(&nk, "key", "create", "jane")
	jane := srv.as(nk.AccessKey, nk.SecretKey)
	var who struct {
		User  string
		Admin bool
		Perms map[string]string
	}
	jane.json(&who, "whoami")
	if who.User != "jane" || who.Admin || who.Perms["jrepo"] != "read" {
		t.Fatalf("whoami as jane: %+v", who)
	}
	var keys []struct{ ID, User string }
	a.json(&keys, "key", "list", "jane")
	if len(keys) != 2 {
		t.Fatalf("key list: %+v", keys)
	}
	a.json(&del, "key", "revoke", nk.AccessKey)
	if del["revoked"] != nk.AccessKey {
		t.Fatalf("key revoke: %v", del)
	}
	var pr struct {
		Named struct {
			Key  string
			Size int64
		}
		Content string
		Scope   string
	}
	a.json(&pr, "purge", "jrepo@dev:t/x.txt", "--yes")
	if pr.Named.Key != "t/x.txt" || pr.Named.Size != 1 || len(pr.Content) != 64 || pr.Scope != "jrepo" {
		t.Fatalf("purge: %+v", pr)
	}
	var audit struct {
		Entries []struct{ User, Action, Target string }
	}
	a.json(&audit, "audit", "--action", "purge")
	// The purge, and its report of what it removed (purge.report).
	if len(audit.Entries) != 2 || audit.Entries[0].User != "admin" || audit.Entries[1].Action != "purge.report" {
		t.Fatalf("audit: %+v", audit)
	}
	var gc map[string]any
	a.json(&gc, "gc", "--dry-run")
	if _, ok := gc["blobs_deleted"]; !ok {
		t.Fatalf("gc --dry-run: %v", gc)
	}
	a.json(&gc, "gc")
	var v struct{ Client, Server string }
	a.json(&v, "version")
	if v.Client != "v0.0.0-test" || v.Server != "v0.0.0-test" {
		t.Fatalf("version: %+v", v)
	}
	a.json(&del, "user", "delete", "jane")
	a.json(&del, "branch", "delete", "jrepo@dev")
	a.json(&del, "repo", "delete", "jrepo", "--force")
	a.json(&repos, "repo", "list")
	if len(repos) != 0 {
		t.Fatalf("repos left: %+v", repos)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := a.ok("completion", sh)
		if !strings.Contains(r.stdout, "tusk") || len(r.stdout) < 500 {
			t.Errorf("completion %s: %d bytes", sh, len(r.stdout))
		}
	}
	a.fail(2, "completion", "powershell")
}

// TestMerge: conflicts under each strategy, a fast-forward, up to date.
func TestMerge(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()
	a.ok("repo", "create", "mrg")
	a.putString(dir, "mrg@main:base.txt", "base")
	a.ok("branch", "create", "mrg@dev")

	// dev ahead of main: fast-forward.
	a.putString(dir, "mrg@dev:dev-only.txt", "dev only")
	devHead := a.head("mrg", "dev")
	var mr mergeJSON
	a.json(&mr, "merge", "mrg@dev", "mrg@main")
	if !mr.FastForward || mr.Commit != devHead || a.head("mrg", "main") != devHead {
		t.Fatalf("fast-forward: %+v", mr)
	}
	a.json(&mr, "merge", "mrg@dev", "mrg@main")
	if !mr.UpToDate {
		t.Fatalf("second merge: %+v", mr)
	}

	for i, strategy := range []string{"fail", "ours", "theirs"} {
		// Both sides change k1 and k2 differently; dev also adds a key and
		// main another: only k1, k2 conflict.
		mainPre := a.head("mrg", "main")
		for _, k := range []string{"k1", "k2"} {
			a.putString(dir, "mrg@main:"+k, fmt.Sprintf("main %s round %d", k, i))
			a.putString(dir, "mrg@dev:"+k, fmt.Sprintf("dev %s round %d!", k, i))
		}
		a.putString(dir, fmt.Sprintf("mrg@dev:dev-%d", i), "from dev")
		a.putString(dir, fmt.Sprintf("mrg@main:main-%d", i), "from main, longer")
		mainHead := a.head("mrg", "main")
		if mainHead == mainPre {
			t.Fatal("main did not move")
		}
		args := []string{"merge", "mrg@dev", "mrg@main", "--strategy", strategy}
		if strategy == "fail" {
			e := a.apiError(args...)
			if e.Code != "MergeConflict" || fmt.Sprint(e.Conflicts) != "[k1 k2]" {
				t.Fatalf("merge --strategy fail: %+v", e)
			}
			if a.head("mrg", "main") != mainHead {
				t.Fatal("a failed merge moved main")
			}
			r := a.fail(1, "merge", "mrg@dev", "mrg@main")
			if !strings.Contains(r.stderr, "conflicting keys (2):\n  k1\n  k2\n") || !strings.Contains(r.stderr, "--strategy ours or theirs") {
				t.Fatalf("human conflict report: %q", r.stderr)
			}
			// Resolve by hand for the next round: take main's side with ours.
			a.json(&mr, "merge", "mrg@dev", "mrg@main", "--strategy", "ours")
			continue
		}
		a.json(&mr, args...)
		if mr.FastForward || mr.UpToDate || len(mr.Commit) != 32 {
			t.Fatalf("merge %s: %+v", strategy, mr)
		}
		want := map[string]string{"ours": "main", "theirs": "dev"}[strategy]
		for _, k := range []string{"k1", "k2"} {
			got := a.cat("mrg:" + k)
			if !strings.HasPrefix(got, want+" "+k) {
				t.Errorf("strategy %s: %s = %q, want %s's version", strategy, k, got, want)
			}
		}
		if a.cat(fmt.Sprintf("mrg:dev-%d", i)) != "from dev" || a.cat(fmt.Sprintf("mrg:main-%d", i)) != "from main, longer" {
			t.Errorf("strategy %s: non-conflicting keys lost", strategy)
		}
		var lg logJSON
		a.json(&lg, "log", "mrg", "--limit", "1")
		if p := lg.Commits[0].Parents; len(p) != 2 || p[0] != mainHead || p[1] != a.head("mrg", "dev") {
			t.Errorf("merge commit parents %v, want [%s %s]", p, mainHead, a.head("mrg", "dev"))
		}
	}
}

// TestRevertReset: revert undoes one commit (conflicts when the key changed
// since); reset moves a branch, O(1), in both directions.
func TestRevertReset(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()
	a.ok("repo", "create", "rrr")
	a.putString(dir, "rrr:a", "a1")
	c1 := a.head("rrr", "main")
	a.putString(dir, "rrr:a", "a2-longer")
	c2 := a.head("rrr", "main")
	a.putString(dir, "rrr:b", "b1")
	c3 := a.head("rrr", "main")

	var cm commitJSON
	a.json(&cm, "revert", "rrr@main", c2)
	if a.cat("rrr:a") != "a1" || a.cat("rrr:b") != "b1" {
		t.Fatalf("after reverting c2: a=%q b=%q", a.cat("rrr:a"), a.cat("rrr:b"))
	}
	// c2 again, in the REPO@COMMIT form (branch main by default): a changed
	// since (by the revert): a conflict, nothing written.
	e := a.apiError("revert", "rrr@"+c2)
	if e.Code != "RevertConflict" || fmt.Sprint(e.Conflicts) != "[a]" {
		t.Fatalf("second revert: %+v", e)
	}
	if a.head("rrr", "main") != cm.ID {
		t.Fatal("a refused revert moved the branch")
	}
	// Reset back to c3 (undoing the revert), then to c1, then forward to c3.
	for _, to := range []string{c3, c1[:12], c3} {
		a.json(&cm, "reset", "rrr@main", to)
		if !strings.HasPrefix(cm.ID, to) || a.head("rrr", "main") != cm.ID {
			t.Fatalf("reset to %s: at %s", to, cm.ID)
		}
	}
	if a.cat("rrr:a") != "a2-longer" {
		t.Fatal("content after reset forward")
	}
	a.ok("tag", "create", "rrr@v1", "--from", c1)
	a.json(&cm, "reset", "rrr@main", "v1")
	if cm.ID != c1 {
		t.Fatal("reset to a tag")
	}
	if e := a.apiError("reset", "rrr@v1", "main"); e.Code != "NoSuchBranch" {
		t.Fatalf("reset a tag: %+v", e)
	}
}

// TestPutGetTree: a tree goes up as one commit (in parallel) and comes back
// byte for byte; keys that cannot be files are skipped, nothing escapes.
func TestPutGetTree(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := map[string][]byte{}
	for i := 0; i < 40; i++ {
		rel := fmt.Sprintf("d%d/sub%d/f%02d.bin", i%4, i%3, i)
		b := make([]byte, 1000+i*3000)
		rand.Read(b)
		writeFile(t, filepath.Join(src, rel), string(b))
		want[rel] = b
	}
	writeFile(t, filepath.Join(src, "empty.txt"), "")
	want["empty.txt"] = []byte{}
	big := randBytes(12<<20 + 12345) // above --part-size: a multipart upload of 3 parts
	writeFile(t, filepath.Join(src, "big", "large.bin"), string(big))
	want["big/large.bin"] = big
	a.ok("repo", "create", "tree")
	before := a.head("tree", "main")
	var put struct {
		Commit string
		Files  int
	}
	a.json(&put, "put", src, "tree@main:up/", "-j", "8", "-m", "the tree", "--part-size", "5242880")
	if put.Files != 42 {
		t.Fatalf("put %d files", put.Files)
	}
	var lg logJSON
	a.json(&lg, "log", "tree")
	if len(lg.Commits) != 2 || lg.Commits[0].ID != put.Commit || lg.Commits[1].ID != before || lg.Commits[0].Message != "the tree" {
		t.Fatalf("one put of a tree must be one commit: %+v", lg.Commits)
	}
	var ls struct {
		Objects []struct{ Key, ETag string }
	}
	a.json(&ls, "ls", "tree:up/big/")
	if len(ls.Objects) != 1 || !strings.HasSuffix(ls.Objects[0].ETag, "-3") {
		t.Fatalf("the large file should be a 3-part multipart object: %+v", ls.Objects)
	}
	out := filepath.Join(dir, "out")
	a.ok("get", "tree:up", out, "-j", "8")
	got := map[string][]byte{}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			got[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	if len(got) != len(want) {
		t.Fatalf("got %d files, want %d", len(got), len(want))
	}
	for k, b := range want {
		if !bytes.Equal(got[k], b) {
			t.Errorf("%s differs after put and get", k)
		}
	}

	// A failed put commits nothing: an unreadable file aborts the open commit.
	bad := filepath.Join(dir, "bad")
	writeFile(t, filepath.Join(bad, "ok.txt"), "ok")
	writeFile(t, filepath.Join(bad, "secret.txt"), "no")
	os.Chmod(filepath.Join(bad, "secret.txt"), 0)
	if os.Getuid() != 0 {
		r := a.fail(1, "put", bad, "tree:bad/")
		if !strings.Contains(r.stderr, "nothing was committed") {
			t.Fatalf("failed put: %s", r)
		}
		var ocs []struct{ ID string }
		a.json(&ocs, "commit", "list", "tree")
		if len(ocs) != 0 || a.head("tree", "main") != put.Commit {
			t.Fatalf("a failed put left open commits %v or moved main", ocs)
		}
	}

	// Keys that are not safe file names, written through S3.
	c := srv.s3(adminKey, adminSecret)
	for _, k := range []string{"odd/../../escape.txt", "odd/a//b.txt", "odd/dir/", "odd/fine.txt", "odd/./dot.txt"} {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("tree"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	odd := filepath.Join(dir, "deep", "odd")
	r := a.fail(1, "get", "tree:odd", odd)
	if !strings.Contains(r.stderr, "4 of 5 keys were not saved") || !strings.Contains(r.stderr, `"odd/../../escape.txt"`) {
		t.Fatalf("get of unsafe keys: %s", r)
	}
	if b, err := os.ReadFile(filepath.Join(odd, "fine.txt")); err != nil || string(b) != "odd/fine.txt" {
		t.Fatalf("the safe key was not saved: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape.txt")); err == nil {
		t.Fatal("a key escaped the download directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "deep", "escape.txt")); err == nil {
		t.Fatal("a key escaped the download directory")
	}
}

// TestProtectedBranch: direct S3 writes and open commits are refused; merges
// are accepted.
func TestProtectedBranch(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()
	a.ok("repo", "create", "prot")
	a.ok("branch", "create", "prot@dev")
	a.ok("branch", "protect", "prot@main")
	c := srv.s3(adminKey, adminSecret)
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("prot"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if s3code(err) != "AccessDenied" {
		t.Fatalf("S3 put to a protected branch: %v", err)
	}
	_, err = c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("prot"), Key: aws.String("k")})
	if s3code(err) != "AccessDenied" {
		t.Fatalf("S3 delete on a protected branch: %v", err)
	}
	writeFile(t, filepath.Join(dir, "f"), "f")
	r := a.fail(1, "put", filepath.Join(dir, "f"), "prot@main:k")
	if !strings.Contains(r.stderr, "protected") {
		t.Fatalf("put to a protected branch: %s", r)
	}
	a.putString(dir, "prot@dev:k", "via dev")
	var mr mergeJSON
	a.json(&mr, "merge", "prot@dev", "prot@main")
	if a.cat("prot:k") != "via dev" {
		t.Fatal("merge into a protected branch")
	}
	a.ok("branch", "protect", "prot@dev")
	if e := a.apiError("branch", "delete", "prot@dev"); e.Code != "AccessDenied" || !strings.Contains(e.Message, "unprotect") {
		t.Fatalf("delete protected: %+v", e)
	}
	a.ok("branch", "unprotect", "prot@main")
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("prot"), Key: aws.String("k2"), Body: strings.NewReader("x")}); err != nil {
		t.Fatalf("put after unprotect: %v", err)
	}
}

// findFiles lists the files under dir whose content contains any of needles.
func findFiles(t *testing.T, dir string, needles ...[]byte) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		for _, n := range needles {
			if len(n) == 0 {
				t.Fatal("empty needle")
			}
			if bytes.Contains(b, n) {
				hits = append(hits, fmt.Sprintf("%s holds %q", p, n))
			}
		}
		return nil
	})
	return hits
}

// findNamed lists the files under dir named name.
func findNamed(dir, name string) []string {
	var hits []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

// TestPurge: the bytes leave the backing store; every key with that
// content, in every repo, reads as purged; the audit log names the purger.
func TestPurge(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()
	a.ok("repo", "create", "pam")
	a.ok("repo", "create", "pbm")
	var nu newUserJSON
	a.json(&nu, "user", "create", "ops")
	a.ok("perm", "grant", "ops", "pam", "admin")
	a.ok("perm", "grant", "ops", "pbm", "write")
	ops := srv.as(nu.Key.AccessKey, nu.Key.SecretKey)
	payload := "unlawful payload " + hex.EncodeToString(randBytes(8))
	sum := sha256.Sum256([]byte(payload))
	sha := hex.EncodeToString(sum[:])
	for _, tg := range []string{"pam:x", "pam:y", "pbm:z"} {
		a.putString(dir, tg, payload)
	}
	a.putString(dir, "pam:keep", "other content")
	if hits := findNamed(srv.dataDir, sha); len(hits) != 1 || !strings.Contains(hits[0], "blobs") {
		t.Fatalf("the blob should be stored once under its hash: %v", hits)
	}
	if hits := findFiles(t, filepath.Join(srv.dataDir, "blobs"), []byte(payload)); len(hits) != 1 {
		t.Fatalf("the payload should be in the backing store once: %v", hits)
	}
	var lg logJSON
	a.json(&lg, "log", "pam", "--path", "x")
	xVersion := lg.Commits[0].ID

	// ops is not admin of pbm: refused.
	if e := ops.apiError("purge", "pbm:z", "--yes"); e.Code != "AccessDenied" {
		t.Fatalf("purge without admin: %+v", e)
	}
	// A repo admin purges in its repo: both keys of pam holding the bytes
	// lose them; pbm keeps its identical bytes, so they stay on disk.
	var pr struct {
		Content, Scope string
		Named          struct{ Version string }
		Removed        []struct{ Repo, Key, Version string }
		BytesDeleted   bool `json:"bytes_deleted"`
	}
	ops.json(&pr, "purge", "pam:x", "--version", xVersion, "--yes")
	if pr.Content != sha || pr.Named.Version != xVersion || pr.Scope != "pam" || len(pr.Removed) != 2 || pr.BytesDeleted {
		t.Fatalf("repo purge answer %+v", pr)
	}
	c := srv.s3(adminKey, adminSecret)
	for _, bk := range [][2]string{{"pam", "x"}, {"pam", "y"}} {
		_, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bk[0]), Key: aws.String(bk[1])})
		if s3code(err) != "NoSuchKey" {
			t.Errorf("GetObject %s/%s after purge: %v", bk[0], bk[1], err)
		}
	}
	if a.cat("pbm:z") != payload {
		t.Fatal("a repo admin's purge touched another repo's identical bytes")
	}
	_, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("pam"), Key: aws.String("x"), VersionId: aws.String(xVersion)})
	if s3code(err) != "NoSuchVersion" {
		t.Errorf("GetObject ?versionId of a purged version: %v", err)
	}
	if a.cat("pam:keep") != "other content" {
		t.Fatal("purge touched other content")
	}
	// Not blocked: the same bytes can be stored again.
	a.putString(dir, "pam:again", payload)
	if a.cat("pam:again") != payload {
		t.Fatal("re-upload after an unblocked purge")
	}
	// Every repo and --block are for global admins only.
	if e := ops.apiError("purge", "--content", sha, "--all", "--yes"); e.Code != "AccessDenied" {
		t.Fatalf("repo admin purging every repo: %+v", e)
	}
	ops.fail(2, "purge", "--content", sha, "--repo", "pam", "--block", "--yes")
	var gr struct {
		Scope        string
		Block        bool
		Removed      []struct{ Repo, Key string }
		BytesDeleted bool `json:"bytes_deleted"`
	}
	a.json(&gr, "purge", "--content", sha, "--all", "--block", "--yes")
	if gr.Scope != "*" || !gr.Block || !gr.BytesDeleted || len(gr.Removed) != 2 {
		t.Fatalf("global purge answer %+v", gr)
	}
	if hits := append(findNamed(srv.dataDir, sha), findFiles(t, srv.dataDir, []byte(payload))...); len(hits) != 0 {
		t.Fatalf("purged bytes still in the data dir: %v", hits)
	}
	for _, bk := range [][2]string{{"pbm", "z"}, {"pam", "again"}} {
		if e := a.apiError("cat", bk[0]+":"+bk[1]); e.Code != "NoSuchKey" {
			t.Errorf("cat %s:%s after purge: %+v", bk[0], bk[1], e)
		}
	}
	var audit struct {
		Entries []struct{ User, Action, Target, Detail string }
	}
	a.json(&audit, "audit", "--action", "purge", "--result", "ok")
	// Each purge is followed by its report (purge.report): keep the purges.
	purges := audit.Entries[:0]
	for _, e := range audit.Entries {
		if e.Action == "purge" {
			purges = append(purges, e)
		}
	}
	audit.Entries = purges
	if len(audit.Entries) != 2 || audit.Entries[0].User != "ops" || audit.Entries[0].Target != "pam@main:x --version "+xVersion ||
		!strings.Contains(audit.Entries[0].Detail, sha) || !strings.Contains(audit.Entries[0].Detail, "repo pam") ||
		audit.Entries[1].User != "admin" || !strings.Contains(audit.Entries[1].Detail, "every repo, blocked") {
		t.Fatalf("audit: %+v", audit.Entries)
	}
	// Writing the blocked content again is refused.
	writeFile(t, filepath.Join(dir, "again2"), payload)
	if r := a.fail(1, "put", filepath.Join(dir, "again2"), "pam:again2"); !strings.Contains(r.stderr, "purged") {
		t.Fatalf("re-upload of blocked content: %s", r)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// secretForms are the ways a secret could be written to disk.
func secretForms(s string) [][]byte {
	return [][]byte{
		[]byte(s),
		[]byte(base64.StdEncoding.EncodeToString([]byte(s))),
		[]byte(base64.RawStdEncoding.EncodeToString([]byte(s))),
		[]byte(base64.URLEncoding.EncodeToString([]byte(s))),
		[]byte(base64.RawURLEncoding.EncodeToString([]byte(s))),
		[]byte(hex.EncodeToString([]byte(s))),
		[]byte(strings.ToUpper(hex.EncodeToString([]byte(s)))),
	}
}

// TestSecretsAtRest: no secret is on disk in plain, base64 or hex; and
// once the server key is gone, the stored secrets no longer authenticate.
func TestSecretsAtRest(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	srv := startServer(t, data)
	a := srv.admin()
	a.ok("repo", "create", "sec")
	var nu newUserJSON
	a.json(&nu, "user", "create", "dave")
	a.ok("perm", "grant", "dave", "sec", "write")
	dave := srv.as(nu.Key.AccessKey, nu.Key.SecretKey)
	dir := t.TempDir()
	dave.putString(dir, "sec:k", "dave's data")
	var nk newKeyJSON
	a.json(&nk, "key", "create", "dave")
	srv.stop() // flush everything to disk

	for _, secret := range []string{nu.Key.SecretKey, nk.SecretKey, adminSecret} {
		if hits := findFiles(t, data, secretForms(secret)...); len(hits) > 0 {
			t.Errorf("a secret is on disk: %v", hits)
		}
	}
	st, err := os.Stat(filepath.Join(data, "server.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("server key file: %v %v", err, st)
	}

	// Same server key: dave still signs in.
	srv = startServer(t, data)
	dave = srv.as(nu.Key.AccessKey, nu.Key.SecretKey)
	dave.ok("whoami")
	srv.stop()

	// The server key removed: a new one is made, and dave's secret, sealed
	// with the old one, no longer authenticates (over the admin API and S3).
	if err := os.Remove(filepath.Join(data, "server.key")); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, data)
	dave = srv.as(nu.Key.AccessKey, nu.Key.SecretKey)
	e := dave.apiError("whoami")
	if e.Code != "InvalidAccessKeyId" || !strings.Contains(e.Message, "server key") {
		t.Fatalf("dave after the server key changed: %+v", e)
	}
	_, err = srv.s3(nk.AccessKey, nk.SecretKey).ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if s3code(err) != "InvalidAccessKeyId" {
		t.Fatalf("S3 with a key sealed by the old server key: %v", err)
	}
	if st, err := os.Stat(filepath.Join(data, "server.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new server key file: %v", err)
	}
	// The admin (keys from the environment) is re-keyed and can issue dave a
	// new key.
	a = srv.admin()
	a.json(&nk, "key", "create", "dave")
	srv.as(nk.AccessKey, nk.SecretKey).ok("ls", "sec")
}

// TestLoginConfig: tusk login writes the config file (0600) under
// XDG_CONFIG_HOME, or HOME/.config; later commands use it; the environment
// wins over it.
func TestLoginConfig(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	cfg := t.TempDir()
	home := t.TempDir()
	base := []string{"PATH=" + os.Getenv("PATH"), "TZ=UTC"}
	c := &cli{t: t, srv: srv, env: append(base, "XDG_CONFIG_HOME="+cfg, "HOME="+home)}

	e := c.apiError("login", "--endpoint", srv.url, "--access-key", adminKey, "--secret-key", "wrong")
	if e.Code != "SignatureDoesNotMatch" {
		t.Fatalf("login with a wrong secret: %+v", e)
	}
	path := filepath.Join(cfg, "tusk", "config.yaml")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a failed login wrote the config")
	}
	if r := c.fail(2, "login", "--endpoint", srv.url); !strings.Contains(r.stderr, "--access-key") {
		t.Fatalf("login without keys and no terminal: %s", r)
	}
	var lr struct{ User, Config string }
	c.json(&lr, "login", "--endpoint", srv.url, "--access-key", adminKey, "--secret-key", adminSecret)
	if lr.User != "admin" || lr.Config != path {
		t.Fatalf("login: %+v", lr)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file %s: %v %v", path, err, st)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "endpoint: "+srv.url) || !strings.Contains(string(b), "access_key: "+adminKey) {
		t.Fatalf("config file:\n%s", b)
	}
	// Later commands need no flags or environment.
	c.ok("repo", "create", "cfg")
	var who struct{ User string }
	c.json(&who, "whoami")
	if who.User != "admin" {
		t.Fatal(who)
	}
	// The environment wins over the file.
	wrong := &cli{t: t, srv: srv, env: append(base, "XDG_CONFIG_HOME="+cfg, "TUSK_ACCESS_KEY="+adminKey, "TUSK_SECRET_KEY=nope")}
	if e := wrong.apiError("repo", "list"); e.Code != "SignatureDoesNotMatch" {
		t.Fatalf("env secret must win over the config file: %+v", e)
	}
	unreach := &cli{t: t, srv: srv, env: append(base, "XDG_CONFIG_HOME="+cfg, "TUSK_ENDPOINT=http://127.0.0.1:1")}
	if r := unreach.fail(1, "repo", "list"); !strings.Contains(r.stderr, "cannot reach the Tusk gateway at http://127.0.0.1:1") {
		t.Fatalf("unreachable endpoint: %s", r)
	}
	// Without XDG_CONFIG_HOME the file is HOME/.config/tusk/config.yaml.
	h := &cli{t: t, srv: srv, env: append(base, "HOME="+home)}
	h.ok("login", "--endpoint", srv.url, "--access-key", adminKey, "--secret-key", adminSecret)
	if _, err := os.Stat(filepath.Join(home, ".config", "tusk", "config.yaml")); err != nil {
		t.Fatal(err)
	}
	h.ok("ls", "cfg")
}

// TestExitCodes: 0 ok, 1 failure, 2 usage; unknown names are one line.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	a.ok("repo", "create", "codes")
	for _, args := range [][]string{
		{}, {"nope"}, {"repo"}, {"repo", "nope"}, {"repo", "create"}, {"repo", "create", "a", "b"},
		{"branch", "create", "codes"}, {"ls"}, {"merge", "codes@a"}, {"merge", "codes@a", "other@b"},
		{"repo", "list", "--bogus"}, {"repo", "list", "-o", "xml"}, {"perm", "grant", "u", "codes", "owner"},
		{"purge", "codes:k"}, {"cat", "codes"}, {"put", "x"}, {"commit", "finish", "codes"},
	} {
		r := a.run(args...)
		if r.code != 2 {
			t.Errorf("tusk %v: exit %d, want 2 (usage)\n%s", args, r.code, r)
		}
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"ls", "nope"}, `repo "nope" does not exist`},
		{[]string{"ls", "codes@nope"}, `"nope"`},
		{[]string{"branch", "delete", "codes@nope"}, `no branch "nope"`},
		{[]string{"cat", "codes:nokey"}, `key "nokey" does not exist`},
		{[]string{"key", "revoke", "NOKEY"}, `access key "NOKEY" does not exist`},
		{[]string{"user", "delete", "nouser"}, `user "nouser" does not exist`},
	} {
		r := a.fail(1, c.args...)
		if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.says) || !strings.HasPrefix(r.stderr, "tusk: ") {
			t.Errorf("tusk %v: stderr %q, want one line naming %s", c.args, r.stderr, c.says)
		}
	}
	a.ok("version")
	a.ok("--version")
	a.ok("--help")
}

// TestPermissionsCLI: what a read-only user and a stranger may do.
func TestPermissionsCLI(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()
	a.ok("repo", "create", "shared")
	a.ok("repo", "create", "hidden")
	a.putString(dir, "shared:k", "v")
	var ru, su newUserJSON
	a.json(&ru, "user", "create", "reader")
	a.json(&su, "user", "create", "stranger")
	a.ok("perm", "grant", "reader", "shared", "read")
	reader := srv.as(ru.Key.AccessKey, ru.Key.SecretKey)
	stranger := srv.as(su.Key.AccessKey, su.Key.SecretKey)
	anon := srv.as("", "")

	var repos []struct{ Name, Permission string }
	reader.json(&repos, "repo", "list")
	if len(repos) != 1 || repos[0].Name != "shared" || repos[0].Permission != "read" {
		t.Fatalf("reader's repos: %+v", repos)
	}
	stranger.json(&repos, "repo", "list")
	if len(repos) != 0 {
		t.Fatalf("stranger sees %+v", repos)
	}
	if reader.cat("shared:k") != "v" {
		t.Fatal("reader cat")
	}
	for _, c := range []struct {
		who  *cli
		args []string
	}{
		{reader, []string{"put", filepath.Join(dir, "upload-1"), "shared:x"}},
		{reader, []string{"branch", "create", "shared@b"}},
		{reader, []string{"user", "list"}},
		{reader, []string{"perm", "grant", "reader", "shared", "admin"}},
		{stranger, []string{"ls", "shared"}},
		{stranger, []string{"log", "hidden"}},
		{anon, []string{"ls", "shared"}},
		{anon, []string{"repo", "create", "mine"}},
	} {
		if e := c.who.apiError(c.args...); e.Code != "AccessDenied" {
			t.Errorf("%v: %+v, want AccessDenied", c.args, e)
		}
	}
	// A public repo is readable by anyone, signed in or not.
	a.ok("repo", "set-public", "shared", "true")
	if anon.cat("shared:k") != "v" || stranger.cat("shared:k") != "v" {
		t.Fatal("public read")
	}
	anon.json(&repos, "repo", "list")
	if len(repos) != 1 {
		t.Fatalf("anonymous repo list of public repos: %+v", repos)
	}
	// Creating repos needs the create-repos flag, which an admin user sets.
	if e := stranger.apiError("repo", "create", "own"); e.Code != "AccessDenied" || !strings.Contains(e.Message, "set-create-repos") {
		t.Fatalf("repo create without the flag: %+v", e)
	}
	if e := stranger.apiError("user", "set-create-repos", "stranger", "true"); e.Code != "AccessDenied" {
		t.Fatalf("a user sets its own flag: %+v", e)
	}
	var flag struct {
		Name        string
		CreateRepos bool `json:"create_repos"`
	}
	a.json(&flag, "user", "set-create-repos", "stranger", "true")
	if flag.Name != "stranger" || !flag.CreateRepos {
		t.Fatalf("user set-create-repos: %+v", flag)
	}
	// A repo's creator owns it, becomes its admin and may grant on it.
	var sr struct{ Permission, Owner string }
	stranger.json(&sr, "repo", "create", "own")
	if sr.Permission != "admin" || sr.Owner != "stranger" {
		t.Fatal(sr)
	}
	a.ok("user", "set-create-repos", "stranger", "false")
	if e := stranger.apiError("repo", "create", "own2"); e.Code != "AccessDenied" {
		t.Fatalf("repo create after the flag was taken away: %+v", e)
	}
	var users []struct {
		Name        string
		CreateRepos bool `json:"create_repos"`
	}
	a.json(&users, "user", "list")
	for _, u := range users {
		if u.CreateRepos != (u.Name == "admin") {
			t.Fatalf("user list: %+v", users)
		}
	}
	var nu newUserJSON
	a.json(&nu, "user", "create", "maker", "--create-repos")
	maker := srv.as(nu.Key.AccessKey, nu.Key.SecretKey)
	maker.ok("repo", "create", "makers")
	var mine []struct{ Name, Owner string }
	maker.json(&mine, "repo", "list")
	if len(mine) != 2 || mine[0].Name != "makers" || mine[0].Owner != "maker" || mine[1].Name != "shared" {
		t.Fatalf("maker's repos: %+v", mine)
	}
	stranger.ok("perm", "grant", "reader", "own", "write")
	stranger.putString(dir, "own:f", "from the stranger")
	if reader.cat("own:f") != "from the stranger" {
		t.Fatal("granted read")
	}
}

// version is one entry of ListObjectVersions.
type version struct {
	Key, ID        string
	Latest, Marker bool
}

// listVersionsPaged lists every version of bucket one entry per page
// (max-keys=1), following the markers.
func listVersionsPaged(t *testing.T, c *s3.Client, bucket string) []version {
	t.Helper()
	var out []version
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1)}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("ListObjectVersions does not end")
		}
		res, err := c.ListObjectVersions(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(res.Versions) + len(res.DeleteMarkers); n > 1 || (n == 0 && aws.ToBool(res.IsTruncated)) {
			t.Fatalf("a page of max-keys=1 held %d entries", n)
		}
		for _, v := range res.Versions {
			out = append(out, version{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false})
		}
		for _, m := range res.DeleteMarkers {
			out = append(out, version{aws.ToString(m.Key), aws.ToString(m.VersionId), aws.ToBool(m.IsLatest), true})
		}
		if !aws.ToBool(res.IsTruncated) {
			return out
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
}

// TestListVersionsAfterMergeAndReset: ListObjectVersions follows the
// branch's first-parent history (SPEC §4) after a merge, a fast-forward and
// a reset, page by page with max-keys=1.
func TestListVersionsAfterMergeAndReset(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "")
	a := srv.admin()
	dir := t.TempDir()
	c := srv.s3(adminKey, adminSecret)
	put := func(target, data string) string {
		t.Helper()
		f := filepath.Join(dir, "v")
		writeFile(t, f, data)
		var p struct{ Commit string }
		a.json(&p, "put", f, target)
		return p.Commit
	}
	a.ok("repo", "create", "ver")
	c1 := put("ver@main:a", "a1")
	c2 := put("ver@main:b", "b1")
	a.ok("branch", "create", "ver@dev")
	put("ver@dev:a", "a2")
	if _, err := c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("dev.ver"), Key: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	c3 := put("ver@main:c", "c1")
	var mr mergeJSON
	a.json(&mr, "merge", "ver@dev", "ver@main")
	m := mr.Commit
	if mr.FastForward || m == "" {
		t.Fatalf("merge: %+v", mr)
	}
	check := func(stage string, want []version) {
		t.Helper()
		got := listVersionsPaged(t, c, "ver")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: versions\n got %v\nwant %v", stage, got, want)
		}
	}
	// The merge is a version of a (changed) and b (deleted) relative to its
	// first parent c3; dev's own commits are not on main's first-parent path.
	check("after merge", []version{
		{"a", m, true, false}, {"a", c1, false, false},
		{"b", m, true, true}, {"b", c2, false, false},
		{"c", c3, true, false},
	})
	a.ok("branch", "create", "ver@ff")
	f1 := put("ver@ff:a", "a3")
	a.json(&mr, "merge", "ver@ff", "ver@main")
	if !mr.FastForward || mr.Commit != f1 {
		t.Fatalf("fast-forward: %+v", mr)
	}
	check("after fast-forward", []version{
		{"a", f1, true, false}, {"a", m, false, false}, {"a", c1, false, false},
		{"b", m, true, true}, {"b", c2, false, false},
		{"c", c3, true, false},
	})
	a.ok("reset", "ver@main", c3)
	check("after reset", []version{
		{"a", c1, true, false},
		{"b", c2, true, false},
		{"c", c3, true, false},
	})
}
