package test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// Bucket-level S3 behaviour and who may create buckets: AWS's answers
// (CreateBucket of an existing bucket, LocationConstraint, canned ACLs,
// ListBuckets pagination, bucket names) with Tusk's users as accounts.

// regionEnv starts a gateway in region and returns it with an admin
// aws-sdk-go-v2 client signing for that region (path style, plain HTTP).
func regionEnv(t *testing.T, region string) (*gatewaytest.Server, *s3.Client) {
	t.Helper()
	srv := gatewaytest.Start(t, gateway.Config{Region: region})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := s3.New(s3.Options{
		Region:           region,
		BaseEndpoint:     aws.String(srv.URL),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(gatewaytest.AccessKey, gatewaytest.SecretKey, ""),
		HTTPClient:       &http.Client{Transport: tr},
		RetryMaxAttempts: 1,
	})
	return srv, c
}

func location(t *testing.T, c *s3.Client, bucket string) string {
	t.Helper()
	out, err := c.GetBucketLocation(ctx(t), &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetBucketLocation %s: %v", bucket, err)
	}
	return string(out.LocationConstraint)
}

// anonGet reads bucket/key without credentials and returns the status.
func (e *env) anonGet(t *testing.T, method, bucket, key, query string) rawResp {
	t.Helper()
	return e.do(t, rawReq{method: method, bucket: bucket, key: key, query: query, anon: true})
}

// TestCreateReposFlag: only users with the create_repos flag (and global
// admins) create repos; each owns and administers its repos, sees only
// those, and cannot read or copy from another's without a grant.
func TestCreateReposFlag(t *testing.T) {
	e := newEnv(t)
	admin := e.sdk(pathHTTP)
	plain := e.user(t, "plain", nil)
	alice := e.creator(t, "alice", nil)
	bob := e.creator(t, "bob", nil)

	t.Run("a user without the flag cannot create", func(t *testing.T) {
		name := e.name("plain")
		_, err := plain.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name)})
		wantErr(t, err, 403, "AccessDenied")
		if !strings.Contains(apiMessage(err), "set-create-repos") {
			t.Errorf("refusal %q does not say how to get the flag", apiMessage(err))
		}
		wantErr(t, headBucket(t, admin, name), 404, "")
		if got := listBuckets(t, plain); len(got) != 0 {
			t.Fatalf("plain lists %q", got)
		}
	})

	aRepo, bRepo := e.name("alice"), e.name("bob")
	createBucket(t, alice, aRepo)
	createBucket(t, bob, bRepo)
	put(t, alice, aRepo, "a.txt", []byte("alice's data"))
	put(t, bob, bRepo, "b.txt", []byte("bob's data"))

	t.Run("creators are isolated", func(t *testing.T) {
		if got := listBuckets(t, alice); strings.Join(got, ",") != aRepo {
			t.Fatalf("alice lists %q, want only %s", got, aRepo)
		}
		if got := listBuckets(t, bob); strings.Join(got, ",") != bRepo {
			t.Fatalf("bob lists %q, want only %s", got, bRepo)
		}
		before := e.versions(t, aRepo)
		_, err := alice.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(aRepo), Key: aws.String("stolen"),
			CopySource: aws.String(bRepo + "/b.txt")})
		wantErr(t, err, 403, "AccessDenied")
		sameVersions(t, "refused copy", e.versions(t, aRepo), before)
		wantErr(t, getErr(t, alice, bRepo, "b.txt", ""), 403, "AccessDenied")
		_, err = alice.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bRepo), Key: aws.String("x"), Body: bytes.NewReader([]byte("x"))})
		wantErr(t, err, 403, "AccessDenied")
		_, err = alice.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("br." + bRepo)})
		wantErr(t, err, 403, "AccessDenied")
	})

	t.Run("the creator owns and administers its repo", func(t *testing.T) {
		createBucket(t, alice, "dev."+aRepo)
		if b, _ := get(t, alice, "dev."+aRepo, "a.txt", ""); string(b) != "alice's data" {
			t.Fatalf("dev branch: %q", b)
		}
		acl, err := alice.GetBucketAcl(ctx(t), &s3.GetBucketAclInput{Bucket: aws.String(aRepo)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(acl.Owner.ID) != "alice" {
			t.Fatalf("owner of %s: %+v, want alice", aRepo, acl.Owner)
		}
		r, err := e.srv.Meta.GetRepo(ctx(t), aRepo)
		if err != nil || r.Owner != "alice" {
			t.Fatalf("repo record: %+v %v", r, err)
		}
		// A grant makes the other's repo readable, and listed.
		if err := e.srv.Auth.Grant(ctx(t), "bob", aRepo, auth.PermRead); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(bRepo), Key: aws.String("copied"),
			CopySource: aws.String(aRepo + "/a.txt")}); err != nil {
			t.Fatalf("copy with a read grant: %v", err)
		}
		if got := listBuckets(t, bob); strings.Join(got, ",") != strings.Join(sortedCopy([]string{aRepo, bRepo}), ",") {
			t.Fatalf("bob lists %q", got)
		}
	})

	t.Run("turning the flag off", func(t *testing.T) {
		if _, err := e.srv.Auth.SetCreateRepos(ctx(t), "alice", false); err != nil {
			t.Fatal(err)
		}
		_, err := alice.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(e.name("again"))})
		wantErr(t, err, 403, "AccessDenied")
		// Its repos stay its own: creating one again is the owner's 200.
		createBucket(t, alice, aRepo)
		put(t, alice, aRepo, "still", []byte("writable"))
	})

	t.Run("global admins create repos but own only theirs", func(t *testing.T) {
		name := e.name("adm")
		createBucket(t, admin, name)
		createBucket(t, admin, name) // its own: 200
		// bob's repo is bob's: an admin may act on it, but it is not the
		// admin's bucket (AWS: BucketAlreadyExists), and nothing changes.
		_, err := admin.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(bRepo)})
		wantErr(t, err, 409, "BucketAlreadyExists")
		if b, _ := get(t, admin, bRepo, "b.txt", ""); string(b) != "bob's data" {
			t.Fatalf("bob's repo changed: %q", b)
		}
	})
}

