package pipelines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/pipelines"
)

// TestChainOfThree: one PUT updates three pipelines end to end, and the
// last output's provenance reaches back to the raw input.
func TestChainOfThree(t *testing.T) {
	e := start(t)
	e.mkRepo("raw")
	e.put("raw", "a.txt", []byte("apple\n"))
	e.create(`name: upper
input: {pfs: {repo: raw, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['for f in "$TUSK_PFS"/raw/*; do tr a-z A-Z < "$f" > "$TUSK_PFS/out/$(basename "$f")"; done']
`)
	e.create(`name: shout
input: {pfs: {repo: upper, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['for f in "$TUSK_PFS"/upper/*; do sed "s/$/!/" "$f" > "$TUSK_PFS/out/$(basename "$f")"; done']
`)
	e.create(`name: book
input: {pfs: {repo: shout, glob: "/"}}
transform:
  cmd: [sh]
  stdin: ['cat $(find "$TUSK_PFS/shout" -type f | sort) > "$TUSK_PFS/out/all.txt"']
`)
	e.wait()
	if b, _ := e.get("book", "all.txt"); string(b) != "APPLE!\n" {
		t.Fatalf("book/all.txt = %q", b)
	}
	v := e.put("raw", "b.txt", []byte("banana\n"))
	jobs := e.wait()
	wantJob(t, jobs["upper"], pipelines.JobSuccess, 2, 1, 1)
	wantJob(t, jobs["shout"], pipelines.JobSuccess, 2, 1, 1)
	wantJob(t, jobs["book"], pipelines.JobSuccess, 1, 1, 0)
	b, out := e.get("book", "all.txt")
	if string(b) != "APPLE!\nBANANA!\n" {
		t.Fatalf("book/all.txt = %q", b)
	}
	if out.Metadata["tusk-pipeline"] != "book@1" || !strings.Contains(out.Metadata["tusk-inputs"], "shout@") {
		t.Errorf("GetObject metadata %v", out.Metadata)
	}
	// Upstream, transitively: book <- shout <- upper <- raw@v:b.txt.
	var pi pipev1.ProvInfo
	e.tuskJSON(&pi, "prov", "book:all.txt")
	found := false
	for _, f := range pipelines.Flatten(pi.Root) {
		n := f.Node
		if n.Repo == "raw" && n.Key == "b.txt" && n.Commit == v && f.Depth == 3 && n.Pipeline == "" {
			found = true
		}
	}
	if !found {
		t.Errorf("raw@%s:b.txt is not 3 levels up from book:all.txt:\n%s", v, e.tusk(0, "prov", "book:all.txt"))
	}
	// Output commits record their jobs and input commits.
	r, err := e.srv.Meta.Resolve(ctxT(t), "book", "main")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Commit.Meta
	if m[pipelines.MetaJob] != jobs["book"].ID || m[pipelines.MetaPipeline] != "book@1" || !strings.HasPrefix(m[pipelines.MetaInputs], "shout@") {
		t.Errorf("book's output commit meta %v", m)
	}
}

// TestJoinPairsByCaptureGroup: a join on "$1" pairs files by name.
func TestJoinPairsByCaptureGroup(t *testing.T) {
	e := start(t)
	e.mkRepo("people", "ages")
	for id, name := range map[string]string{"1": "ada", "2": "bob", "3": "cyd"} {
		e.put("people", id+".name", []byte(name))
	}
	e.put("ages", "1.age", []byte("36"))
	e.put("ages", "2.age", []byte("41"))
	e.put("ages", "x.txt", []byte("not joined"))
	e.create(`name: paired
input:
  join:
    - pfs: {repo: people, glob: "/(*).name", join_on: "$1"}
    - pfs: {repo: ages, glob: "/(*).age", join_on: "$1"}
transform:
  cmd: [sh]
  stdin:
    - 'for f in "$TUSK_PFS"/people/*.name; do id=$(basename "$f" .name); echo "$(cat "$f") is $(cat "$TUSK_PFS/ages/$id.age")" > "$TUSK_PFS/out/$id.txt"; done'
`)
	wantJob(t, e.wait()["paired"], pipelines.JobSuccess, 2, 2, 0)
	e.put("ages", "3.age", []byte("29"))
	wantJob(t, e.wait()["paired"], pipelines.JobSuccess, 3, 1, 2)
	for id, want := range map[string]string{"1": "ada is 36\n", "2": "bob is 41\n", "3": "cyd is 29\n"} {
		if b, out := e.get("paired", id+".txt"); string(b) != want || strings.Count(out.Metadata["tusk-inputs"], ",") != 1 {
			t.Errorf("paired/%s.txt = %q, inputs %q", id, b, out.Metadata["tusk-inputs"])
		}
	}
}

