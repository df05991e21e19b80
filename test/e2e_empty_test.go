package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	minio "github.com/minio/minio-go/v7"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// emptyMD5 is the ETag of every empty object.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// keyUser makes user name, admin of repo, and returns its access key and
// secret.
func (e *env) keyUser(t *testing.T, name, repo string) (string, string) {
	t.Helper()
	if _, err := e.srv.Auth.CreateUserWith(ctx(t), &auth.User{Name: name}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Auth.Grant(ctx(t), name, repo, auth.PermAdmin); err != nil {
		t.Fatal(err)
	}
	k, secret, err := e.srv.Auth.CreateKey(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID, secret
}

// adminAPI calls the admin API with basic auth and fails the test unless
// it answers 2xx; it returns the JSON answer.
func (e *env) adminAPI(t *testing.T, ak, sk, method, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, e.srv.URL+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(ak, sk)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return m
}

// TestEmptyObjectsAcrossRepos: every empty object (folder markers "a/",
// empty files) has one content hash, the same in every repo. Whatever one
// repo's admin does to its empty objects (delete, delete markers, batch
// delete, overwrite, version removal, purge of the empty content, GC,
// deleting the repo), another user's repo keeps its empty objects, every
// version readable, as two real S3 clients (aws-sdk-go-v2, minio-go) see
// them.
func TestEmptyObjectsAcrossRepos(t *testing.T) {
	e := newEnv(t)
	ra, rb := e.repo(t), e.repo(t)
	aliceKey, aliceSecret := e.keyUser(t, "alice", ra)
	bobKey, bobSecret := e.keyUser(t, "bob", rb)
	alice := e.sdkWith(pathHTTP, aliceKey, aliceSecret)
	bob := e.sdkWith(pathHTTP, bobKey, bobSecret)
	bobMinio, err := minio.New("127.0.0.1:"+e.port(false), &minio.Options{Creds: credsFor(bobKey, bobSecret),
		Transport: e.transport(false), Region: region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}

	// Both repos: folder markers and empty files, two versions of some.
	keys := []string{"a/", "a/b/", "empty.txt", "dir/empty", "a/"}
	for _, c := range []struct {
		cl   *s3.Client
		repo string
	}{{alice, ra}, {bob, rb}} {
		for _, k := range append(keys, "empty.txt") {
			put(t, c.cl, c.repo, k, nil)
		}
	}
	wantB := e.versions(t, rb)
	if len(wantB) != 6 {
		t.Fatalf("repo b's versions: %v", wantB)
	}
	checkB := func(t *testing.T, step string) {
		t.Helper()
		sameVersions(t, step, e.versions(t, rb), wantB)
		for _, v := range wantB {
			body, out := get(t, bob, rb, v.Key, v.VersionID)
			if len(body) != 0 || aws.ToString(out.ETag) != `"`+emptyMD5+`"` || aws.ToString(out.VersionId) != v.VersionID {
				t.Fatalf("%s: repo b %q version %s: %d bytes, ETag %s, version %s", step, v.Key, short(v.VersionID),
					len(body), aws.ToString(out.ETag), aws.ToString(out.VersionId))
			}
			if !v.IsLatest {
				continue
			}
			obj, err := bobMinio.GetObject(ctx(t), rb, v.Key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || len(b) != 0 {
				t.Fatalf("%s: minio-go reads repo b %q: %d bytes, %v", step, v.Key, len(b), err)
			}
		}
	}
	checkB(t, "seeded")

	versionsOf := func(repo, key string) []string {
		var out []string
		for _, v := range e.versions(t, repo) {
			if v.Key == key && !v.Marker {
				out = append(out, v.VersionID)
			}
		}
		return out
	}
	sum := sha256.Sum256(nil)
	emptyHash := hex.EncodeToString(sum[:])

	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"delete marker on a folder marker", func(t *testing.T) {
			if _, err := alice.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(ra), Key: aws.String("a/")}); err != nil {
				t.Fatal(err)
			}
		}},
		{"batch delete", func(t *testing.T) {
			_, err := alice.DeleteObjects(ctx(t), &s3.DeleteObjectsInput{Bucket: aws.String(ra), Delete: &types.Delete{
				Objects: []types.ObjectIdentifier{{Key: aws.String("a/b/")}, {Key: aws.String("dir/empty")}}}})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"overwrite an empty file", func(t *testing.T) { put(t, alice, ra, "empty.txt", []byte("not empty now")) }},
		{"remove empty versions", func(t *testing.T) {
			for _, k := range []string{"a/", "empty.txt"} {
				for _, v := range versionsOf(ra, k) {
					if _, err := alice.DeleteObject(ctx(t), &s3.DeleteObjectInput{Bucket: aws.String(ra), Key: aws.String(k), VersionId: aws.String(v)}); err != nil {
						t.Fatalf("remove %q version %s: %v", k, short(v), err)
					}
				}
			}
		}},
		{"purge the empty content in repo a", func(t *testing.T) {
			put(t, alice, ra, "again/", nil)
			rep := e.adminAPI(t, aliceKey, aliceSecret, "POST", "/repos/"+ra+"/purge", map[string]string{"content": emptyHash})
			if rep["scope"] != ra || rep["bytes_deleted"] == true {
				t.Fatalf("purge report: %v", rep)
			}
			wantErr(t, getErr(t, alice, ra, "again/", ""), 404, "NoSuchKey")
		}},
		{"gc", func(t *testing.T) {
			e.adminAPI(t, gatewaytest.AccessKey, gatewaytest.SecretKey, "POST", "/gc", map[string]any{"retention": "1ns"})
		}},
		{"delete repo a", func(t *testing.T) {
			e.adminAPI(t, aliceKey, aliceSecret, "DELETE", "/repos/"+ra+"?force=true", nil)
			e.adminAPI(t, gatewaytest.AccessKey, gatewaytest.SecretKey, "POST", "/gc", map[string]any{"retention": "1ns"})
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			checkB(t, s.name)
		})
	}
}
