package test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/auth"
)

// user creates a non-admin user with the given per-repo permissions and
// returns an SDK client with its new access key.
func (e *env) user(t *testing.T, name string, perms map[string]int) *s3.Client {
	t.Helper()
	return e.userWith(t, auth.User{Name: name}, perms)
}

// creator is user for a user who may create repos (the create_repos flag).
func (e *env) creator(t *testing.T, name string, perms map[string]int) *s3.Client {
	t.Helper()
	return e.userWith(t, auth.User{Name: name, CreateRepos: true}, perms)
}

func (e *env) userWith(t *testing.T, u auth.User, perms map[string]int) *s3.Client {
	t.Helper()
	name := u.Name
	if _, err := e.srv.Auth.CreateUserWith(ctx(t), &u); err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	for repo, level := range perms {
		if err := e.srv.Auth.Grant(ctx(t), name, repo, level); err != nil {
			t.Fatalf("Grant %s %s: %v", name, repo, err)
		}
	}
	k, secret, err := e.srv.Auth.CreateKey(ctx(t), name)
	if err != nil {
		t.Fatalf("CreateKey %s: %v", name, err)
	}
	return e.sdkWith(pathHTTP, k.ID, secret)
}

// TestPermissions: per-repo read / write / admin (SPEC §5); purging a
// version needs admin (SPEC §3); refused requests write nothing.
func TestPermissions(t *testing.T) {
	e := newEnv(t)
	admin := e.sdk(pathHTTP)
	repo := e.repo(t)
	hidden := e.repo(t)
	v1 := aws.ToString(put(t, admin, repo, "k", []byte("permission test")).VersionId)
	put(t, admin, hidden, "h", []byte("hidden"))
	reader := e.user(t, "reader", map[string]int{repo: auth.PermRead})
	writer := e.user(t, "writer", map[string]int{repo: auth.PermWrite})
	owner := e.user(t, "owner", map[string]int{repo: auth.PermAdmin})

	t.Run("ListBuckets is filtered", func(t *testing.T) {
		for name, c := range map[string]*s3.Client{"reader": reader, "writer": writer} {
			if got := listBuckets(t, c); strings.Join(got, ",") != repo {
				t.Fatalf("%s lists %q, want only %s", name, got, repo)
			}
		}
	})
	t.Run("reader", func(t *testing.T) {
		before := e.versions(t, repo)
		if b, _ := get(t, reader, repo, "k", ""); string(b) != "permission test" {
			t.Fatal(string(b))
		}
		_, err := reader.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("r"), Body: bytes.NewReader([]byte("r"))})
		wantErr(t, err, 403, "AccessDenied")
		_, err = reader.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String("k")})
		wantErr(t, err, 403, "AccessDenied")
		_, err = reader.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("rb." + repo)})
		wantErr(t, err, 403, "AccessDenied")
		wantErr(t, getErr(t, reader, hidden, "h", ""), 403, "AccessDenied")
		// Copying from a repo the user cannot read is refused too.
		_, err = writer.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(repo), Key: aws.String("stolen"),
			CopySource: aws.String(hidden + "/h")})
		wantErr(t, err, 403, "AccessDenied")
		sameVersions(t, "reader", e.versions(t, repo), before)
	})
	t.Run("writer removes versions, readers cannot", func(t *testing.T) {
		p := put(t, writer, repo, "w", []byte("written by writer"))
		before := e.versions(t, repo)
		_, err := reader.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String("w"), VersionId: p.VersionId})
		wantErr(t, err, 403, "AccessDenied")
		sameVersions(t, "reader version removal", e.versions(t, repo), before)
		// Removing a version needs write permission (as on S3), and removes
		// only that version: the same bytes elsewhere stay.
		put(t, admin, hidden, "same", []byte("written by writer"))
		out, err := writer.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(repo), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("w"), VersionId: p.VersionId}}}})
		if err != nil || len(out.Errors) != 0 || len(out.Deleted) != 1 {
			t.Fatalf("writer version removal through DeleteObjects: %v %+v", err, out)
		}
		wantErr(t, getErr(t, admin, repo, "w", ""), 404, "NoSuchKey")
		if b, _ := get(t, admin, hidden, "same", ""); string(b) != "written by writer" {
			t.Fatalf("another repo's identical bytes: %q", b)
		}
		if b, _ := get(t, admin, repo, "k", v1); string(b) != "permission test" {
			t.Fatalf("another key's version lost: %q", b)
		}
		// A writer may not delete branches (admin).
		createBucket(t, admin, "br."+repo)
		_, err = writer.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String("br." + repo)})
		wantErr(t, err, 403, "AccessDenied")
	})
	t.Run("repo admin can purge", func(t *testing.T) {
		p := put(t, owner, repo, "o", []byte("owner content to purge"))
		if _, err := owner.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(repo), Key: aws.String("o"), VersionId: p.VersionId}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, getErr(t, owner, repo, "o", aws.ToString(p.VersionId)), 404, "NoSuchVersion")
	})
	t.Run("creator of a repo administers it", func(t *testing.T) {
		name := e.name("mine")
		// Creating repos needs the create_repos flag (TestCreateReposFlag).
		_, err := reader.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name)})
		wantErr(t, err, 403, "AccessDenied")
		if _, err := e.srv.Auth.SetCreateRepos(ctx(t), "reader", true); err != nil {
			t.Fatal(err)
		}
		createBucket(t, reader, name)
		put(t, reader, name, "x", []byte("x"))
		createBucket(t, reader, "b."+name)
		if got := listBuckets(t, reader); strings.Join(got, ",") != strings.Join(sortedCopy([]string{repo, name}), ",") {
			t.Fatalf("reader lists %q", got)
		}
		wantErr(t, getErr(t, writer, name, "x", ""), 403, "AccessDenied")
	})
}

// TestPublicRepo: a public-read repo is readable anonymously; anonymous
// writes are still refused.
func TestPublicRepo(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "pub", []byte("public data"))
	wantRawErr(t, e.do(t, rawReq{method: "GET", bucket: repo, key: "pub", anon: true}), 403, "AccessDenied")
	if err := e.srv.Meta.SetRepoPublic(ctx(t), repo, true); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, rawReq{method: "GET", bucket: repo, key: "pub", anon: true})
	if r.status != 200 || string(r.body) != "public data" {
		t.Fatalf("anonymous GET of a public repo: %d %s", r.status, r.body)
	}
	r = e.do(t, rawReq{method: "GET", bucket: repo, query: "list-type=2", anon: true})
	if r.status != 200 || !strings.Contains(string(r.body), "<Key>pub</Key>") {
		t.Fatalf("anonymous list of a public repo: %d %s", r.status, r.body)
	}
	before := e.versions(t, repo)
	for _, w := range []rawReq{
		{method: "PUT", bucket: repo, key: "pub", body: []byte("defaced")},
		{method: "DELETE", bucket: repo, key: "pub"},
		{method: "POST", bucket: repo, query: "delete", body: []byte("<Delete><Object><Key>pub</Key></Object></Delete>")},
		{method: "PUT", bucket: "x." + repo},
	} {
		w.anon = true
		wantRawErr(t, e.do(t, w), 403, "AccessDenied")
	}
	sameVersions(t, "anonymous writes on a public repo", e.versions(t, repo), before)
	// ListBuckets stays refused for anonymous requests.
	wantRawErr(t, e.do(t, rawReq{method: "GET", anon: true}), 403, "AccessDenied")
}
