package adminapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// auditAll reads every entry q selects, following the cursors with pages
// of limit entries, and checks each page's size.
func auditAll(t *testing.T, a *api, q url.Values, limit int) []apiv1.AuditEntry {
	t.Helper()
	q.Set("limit", fmt.Sprint(limit))
	var out []apiv1.AuditEntry
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("audit cursors do not end")
		}
		var res apiv1.AuditResult
		a.must("GET", "/audit?"+q.Encode(), nil, &res)
		if len(res.Entries) > limit {
			t.Fatalf("page of %d entries, limit %d", len(res.Entries), limit)
		}
		out = append(out, res.Entries...)
		if res.Next == "" {
			return out
		}
		q.Set("cursor", res.Next)
	}
}

func entryLine(e apiv1.AuditEntry) string {
	return strings.Join([]string{e.User, e.Action, e.Repo, e.Target, e.Result, e.Code}, "|")
}

// TestAuditLog: every kind of admin action lands in the audit log with who
// (user and access key), what (action, repo, target), the request id and
// how it ended; failed actions as failed with their error code; a repo
// admin reads its repo's entries only and others none; pages follow.
func TestAuditLog(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "alpha"}, nil)
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "beta"}, nil)
	ps := setupUsers(t, srv, adm) // admin, owner (admin on alpha), writer, reader, nobody, anonymous
	owner := newAPI(t, srv, ps[1].ak, ps[1].sk)
	writer := newAPI(t, srv, ps[2].ak, ps[2].sk)
	reader := newAPI(t, srv, ps[3].ak, ps[3].sk)
	anon := newAPI(t, srv, "", "")

	// Data to merge, revert, reset and purge.
	oc := s3client(srv, ps[1].ak, ps[1].sk)
	v1 := put(t, oc, "alpha", "a.txt", "one")
	put(t, oc, "alpha", "bad.txt", "secret bytes")
	owner.must("POST", "/repos/alpha/branches", apiv1.CreateRefRequest{Name: "dev"}, nil)
	put(t, oc, "dev.alpha", "b.txt", "two")

	// Each action, by whom, and the entry it must leave.
	yes, no := true, false
	steps := []struct {
		name   string
		by     *api
		method string
		path   string
		body   any
		want   string // user|action|repo|target|result|code
	}{
		{"repo create", adm, "POST", "/repos", apiv1.CreateRepoRequest{Name: "gamma"}, "admin|repo.create|gamma|gamma|ok|"},
		{"repo set-public", owner, "PUT", "/repos/alpha/public", apiv1.SetPublicRequest{Public: &no}, "owner|repo.set-public|alpha|alpha|ok|"},
		{"tag create", owner, "POST", "/repos/alpha/tags", apiv1.CreateRefRequest{Name: "v1"}, "owner|tag.create|alpha|alpha@v1|ok|"},
		{"tag delete", owner, "DELETE", "/repos/alpha/tags/v1", nil, "owner|tag.delete|alpha|alpha@v1|ok|"},
		{"merge", owner, "POST", "/repos/alpha/merge", apiv1.MergeRequest{Source: "dev", Destination: "main"}, "owner|merge|alpha|alpha@main|ok|"},
		{"revert", writer, "POST", "/repos/alpha/branches/dev/revert", apiv1.RevertRequest{Commit: v1}, "writer|revert|alpha|alpha@dev|ok|"},
		{"reset", owner, "POST", "/repos/alpha/branches/dev/reset", apiv1.ResetRequest{Ref: "main"}, "owner|reset|alpha|alpha@dev|ok|"},
		{"branch protect", owner, "PUT", "/repos/alpha/branches/main/protected", apiv1.SetProtectedRequest{Protected: &yes}, "owner|branch.protect|alpha|alpha@main|ok|"},
		{"branch unprotect", owner, "PUT", "/repos/alpha/branches/main/protected", apiv1.SetProtectedRequest{Protected: &no}, "owner|branch.unprotect|alpha|alpha@main|ok|"},
		{"branch delete", owner, "DELETE", "/repos/alpha/branches/dev", nil, "owner|branch.delete|alpha|alpha@dev|ok|"},
		{"perm grant", owner, "PUT", "/users/nobody/perms/alpha", apiv1.PermRequest{Permission: "read"}, "owner|perm.grant|alpha|alpha|ok|"},
		{"perm revoke", owner, "DELETE", "/users/nobody/perms/alpha", nil, "owner|perm.revoke|alpha|alpha|ok|"},
		{"user create", adm, "POST", "/users", apiv1.CreateUserRequest{Name: "dave", NoKey: true}, "admin|user.create||dave|ok|"},
		{"user set-create-repos", adm, "PUT", "/users/dave/create-repos", apiv1.SetCreateReposRequest{CreateRepos: &yes}, "admin|user.set-create-repos||dave|ok|"},
		{"key create", adm, "POST", "/keys", apiv1.CreateKeyRequest{User: "dave"}, "admin|key.create||*|ok|"},
		{"user delete", adm, "DELETE", "/users/dave", nil, "admin|user.delete||dave|ok|"},
		{"gc", adm, "POST", "/gc", apiv1.GCRequest{DryRun: true}, "admin|gc|||ok|"},
		{"pipeline create", adm, "POST", "/pipelines", map[string]any{"name": "edges",
			"input": map[string]any{"pfs": map[string]any{"repo": "beta", "glob": "/*"}}, "transform": map[string]any{"cmd": []string{"true"}}},
			"admin|pipeline.create|edges|edges|ok|"},
		{"pipeline delete", adm, "DELETE", "/pipelines/edges", nil, "admin|pipeline.delete|edges|edges|ok|"},
		{"repo delete", adm, "DELETE", "/repos/gamma", nil, "admin|repo.delete|gamma|gamma|ok|"},
		// Failures: refused, invalid, missing, conflicting.
		{"denied repo delete", writer, "DELETE", "/repos/alpha", nil, "writer|repo.delete|alpha|alpha|failed|AccessDenied"},
		{"denied user create", owner, "POST", "/users", apiv1.CreateUserRequest{Name: "eve"}, "owner|user.create|||failed|AccessDenied"},
		{"existing repo", adm, "POST", "/repos", apiv1.CreateRepoRequest{Name: "alpha"}, "admin|repo.create|||failed|AlreadyExists"},
		{"missing branch", owner, "DELETE", "/repos/alpha/branches/nope", nil, "owner|branch.delete|alpha|alpha@nope|failed|NoSuchBranch"},
		{"bad perm", owner, "PUT", "/users/nobody/perms/alpha", apiv1.PermRequest{Permission: "owner"}, "owner|perm.grant|alpha|alpha|failed|InvalidArgument"},
		{"denied beta purge", owner, "POST", "/repos/beta/purge", apiv1.PurgeRequest{Ref: "main", Key: "x"}, "owner|purge|beta|beta|failed|AccessDenied"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := auditAll(t, adm, url.Values{"order": {"newest"}}, 1)
			r := s.by.call(s.method, s.path, s.body)
			if strings.HasSuffix(s.want, "|ok|") != r.ok() {
				t.Fatalf("%s %s: %d %s %s", s.method, s.path, r.status, r.err.Code, r.err.Message)
			}
			var res apiv1.AuditResult
			adm.must("GET", "/audit?order=newest&limit=1", nil, &res)
			if len(res.Entries) != 1 || (len(before) > 0 && res.Entries[0] == before[0]) {
				t.Fatalf("no new audit entry: %+v", res.Entries)
			}
			e := res.Entries[0]
			got := entryLine(e)
			if strings.Contains(s.want, "|*|") { // a generated key id
				got = strings.Replace(got, "|"+e.Target+"|", "|*|", 1)
			}
			if got != s.want {
				t.Fatalf("entry %s (%+v), want %s", got, e, s.want)
			}
			wantKey := map[*api]string{adm: adm.ak, owner: owner.ak, writer: writer.ak}[s.by]
			if e.Key != wantKey || len(e.RequestID) != 16 || e.Time.IsZero() || time.Since(e.Time) > time.Minute {
				t.Fatalf("who/when: %+v", e)
			}
			if e.Result == "failed" && (e.Error == "" || e.Error != r.err.Message) {
				t.Fatalf("failed entry's error %q, answer %q", e.Error, r.err.Message)
			}
		})
	}

	// Repo calls made through S3 name their repo too.
	if _, err := s3client(srv, gatewaytest.AccessKey, gatewaytest.SecretKey).CreateBucket(context.Background(),
		&s3.CreateBucketInput{Bucket: aws.String("dev.beta")}); err != nil {
		t.Fatal(err)
	}
	var viaS3 apiv1.AuditResult
	adm.must("GET", "/audit?order=newest&limit=1", nil, &viaS3)
	if len(viaS3.Entries) != 1 || entryLine(viaS3.Entries[0]) != "admin|branch.create|beta|beta@dev|ok|" {
		t.Fatalf("S3 CreateBucket's entry: %+v", viaS3.Entries)
	}

	// A purge is recorded by meta (counts) and with what it removed: the
	// repo, keys, versions and bytes.
	var rep apiv1.PurgeReport
	owner.must("POST", "/repos/alpha/purge", apiv1.PurgeRequest{Ref: "main", Key: "bad.txt"}, &rep)
	var purges apiv1.AuditResult
	owner.must("GET", "/audit?repo=alpha&action=purge", nil, &purges)
	if len(purges.Entries) != 2 || purges.Entries[0].Action != "purge" || purges.Entries[1].Action != "purge.report" {
		t.Fatalf("purge entries: %+v", purges.Entries)
	}
	pr := purges.Entries[1]
	if pr.User != "owner" || pr.Key != owner.ak || pr.Repo != "alpha" || !strings.Contains(pr.Detail, rep.Content) ||
		!strings.Contains(pr.Detail, "12 bytes deleted") || !strings.Contains(pr.Detail, "1 versions removed: alpha@main:bad.txt@") {
		t.Fatalf("purge report entry: %+v", pr)
	}

	// Who reads what: the global admin everything; a repo admin its repo's
	// entries only (and must name the repo); others nothing.
	for _, c := range []struct {
		name  string
		by    *api
		query string
		code  string
	}{
		{"owner without repo", owner, "", "AccessDenied"},
		{"owner other repo", owner, "repo=beta", "AccessDenied"},
		{"writer", writer, "repo=alpha", "AccessDenied"},
		{"reader", reader, "repo=alpha", "AccessDenied"},
		{"anonymous", anon, "repo=alpha", "AccessDenied"},
		{"bad cursor", adm, "cursor=x", "InvalidArgument"},
		{"bad since", adm, "since=yesterday", "InvalidArgument"},
		{"bad order", adm, "order=up", "InvalidArgument"},
	} {
		if r := c.by.call("GET", "/audit?"+c.query, nil); r.ok() || r.err.Code != c.code {
			t.Errorf("%s: %d %s, want %s", c.name, r.status, r.err.Code, c.code)
		}
	}
	all := auditAll(t, adm, url.Values{}, 1000)
	mine := auditAll(t, owner, url.Values{"repo": {"alpha"}}, 1000)
	nAlpha := 0
	for _, e := range all {
		if e.Repo == "alpha" {
			nAlpha++
		}
	}
	if len(mine) != nAlpha || nAlpha < 15 {
		t.Fatalf("owner reads %d entries of alpha, the log has %d", len(mine), nAlpha)
	}
	for _, e := range mine {
		if e.Repo != "alpha" {
			t.Fatalf("owner read an entry of another repo: %+v", e)
		}
	}

	// result= selects successes or failures.
	failed := auditAll(t, adm, url.Values{"result": {"failed"}}, 1000)
	ok := auditAll(t, adm, url.Values{"result": {"ok"}}, 1000)
	if len(failed) != 6 || len(ok)+len(failed) != len(all) {
		t.Fatalf("%d failed + %d ok entries, %d in all", len(failed), len(ok), len(all))
	}
	if r := adm.call("GET", "/audit?result=maybe", nil); r.err.Code != "InvalidArgument" {
		t.Fatalf("result=maybe: %d %s", r.status, r.err.Code)
	}

	// Pages of 1, 3 and 7, oldest or newest first, give the same entries.
	for _, limit := range []int{1, 3, 7} {
		if got := auditAll(t, adm, url.Values{}, limit); fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("pages of %d differ from one page", limit)
		}
		back := auditAll(t, adm, url.Values{"order": {"newest"}}, limit)
		for i := range back {
			if back[i] != all[len(all)-1-i] {
				t.Fatalf("newest first, pages of %d: entry %d differs", limit, i)
			}
		}
	}
	// since/until select a time range.
	mid := all[len(all)/2].Time
	later := auditAll(t, adm, url.Values{"since": {mid.Format(time.RFC3339Nano)}}, 50)
	earlier := auditAll(t, adm, url.Values{"until": {mid.Format(time.RFC3339Nano)}}, 50)
	if len(later)+len(earlier) != len(all) || !later[0].Time.Equal(mid) {
		t.Fatalf("since %d + until %d entries, all %d", len(later), len(earlier), len(all))
	}
}

// TestAuditRetention: GC deletes the entries older than AuditRetention
// and keeps the younger ones.
func TestAuditRetention(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := gatewaytest.Start(t, gateway.Config{AuditRetention: time.Hour, MetaNow: clock})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "old"}, nil)
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "new"}, nil)
	var gc apiv1.GCResult
	adm.must("POST", "/gc", apiv1.GCRequest{}, &gc)
	if gc.AuditPruned != 1 {
		t.Fatalf("audit_pruned %d, want 1", gc.AuditPruned)
	}
	var res apiv1.AuditResult
	adm.must("GET", "/audit", nil, &res)
	var acts []string
	for _, e := range res.Entries {
		acts = append(acts, e.Action+" "+e.Target)
	}
	if strings.Join(acts, ",") != "repo.create new,gc " {
		t.Fatalf("entries after gc: %q", acts)
	}
	// Reads go on: the repo whose entry went is still there.
	c := s3client(srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	if _, err := c.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("old")}); err != nil {
		t.Fatal(err)
	}
}