// TestFailingDatum: retried, then the job fails listing the datum, its
// exit code and its log; no output commit; the next commit's job runs it
// again.
func TestFailingDatum(t *testing.T) {
	e := start(t)
	e.mkRepo("inbox")
	e.put("inbox", "good.txt", []byte("fine"))
	e.create(`name: checked
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  cmd: [sh]
  stdin:
    - 'for f in "$TUSK_PFS"/inbox/*; do'
    - '  if grep -q bad "$f"; then echo "reading $f"; echo "cannot parse $(basename "$f"): bad content" >&2; exit 3; fi'
    - '  cp "$f" "$TUSK_PFS/out/"'
    - 'done'
datum_tries: 2
`)
	wantJob(t, e.wait()["checked"], pipelines.JobSuccess, 1, 1, 0)
	head := e.head("checked")
	e.put("inbox", "bad.txt", []byte("bad"))
	j := e.wait()["checked"]
	if j.State != pipelines.JobFailure || len(j.FailedDatums) != 1 {
		t.Fatalf("job %s (%s): %+v", j.State, j.Reason, j.FailedDatums)
	}
	f := j.FailedDatums[0]
	if f.ExitCode != 3 || f.Attempts != 2 || f.Inputs[0] != "inbox:bad.txt" || !strings.Contains(f.LogTail, "cannot parse bad.txt: bad content") {
		t.Errorf("failed datum %+v", f)
	}
	if e.head("checked") != head {
		t.Error("the failed job made an output commit")
	}
	if ocs, _ := e.srv.Meta.ListOpenCommits(ctxT(t), "checked"); len(ocs) != 0 {
		t.Errorf("open commits left: %d", len(ocs))
	}
	out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "job", "wait", j.ID)
	if code != 1 || !strings.Contains(out, "exit code 3") || !strings.Contains(out, "cannot parse bad.txt") {
		t.Errorf("tusk job wait of a failed job: exit %d\n%s", code, out)
	}
	logs := e.tusk(0, "pipeline", "logs", "checked", "--failed")
	if !strings.Contains(logs, "cannot parse bad.txt") {
		t.Errorf("tusk pipeline logs --failed:\n%s", logs)
	}
	// The next commit's job runs the datum again.
	e.put("inbox", "bad.txt", []byte("now fine"))
	wantJob(t, e.wait()["checked"], pipelines.JobSuccess, 2, 1, 1)
	if b, _ := e.get("checked", "bad.txt"); string(b) != "now fine" {
		t.Errorf("checked/bad.txt = %q", b)
	}
}

// TestRestartMidJob: a server restart in the middle of a job loses no job
// and leaves no half-made output commit.
func TestRestartMidJob(t *testing.T) {
	e := start(t)
	e.mkRepo("slow")
	e.create(`name: slowed
input: {pfs: {repo: slow, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['sleep 0.3; cp "$TUSK_PFS"/slow/* "$TUSK_PFS/out/"']
`)
	e.wait()
	for i := 0; i < 8; i++ {
		e.put("slow", fmt.Sprintf("f%d", i), []byte(fmt.Sprint(i)))
	}
	e.waitJob("slowed", "running with 2 datums processed", time.Minute, func(j *pipelines.Job) bool {
		return j.State == pipelines.JobRunning && j.Stats.Processed >= 2
	})
	base := e.head("slowed")
	e.restart()
	if e.head("slowed") != base {
		t.Fatal("an output commit appeared before the job ended")
	}
	jobs := e.wait()
	wantJob(t, jobs["slowed"], pipelines.JobSuccess, 8, jobs["slowed"].Stats.Processed, 8-jobs["slowed"].Stats.Processed)
	if got := len(e.keys("slowed")); got != 8 {
		t.Errorf("%d outputs, want 8", got)
	}
	// Every job ended; each success made exactly one commit; nothing open.
	all := e.jobs("slowed")
	ok := 0
	processed := 0
	for _, j := range all {
		if !j.Done() {
			t.Errorf("job %s is %s", j.ID, j.State)
		}
		if j.State == pipelines.JobSuccess {
			ok++
			processed += j.Stats.Processed
		}
	}
	if processed != 8 {
		t.Errorf("the jobs processed %d datums in all, want 8", processed)
	}
	c, _ := e.srv.Meta.GetCommit(ctxT(t), "slowed", e.head("slowed"))
	log, err := e.srv.Meta.Log(ctxT(t), c, 100)
	if err != nil || len(log) != ok+1 {
		t.Errorf("output history: %d commits for %d successful jobs (+ the repo's first): %v", len(log), ok, err)
	}
	if ocs, _ := e.srv.Meta.ListOpenCommits(ctxT(t), "slowed"); len(ocs) != 0 {
		t.Errorf("open commits left: %d", len(ocs))
	}
}

