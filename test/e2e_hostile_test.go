package test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/auth"
)

// TestRefsNotEnumerable: a user without access to repo R cannot tell which
// branches, tags and commits R has: dev.R, v1.R and <commit>.R answer 403
// AccessDenied whether they exist or not, on every route that names a
// bucket (S3 calls, copy sources, DeleteBucket). Only R's own existence
// shows, as a bucket's does on S3. A user who may read R gets 404 for refs
// R does not have.
func TestRefsNotEnumerable(t *testing.T) {
	e := newEnv(t)
	admin := e.sdk(pathHTTP)
	repo := e.repo(t)
	commit := aws.ToString(put(t, admin, repo, "k", []byte("secret")).VersionId)
	createBucket(t, admin, "dev."+repo)
	e.tag(t, repo, "v1", "main")
	mallory := e.creator(t, "mallory", nil)
	reader := e.user(t, "reader", map[string]int{repo: auth.PermRead})
	mine := e.name("mine")
	createBucket(t, mallory, mine)

	existing := []string{repo, "main." + repo, "dev." + repo, "v1." + repo, commit + "." + repo, commit[:12] + "." + repo}
	missing := []string{"nosuch." + repo, "v2." + repo, strings.Repeat("0", 32) + "." + repo, "000000000000." + repo}
	for _, b := range append(append([]string{}, existing...), missing...) {
		t.Run(b, func(t *testing.T) {
			_, err := mallory.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(b)})
			wantErr(t, err, 403, "AccessDenied")
			wantErr(t, getErr(t, mallory, b, "k", ""), 403, "AccessDenied")
			_, err = mallory.HeadBucket(ctx(t), &s3.HeadBucketInput{Bucket: aws.String(b)})
			wantErr(t, err, 403, "")
			_, err = mallory.GetBucketLocation(ctx(t), &s3.GetBucketLocationInput{Bucket: aws.String(b)})
			wantErr(t, err, 403, "AccessDenied")
			_, err = mallory.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(mine), Key: aws.String("stolen"),
				CopySource: aws.String(b + "/k")})
			wantErr(t, err, 403, "AccessDenied")
			_, err = mallory.DeleteBucket(ctx(t), &s3.DeleteBucketInput{Bucket: aws.String(b)})
			wantErr(t, err, 403, "AccessDenied")
		})
	}
	t.Run("a repo that does not exist", func(t *testing.T) {
		for _, b := range []string{e.name("nosuch"), "dev." + e.name("nosuch")} {
			_, err := mallory.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(b)})
			wantErr(t, err, 404, "NoSuchBucket")
		}
	})
	t.Run("a reader sees which refs exist", func(t *testing.T) {
		for _, b := range existing {
			if _, err := reader.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(b)}); err != nil {
				t.Fatalf("reader lists %s: %v", b, err)
			}
		}
		for _, b := range missing {
			_, err := reader.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(b)})
			wantErr(t, err, 404, "NoSuchBucket")
		}
		// Reading is not writing: a reader's write is refused before the
		// ref is looked at too.
		for _, b := range []string{"dev." + repo, "nosuch." + repo} {
			_, err := reader.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("w"), Body: strings.NewReader("w")})
			wantErr(t, err, 403, "AccessDenied")
		}
	})
}

// TestCreateBucketOthersRepo: CreateBucket of a repo the requester does not
// own answers 409 BucketAlreadyExists, a global admin's included (AWS
// keeps BucketAlreadyOwnedByYou, and us-east-1's 200, for the owner), and
// changes nothing (the legacy 200 would have reset the owner's ACL).
func TestCreateBucketOthersRepo(t *testing.T) {
	e := newEnv(t)
	admin := e.sdk(pathHTTP)
	alice := e.creator(t, "alice", nil)
	repo := e.name("alices")
	if _, err := alice.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(repo), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	createBucket(t, alice, "dev."+repo)
	for _, b := range []string{repo, "dev." + repo, "main." + repo} {
		_, err := admin.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(b)})
		wantErr(t, err, 409, "BucketAlreadyExists")
	}
	r, err := e.srv.Meta.GetRepo(ctx(t), repo)
	if err != nil || r.Owner != "alice" || !r.Public {
		t.Fatalf("the admin's create changed alice's repo: %+v %v", r, err)
	}
	// The owner's own: 200 in us-east-1, as before.
	createBucket(t, alice, repo)
	// The admin's own repo: 200 too.
	own := e.repo(t)
	createBucket(t, admin, own)
}

// TestHostileDeleteObjects: a DeleteObjects body nested 100,000 deep, or
// naming more than 1,000 keys, is 400 MalformedXML and deletes nothing.
func TestHostileDeleteObjects(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "k", []byte("kept"))
	before := e.versions(t, repo)
	deep := strings.Repeat("<a>", 100_000) + strings.Repeat("</a>", 100_000)
	for name, body := range map[string]string{
		"nested in a key":   "<Delete><Object><Key>k" + deep + "</Key></Object></Delete>",
		"nested in Delete":  "<Delete>" + deep + "<Object><Key>k</Key></Object></Delete>",
		"1001 keys":         "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 1001) + "</Delete>",
		"a key beside text": "<Delete><Object><Key>k<x/></Key></Object></Delete>",
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do(t, rawReq{method: "POST", bucket: repo, query: "delete", body: []byte(body),
				header: map[string]string{"Content-Type": "application/xml"}})
			wantRawErr(t, r, 400, "MalformedXML")
		})
	}
	sameVersions(t, "hostile deletes", e.versions(t, repo), before)
	// The SDK's own DeleteObjects still works.
	out, err := c.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(repo),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k")}}}})
	if err != nil || len(out.Deleted) != 1 {
		t.Fatalf("DeleteObjects: %+v %v", out, err)
	}
}
