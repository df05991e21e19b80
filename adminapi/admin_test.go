package adminapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// api is an admin API client signing with SigV4 (or basic auth, or none).
type api struct {
	t        testing.TB
	base     string
	ak, sk   string
	basic    bool
	anonymus bool
}

func newAPI(t testing.TB, srv *gatewaytest.Server, ak, sk string) *api {
	return &api{t: t, base: srv.URL, ak: ak, sk: sk, anonymus: ak == ""}
}

// result is one admin API answer.
type result struct {
	status int
	body   []byte
	err    apiv1.APIError
}

func (r result) ok() bool { return r.status/100 == 2 }

func (r result) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (a *api) call(method, path string, body any) result {
	a.t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			a.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, a.base+"/api/v1"+path, bytes.NewReader(data))
	if err != nil {
		a.t.Fatal(err)
	}
	switch {
	case a.anonymus:
	case a.basic:
		req.SetBasicAuth(a.ak, a.sk)
	default:
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		req.Header.Set("X-Amz-Content-Sha256", h)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: a.ak, SecretAccessKey: a.sk},
			req, h, "s3", "us-east-1", time.Now())
		if err != nil {
			a.t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, body: b}
	if !r.ok() && method != http.MethodHead {
		if err := json.Unmarshal(b, &r.err); err != nil || r.err.Code == "" || r.err.Message == "" {
			a.t.Fatalf("%s %s: error answer %d is not JSON {code, message}: %q", method, path, resp.StatusCode, b)
		}
		if resp.Header.Get("Content-Type") != "application/json" {
			a.t.Fatalf("%s %s: error Content-Type %q", method, path, resp.Header.Get("Content-Type"))
		}
	}
	return r
}

// must calls and fails the test on an error answer.
func (a *api) must(method, path string, body, out any) {
	a.t.Helper()
	r := a.call(method, path, body)
	if !r.ok() {
		a.t.Fatalf("%s %s: %d %s: %s", method, path, r.status, r.err.Code, r.err.Message)
	}
	if out != nil {
		r.decode(a.t, out)
	}
}

func s3client(srv *gatewaytest.Server, ak, sk string) *s3.Client {
	o := s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, RetryMaxAttempts: 1}
	if ak != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, "")
	} else {
		o.Credentials = aws.AnonymousCredentials{}
	}
	return s3.New(o)
}

func s3code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func put(t testing.TB, c *s3.Client, bucket, key, body string) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

type principal struct {
	name   string
	ak, sk string
}

// setupUsers makes users owner (admin on alpha), writer, reader (on alpha)
// and nobody, and returns them with admin and anonymous.
func setupUsers(t *testing.T, srv *gatewaytest.Server, adm *api) []principal {
	t.Helper()
	ps := []principal{{name: "admin", ak: gatewaytest.AccessKey, sk: gatewaytest.SecretKey}}
	for _, u := range []struct{ name, perm string }{{"owner", "admin"}, {"writer", "write"}, {"reader", "read"}, {"nobody", ""}} {
		var nu apiv1.NewUser
		adm.must("POST", "/users", apiv1.CreateUserRequest{Name: u.name}, &nu)
		if nu.Key == nil || nu.Key.SecretKey == "" {
			t.Fatalf("user %s made without a key: %+v", u.name, nu)
		}
		if u.perm != "" {
			adm.must("PUT", "/users/"+u.name+"/perms/alpha", apiv1.PermRequest{Permission: u.perm}, nil)
		}
		ps = append(ps, principal{name: u.name, ak: nu.Key.AccessKey, sk: nu.Key.SecretKey})
	}
	return append(ps, principal{name: "anonymous"})
}