// TestBucketExists: CreateBucket of an existing bucket answers as AWS:
// another owner's (even a global admin asking) is 409 BucketAlreadyExists; one's own is 200 in
// us-east-1 (the legacy answer, which resets the ACL to the one sent) and
// 409 BucketAlreadyOwnedByYou elsewhere; nothing else changes.
func TestBucketExists(t *testing.T) {
	e := newEnv(t)
	admin := e.sdk(pathHTTP)
	alice := e.creator(t, "alice", nil)
	bob := e.creator(t, "bob", nil)
	repo := e.name("taken")
	createBucket(t, alice, repo)
	put(t, alice, repo, "k", []byte("alice's"))
	createBucket(t, alice, "dev."+repo)
	before := e.versions(t, repo)

	t.Run("another owner's", func(t *testing.T) {
		_, err := bob.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(repo)})
		wantErr(t, err, 409, "BucketAlreadyExists")
		wantErr(t, getErr(t, bob, repo, "k", ""), 403, "AccessDenied")
		if got := listBuckets(t, bob); len(got) != 0 {
			t.Fatalf("bob lists %q after a refused create", got)
		}
		// A plain user without the flag is refused before that.
		plain := e.user(t, "plain", nil)
		_, err = plain.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(repo)})
		wantErr(t, err, 403, "AccessDenied")
		// A repo admin who is not its owner: the branch bucket exists.
		if err := e.srv.Auth.Grant(ctx(t), "bob", repo, auth.PermAdmin); err != nil {
			t.Fatal(err)
		}
		_, err = bob.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("dev." + repo)})
		wantErr(t, err, 409, "BucketAlreadyExists")
		if err := e.srv.Auth.Grant(ctx(t), "bob", repo, auth.PermNone); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one's own, us-east-1", func(t *testing.T) {
		for _, b := range []string{repo, "dev." + repo, "main." + repo} {
			createBucket(t, alice, b)
			// A global admin is not alice: another owner's bucket.
			_, err := admin.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(b)})
			wantErr(t, err, 409, "BucketAlreadyExists")
		}
		sameVersions(t, "creating again", e.versions(t, repo), before)
		if b, _ := get(t, alice, "dev."+repo, "k", ""); string(b) != "alice's" {
			t.Fatalf("dev changed: %q", b)
		}
		r, err := e.srv.Meta.GetRepo(ctx(t), repo)
		if err != nil || r.Owner != "alice" {
			t.Fatalf("the admin's create took the repo over: %+v %v", r, err)
		}
	})
	t.Run("creating again resets the ACL, as AWS", func(t *testing.T) {
		if _, err := alice.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(repo), ACL: types.BucketCannedACLPublicRead}); err != nil {
			t.Fatal(err)
		}
		if r := e.anonGet(t, "GET", repo, "k", ""); r.status != 200 || string(r.body) != "alice's" {
			t.Fatalf("anonymous GET after re-create with public-read: %d %s", r.status, r.body)
		}
		createBucket(t, alice, repo) // no ACL: private
		wantRawErr(t, e.anonGet(t, "GET", repo, "k", ""), 403, "AccessDenied")
		sameVersions(t, "ACL resets", e.versions(t, repo), before)
	})
	t.Run("repos made before owners were recorded are the admin's", func(t *testing.T) {
		if _, err := e.srv.Meta.CreateRepo(ctx(t), "legacy", ""); err != nil {
			t.Fatal(err)
		}
		_, err := alice.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("legacy")})
		wantErr(t, err, 409, "BucketAlreadyExists")
		createBucket(t, admin, "legacy")
		acl, err := admin.GetBucketAcl(ctx(t), &s3.GetBucketAclInput{Bucket: aws.String("legacy")})
		if err != nil || aws.ToString(acl.Owner.ID) != "admin" {
			t.Fatalf("owner of legacy: %+v %v", acl, err)
		}
	})
	t.Run("another region: BucketAlreadyOwnedByYou", func(t *testing.T) {
		srv, c := regionEnv(t, "eu-west-1")
		cfg := &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}
		if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("euro"), CreateBucketConfiguration: cfg}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("dev.euro"), CreateBucketConfiguration: cfg}); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"euro", "dev.euro"} {
			_, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(b), CreateBucketConfiguration: cfg})
			wantErr(t, err, 409, "BucketAlreadyOwnedByYou")
		}
		if _, err := srv.Auth.CreateUserWith(ctx(t), &auth.User{Name: "carol", CreateRepos: true}); err != nil {
			t.Fatal(err)
		}
		k, secret, err := srv.Auth.CreateKey(ctx(t), "carol")
		if err != nil {
			t.Fatal(err)
		}
		carol := s3.New(c.Options(), func(o *s3.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(k.ID, secret, "")
		})
		_, err = carol.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("euro"), CreateBucketConfiguration: cfg})
		wantErr(t, err, 409, "BucketAlreadyExists")
	})
}

