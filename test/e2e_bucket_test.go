package test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func listBuckets(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListBuckets(ctx(t), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || b.CreationDate.IsZero() {
			t.Errorf("ListBuckets: %s has no CreationDate", aws.ToString(b.Name))
		}
	}
	return names
}

func createBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

func headBucket(t *testing.T, c *s3.Client, name string) error {
	t.Helper()
	_, err := c.HeadBucket(ctx(t), &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err
}

func deleteKey(t *testing.T, c *s3.Client, bucket, key string) *s3.DeleteObjectOutput {
	t.Helper()
	out, err := c.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("DeleteObject %s/%q: %v", bucket, key, err)
	}
	return out
}

// TestListAndCreateBuckets: ListBuckets lists repos (not branches);
// CreateBucket REPO makes a repo with main, REF.REPO a branch from main's
// head; creating twice is BucketAlreadyOwnedByYou.
func TestListAndCreateBuckets(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)

	if got := listBuckets(t, c); len(got) != 0 {
		t.Fatalf("fresh gateway lists buckets %q", got)
	}
	createBucket(t, c, "alpha")
	// A CreateBucketConfiguration body without a LocationConstraint is
	// accepted (us-east-1); another region's is not (TestBucketLocation).
	if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("beta"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{}}); err != nil {
		t.Fatalf("CreateBucket with an empty configuration: %v", err)
	}
	put(t, c, "alpha", "k", []byte("on main"))
	createBucket(t, c, "dev.alpha")
	if got := listBuckets(t, c); strings.Join(got, ",") != "alpha,beta" {
		t.Fatalf("ListBuckets %q, want [alpha beta] (repos only, sorted)", got)
	}

	t.Run("branch starts at main's head", func(t *testing.T) {
		b, _ := get(t, c, "dev.alpha", "k", "")
		if string(b) != "on main" {
			t.Fatalf("dev.alpha/k = %q", b)
		}
		put(t, c, "alpha", "later", []byte("after the branch"))
		wantErr(t, getErr(t, c, "dev.alpha", "later", ""), 404, "NoSuchKey")
	})
	t.Run("HeadBucket", func(t *testing.T) {
		for _, b := range []string{"alpha", "main.alpha", "dev.alpha", "beta"} {
			out, err := c.HeadBucket(ctx(t), &s3.HeadBucketInput{Bucket: aws.String(b)})
			if err != nil {
				t.Fatalf("HeadBucket %s: %v", b, err)
			}
			if aws.ToString(out.BucketRegion) != region {
				t.Errorf("HeadBucket %s: region %q", b, aws.ToString(out.BucketRegion))
			}
		}
		for _, b := range []string{"nosuchrepo", "nosuch.alpha", "dev.nosuchrepo"} {
			wantErr(t, headBucket(t, c, b), 404, "")
		}
	})
	t.Run("already exists", func(t *testing.T) {
		// Owned by the caller, in us-east-1: 200 and nothing changes (AWS's
		// legacy answer; other regions and owners: TestBucketExists).
		for _, b := range []string{"alpha", "dev.alpha", "main.alpha"} {
			createBucket(t, c, b)
		}
		if got, _ := get(t, c, "dev.alpha", "k", ""); string(got) != "on main" {
			t.Fatalf("dev.alpha changed by a second CreateBucket: %q", got)
		}
		if got := listBuckets(t, c); strings.Join(got, ",") != "alpha,beta" {
			t.Fatalf("ListBuckets after creating again: %q", got)
		}
	})
	t.Run("branch of a missing repo", func(t *testing.T) {
		_, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("dev.nosuchrepo")})
		wantErr(t, err, 404, "NoSuchBucket")
		if got := listBuckets(t, c); strings.Join(got, ",") != "alpha,beta" {
			t.Fatalf("ListBuckets after a refused create: %q", got)
		}
	})
	t.Run("location and versioning", func(t *testing.T) {
		for _, b := range []string{"alpha", "dev.alpha"} {
			loc, err := c.GetBucketLocation(ctx(t), &s3.GetBucketLocationInput{Bucket: aws.String(b)})
			if err != nil {
				t.Fatalf("GetBucketLocation %s: %v", b, err)
			}
			if loc.LocationConstraint != "" {
				t.Errorf("GetBucketLocation %s: %q, want \"\" (us-east-1)", b, loc.LocationConstraint)
			}
			v, err := c.GetBucketVersioning(ctx(t), &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
			if err != nil {
				t.Fatalf("GetBucketVersioning %s: %v", b, err)
			}
			if v.Status != types.BucketVersioningStatusEnabled {
				t.Errorf("GetBucketVersioning %s: %q, want Enabled", b, v.Status)
			}
		}
		_, err := c.GetBucketLocation(ctx(t), &s3.GetBucketLocationInput{Bucket: aws.String("nosuchrepo")})
		wantErr(t, err, 404, "NoSuchBucket")
		if _, err := c.PutBucketVersioning(ctx(t), &s3.PutBucketVersioningInput{Bucket: aws.String("alpha"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatalf("PutBucketVersioning Enabled: %v", err)
		}
		_, err = c.PutBucketVersioning(ctx(t), &s3.PutBucketVersioningInput{Bucket: aws.String("alpha"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		if err != nil {
			t.Fatalf("PutBucketVersioning Suspended: %v", err)
		}
		v, err := c.GetBucketVersioning(ctx(t), &s3.GetBucketVersioningInput{Bucket: aws.String("alpha")})
		if err != nil || v.Status != types.BucketVersioningStatusSuspended {
			t.Fatalf("versioning after suspend: %v %v", v.Status, err)
		}
		if _, err := c.PutBucketVersioning(ctx(t), &s3.PutBucketVersioningInput{Bucket: aws.String("alpha"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatalf("PutBucketVersioning Enabled again: %v", err)
		}
	})
}

// TestDeleteBucket: DeleteBucket BRANCH.REPO deletes an empty branch (never
// main); REPO deletes the repo and its history; both are BucketNotEmpty
// while keys remain (on any branch or tag, for a repo).
func TestDeleteBucket(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	del := func(b string) error {
		_, err := c.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(b)})
		return err
	}

	t.Run("branch", func(t *testing.T) {
		repo := e.repo(t)
		createBucket(t, c, "empty."+repo)
		if err := del("empty." + repo); err != nil {
			t.Fatalf("DeleteBucket empty.%s: %v", repo, err)
		}
		wantErr(t, headBucket(t, c, "empty."+repo), 404, "")
		wantErr(t, del("empty."+repo), 404, "NoSuchBucket")

		createBucket(t, c, "full."+repo)
		put(t, c, "full."+repo, "k", []byte("x"))
		wantErr(t, del("full."+repo), 409, "BucketNotEmpty")
		if err := headBucket(t, c, "full."+repo); err != nil {
			t.Fatalf("branch gone after a refused delete: %v", err)
		}
		deleteKey(t, c, "full."+repo, "k")
		if err := del("full." + repo); err != nil {
			t.Fatalf("DeleteBucket of a branch whose keys were deleted: %v", err)
		}
		// Deleting a branch never touches main.
		if err := headBucket(t, c, repo); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("main refused", func(t *testing.T) {
		repo := e.repo(t)
		err := del("main." + repo)
		if err == nil || httpStatus(err) < 400 || httpStatus(err) >= 500 {
			t.Fatalf("DeleteBucket main.%s: %v; want a 4xx refusal", repo, err)
		}
		if err := headBucket(t, c, "main."+repo); err != nil {
			t.Fatalf("main gone after a refused delete: %v", err)
		}
		put(t, c, repo, "still", []byte("writable"))
	})
	t.Run("tag is not a branch", func(t *testing.T) {
		repo := e.repo(t)
		put(t, c, repo, "k", []byte("x"))
		e.tag(t, repo, "v1", "main")
		err := del("v1." + repo)
		if err == nil || httpStatus(err) < 400 || httpStatus(err) >= 500 {
			t.Fatalf("DeleteBucket v1.%s (a tag): %v; want a 4xx refusal", repo, err)
		}
		if err := headBucket(t, c, "v1."+repo); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("repo", func(t *testing.T) {
		repo := e.repo(t)
		put(t, c, repo, "k", []byte("repo content"))
		wantErr(t, del(repo), 409, "BucketNotEmpty")

		// main emptied but a branch holds keys: still not empty.
		createBucket(t, c, "side."+repo)
		deleteKey(t, c, repo, "k")
		wantErr(t, del(repo), 409, "BucketNotEmpty")
		deleteKey(t, c, "side."+repo, "k")

		// A tag that holds keys keeps the repo too.
		put(t, c, repo, "t", []byte("tagged"))
		e.tag(t, repo, "keep", "main")
		deleteKey(t, c, repo, "t")
		wantErr(t, del(repo), 409, "BucketNotEmpty")
		if err := e.srv.Meta.DeleteTag(ctx(t), repo, "keep"); err != nil {
			t.Fatal(err)
		}
		// As on S3: versions and delete markers still listed keep the
		// bucket; once they are removed by version id it can go.
		wantErr(t, del(repo), 409, "BucketNotEmpty")
		for _, b := range []string{repo, "side." + repo} {
			for _, v := range e.versions(t, b) {
				deleteVersion(t, c, b, v.Key, v.VersionID)
			}
		}
		if err := del(repo); err != nil {
			t.Fatalf("DeleteBucket %s with no versions anywhere: %v", repo, err)
		}
		wantErr(t, headBucket(t, c, repo), 404, "")
		wantErr(t, headBucket(t, c, "side."+repo), 404, "")
		for _, b := range listBuckets(t, c) {
			if b == repo {
				t.Fatalf("ListBuckets still lists deleted %s", repo)
			}
		}
		// Recreated, the repo starts without history.
		createBucket(t, c, repo)
		if v := e.versions(t, repo); len(v) != 0 {
			t.Fatalf("recreated repo has old history: %v", v)
		}
	})
}

// TestConfigProbes: configuration GETs answer AWS's "nothing configured";
// configuration PUTs and other unimplemented sub-resources are 501
// NotImplemented and change nothing.
func TestConfigProbes(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "obj", []byte("object"))
	before := e.versions(t, repo)
	b, k := aws.String(repo), aws.String("obj")

	probes := []struct {
		name string
		call func() error
		code string
	}{
		{"GetBucketPolicy", func() error { _, err := c.GetBucketPolicy(ctx(t), &s3.GetBucketPolicyInput{Bucket: b}); return err }, "NoSuchBucketPolicy"},
		{"GetBucketCors", func() error { _, err := c.GetBucketCors(ctx(t), &s3.GetBucketCorsInput{Bucket: b}); return err }, "NoSuchCORSConfiguration"},
		{"GetBucketLifecycleConfiguration", func() error {
			_, err := c.GetBucketLifecycleConfiguration(ctx(t), &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
			return err
		}, "NoSuchLifecycleConfiguration"},
		{"GetBucketEncryption", func() error {
			_, err := c.GetBucketEncryption(ctx(t), &s3.GetBucketEncryptionInput{Bucket: b})
			return err
		}, "ServerSideEncryptionConfigurationNotFoundError"},
		{"GetBucketTagging", func() error { _, err := c.GetBucketTagging(ctx(t), &s3.GetBucketTaggingInput{Bucket: b}); return err }, "NoSuchTagSet"},
		{"GetObjectLockConfiguration", func() error {
			_, err := c.GetObjectLockConfiguration(ctx(t), &s3.GetObjectLockConfigurationInput{Bucket: b})
			return err
		}, "ObjectLockConfigurationNotFoundError"},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			wantErr(t, p.call(), 404, p.code)
		})
	}
	t.Run("GetBucketAcl", func(t *testing.T) {
		acl, err := c.GetBucketAcl(ctx(t), &s3.GetBucketAclInput{Bucket: b})
		if err != nil {
			t.Fatal(err)
		}
		if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl || acl.Owner == nil ||
			acl.Grants[0].Grantee == nil || aws.ToString(acl.Grants[0].Grantee.ID) != aws.ToString(acl.Owner.ID) {
			t.Fatalf("GetBucketAcl: owner %+v grants %+v; want the owner with FULL_CONTROL", acl.Owner, acl.Grants)
		}
	})
	t.Run("GetObjectAcl", func(t *testing.T) {
		acl, err := c.GetObjectAcl(ctx(t), &s3.GetObjectAclInput{Bucket: b, Key: k})
		if err != nil {
			t.Fatal(err)
		}
		if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
			t.Fatalf("GetObjectAcl grants %+v", acl.Grants)
		}
		_, err = c.GetObjectAcl(ctx(t), &s3.GetObjectAclInput{Bucket: b, Key: aws.String("nosuchkey")})
		wantErr(t, err, 404, "NoSuchKey")
	})

	sets := []struct {
		name string
		call func() error
	}{
		{"PutBucketAcl public-read-write", func() error {
			_, err := c.PutBucketAcl(ctx(t), &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPublicReadWrite})
			return err
		}},
		{"PutBucketTagging", func() error {
			_, err := c.PutBucketTagging(ctx(t), &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{
				TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
			return err
		}},
		{"PutBucketCors", func() error {
			_, err := c.PutBucketCors(ctx(t), &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{
				CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
			return err
		}},
		{"PutBucketLifecycleConfiguration", func() error {
			_, err := c.PutBucketLifecycleConfiguration(ctx(t), &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
				LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
					Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
					Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}})
			return err
		}},
		{"PutBucketPolicy", func() error {
			_, err := c.PutBucketPolicy(ctx(t), &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(
				`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + repo + `/*"}]}`)})
			return err
		}},
		{"PutObjectLockConfiguration", func() error {
			_, err := c.PutObjectLockConfiguration(ctx(t), &s3.PutObjectLockConfigurationInput{Bucket: b,
				ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
			return err
		}},
		{"PutBucketEncryption", func() error {
			_, err := c.PutBucketEncryption(ctx(t), &s3.PutBucketEncryptionInput{Bucket: b,
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}})
			return err
		}},
		{"PutObjectAcl", func() error {
			_, err := c.PutObjectAcl(ctx(t), &s3.PutObjectAclInput{Bucket: b, Key: k, ACL: types.ObjectCannedACLPublicRead})
			return err
		}},
		{"PutObjectTagging", func() error {
			_, err := c.PutObjectTagging(ctx(t), &s3.PutObjectTaggingInput{Bucket: b, Key: k, Tagging: &types.Tagging{
				TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
			return err
		}},
	}
	for _, s := range sets {
		t.Run(s.name, func(t *testing.T) {
			wantErr(t, s.call(), 501, "NotImplemented")
			sameVersions(t, s.name, e.versions(t, repo), before)
			body, _ := get(t, c, repo, "obj", "")
			if string(body) != "object" {
				t.Fatalf("object changed: %q", body)
			}
		})
	}
	// Raw sub-resource requests the SDK has no call for, and a plain GET/PUT
	// must never be what a sub-resource request turns into.
	raws := []struct {
		name   string
		req    rawReq
		status int
		code   string
	}{
		{"PUT ?object-lock raw", rawReq{method: "PUT", bucket: repo, query: "object-lock", body: []byte("<ObjectLockConfiguration/>")}, 501, "NotImplemented"},
		{"PUT object ?retention", rawReq{method: "PUT", bucket: repo, key: "obj", query: "retention", body: []byte("<Retention/>")}, 501, "NotImplemented"},
		{"PUT object ?legal-hold", rawReq{method: "PUT", bucket: repo, key: "obj", query: "legal-hold", body: []byte("<LegalHold/>")}, 501, "NotImplemented"},
		{"PUT ?website", rawReq{method: "PUT", bucket: repo, query: "website", body: []byte("<WebsiteConfiguration/>")}, 501, "NotImplemented"},
		{"PUT ?replication", rawReq{method: "PUT", bucket: repo, query: "replication", body: []byte("<ReplicationConfiguration/>")}, 501, "NotImplemented"},
		{"POST object ?restore", rawReq{method: "POST", bucket: repo, key: "obj", query: "restore", body: []byte("<RestoreRequest/>")}, 501, "NotImplemented"},
	}
	for _, r := range raws {
		t.Run(r.name, func(t *testing.T) {
			wantRawErr(t, e.do(t, r.req), r.status, r.code)
			sameVersions(t, r.name, e.versions(t, repo), before)
		})
	}
	// Deleting a configuration that does not exist may succeed (204, as AWS)
	// or be NotImplemented, but is never a plain DeleteBucket/DeleteObject.
	dels := []rawReq{
		{method: "DELETE", bucket: repo, query: "cors"},
		{method: "DELETE", bucket: repo, query: "lifecycle"},
		{method: "DELETE", bucket: repo, query: "policy"},
		{method: "DELETE", bucket: repo, query: "tagging"},
		{method: "DELETE", bucket: repo, key: "obj", query: "tagging"},
	}
	for _, d := range dels {
		t.Run("DELETE "+d.key+"?"+d.query, func(t *testing.T) {
			r := e.do(t, d)
			if r.status != 204 {
				wantRawErr(t, r, 501, "NotImplemented")
			}
			sameVersions(t, "DELETE ?"+d.query, e.versions(t, repo), before)
			if err := headBucket(t, c, repo); err != nil {
				t.Fatalf("bucket gone after DELETE ?%s: %v", d.query, err)
			}
		})
	}
	// After all the refused PUTs, the GET probes still say "nothing set".
	for _, p := range probes {
		wantErr(t, p.call(), 404, p.code)
	}
}