// TestPermissionMatrix runs every operation of the matrix as every user, over
// S3 and the admin API: each is allowed, or refused with AccessDenied.
func TestPermissionMatrix(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	admS3 := s3client(srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	for _, r := range []string{"alpha", "pub", "other"} {
		adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: r}, nil)
		put(t, admS3, r, "k", "data of "+r)
	}
	adm.must("PUT", "/repos/pub/public", apiv1.SetPublicRequest{Public: aws.Bool(true)}, nil)
	users := setupUsers(t, srv, adm)
	ctx := context.Background()

	// Which repos each user sees in ListBuckets.
	wantRepos := map[string][]string{
		"admin": {"alpha", "other", "pub"}, "owner": {"alpha", "pub"}, "writer": {"alpha", "pub"},
		"reader": {"alpha", "pub"}, "nobody": {"pub"},
	}
	for _, u := range users {
		c := s3client(srv, u.ak, u.sk)
		out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if u.name == "anonymous" {
			if s3code(err) != "AccessDenied" {
				t.Errorf("anonymous ListBuckets: %v, want AccessDenied", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s ListBuckets: %v", u.name, err)
		}
		var got []string
		for _, b := range out.Buckets {
			got = append(got, aws.ToString(b.Name))
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(wantRepos[u.name]) {
			t.Errorf("%s ListBuckets = %v, want %v", u.name, got, wantRepos[u.name])
		}
		// The admin API's repo list agrees.
		var rs []apiv1.RepoInfo
		newAPI(t, srv, u.ak, u.sk).must("GET", "/repos", nil, &rs)
		got = got[:0]
		for _, r := range rs {
			got = append(got, r.Name)
		}
		if fmt.Sprint(got) != fmt.Sprint(wantRepos[u.name]) {
			t.Errorf("%s GET /repos = %v, want %v", u.name, got, wantRepos[u.name])
		}
	}

	// Levels: what each user holds on alpha and on pub (public: read for all).
	level := map[string]map[string]int{
		"admin":     {"alpha": 3, "pub": 3, "global": 1},
		"owner":     {"alpha": 3, "pub": 1},
		"writer":    {"alpha": 2, "pub": 1},
		"reader":    {"alpha": 1, "pub": 1},
		"nobody":    {"alpha": 0, "pub": 1},
		"anonymous": {"alpha": 0, "pub": 1},
	}
	type op struct {
		name  string
		repo  string // "global" for global-admin calls
		need  int
		s3    func(c *s3.Client, u principal, n int) error // nil: admin API op
		admin func(a *api, u principal, n int) result      // nil: S3 op
	}
	n := 0
	var ops []op
	for _, repo := range []string{"alpha", "pub"} {
		repo := repo
		ops = append(ops,
			op{name: "s3 GetObject", repo: repo, need: 1, s3: func(c *s3.Client, u principal, n int) error {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("k")})
				if err == nil {
					out.Body.Close()
				}
				return err
			}},
			op{name: "s3 ListObjectsV2", repo: repo, need: 1, s3: func(c *s3.Client, u principal, n int) error {
				_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(repo)})
				return err
			}},
			op{name: "s3 PutObject", repo: repo, need: 2, s3: func(c *s3.Client, u principal, n int) error {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String(fmt.Sprintf("w/%d", n)), Body: strings.NewReader("x")})
				return err
			}},
			op{name: "s3 DeleteObject", repo: repo, need: 2, s3: func(c *s3.Client, u principal, n int) error {
				key := fmt.Sprintf("d/%d", n)
				put(t, admS3, repo, key, "delete me")
				_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String(key)})
				return err
			}},
			op{name: "s3 CreateBucket (branch)", repo: repo, need: 3, s3: func(c *s3.Client, u principal, n int) error {
				_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(fmt.Sprintf("b%d.%s", n, repo))})
				return err
			}},
			op{name: "s3 version removal (DeleteObject versionId)", repo: repo, need: 2, s3: func(c *s3.Client, u principal, n int) error {
				v := put(t, admS3, repo, fmt.Sprintf("p/%d", n), fmt.Sprintf("remove me %d %s", n, repo))
				_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String(fmt.Sprintf("p/%d", n)), VersionId: aws.String(v)})
				return err
			}},
			op{name: "api log", repo: repo, need: 1, admin: func(a *api, u principal, n int) result {
				return a.call("GET", "/repos/"+repo+"/log?ref=main", nil)
			}},
			op{name: "api diff", repo: repo, need: 1, admin: func(a *api, u principal, n int) result {
				return a.call("GET", "/repos/"+repo+"/diff?from=main&to=main", nil)
			}},
			op{name: "api get object", repo: repo, need: 1, admin: func(a *api, u principal, n int) result {
				return a.call("GET", "/repos/"+repo+"/object?key=k", nil)
			}},
			op{name: "api commit start", repo: repo, need: 2, admin: func(a *api, u principal, n int) result {
				r := a.call("POST", "/repos/"+repo+"/commits", apiv1.StartCommitRequest{Branch: "main"})
				if r.ok() {
					var oc apiv1.OpenCommitInfo
					r.decode(t, &oc)
					adm.must("POST", "/repos/"+repo+"/commits/"+oc.ID+"/abort", nil, nil)
				}
				return r
			}},
			op{name: "api merge", repo: repo, need: 2, admin: func(a *api, u principal, n int) result {
				br := fmt.Sprintf("m%d", n)
				adm.must("POST", "/repos/"+repo+"/branches", apiv1.CreateRefRequest{Name: br}, nil)
				return a.call("POST", "/repos/"+repo+"/merge", apiv1.MergeRequest{Source: br, Destination: "main"})
			}},
			op{name: "api branch create", repo: repo, need: 3, admin: func(a *api, u principal, n int) result {
				return a.call("POST", "/repos/"+repo+"/branches", apiv1.CreateRefRequest{Name: fmt.Sprintf("c%d", n)})
			}},
			op{name: "api tag create", repo: repo, need: 3, admin: func(a *api, u principal, n int) result {
				return a.call("POST", "/repos/"+repo+"/tags", apiv1.CreateRefRequest{Name: fmt.Sprintf("t%d", n)})
			}},
			op{name: "api branch protect", repo: repo, need: 3, admin: func(a *api, u principal, n int) result {
				br := fmt.Sprintf("q%d", n)
				adm.must("POST", "/repos/"+repo+"/branches", apiv1.CreateRefRequest{Name: br}, nil)
				return a.call("PUT", "/repos/"+repo+"/branches/"+br+"/protected", apiv1.SetProtectedRequest{Protected: aws.Bool(true)})
			}},
			op{name: "api purge", repo: repo, need: 3, admin: func(a *api, u principal, n int) result {
				key := fmt.Sprintf("ap/%d", n)
				put(t, admS3, repo, key, fmt.Sprintf("api purge %d %s", n, repo))
				return a.call("POST", "/repos/"+repo+"/purge", apiv1.PurgeRequest{Key: key})
			}},
			op{name: "api perm grant", repo: repo, need: 3, admin: func(a *api, u principal, n int) result {
				return a.call("PUT", "/users/nobody/perms/"+repo, apiv1.PermRequest{Permission: "read"})
			}},
			op{name: "s3 PutBucketAcl (unchanged)", repo: repo, need: 3, s3: func(c *s3.Client, u principal, n int) error {
				acl := types.BucketCannedACLPrivate
				if repo == "pub" {
					acl = types.BucketCannedACLPublicRead
				}
				_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String(repo), ACL: acl})
				return err
			}},
		)
	}
	ops = append(ops,
		op{name: "api user list", repo: "global", need: 1, admin: func(a *api, u principal, n int) result { return a.call("GET", "/users", nil) }},
		// Creating repos needs the create_repos flag, which none of the
		// non-admin users has (TestCreateReposAPI).
		op{name: "s3 CreateBucket (repo)", repo: "global", need: 1, s3: func(c *s3.Client, u principal, n int) error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(fmt.Sprintf("new%d", n))})
			return err
		}},
		op{name: "api repo create", repo: "global", need: 1, admin: func(a *api, u principal, n int) result {
			return a.call("POST", "/repos", apiv1.CreateRepoRequest{Name: fmt.Sprintf("api%d", n)})
		}},
		op{name: "api user set-create-repos", repo: "global", need: 1, admin: func(a *api, u principal, n int) result {
			return a.call("PUT", "/users/nobody/create-repos", apiv1.SetCreateReposRequest{CreateRepos: aws.Bool(false)})
		}},
		op{name: "api user create", repo: "global", need: 1, admin: func(a *api, u principal, n int) result {
			return a.call("POST", "/users", apiv1.CreateUserRequest{Name: fmt.Sprintf("u%d", n)})
		}},
		op{name: "api key create", repo: "global", need: 1, admin: func(a *api, u principal, n int) result {
			return a.call("POST", "/keys", apiv1.CreateKeyRequest{User: "nobody"})
		}},
		op{name: "api key list", repo: "global", need: 1, admin: func(a *api, u principal, n int) result { return a.call("GET", "/keys", nil) }},
		op{name: "api audit", repo: "global", need: 1, admin: func(a *api, u principal, n int) result { return a.call("GET", "/audit", nil) }},
		op{name: "api gc (dry run)", repo: "global", need: 1, admin: func(a *api, u principal, n int) result {
			return a.call("POST", "/gc", apiv1.GCRequest{DryRun: true})
		}},
		op{name: "api purge every repo (block)", repo: "global", need: 1, admin: func(a *api, u principal, n int) result {
			body := fmt.Sprintf("global purge %d", n)
			put(t, admS3, "alpha", fmt.Sprintf("gp/%d", n), body)
			sum := sha256.Sum256([]byte(body))
			return a.call("POST", "/purge", apiv1.PurgeRequest{Content: hex.EncodeToString(sum[:]), Block: true})
		}},
	)
	cells := 0
	for _, o := range ops {
		for _, u := range users {
			n++
			cells++
			allowed := level[u.name][o.repo] >= o.need
			var code string
			var ok bool
			if o.s3 != nil {
				err := o.s3(s3client(srv, u.ak, u.sk), u, n)
				ok, code = err == nil, s3code(err)
			} else {
				r := o.admin(newAPI(t, srv, u.ak, u.sk), u, n)
				ok, code = r.ok(), r.err.Code
				if !ok && !strings.Contains(r.err.Message, "denied") {
					t.Errorf("%s as %s on %s: refusal message %q does not say access is denied", o.name, u.name, o.repo, r.err.Message)
				}
			}
			switch {
			case allowed && !ok:
				t.Errorf("%s as %s on %s: refused (%s), want allowed", o.name, u.name, o.repo, code)
			case !allowed && ok:
				t.Errorf("%s as %s on %s: allowed, want AccessDenied", o.name, u.name, o.repo)
			case !allowed && code != "AccessDenied":
				t.Errorf("%s as %s on %s: refused with %s, want AccessDenied", o.name, u.name, o.repo, code)
			}
		}
	}
	t.Logf("%d cells (%d users x %d operations)", cells, len(users), len(ops))
}