// TestBucketLocation: GetBucketLocation answers the LocationConstraint the
// bucket was created with; a constraint the server's region cannot honour
// is refused as AWS refuses it, and nothing is created.
func TestBucketLocation(t *testing.T) {
	t.Run("us-east-1", func(t *testing.T) {
		e := newEnv(t)
		c := e.sdk(pathHTTP)
		createBucket(t, c, "plain")
		if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("empty"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{}}); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"plain", "empty"} {
			if loc := location(t, c, b); loc != "" {
				t.Errorf("GetBucketLocation %s = %q, want \"\" (us-east-1)", b, loc)
			}
		}
		_, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("west"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintUsWest2}})
		wantErr(t, err, 400, "IllegalLocationConstraintException")
		// us-east-1 spelled out is not a valid constraint on AWS.
		r := e.do(t, rawReq{method: "PUT", bucket: "east", body: []byte(
			`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`)})
		wantRawErr(t, r, 400, "InvalidLocationConstraint")
		for _, b := range []string{"west", "east"} {
			wantErr(t, headBucket(t, c, b), 404, "")
		}
	})
	t.Run("eu-west-1", func(t *testing.T) {
		_, c := regionEnv(t, "eu-west-1")
		if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("euro"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("eu-alias"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEu}}); err != nil {
			t.Fatal(err)
		}
		if loc := location(t, c, "euro"); loc != "eu-west-1" {
			t.Fatalf("GetBucketLocation euro = %q", loc)
		}
		if loc := location(t, c, "eu-alias"); loc != "EU" {
			t.Fatalf("GetBucketLocation eu-alias = %q, want EU (as created)", loc)
		}
		out, err := c.HeadBucket(ctx(t), &s3.HeadBucketInput{Bucket: aws.String("eu-alias")})
		if err != nil || aws.ToString(out.BucketRegion) != "eu-west-1" {
			t.Fatalf("HeadBucket eu-alias: %v %v", out, err)
		}
		_, err = c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("none")})
		wantErr(t, err, 400, "IllegalLocationConstraintException")
		_, err = c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("west"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintUsWest2}})
		wantErr(t, err, 400, "IllegalLocationConstraintException")
		lb, err := c.ListBuckets(ctx(t), &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range lb.Buckets {
			names = append(names, aws.ToString(b.Name))
			if aws.ToString(b.BucketRegion) != "eu-west-1" {
				t.Errorf("ListBuckets: %s in region %q", aws.ToString(b.Name), aws.ToString(b.BucketRegion))
			}
		}
		if strings.Join(names, ",") != "eu-alias,euro" {
			t.Fatalf("ListBuckets %q after refused creates", names)
		}
	})
}

