package pipelines

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
)

// TestProvInputVersionReadsBack: each input in x-amz-meta-tusk-inputs
// names the key's own version id, which GetObject with VersionId reads
// (the job's input head commit is not a version of a key it did not
// write), and the SHA-256 of those bytes; the admin API and tusk prov
// give the same.
func TestProvInputVersionReadsBack(t *testing.T) {
	e := start(t)
	e.mkRepo("src")
	va := e.put("src", "a.txt", []byte("alpha\n"))
	e.put("src", "a.txt", []byte("alpha, second version\n"))
	va = e.put("src", "a.txt", []byte("alpha, third version\n"))
	head := e.put("src", "b.txt", []byte("beta\n")) // the job's input commit
	e.create(`name: copied
input: {pfs: {repo: src, glob: "/*"}}
transform: {cmd: [cp, -R, src/., out/]}
`)
	wantJob(t, e.wait()["copied"], pipelines.JobSuccess, 2, 2, 0)
	ctx := ctxT(t)
	_, out := e.get("copied", "a.txt")
	in, err := pipelines.ParseInputRef(out.Metadata["tusk-inputs"])
	if err != nil {
		t.Fatal(err)
	}
	if in.Repo != "src" || in.Commit != head || in.Key != "a.txt" || in.Version != va || in.Content == "" {
		t.Fatalf("tusk-inputs %q: want src@%s:a.txt, version %s, a content hash", out.Metadata["tusk-inputs"], head, va)
	}
	// The version reads back through S3, and its bytes hash to Content.
	got, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(in.Repo), Key: aws.String(in.Key), VersionId: aws.String(in.Version)})
	if err != nil {
		t.Fatalf("GetObject %s/%s versionId %s: %v", in.Repo, in.Key, in.Version, err)
	}
	b, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if string(b) != "alpha, third version\n" || hex.EncodeToString(sum[:]) != in.Content {
		t.Fatalf("version %s of a.txt: %q, sha256 %x; tusk-inputs says %s", in.Version, b, sum, in.Content)
	}
	// The head commit is no version of a.txt: what the header named before.
	_, err = e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("src"), Key: aws.String("a.txt"), VersionId: aws.String(head)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchVersion" {
		t.Fatalf("GetObject a.txt versionId <head commit>: %v, want NoSuchVersion", err)
	}
	// ListObjectVersions shows that version id for the key.
	lv, err := e.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("src"), Prefix: aws.String("a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lv.Versions) != 3 {
		t.Fatalf("ListObjectVersions a.txt: %d versions, want 3", len(lv.Versions))
	}
	if v := lv.Versions[0]; aws.ToString(v.VersionId) != in.Version || !aws.ToBool(v.IsLatest) {
		t.Fatalf("ListObjectVersions a.txt: latest %s; tusk-inputs names %s", aws.ToString(v.VersionId), in.Version)
	}
	// The admin API's record and tusk prov agree.
	var rec meta.ProvRecord
	e.adminGet("/api/v1/prov/"+out.Metadata["tusk-prov"], &rec)
	if len(rec.Inputs) != 1 || rec.Inputs[0].Version != va || rec.Inputs[0].Content != in.Content || rec.Inputs[0].Commit != head {
		t.Errorf("GET /prov/%s inputs %+v", rec.ID, rec.Inputs)
	}
	var pi pipev1.ProvInfo
	e.tuskJSON(&pi, "prov", "copied:a.txt")
	if len(pi.Root.Inputs) != 1 {
		t.Fatalf("tusk prov copied:a.txt: %d inputs", len(pi.Root.Inputs))
	}
	if n := pi.Root.Inputs[0]; n.Version != va || n.Content != in.Content || n.Commit != head {
		t.Errorf("tusk prov input %+v, want version %s, content %s, commit %s", n, va, in.Content, head)
	}
	if txt := e.tusk(0, "prov", "copied:a.txt"); !strings.Contains(txt, "version "+va) || !strings.Contains(txt, "sha256 "+in.Content[:12]) {
		t.Errorf("tusk prov copied:a.txt does not show the version and hash:\n%s", txt)
	}
}

// adminGet GETs path from the admin API as the admin and decodes the
// answer into v.
func (e *env) adminGet(path string, v any) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.SetBasicAuth(gatewaytest.AccessKey, gatewaytest.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
}