func TestAdminErrorsAndAuth(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)

	// Unknown routes, repos, refs and keys: JSON errors that name them.
	for _, c := range []struct {
		method, path string
		status       int
		code, says   string
	}{
		{"GET", "/nope", 404, "NoSuchRoute", "docs/api.md"},
		{"PATCH", "/repos", 404, "NoSuchRoute", "PATCH /api/v1/repos"},
		{"GET", "/repos/nope/branches", 404, "NoSuchRepo", `repo "nope" does not exist`},
		{"GET", "/repos/Bad_Name/branches", 400, "InvalidName", "Bad_Name"},
	} {
		r := adm.call(c.method, c.path, nil)
		if r.status != c.status || r.err.Code != c.code || !strings.Contains(r.err.Message, c.says) {
			t.Errorf("%s %s = %d %s %q; want %d %s mentioning %q", c.method, c.path, r.status, r.err.Code, r.err.Message, c.status, c.code, c.says)
		}
	}
	// Path values are unescaped (sent unsigned: a signer re-escapes paths).
	if r := newAPI(t, srv, "", "").call("GET", "/repos/Bad%5FName/branches", nil); r.status != 400 || r.err.Code != "InvalidName" || !strings.Contains(r.err.Message, "Bad_Name") {
		t.Errorf("GET /repos/Bad%%5FName/branches = %d %s %q; want 400 InvalidName naming Bad_Name", r.status, r.err.Code, r.err.Message)
	}
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "imgs"}, nil)
	for _, c := range []struct {
		method, path string
		body         any
		code, says   string
	}{
		{"GET", "/repos/imgs/log?ref=nobranch", nil, "NoSuchRef", `"nobranch"`},
		{"DELETE", "/repos/imgs/branches/nobranch", nil, "NoSuchBranch", `"nobranch"`},
		{"DELETE", "/repos/imgs/tags/notag", nil, "NoSuchTag", `"notag"`},
		{"GET", "/repos/imgs/object?key=nokey", nil, "NoSuchKey", `"nokey"`},
		{"POST", "/repos/imgs/commits/0123456789abcdef0123/finish", nil, "NoSuchCommit", "0123456789abcdef0123"},
		{"DELETE", "/users/nouser", nil, "NoSuchUser", `"nouser"`},
		{"DELETE", "/keys/NOKEY", nil, "NoSuchAccessKey", `"NOKEY"`},
		{"POST", "/repos", apiv1.CreateRepoRequest{Name: "imgs"}, "AlreadyExists", `"imgs"`},
		{"POST", "/repos", map[string]string{"nmae": "x"}, "InvalidArgument", "nmae"},
		{"POST", "/repos", apiv1.CreateRepoRequest{Name: "api"}, "InvalidName", "reserved"},
		{"POST", "/repos/imgs/merge", apiv1.MergeRequest{Source: "main", Destination: "main", Strategy: "both"}, "InvalidArgument", "fail, ours or theirs"},
		{"DELETE", "/repos/imgs/branches/main", nil, "InvalidArgument", "main cannot be deleted"},
		{"PUT", "/users/admin/perms/imgs", apiv1.PermRequest{Permission: "read"}, "InvalidArgument", "admin user"},
		{"PUT", "/users/admin/perms/imgs", apiv1.PermRequest{Permission: "owner"}, "InvalidArgument", "read, write or admin"},
		{"POST", "/users", apiv1.CreateUserRequest{Name: "anonymous"}, "InvalidArgument", "reserved"},
		{"GET", "/repos/imgs/diff?from=main", nil, "InvalidArgument", "from=REF&to=REF"},
		{"GET", "/repos/imgs/log?limit=-1", nil, "InvalidArgument", "limit"},
	} {
		r := adm.call(c.method, c.path, c.body)
		if r.ok() || r.err.Code != c.code || !strings.Contains(r.err.Message, c.says) {
			t.Errorf("%s %s = %d %s %q; want %s mentioning %q", c.method, c.path, r.status, r.err.Code, r.err.Message, c.code, c.says)
		}
		if strings.Contains(r.err.Message, "\n") {
			t.Errorf("%s %s: message has several lines: %q", c.method, c.path, r.err.Message)
		}
	}

	// HTTP basic auth with key id and secret works; a wrong secret does not.
	basic := &api{t: t, base: srv.URL, ak: gatewaytest.AccessKey, sk: gatewaytest.SecretKey, basic: true}
	var who apiv1.WhoAmI
	basic.must("GET", "/whoami", nil, &who)
	if who.User != "admin" || !who.Admin {
		t.Fatalf("whoami over basic auth: %+v", who)
	}
	basic.sk = "wrong"
	if r := basic.call("GET", "/whoami", nil); r.status != 403 || r.err.Code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong basic secret: %d %s", r.status, r.err.Code)
	}
	bad := newAPI(t, srv, gatewaytest.AccessKey, "wrong-secret")
	if r := bad.call("GET", "/repos", nil); r.status != 403 || r.err.Code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong SigV4 secret: %d %s %s", r.status, r.err.Code, r.err.Message)
	}
	anon := newAPI(t, srv, "", "")
	if r := anon.call("GET", "/users", nil); r.err.Code != "AccessDenied" || !strings.Contains(r.err.Message, "tusk login") {
		t.Fatalf("anonymous GET /users: %d %s %q", r.status, r.err.Code, r.err.Message)
	}
	var v apiv1.VersionInfo
	anon.must("GET", "/version", nil, &v)
	if v.Version == "" {
		t.Fatal("no version")
	}

	// A revoked key stops working at once, over S3 and the admin API; a
	// deleted user's keys too.
	var nu apiv1.NewUser
	adm.must("POST", "/users", apiv1.CreateUserRequest{Name: "bob"}, &nu)
	var k2 apiv1.NewKey
	adm.must("POST", "/keys", apiv1.CreateKeyRequest{User: "bob"}, &k2)
	adm.must("PUT", "/users/bob/perms/imgs", apiv1.PermRequest{Permission: "write"}, nil)
	bob := s3client(srv, nu.Key.AccessKey, nu.Key.SecretKey)
	put(t, bob, "imgs", "by-bob", "x")
	adm.must("DELETE", "/keys/"+nu.Key.AccessKey, nil, nil)
	if _, err := bob.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("imgs")}); s3code(err) != "InvalidAccessKeyId" {
		t.Fatalf("revoked key over S3: %v", err)
	}
	if r := newAPI(t, srv, nu.Key.AccessKey, nu.Key.SecretKey).call("GET", "/repos", nil); r.err.Code != "InvalidAccessKeyId" {
		t.Fatalf("revoked key over the admin API: %d %s", r.status, r.err.Code)
	}
	bob2 := newAPI(t, srv, k2.AccessKey, k2.SecretKey)
	bob2.must("GET", "/repos/imgs/log", nil, nil)
	if r := bob2.call("DELETE", "/keys/"+k2.AccessKey, nil); r.err.Code != "AccessDenied" {
		t.Fatalf("a non-admin revoking keys: %d %s", r.status, r.err.Code)
	}
	var keys []apiv1.KeyInfo
	adm.must("GET", "/keys?user=bob", nil, &keys)
	if len(keys) != 1 || keys[0].ID != k2.AccessKey || strings.Contains(string(mustJSON(keys)), k2.SecretKey) {
		t.Fatalf("bob's keys: %+v", keys)
	}
	if r := adm.call("DELETE", "/keys/"+gatewaytest.AccessKey, nil); r.err.Code != "InvalidArgument" {
		t.Fatalf("revoking the key that signs the request: %d %s", r.status, r.err.Code)
	}
	adm.must("DELETE", "/users/bob", nil, nil)
	if r := bob2.call("GET", "/repos", nil); r.err.Code != "InvalidAccessKeyId" {
		t.Fatalf("a deleted user's key: %d %s", r.status, r.err.Code)
	}

	// Revoking a level leaves the level below it.
	adm.must("POST", "/users", apiv1.CreateUserRequest{Name: "carol", NoKey: true}, nil)
	adm.must("PUT", "/users/carol/perms/imgs", apiv1.PermRequest{Permission: "admin"}, nil)
	var pi apiv1.PermInfo
	adm.must("DELETE", "/users/carol/perms/imgs?permission=write", nil, &pi)
	if pi.Permission != "read" {
		t.Fatalf("admin minus write = %s, want read", pi.Permission)
	}
	adm.must("DELETE", "/users/carol/perms/imgs", nil, &pi)
	if pi.Permission != "none" {
		t.Fatalf("after revoking all: %s", pi.Permission)
	}
	// Deleting a repo drops the grants on it: a new repo of the same name
	// starts with none.
	adm.must("PUT", "/users/carol/perms/imgs", apiv1.PermRequest{Permission: "read"}, nil)
	if r := adm.call("DELETE", "/repos/imgs", nil); r.err.Code != "NotEmpty" || !strings.Contains(r.err.Message, "--force") {
		t.Fatalf("deleting a non-empty repo: %d %s %q", r.status, r.err.Code, r.err.Message)
	}
	adm.must("DELETE", "/repos/imgs?force=true", nil, nil)
	var carol apiv1.UserInfo
	adm.must("GET", "/users/carol", nil, &carol)
	if len(carol.Perms) != 0 {
		t.Fatalf("carol's perms after the repo was deleted: %v", carol.Perms)
	}

	// The audit log records admin actions with who did them.
	var al apiv1.AuditResult
	adm.must("GET", "/audit?action=key&result=ok", nil, &al)
	var acts []string
	for _, e := range al.Entries {
		acts = append(acts, e.User+" "+e.Action)
	}
	if fmt.Sprint(acts) != "[admin key.create admin key.revoke]" {
		t.Fatalf("audit of key actions: %v", acts)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestAdminObjectsAndHistory covers the version-control calls that the CLI
// tests drive too: open commits, object reads, diff, merge, revert, reset.
func TestAdminObjectsAndHistory(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	c := s3client(srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "data"}, nil)

	// An open commit takes writes through its bucket; finishing makes one
	// commit.
	var oc apiv1.OpenCommitInfo
	adm.must("POST", "/repos/data/commits", apiv1.StartCommitRequest{Branch: "main", Message: "batch"}, &oc)
	if oc.Bucket != oc.ID[:16]+".data" {
		t.Fatalf("open commit bucket %q", oc.Bucket)
	}
	for i := 0; i < 3; i++ {
		put(t, c, oc.Bucket, fmt.Sprintf("f%d", i), fmt.Sprintf("file %d", i))
	}
	var open []apiv1.OpenCommitInfo
	adm.must("GET", "/repos/data/commits", nil, &open)
	if len(open) != 1 || open[0].ID != oc.ID {
		t.Fatalf("open commits: %+v", open)
	}
	var cm apiv1.CommitInfo
	adm.must("POST", "/repos/data/commits/"+oc.ID[:12]+"/finish", nil, &cm)
	if cm.ID != oc.ID || cm.Message != "batch" {
		t.Fatalf("finished commit %+v", cm)
	}
	if r := adm.call("POST", "/repos/data/commits/"+oc.ID+"/abort", nil); r.err.Code != "CommitFinished" {
		t.Fatalf("aborting a finished commit: %s", r.err.Code)
	}
	var lg apiv1.LogResult
	adm.must("GET", "/repos/data/log", nil, &lg)
	if len(lg.Commits) != 2 || lg.Commits[0].ID != oc.ID {
		t.Fatalf("log after one open commit: %+v", lg.Commits)
	}

	// Object reads.
	r := adm.call("GET", "/repos/data/object?key=f1", nil)
	if !r.ok() || string(r.body) != "file 1" {
		t.Fatalf("get f1: %d %q", r.status, r.body)
	}
	var lr apiv1.ListResult
	adm.must("GET", "/repos/data/objects?limit=2", nil, &lr)
	if len(lr.Objects) != 2 || !lr.Truncated || lr.Next != "f1" {
		t.Fatalf("page 1: %+v", lr)
	}
	adm.must("GET", "/repos/data/objects?after=f1", nil, &lr)
	if len(lr.Objects) != 1 || lr.Objects[0].Key != "f2" || lr.Truncated {
		t.Fatalf("page 2: %+v", lr)
	}

	// Diff with sizes.
	adm.must("POST", "/repos/data/branches", apiv1.CreateRefRequest{Name: "dev"}, nil)
	put(t, c, "dev.data", "f1", "file one, longer")
	put(t, c, "dev.data", "new", "n")
	if _, err := c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("dev.data"), Key: aws.String("f2")}); err != nil {
		t.Fatal(err)
	}
	var d apiv1.DiffResult
	adm.must("GET", "/repos/data/diff?from=main&to=dev", nil, &d)
	got := fmt.Sprint(d.Entries)
	if got != "[{f1 changed 16 6} {f2 removed 0 6} {new added 1 0}]" || d.Added != 1 || d.Changed != 1 || d.Removed != 1 {
		t.Fatalf("diff main..dev: %s %+v", got, d)
	}

	// Revert the deletion of f2 on dev, then reset dev back to main.
	var lgd apiv1.LogResult
	adm.must("GET", "/repos/data/log?ref=dev&limit=1", nil, &lgd)
	adm.must("POST", "/repos/data/branches/dev/revert", apiv1.RevertRequest{Commit: lgd.Commits[0].ID}, &cm)
	if r := adm.call("GET", "/repos/data/object?ref=dev&key=f2", nil); string(r.body) != "file 2" {
		t.Fatalf("f2 after revert: %d %q", r.status, r.body)
	}
	var ri apiv1.RefInfo
	adm.must("GET", "/repos/data/refs/main", nil, &ri)
	adm.must("POST", "/repos/data/branches/dev/reset", apiv1.ResetRequest{Ref: "main"}, &cm)
	if cm.ID != ri.Commit {
		t.Fatalf("reset dev to main: at %s, want %s", cm.ID, ri.Commit)
	}
	// Protected branches refuse reset, revert and direct writes, but merge.
	adm.must("PUT", "/repos/data/branches/main/protected", apiv1.SetProtectedRequest{Protected: aws.Bool(true)}, nil)
	if r := adm.call("POST", "/repos/data/branches/main/reset", apiv1.ResetRequest{Ref: "main"}); r.err.Code != "AccessDenied" || !strings.Contains(r.err.Message, "protected") {
		t.Fatalf("reset of a protected branch: %s %q", r.err.Code, r.err.Message)
	}
	if r := adm.call("POST", "/repos/data/commits", apiv1.StartCommitRequest{Branch: "main"}); r.err.Code != "AccessDenied" {
		t.Fatalf("open commit on a protected branch: %s", r.err.Code)
	}
	put(t, c, "dev.data", "via-merge", "m")
	var mr apiv1.MergeResult
	adm.must("POST", "/repos/data/merge", apiv1.MergeRequest{Source: "dev", Destination: "main"}, &mr)
	if !mr.FastForward {
		t.Fatalf("merge into protected main: %+v", mr)
	}
}