// aclOf returns the grants of bucket's ACL as "TYPE:WHO:PERMISSION".
func aclOf(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.GetBucketAcl(ctx(t), &s3.GetBucketAclInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetBucketAcl %s: %v", bucket, err)
	}
	var gs []string
	for _, g := range out.Grants {
		who := aws.ToString(g.Grantee.ID) + aws.ToString(g.Grantee.URI)
		gs = append(gs, string(g.Grantee.Type)+":"+who+":"+string(g.Permission))
	}
	return gs
}

const allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"

// TestBucketACL: the public-read canned ACL (CreateBucket, PutBucketAcl, or
// an AccessControlPolicy granting AllUsers READ) makes the repo public-read:
// anonymous GET, HEAD and List work; private takes it back. It needs admin
// on the repo. Other ACLs are NotImplemented, saying so.
func TestBucketACL(t *testing.T) {
	e := newEnv(t)
	admin := e.sdk(pathHTTP)
	repo := e.name("acl")
	if _, err := admin.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(repo), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	put(t, admin, repo, "pub.txt", []byte("for everyone"))
	writer := e.user(t, "writer", map[string]int{repo: auth.PermWrite})
	owner := e.user(t, "owner", map[string]int{repo: auth.PermAdmin})
	public := func(t *testing.T, want bool) {
		t.Helper()
		get := e.anonGet(t, "GET", repo, "pub.txt", "")
		head := e.anonGet(t, "HEAD", repo, "pub.txt", "")
		list := e.anonGet(t, "GET", repo, "", "list-type=2")
		if !want {
			wantRawErr(t, get, 403, "AccessDenied")
			wantRawErr(t, list, 403, "AccessDenied")
			if head.status != 403 {
				t.Fatalf("anonymous HEAD of a private repo: %d", head.status)
			}
			if gs := aclOf(t, admin, repo); len(gs) != 1 || gs[0] != "CanonicalUser:admin:FULL_CONTROL" {
				t.Fatalf("GetBucketAcl of a private repo: %q", gs)
			}
			return
		}
		if get.status != 200 || string(get.body) != "for everyone" || head.status != 200 ||
			list.status != 200 || !strings.Contains(string(list.body), "<Key>pub.txt</Key>") {
			t.Fatalf("anonymous reads of a public-read repo: GET %d %s, HEAD %d, LIST %d %s", get.status, get.body, head.status, list.status, list.body)
		}
		if gs := aclOf(t, admin, repo); strings.Join(gs, " ") != "CanonicalUser:admin:FULL_CONTROL Group:"+allUsers+":READ" {
			t.Fatalf("GetBucketAcl of a public-read repo: %q", gs)
		}
	}
	putACL := func(c *s3.Client, in *s3.PutBucketAclInput) error {
		if in.Bucket == nil {
			in.Bucket = aws.String(repo)
		}
		_, err := c.PutBucketAcl(ctx(t), in)
		return err
	}

	t.Run("created public-read", func(t *testing.T) { public(t, true) })
	t.Run("anonymous writes stay refused", func(t *testing.T) {
		before := e.versions(t, repo)
		wantRawErr(t, e.do(t, rawReq{method: "PUT", bucket: repo, key: "pub.txt", body: []byte("defaced"), anon: true}), 403, "AccessDenied")
		wantRawErr(t, e.do(t, rawReq{method: "PUT", bucket: repo, query: "acl", header: map[string]string{"x-amz-acl": "private"}, anon: true}), 403, "AccessDenied")
		sameVersions(t, "anonymous writes", e.versions(t, repo), before)
		public(t, true)
	})
	t.Run("private clears it", func(t *testing.T) {
		if err := putACL(admin, &s3.PutBucketAclInput{ACL: types.BucketCannedACLPrivate}); err != nil {
			t.Fatal(err)
		}
		public(t, false)
	})
	t.Run("needs admin on the repo", func(t *testing.T) {
		wantErr(t, putACL(writer, &s3.PutBucketAclInput{ACL: types.BucketCannedACLPublicRead}), 403, "AccessDenied")
		public(t, false)
		if err := putACL(owner, &s3.PutBucketAclInput{ACL: types.BucketCannedACLPublicRead}); err != nil {
			t.Fatalf("repo admin PutBucketAcl: %v", err)
		}
		public(t, true)
		if err := putACL(owner, &s3.PutBucketAclInput{ACL: types.BucketCannedACLPrivate}); err != nil {
			t.Fatal(err)
		}
		public(t, false)
	})
	t.Run("AccessControlPolicy body", func(t *testing.T) {
		ownerGrant := types.Grant{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("admin")}, Permission: types.PermissionFullControl}
		pol := &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String("admin")}, Grants: []types.Grant{ownerGrant,
			{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String(allUsers)}, Permission: types.PermissionRead}}}
		if err := putACL(admin, &s3.PutBucketAclInput{AccessControlPolicy: pol}); err != nil {
			t.Fatal(err)
		}
		public(t, true)
		// What GetBucketAcl answers can be put back unchanged.
		got, err := admin.GetBucketAcl(ctx(t), &s3.GetBucketAclInput{Bucket: aws.String(repo)})
		if err != nil {
			t.Fatal(err)
		}
		if err := putACL(admin, &s3.PutBucketAclInput{AccessControlPolicy: &types.AccessControlPolicy{Owner: got.Owner, Grants: got.Grants}}); err != nil {
			t.Fatalf("putting GetBucketAcl's answer back: %v", err)
		}
		public(t, true)
		if err := putACL(admin, &s3.PutBucketAclInput{AccessControlPolicy: &types.AccessControlPolicy{
			Owner: &types.Owner{ID: aws.String("admin")}, Grants: []types.Grant{ownerGrant}}}); err != nil {
			t.Fatal(err)
		}
		public(t, false)
		err = putACL(admin, &s3.PutBucketAclInput{AccessControlPolicy: &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String("admin")},
			Grants: []types.Grant{ownerGrant, {Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("writer")}, Permission: types.PermissionWrite}}}})
		wantErr(t, err, 501, "NotImplemented")
		public(t, false)
		r := e.do(t, rawReq{method: "PUT", bucket: repo, query: "acl", body: []byte("<AccessControlPolicy><oops>")})
		wantRawErr(t, r, 400, "MalformedACLError")
	})
	t.Run("other ACLs are NotImplemented", func(t *testing.T) {
		for _, acl := range []types.BucketCannedACL{types.BucketCannedACLPublicReadWrite, types.BucketCannedACLAuthenticatedRead} {
			err := putACL(admin, &s3.PutBucketAclInput{ACL: acl})
			wantErr(t, err, 501, "NotImplemented")
			if !strings.Contains(apiMessage(err), string(acl)) {
				t.Errorf("refusal of %s: %q", acl, apiMessage(err))
			}
			_, err = admin.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(e.name("rw")), ACL: acl})
			wantErr(t, err, 501, "NotImplemented")
		}
		// Object ACLs other than private / bucket-owner-full-control.
		_, err := admin.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("o"),
			Body: bytes.NewReader([]byte("o")), ACL: types.ObjectCannedACLPublicRead})
		wantErr(t, err, 501, "NotImplemented")
		if m := apiMessage(err); !strings.Contains(m, "on an object is not implemented") || !strings.Contains(m, "bucket") {
			t.Errorf("object ACL refusal %q does not say what works", m)
		}
		put(t, admin, repo, "o", []byte("o"), func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPrivate })
		public(t, false)
	})
	t.Run("a ref bucket takes only the repo's ACL", func(t *testing.T) {
		createBucket(t, admin, "dev."+repo)
		if err := putACL(admin, &s3.PutBucketAclInput{Bucket: aws.String("dev." + repo), ACL: types.BucketCannedACLPrivate}); err != nil {
			t.Fatalf("private on a branch of a private repo: %v", err)
		}
		err := putACL(admin, &s3.PutBucketAclInput{Bucket: aws.String("dev." + repo), ACL: types.BucketCannedACLPublicRead})
		wantErr(t, err, 501, "NotImplemented")
		if !strings.Contains(apiMessage(err), "per repo") {
			t.Errorf("refusal %q", apiMessage(err))
		}
		_, err = admin.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("pub." + repo), ACL: types.BucketCannedACLPublicRead})
		wantErr(t, err, 501, "NotImplemented")
		wantErr(t, headBucket(t, admin, "pub."+repo), 404, "")
		public(t, false)
		if err := putACL(admin, &s3.PutBucketAclInput{ACL: types.BucketCannedACLPublicRead}); err != nil {
			t.Fatal(err)
		}
		if gs := aclOf(t, admin, "dev."+repo); len(gs) != 2 {
			t.Fatalf("GetBucketAcl of a branch of a public repo: %q", gs)
		}
		if r := e.anonGet(t, "GET", "dev."+repo, "pub.txt", ""); r.status != 200 {
			t.Fatalf("anonymous GET on a branch of a public repo: %d %s", r.status, r.body)
		}
	})
}