// TestBurstCoalesces: 500 PUTs in a burst make a handful of jobs, which
// together process each datum once.
func TestBurstCoalesces(t *testing.T) {
	e := start(t)
	e.mkRepo("burst")
	e.create(`name: copied
input: {pfs: {repo: burst, glob: "/*"}}
transform: {cmd: [cp, -R, burst/., out/]}
parallelism: 2
`)
	e.wait()
	const n = 500
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("burst"),
				Key: aws.String(fmt.Sprintf("k%03d", i)), Body: strings.NewReader(fmt.Sprint(i))}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	e.wait()
	jobs := e.jobs("copied")
	processed := 0
	for _, j := range jobs {
		if j.State != pipelines.JobSuccess {
			t.Errorf("job %s: %s %s", j.ID, j.State, j.Reason)
		}
		processed += j.Stats.Processed
	}
	t.Logf("%d PUTs made %d jobs (after the first)", n, len(jobs)-1)
	if len(jobs)-1 > 8 {
		t.Errorf("%d PUTs made %d jobs, want a handful", n, len(jobs)-1)
	}
	if processed != n {
		t.Errorf("the jobs processed %d datums in all, want %d (each once)", processed, n)
	}
	if got := len(e.keys("copied")); got != n {
		t.Errorf("%d outputs, want %d", got, n)
	}
}

// TestOutputsCannotBeForged: users cannot write to an output branch, nor
// into a job's commits, nor forge x-amz-meta-tusk-*.
func TestOutputsCannotBeForged(t *testing.T) {
	e := start(t)
	e.mkRepo("src")
	e.put("src", "a.txt", []byte("a"))
	e.create(`name: res
input: {pfs: {repo: src, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['cp "$TUSK_PFS"/src/* "$TUSK_PFS/out/"; test ! -e "$TUSK_PFS/src/hold" || sleep 30']
`)
	e.wait()
	wantCode := func(err error, code, says string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), says) {
			t.Errorf("got %v, want %s saying %q", err, code, says)
		}
	}
	_, err := e.s3.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("res"), Key: aws.String("x"), Body: strings.NewReader("x")})
	wantCode(err, "AccessDenied", "output of pipeline res")
	_, err = e.s3.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String("res"), Key: aws.String("a.txt")})
	wantCode(err, "AccessDenied", "read-only")
	_, err = e.s3.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("y"), Body: strings.NewReader("y"),
		Metadata: map[string]string{"tusk-pipeline": "evil@1"}})
	wantCode(err, "InvalidArgument", "x-amz-meta-tusk-")
	e.tusk(0, "branch", "create", "res@dev")
	out := e.tusk(1, "merge", "res@dev", "res@main")
	if !strings.Contains(out, "read-only") {
		t.Errorf("tusk merge into an output branch: %s", out)
	}
	// A copy of an output is an ordinary object: no provenance.
	if _, err := e.s3.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("copy.txt"),
		CopySource: aws.String("res/a.txt")}); err != nil {
		t.Fatal(err)
	}
	if _, o := e.get("src", "copy.txt"); len(o.Metadata) != 0 {
		t.Errorf("a copy of an output carries %v", o.Metadata)
	}
	// While a job runs, its open commits take no user's writes.
	e.wait() // the job of copy.txt
	e.put("src", "hold", []byte("wait"))
	j := e.waitJob("res", "running with a staging commit", 30*time.Second, func(j *pipelines.Job) bool {
		return j.State == pipelines.JobRunning && j.StagingCommit != ""
	})
	for _, c := range []string{j.OutputCommit, j.StagingCommit} {
		_, err = e.s3.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(c[:16] + ".res"), Key: aws.String("forged"), Body: strings.NewReader("x")})
		wantCode(err, "AccessDenied", "pipeline res")
		out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "commit", "finish", "res@"+c)
		if code == 0 || !strings.Contains(out, "only the pipeline") {
			t.Errorf("tusk commit finish of a job's commit: exit %d %s", code, out)
		}
	}
	_, err = e.s3.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(j.StagingCommit[:16] + ".res"), Key: aws.String("a.txt")})
	wantCode(err, "AccessDenied", "pipeline res")
	// The pipeline's user exists with least privilege.
	u, err := e.srv.Auth.GetUser(ctxT(t), auth.PipelineUser("res"))
	if err != nil || u.Admin || u.Perms["src"] != auth.PermRead || u.Perms["res"] != auth.PermWrite {
		t.Errorf("pipeline user %+v %v", u, err)
	}
	if err := e.srv.Pipelines.Delete(ctxT(t), "res", pipelines.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Auth.GetUser(ctxT(t), auth.PipelineUser("res")); err == nil {
		t.Error("the deleted pipeline's user survived")
	}
}