// TestCreateReposAPI: the create_repos flag through the admin API: set at
// creation or later by a global admin only; a user with it creates repos
// (admin API and S3), owns them and administers them; without it, never.
func TestCreateReposAPI(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	var dana, eric apiv1.NewUser
	adm.must("POST", "/users", apiv1.CreateUserRequest{Name: "dana", CreateRepos: true}, &dana)
	adm.must("POST", "/users", apiv1.CreateUserRequest{Name: "eric"}, &eric)
	if !dana.User.CreateRepos || eric.User.CreateRepos {
		t.Fatalf("create_repos of new users: dana %v, eric %v", dana.User.CreateRepos, eric.User.CreateRepos)
	}
	da := newAPI(t, srv, dana.Key.AccessKey, dana.Key.SecretKey)
	ea := newAPI(t, srv, eric.Key.AccessKey, eric.Key.SecretKey)

	var ri apiv1.RepoInfo
	da.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "danas"}, &ri)
	if ri.Owner != "dana" || ri.Permission != "admin" {
		t.Fatalf("dana's repo: %+v", ri)
	}
	if _, err := s3client(srv, dana.Key.AccessKey, dana.Key.SecretKey).CreateBucket(context.Background(),
		&s3.CreateBucketInput{Bucket: aws.String("danas3")}); err != nil {
		t.Fatalf("dana's CreateBucket: %v", err)
	}
	da.must("GET", "/repos/danas3", nil, &ri)
	if ri.Owner != "dana" || ri.Permission != "admin" {
		t.Fatalf("dana's S3 repo: %+v", ri)
	}
	if r := ea.call("POST", "/repos", apiv1.CreateRepoRequest{Name: "erics"}); r.status != 403 || r.err.Code != "AccessDenied" ||
		!strings.Contains(r.err.Message, "set-create-repos") {
		t.Fatalf("eric creates a repo: %d %+v", r.status, r.err)
	}
	// Only global admins set the flag, and only on non-admin users.
	if r := da.call("PUT", "/users/eric/create-repos", apiv1.SetCreateReposRequest{CreateRepos: aws.Bool(true)}); r.status != 403 {
		t.Fatalf("dana sets eric's flag: %d %+v", r.status, r.err)
	}
	for _, c := range []struct {
		user string
		body any
	}{{"admin", apiv1.SetCreateReposRequest{CreateRepos: aws.Bool(false)}}, {"eric", map[string]any{}}} {
		if r := adm.call("PUT", "/users/"+c.user+"/create-repos", c.body); r.status != 400 || r.err.Code != "InvalidArgument" {
			t.Fatalf("PUT create-repos %s %v: %d %+v", c.user, c.body, r.status, r.err)
		}
	}
	if r := adm.call("POST", "/users", apiv1.CreateUserRequest{Name: "both", Admin: true, CreateRepos: true}); r.status != 400 {
		t.Fatalf("admin and create_repos: %d %+v", r.status, r.err)
	}
	var ui apiv1.UserInfo
	adm.must("PUT", "/users/eric/create-repos", apiv1.SetCreateReposRequest{CreateRepos: aws.Bool(true)}, &ui)
	if !ui.CreateRepos || ui.Keys != 1 {
		t.Fatalf("eric after set-create-repos: %+v", ui)
	}
	ea.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "erics"}, nil)
	adm.must("PUT", "/users/eric/create-repos", apiv1.SetCreateReposRequest{CreateRepos: aws.Bool(false)}, &ui)
	if r := ea.call("POST", "/repos", apiv1.CreateRepoRequest{Name: "erics2"}); r.status != 403 {
		t.Fatalf("eric after the flag was taken away: %d %+v", r.status, r.err)
	}
	var who apiv1.WhoAmI
	da.must("GET", "/whoami", nil, &who)
	if !who.CreateRepos {
		t.Fatalf("dana's whoami: %+v", who)
	}
	// The flag survives in the user record; the audit log names the change.
	var al apiv1.AuditResult
	adm.must("GET", "/audit?action=user.set-create-repos&result=ok", nil, &al)
	if len(al.Entries) != 2 || al.Entries[0].Target != "eric" || al.Entries[0].Detail != "true" {
		t.Fatalf("audit: %+v", al.Entries)
	}
}
