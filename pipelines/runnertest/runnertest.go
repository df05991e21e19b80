package runnertest

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/pipelines"
)

// Env is a gateway the suite runs against, with an input repo "input" at
// commit InCommit holding Files (staged as input "in"), and an output repo
// "output" with the job's open output and staging commits.
type Env struct {
	Srv      *gatewaytest.Server
	S3       *s3.Client
	InCommit string
	Staging  string
	Output   string
	Files    map[string]string
}

// NewEnv starts the gateway and makes the repos.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	srv := gatewaytest.Start(t, gateway.Config{Pipelines: gateway.PipelineConfig{Disabled: true}})
	e := &Env{Srv: srv, Files: map[string]string{
		"a.txt":       "alpha\n",
		"b.txt":       "bravo\n",
		"dir/c.txt":   "charlie\n",
		"dir/d/e.txt": "echo\n",
		"../up":       "escape\n",
		"x":           "file\n",
		"x/y":         "under a file\n",
		"/abs":        "absolute\n",
	}}
	e.S3 = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(gatewaytest.AccessKey, gatewaytest.SecretKey, "")})
	ctx := context.Background()
	for _, r := range []string{"input", "output"} {
		if _, err := srv.Meta.CreateRepo(ctx, r, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range e.Files {
		if _, err := e.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("input"), Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	r, err := srv.Meta.Resolve(ctx, "input", "main")
	if err != nil {
		t.Fatal(err)
	}
	e.InCommit = r.CommitID()
	m := map[string]string{pipelines.MetaRole: "staging", pipelines.MetaUser: "admin", pipelines.MetaJob: "job1", pipelines.MetaPipeline: "output@1"}
	oc, err := srv.Meta.StartCommit(ctx, "output", "main", "admin", "output", map[string]string{pipelines.MetaRole: "output", pipelines.MetaJob: "job1", pipelines.MetaPipeline: "output@1"}, true)
	if err != nil {
		t.Fatal(err)
	}
	e.Output = oc.ID
	sc, err := srv.Meta.StartCommit(ctx, "output", "main", "admin", "staging", m, true)
	if err != nil {
		t.Fatal(err)
	}
	e.Staging = sc.ID
	return e
}

// Task returns a task running sh -c script over datums (each a list of keys
// of repo "input").
func (e *Env) Task(script string, datums ...[]string) *pipelines.Task {
	t := &pipelines.Task{Job: "job1", Pipeline: "output", Version: 1, Endpoint: e.Srv.URL, Region: "us-east-1",
		AccessKey: gatewaytest.AccessKey, SecretKey: gatewaytest.SecretKey, OutputRepo: "output",
		OutputCommit: e.Output, StagingCommit: e.Staging, Cmd: []string{"sh", "-c", script},
		Env: map[string]string{"GREETING": "hi"}}
	for i, keys := range datums {
		id := "data" + string(rune('a'+i))
		in := pipelines.DatumInput{Name: "in", Repo: "input", Commit: e.InCommit}
		for _, k := range keys {
			in.Files = append(in.Files, pipelines.DatumFile{Key: k, Size: int64(len(e.Files[k]))})
		}
		t.Datums = append(t.Datums, pipelines.DatumTask{ID: id, Attempt: 1, Prefix: id + "/r-1/", Inputs: []pipelines.DatumInput{in}})
	}
	return t
}

// RunTask runs t and returns its results by datum.
func RunTask(t *testing.T, ctx context.Context, r pipelines.Runner, task *pipelines.Task) (map[string]pipelines.Result, error) {
	t.Helper()
	var mu sync.Mutex
	got := map[string]pipelines.Result{}
	err := r.Run(ctx, task, func(res pipelines.Result) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[res.Datum]; dup {
			t.Errorf("datum %s reported twice", res.Datum)
		}
		got[res.Datum] = res
	})
	return got, err
}

// Staged reads an object of the staging commit ("" if absent).
func (e *Env) Staged(t *testing.T, key string) (string, bool) {
	t.Helper()
	b := e.Staging[:16] + ".output"
	out, err := e.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	if err != nil {
		return "", false
	}
	defer out.Body.Close()
	data, _ := io.ReadAll(out.Body)
	return string(data), true
}

// Run runs the conformance suite against the runner newRunner makes.
func Run(t *testing.T, newRunner func(t *testing.T) pipelines.Runner) {
	e := NewEnv(t)
	r := newRunner(t)
	ctx := context.Background()

	t.Run("StagesRunsUploads", func(t *testing.T) {
		task := e.Task(`cp -R "$TUSK_PFS/in/." "$TUSK_PFS/out/" && echo copied`, []string{"a.txt"}, []string{"dir/c.txt", "dir/d/e.txt"})
		got, err := RunTask(t, ctx, r, task)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("got %d results, want 2: %+v", len(got), got)
		}
		for id, want := range map[string]map[string]string{
			"dataa": {"a.txt": "alpha\n"},
			"datab": {"dir/c.txt": "charlie\n", "dir/d/e.txt": "echo\n"},
		} {
			res := got[id]
			if !res.OK() || res.Outputs != len(want) {
				t.Errorf("%s: %+v, want success with %d outputs", id, res, len(want))
			}
			if !strings.Contains(res.Log, "copied") {
				t.Errorf("%s: log %q lacks the command's output", id, res.Log)
			}
			if res.Attempt != 1 || res.Started.IsZero() || res.Ended.Before(res.Started) {
				t.Errorf("%s: attempt %d, times %v..%v", id, res.Attempt, res.Started, res.Ended)
			}
			for k, v := range want {
				if s, ok := e.Staged(t, id+"/r-1/"+k); !ok || s != v {
					t.Errorf("%s: staged %s = %q, %v; want %q", id, k, s, ok, v)
				}
			}
		}
	})

	t.Run("Env", func(t *testing.T) {
		task := e.Task(`env > "$TUSK_PFS/out/env.txt"`, []string{"a.txt"})
		got, err := RunTask(t, ctx, r, task)
		if err != nil || !got["dataa"].OK() {
			t.Fatalf("%v %+v", err, got)
		}
		env, _ := e.Staged(t, "dataa/r-1/env.txt")
		for _, want := range []string{"TUSK_JOB_ID=job1", "TUSK_DATUM_ID=dataa", "TUSK_OUTPUT_COMMIT=" + e.Output,
			"AWS_ENDPOINT_URL=" + e.Srv.URL, "AWS_ACCESS_KEY_ID=" + gatewaytest.AccessKey, "GREETING=hi", "TUSK_PFS="} {
			if !strings.Contains(env, want) {
				t.Errorf("the command's environment lacks %s:\n%s", want, env)
			}
		}
		for _, bad := range []string{"TUSK_ACCESS_KEY=", "TUSK_SECRET_KEY="} {
			if strings.Contains(env, bad) {
				t.Errorf("the command's environment leaks %s", bad)
			}
		}
	})

	t.Run("Stdin", func(t *testing.T) {
		task := e.Task(`cat > "$TUSK_PFS/out/stdin.txt"`, []string{"a.txt"})
		task.Cmd = []string{"sh"}
		task.Stdin = []string{`cat "$TUSK_PFS/in/a.txt" > "$TUSK_PFS/out/copy.txt"`, `echo line two`}
		got, err := RunTask(t, ctx, r, task)
		if err != nil || !got["dataa"].OK() {
			t.Fatalf("%v %+v", err, got)
		}
		if s, _ := e.Staged(t, "dataa/r-1/copy.txt"); s != "alpha\n" {
			t.Errorf("stdin script wrote %q", s)
		}
		if !strings.Contains(got["dataa"].Log, "line two") {
			t.Errorf("log %q", got["dataa"].Log)
		}
	})

	t.Run("ExitCodeAndLog", func(t *testing.T) {
		task := e.Task(`echo "it went wrong" >&2; echo partial > "$TUSK_PFS/out/p.txt"; exit 3`, []string{"a.txt"})
		task.Datums[0].Prefix = "dataa/r-fail/"
		got, err := RunTask(t, ctx, r, task)
		if err != nil {
			t.Fatal(err)
		}
		res := got["dataa"]
		if res.OK() || res.ExitCode != 3 || !strings.Contains(res.Log, "it went wrong") {
			t.Errorf("got %+v, want exit code 3 with the log", res)
		}
		if _, ok := e.Staged(t, "dataa/r-fail/p.txt"); ok {
			t.Error("a failed datum's outputs were uploaded")
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		task := e.Task(`sleep 30`, []string{"a.txt"})
		task.Timeout = 300 * time.Millisecond
		start := time.Now()
		got, err := RunTask(t, ctx, r, task)
		if err != nil {
			t.Fatal(err)
		}
		res := got["dataa"]
		if res.OK() || !strings.Contains(res.Error, "timed out") {
			t.Errorf("got %+v, want a timeout", res)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("the timeout took %s", d)
		}
	})

	t.Run("UnsafeKeys", func(t *testing.T) {
		for _, c := range []struct {
			keys []string
			says string
		}{
			{[]string{"../up"}, "cannot be staged safely"},
			{[]string{"/abs"}, "cannot be staged safely"},
			{[]string{"x", "x/y"}, "collide"},
		} {
			marker := "/tmp/tusk-runnertest-ran"
			os.Remove(marker)
			task := e.Task(`touch `+marker, c.keys)
			got, err := RunTask(t, ctx, r, task)
			if err != nil {
				t.Fatal(err)
			}
			res := got["dataa"]
			if res.OK() || !strings.Contains(res.Error, c.says) {
				t.Errorf("keys %q: got %+v, want an error saying %q", c.keys, res, c.says)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("keys %q: the command ran", c.keys)
			}
			if _, err := os.Stat("/tmp/up"); err == nil {
				t.Errorf("keys %q: a file was written outside the datum directory", c.keys)
			}
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// The command says it started through a FIFO: opening it to read
		// returns once the command opened it to write, so the cancel below
		// lands while the command runs.
		started := filepath.Join(t.TempDir(), "started")
		if out, err := exec.Command("mkfifo", started).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v: %s", err, out)
		}
		task := e.Task(`echo started > "$STARTED"; sleep 30`, []string{"a.txt"}, []string{"b.txt"})
		task.Env["STARTED"] = started
		done := make(chan error, 1)
		go func() {
			_, err := RunTask(t, cctx, r, task)
			done <- err
		}()
		opened := make(chan error, 1)
		go func() {
			f, err := os.Open(started)
			if err == nil {
				_, err = io.Copy(io.Discard, f)
				f.Close()
			}
			opened <- err
		}()
		// Unblocks the open above when the command never came.
		defer func() {
			if f, err := os.OpenFile(started, os.O_RDWR, 0); err == nil {
				f.Close()
			}
		}()
		select {
		case err := <-opened:
			if err != nil {
				t.Fatalf("reading the command's start signal: %v", err)
			}
		case err := <-done:
			t.Fatalf("Run returned (%v) before the command started", err)
		case <-time.After(20 * time.Second):
			t.Fatal("the command did not start within 20s")
		}
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	})

	t.Run("OutputsOnlyRegularFiles", func(t *testing.T) {
		task := e.Task(`ln -s /etc/passwd "$TUSK_PFS/out/leak"`, []string{"a.txt"})
		task.Datums[0].Prefix = "dataa/r-link/"
		got, err := RunTask(t, ctx, r, task)
		if err != nil {
			t.Fatal(err)
		}
		if res := got["dataa"]; res.OK() || !strings.Contains(res.Error, "not a regular file") {
			t.Errorf("got %+v, want symlink outputs refused", res)
		}
		if _, ok := e.Staged(t, "dataa/r-link/leak"); ok {
			t.Error("a symlink's target was uploaded")
		}
	})

	t.Run("StagingCommitOnly", func(t *testing.T) {
		// The output commit takes no S3 write, even from the pipeline's key.
		_, err := e.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.Output[:16] + ".output"), Key: aws.String("x"), Body: strings.NewReader("x")})
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("a PUT into the job's output commit: %v, want AccessDenied", err)
		}
	})
}