// TestProvHeaderLimit: x-amz-meta-tusk-inputs holds percent-encoded keys,
// and a count with the record id past 2 KB.
func TestProvHeaderLimit(t *testing.T) {
	e := start(t)
	e.mkRepo("many")
	e.put("many", "odd key, with:chars.txt", []byte("x"))
	for i := 0; i < 60; i++ {
		e.put("many", fmt.Sprintf("dir/a-rather-long-file-name-number-%03d.txt", i), []byte(fmt.Sprint(i)))
	}
	e.create(`name: each
input: {pfs: {repo: many, glob: "/*"}}
transform: {cmd: [cp, -R, many/., out/]}
`)
	e.create(`name: whole
input: {pfs: {repo: many, glob: "/"}}
transform: {cmd: [sh, -c, 'find many -type f | wc -l > out/count.txt']}
`)
	e.wait()
	_, o := e.get("each", "odd key, with:chars.txt")
	if in := o.Metadata["tusk-inputs"]; !strings.Contains(in, ":odd%20key%2C%20with%3Achars.txt?versionId=") {
		t.Errorf("tusk-inputs %q", in)
	}
	_, o = e.get("whole", "count.txt")
	prov := o.Metadata["tusk-prov"]
	if in := o.Metadata["tusk-inputs"]; in != "count=61; prov="+prov || len(prov) != 32 {
		t.Errorf("tusk-inputs %q (prov %q)", in, prov)
	}
	// The record behind it, from the admin API.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/prov/"+prov, nil)
	req.SetBasicAuth(gatewaytest.AccessKey, gatewaytest.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /prov/%s: %v %v", prov, err, resp)
	}
	resp.Body.Close()
}

// TestSpecErrorsThroughCLI: the CLI and the API name the field at fault;
// update and delete through the CLI.
func TestSpecErrorsThroughCLI(t *testing.T) {
	e := start(t)
	e.mkRepo("have")
	for _, c := range []struct{ spec, says string }{
		{"name: bad1\ninput: {pfs: {repo: have, glob: /*}}\ntransform: {cmd: [x]}\nparalelism: 2\n", "paralelism: unknown field"},
		{"name: bad2\ninput: {pfs: {repo: nope, glob: /*}}\ntransform: {cmd: [x]}\n", "input.pfs.repo: repo nope does not exist"},
		{"name: have\ninput: {pfs: {repo: have, glob: /*}}\ntransform: {cmd: [x]}\n", "input.pfs.repo: repo have is the pipeline's output repo"},
		{"name: bad3\ninput: {pfs: {repo: have, glob: '/[x'}}\ntransform: {cmd: [x]}\n", "input.pfs.glob"},
	} {
		out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "pipeline", "create", "-f", e.spec(c.spec))
		if code != 1 || !strings.Contains(out, c.says) {
			t.Errorf("exit %d %q, want %q", code, out, c.says)
		}
	}
	e.create("name: p1x\ninput: {pfs: {repo: have, glob: /*}}\ntransform: {cmd: [\"true\"]}\n")
	e.create("name: p2x\ninput: {pfs: {repo: p1x, glob: /*}}\ntransform: {cmd: [\"true\"]}\n")
	out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, "pipeline", "update", "-f",
		e.spec("name: p1x\ninput: {cross: [{pfs: {repo: have, glob: /*}}, {pfs: {repo: p2x, glob: /}}]}\ntransform: {cmd: [\"true\"]}\n"))
	if code != 1 || !strings.Contains(out, "cycle: p1x -> p2x -> p1x") {
		t.Errorf("exit %d %q, want a cycle", code, out)
	}
	e.wait()
	// update, delete (refused while read by another pipeline), --keep-repo.
	out = e.tusk(0, "pipeline", "update", "-f", e.spec("name: p2x\ninput: {pfs: {repo: p1x, glob: /}}\ntransform: {cmd: [\"true\"]}\n"))
	if !strings.Contains(out, "version 2") {
		t.Errorf("tusk pipeline update: %s", out)
	}
	if j := e.wait()["p2x"]; j.Version != 2 || j.State != pipelines.JobSuccess {
		t.Errorf("job after update: %+v", j)
	}
	if out := e.tusk(1, "pipeline", "delete", "p1x"); !strings.Contains(out, "pipeline p2x reads repo p1x") {
		t.Errorf("tusk pipeline delete p1x: %s", out)
	}
	e.tusk(0, "pipeline", "delete", "p2x")
	e.tusk(0, "pipeline", "delete", "p1x", "--keep-repo")
	if out := e.tusk(0, "pipeline", "list"); !strings.Contains(out, "No pipelines") {
		t.Errorf("tusk pipeline list: %s", out)
	}
	e.put("p1x", "now-writable", []byte("x")) // the kept repo's branch is an ordinary one again
	if _, err := e.srv.Meta.GetRepo(ctxT(t), "p2x"); err == nil {
		t.Error("the deleted pipeline's output repo survived")
	}
}