type listBucketsXML struct {
	XMLName           xml.Name `xml:"ListAllMyBucketsResult"`
	Buckets           []string `xml:"Buckets>Bucket>Name"`
	ContinuationToken *string  `xml:"ContinuationToken"`
	Prefix            *string  `xml:"Prefix"`
}

// TestListBucketsPages: ListBuckets with max-buckets, continuation-token
// and prefix, as AWS: pages in name order, a ContinuationToken while more
// remain, the Prefix echoed.
func TestListBucketsPages(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	names := []string{"pga-1", "pga-2", "pga-3", "pgb-1", "pgb-2", "zzz"}
	for _, n := range names {
		createBucket(t, c, n)
	}
	raw := func(t *testing.T, q string) listBucketsXML {
		t.Helper()
		r := e.do(t, rawReq{method: "GET", query: q})
		if r.status != 200 {
			t.Fatalf("ListBuckets ?%s: %d %s", q, r.status, r.body)
		}
		var x listBucketsXML
		if err := xml.Unmarshal(r.body, &x); err != nil {
			t.Fatalf("ListBuckets ?%s: %v: %s", q, err, r.body)
		}
		return x
	}
	t.Run("no parameters: everything, no token", func(t *testing.T) {
		x := raw(t, "")
		if strings.Join(x.Buckets, ",") != strings.Join(names, ",") || x.ContinuationToken != nil || x.Prefix != nil {
			t.Fatalf("%+v", x)
		}
	})
	t.Run("SDK paginator", func(t *testing.T) {
		for _, tc := range []struct {
			prefix string
			max    int32
			want   []string
		}{
			{"", 2, names}, {"", 1, names}, {"", 6, names}, {"", 100, names},
			{"pga-", 2, names[:3]}, {"pgb", 1, names[3:5]}, {"nothing", 3, nil},
		} {
			in := &s3.ListBucketsInput{MaxBuckets: aws.Int32(tc.max)}
			if tc.prefix != "" {
				in.Prefix = aws.String(tc.prefix)
			}
			var got []string
			pages := 0
			p := s3.NewListBucketsPaginator(c, in)
			for p.HasMorePages() {
				pg, err := p.NextPage(ctx(t))
				if err != nil {
					t.Fatalf("prefix %q max %d: %v", tc.prefix, tc.max, err)
				}
				pages++
				if len(pg.Buckets) > int(tc.max) {
					t.Fatalf("prefix %q max %d: a page of %d", tc.prefix, tc.max, len(pg.Buckets))
				}
				if aws.ToString(pg.Prefix) != tc.prefix {
					t.Fatalf("Prefix %q, want %q", aws.ToString(pg.Prefix), tc.prefix)
				}
				for _, b := range pg.Buckets {
					got = append(got, aws.ToString(b.Name))
				}
				if pages > len(names)+1 {
					t.Fatal("the paginator does not end")
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("prefix %q max %d: %q, want %q", tc.prefix, tc.max, got, tc.want)
			}
			wantPages := (len(tc.want) + int(tc.max) - 1) / int(tc.max)
			if wantPages == 0 {
				wantPages = 1
			}
			if pages != wantPages {
				t.Fatalf("prefix %q max %d: %d pages, want %d", tc.prefix, tc.max, pages, wantPages)
			}
		}
	})
	t.Run("token only while more remain", func(t *testing.T) {
		x := raw(t, "max-buckets=3&prefix=pg")
		if strings.Join(x.Buckets, ",") != "pga-1,pga-2,pga-3" || x.ContinuationToken == nil || x.Prefix == nil || *x.Prefix != "pg" {
			t.Fatalf("%+v", x)
		}
		y := raw(t, "max-buckets=3&prefix=pg&continuation-token="+*x.ContinuationToken)
		if strings.Join(y.Buckets, ",") != "pgb-1,pgb-2" || y.ContinuationToken != nil {
			t.Fatalf("%+v", y)
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"max-buckets=0", "max-buckets=10001", "max-buckets=x", "continuation-token=!!"} {
			wantRawErr(t, e.do(t, rawReq{method: "GET", query: q}), 400, "InvalidArgument")
		}
	})
	t.Run("a user's pages hold only its repos", func(t *testing.T) {
		u := e.user(t, "pager", map[string]int{"pga-2": auth.PermRead, "zzz": auth.PermRead})
		var got []string
		p := s3.NewListBucketsPaginator(u, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
		for p.HasMorePages() {
			pg, err := p.NextPage(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range pg.Buckets {
				got = append(got, aws.ToString(b.Name))
			}
		}
		if strings.Join(got, ",") != "pga-2,zzz" {
			t.Fatalf("pager lists %q", got)
		}
	})
}

// TestDottedBucketNames: a dotted name is REF.REPO (SPEC §2); one that
// cannot be, or whose repo does not exist, is answered with a message that
// says how Tusk read it; IP-address-like names are InvalidBucketName.
func TestDottedBucketNames(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	createBucket(t, c, "site")
	for _, tc := range []struct {
		method, bucket string
		status         int
		code, says     string
	}{
		{"GET", "example.com", 404, "NoSuchBucket", "REF.REPO"}, // no repo com
		{"HEAD", "example.com", 404, "", ""},                    // no body on HEAD
		{"GET", "www.site", 404, "NoSuchBucket", "REF.REPO"},    // repo site, no ref www
		{"PUT", "www.nosuch", 404, "NoSuchBucket", "REF.REPO"},  // a branch of a repo that does not exist
		{"GET", "my.bucket.site", 400, "InvalidBucketName", "REF.REPO"},
		{"PUT", "my.bucket.site", 400, "InvalidBucketName", "REF.REPO"},
		{"PUT", "logs.my-company.c", 400, "InvalidBucketName", "REF.REPO"},
		{"PUT", "192.168.5.4", 400, "InvalidBucketName", "IP address"},
		{"GET", "10.0.0.1", 400, "InvalidBucketName", "IP address"},
	} {
		r := e.do(t, rawReq{method: tc.method, bucket: tc.bucket})
		if tc.method == "HEAD" {
			if r.status != tc.status {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.bucket, r.status, tc.status)
			}
			continue
		}
		doc := wantRawErr(t, r, tc.status, tc.code)
		if !strings.Contains(doc.Message, tc.says) || !strings.Contains(doc.Message, tc.bucket) {
			t.Errorf("%s %s: message %q does not name the bucket and say %q", tc.method, tc.bucket, doc.Message, tc.says)
		}
	}
	// The SDK sees the same codes.
	_, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("192.168.5.4")})
	wantErr(t, err, 400, "InvalidBucketName")
	wantErr(t, getErr(t, c, "example.com", "k", ""), 404, "NoSuchBucket")
	if got := listBuckets(t, c); strings.Join(got, ",") != "site" {
		t.Fatalf("ListBuckets after refused creates: %q", got)
	}
}
