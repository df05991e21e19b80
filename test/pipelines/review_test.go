package pipelines

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// The worker's key: what can it do beyond reading inputs / writing its staging commit?
func TestReviewPipelineKeyScope(t *testing.T) {
	e := start(t)
	e.mkRepo("src", "other")
	e.put("src", "a.txt", []byte("a"))
	e.put("other", "secret.txt", []byte("s"))
	e.create(`name: res
input: {pfs: {repo: src, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['printf "%s %s" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > "$TUSK_PFS/out/creds"']
`)
	e.wait()
	b, _ := e.get("res", "creds")
	f := strings.Fields(string(b))
	pk := e.client(f[0], f[1])
	ctx := ctxT(t)
	// Everything beyond reading its inputs and writing its job's staging
	// commit is refused.
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("the pipeline's key could %s", what)
		}
	}
	_, err := pk.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("other"), Key: aws.String("secret.txt")})
	refused("read a repo that is not an input", err)
	_, err = pk.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("evil.res")})
	refused("create a branch in its output repo", err)
	_, err = pk.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("newrepo")})
	refused("create a repo", err)
	_, err = pk.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("res"), Key: aws.String("x"), Body: strings.NewReader("x")})
	refused("write its output branch directly", err)
	_, err = pk.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("res")})
	refused("delete its output repo", err)
	for _, args := range [][]string{{"tag", "create", "res@t1"}, {"branch", "create", "res@evil2"}, {"commit", "start", "res@main"}} {
		if out, code := e.tuskAs(f[0], f[1], args...); code == 0 {
			t.Errorf("the pipeline's key could run tusk %v: %s", args, out)
		}
	}
}

// A pipeline's output branch (here not main) cannot be deleted, so it
// cannot be re-created and written by users; the pipeline keeps its outputs.
func TestReviewOutputBranchDeleteRecreate(t *testing.T) {
	e := start(t)
	e.mkRepo("src2")
	e.put("src2", "a.txt", []byte("a"))
	e.create(`name: res2
output_branch: results
input: {pfs: {repo: src2, glob: "/*"}}
transform: {cmd: [sh, -c, 'cp src2/* out/']}
`)
	e.wait()
	out := e.tusk(1, "branch", "delete", "res2@results")
	if !strings.Contains(out, "output of pipeline res2") {
		t.Fatalf("deleting an output branch: %s", out)
	}
	e.put("src2", "b.txt", []byte("b"))
	j := e.wait()["res2"]
	if got := strings.Join(e.keys("results.res2"), ","); j.State != "success" || got != "a.txt,b.txt" {
		t.Fatalf("job %s, res2@results holds %s", j.State, got)
	}
}

// A user who can read an output but not its inputs sees how many inputs
// made it and the record to ask about, not the input keys.
func TestProvHeadersHideUnreadableInputs(t *testing.T) {
	e := start(t)
	e.mkRepo("privin")
	e.put("privin", "salary-alice.csv", []byte("1"))
	e.create(`name: pubout
input: {pfs: {repo: privin, glob: "/*"}}
transform: {cmd: [sh, -c, 'cp privin/* out/']}
`)
	e.wait()
	var viewer struct {
		Key struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		} `json:"key"`
	}
	e.tuskJSON(&viewer, "user", "create", "viewer")
	e.tusk(0, "perm", "grant", "viewer", "pubout", "read")
	ctx := ctxT(t)
	head := func(c *s3.Client) string {
		t.Helper()
		out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("pubout"), Key: aws.String("salary-alice.csv")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Metadata["tusk-inputs"]
	}
	if got := head(e.client(viewer.Key.AccessKey, viewer.Key.SecretKey)); !strings.HasPrefix(got, "count=1; prov=") {
		t.Fatalf("a reader of the output only sees tusk-inputs %q", got)
	}
	if got := head(e.client(gatewaytest.AccessKey, gatewaytest.SecretKey)); !strings.Contains(got, "salary-alice.csv") {
		t.Fatalf("the admin sees tusk-inputs %q", got)
	}
}