// TestPipelinePermissions: creating a pipeline needs read on its inputs;
// its jobs are visible to readers of its output repo only.
func TestPipelinePermissions(t *testing.T) {
	e := start(t)
	e.mkRepo("shared", "secret")
	var bob, eve struct {
		Key struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		} `json:"key"`
	}
	e.tuskJSON(&bob, "user", "create", "bob", "--create-repos") // bob's pipeline makes its output repo
	e.tuskJSON(&eve, "user", "create", "eve")
	e.tusk(0, "perm", "grant", "bob", "shared", "read")
	spec := func(name, repo string) string {
		return e.spec("name: " + name + "\ninput: {pfs: {repo: " + repo + ", glob: /*}}\ntransform: {cmd: [\"true\"]}\n")
	}
	if out, code := e.tuskAs(bob.Key.AccessKey, bob.Key.SecretKey, "pipeline", "create", "-f", spec("bobs", "secret")); code != 1 || !strings.Contains(out, "read permission on input repo") {
		t.Errorf("bob on secret: exit %d %s", code, out)
	}
	if out, code := e.tuskAs(bob.Key.AccessKey, bob.Key.SecretKey, "pipeline", "create", "-f", spec("bobs", "shared")); code != 0 {
		t.Fatalf("bob on shared: exit %d %s", code, out)
	}
	e.wait()
	// A pipeline's new output repo is a repo its creator makes: eve, who
	// may read shared but not create repos, is refused.
	e.tusk(0, "perm", "grant", "eve", "shared", "read")
	if out, code := e.tuskAs(eve.Key.AccessKey, eve.Key.SecretKey, "pipeline", "create", "-f", spec("eves", "shared")); code != 1 || !strings.Contains(out, "may not create repos") {
		t.Errorf("eve creates a pipeline with a new output repo: exit %d %s", code, out)
	}
	e.tusk(0, "perm", "revoke", "eve", "shared")
	if out, code := e.tuskAs(eve.Key.AccessKey, eve.Key.SecretKey, "job", "list", "--pipeline", "bobs"); code != 1 || !strings.Contains(out, "AccessDenied") && !strings.Contains(out, "access denied") {
		t.Errorf("eve lists bob's jobs: exit %d %s", code, out)
	}
	if out, _ := e.tuskAs(eve.Key.AccessKey, eve.Key.SecretKey, "pipeline", "list"); strings.Contains(out, "bobs") {
		t.Errorf("eve sees bob's pipeline: %s", out)
	}
	if out, code := e.tuskAs(bob.Key.AccessKey, bob.Key.SecretKey, "pipeline", "delete", "bobs"); code != 0 {
		t.Errorf("bob deletes his pipeline: exit %d %s", code, out)
	}
}

// TestPurgeDerivedOutputs: a global purge by content hash with block
// removes the bytes from the backing store, removes the pipeline outputs
// derived from them, lets the pipeline recompute the affected datum
// without them, refuses the bytes afterwards, and is in the audit log.
func TestPurgeDerivedOutputs(t *testing.T) {
	e := start(t)
	e.mkRepo("src")
	bad := []byte("unlawful line " + fmt.Sprint(time.Now().UnixNano()) + "\n")
	e.put("src", "a.txt", []byte("fine a\n"))
	e.put("src", "b.txt", []byte("fine b, first version\n"))
	e.put("src", "b.txt", bad)
	// Other bytes whose output is identical to the purged one's: that
	// output must survive the purge of b.txt's derived output.
	e.put("src", "twin.txt", []byte(strings.ToUpper(string(bad))))
	e.create(`name: upper
input: {pfs: {repo: src, glob: "/*"}}
transform:
  cmd: [sh]
  stdin: ['for f in "$TUSK_PFS"/src/*; do tr a-z A-Z < "$f" > "$TUSK_PFS/out/$(basename "$f")"; done']
`)
	e.wait()
	derived, _ := e.get("upper", "b.txt")
	if !strings.HasPrefix(string(derived), "UNLAWFUL LINE") {
		t.Fatalf("upper/b.txt = %q", derived)
	}
	sum := sha256.Sum256(bad)
	hash := hex.EncodeToString(sum[:])
	dsum := sha256.Sum256(derived)
	dhash := hex.EncodeToString(dsum[:])
	blobPath := func(h string) string { return filepath.Join(e.dir, "blobs", "blobs", h[:2], h[2:4], h) }
	if _, err := os.Stat(blobPath(hash)); err != nil {
		t.Fatalf("the blob is not where the test looks: %v", err)
	}

	var rep apiv1.PurgeReport
	e.tuskJSON(&rep, "purge", "--content", hash, "--all", "--block", "--yes")
	if !rep.BytesDeleted || len(rep.Removed) != 1 || rep.Removed[0].Key != "b.txt" || len(rep.Derived) != 1 ||
		rep.Derived[0].Content != dhash || rep.Derived[0].Scope != "upper" || rep.Derived[0].BytesDeleted ||
		len(rep.Derived[0].Removed) != 1 || rep.Derived[0].Removed[0].Key != "b.txt" {
		t.Fatalf("purge report %+v", rep)
	}
	if _, err := os.Stat(blobPath(hash)); !os.IsNotExist(err) {
		t.Fatalf("purged bytes still on disk: %v", err)
	}
	// The identical output of twin.txt keeps its bytes and its key.
	if _, err := os.Stat(blobPath(dhash)); err != nil {
		t.Fatalf("bytes of another datum's identical output deleted: %v", err)
	}
	if b, _ := e.get("upper", "twin.txt"); string(b) != string(derived) {
		t.Fatalf("upper/twin.txt = %q", b)
	}
	// The input reads as its previous version; the pipeline recomputes the
	// datum from it.
	if b, _ := e.get("src", "b.txt"); string(b) != "fine b, first version\n" {
		t.Fatalf("src/b.txt after purge = %q", b)
	}
	e.wait()
	if b, _ := e.get("upper", "b.txt"); string(b) != "FINE B, FIRST VERSION\n" {
		t.Fatalf("upper/b.txt after purge and recompute = %q", b)
	}
	if b, _ := e.get("upper", "a.txt"); string(b) != "FINE A\n" {
		t.Fatalf("upper/a.txt = %q", b)
	}
	// Blocked: the bytes are refused.
	_, err := e.s3.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("again"), Body: strings.NewReader(string(bad))})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("re-upload of blocked bytes: %v", err)
	}
	audit := e.tusk(0, "audit", "--action", "purge")
	if !strings.Contains(audit, hash) || !strings.Contains(audit, dhash) {
		t.Fatalf("audit log:\n%s", audit)
	}
	// Removing a noncurrent input version (S3 DeleteObject with its id)
	// changes no datum: the job for that input commit runs nothing and the
	// outputs stay as they were.
	old := e.put("src", "c.txt", []byte("c1\n"))
	e.put("src", "c.txt", []byte("c2\n"))
	e.wait()
	before, err := e.srv.Meta.Resolve(ctxT(t), "upper", "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s3.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("c.txt"), VersionId: aws.String(old)}); err != nil {
		t.Fatal(err)
	}
	jobs := e.wait()
	wantJob(t, jobs["upper"], pipelines.JobSuccess, 4, 0, 4)
	after, _ := e.srv.Meta.Resolve(ctxT(t), "upper", "main")
	if after.Root() != before.Root() {
		t.Fatalf("removing a noncurrent input version changed the outputs (commit %s)", after.Commit.ID)
	}
}
