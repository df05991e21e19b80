package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
	"github.com/tusk-data/tusk/pipelines"
)

// Binaries built once by TestMain.
var (
	tuskBin    string // the tusk binary: CLI and `tusk worker`
	edgesBin   string // examples/edges-montage/edges
	montageBin string // examples/edges-montage/montage
	mkimages   string // examples/edges-montage/mkimages
)

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "tusk-pipelines-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		tuskBin = os.Getenv("TUSK_BIN")
		builds := [][2]string{
			{filepath.Join(dir, "tusk-edges"), "github.com/tusk-data/tusk/examples/edges-montage/edges"},
			{filepath.Join(dir, "tusk-montage"), "github.com/tusk-data/tusk/examples/edges-montage/montage"},
			{filepath.Join(dir, "mkimages"), "github.com/tusk-data/tusk/examples/edges-montage/mkimages"},
		}
		if tuskBin == "" {
			tuskBin = filepath.Join(dir, "tusk")
			builds = append(builds, [2]string{tuskBin, "github.com/tusk-data/tusk/cmd/tusk"})
		} else if abs, err := filepath.Abs(tuskBin); err == nil {
			tuskBin = abs
		}
		for _, b := range builds {
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", b[1], err, out)
				return 1
			}
		}
		edgesBin, montageBin, mkimages = builds[0][0], builds[1][0], builds[2][0]
		return m.Run()
	}()
	os.Exit(code)
}

// env is a running gateway with pipelines (local runner, `tusk worker`).
type env struct {
	t   *testing.T
	srv *gatewaytest.Server
	dir string // the data dir (kept across restarts)
	s3  *s3.Client
	cfg gateway.Config
}

func start(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.cfg = gateway.Config{DataDir: e.dir, GCInterval: -1,
		Pipelines: gateway.PipelineConfig{WorkerCommand: []string{tuskBin, "worker"}, WorkDir: t.TempDir()}}
	e.srv = gatewaytest.Start(t, e.cfg)
	e.s3 = e.client(gatewaytest.AccessKey, gatewaytest.SecretKey)
	return e
}

// restart stops the gateway (running jobs are killed, left running) and
// starts it again on the same data.
func (e *env) restart() {
	e.t.Helper()
	e.srv.Stop()
	e.srv = gatewaytest.Start(e.t, e.cfg)
	e.s3 = e.client(gatewaytest.AccessKey, gatewaytest.SecretKey)
}

func (e *env) client(ak, sk string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) mkRepo(names ...string) {
	e.t.Helper()
	for _, n := range names {
		if _, err := e.s3.CreateBucket(ctxT(e.t), &s3.CreateBucketInput{Bucket: aws.String(n)}); err != nil {
			e.t.Fatalf("create bucket %s: %v", n, err)
		}
	}
}

// put writes key in bucket and returns the version id (the commit).
func (e *env) put(bucket, key string, body []byte) string {
	e.t.Helper()
	out, err := e.s3.PutObject(ctxT(e.t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		e.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

func (e *env) get(bucket, key string) ([]byte, *s3.GetObjectOutput) {
	e.t.Helper()
	out, err := e.s3.GetObject(ctxT(e.t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		e.t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return b, out
}

func (e *env) keys(bucket string) []string {
	e.t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(e.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctxT(e.t))
		if err != nil {
			e.t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range pg.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// tusk runs the CLI against the gateway as the admin; it fails the test
// unless the exit code is want.
func (e *env) tusk(want int, args ...string) string {
	e.t.Helper()
	out, code := e.tuskAs(gatewaytest.AccessKey, gatewaytest.SecretKey, args...)
	if code != want {
		e.t.Fatalf("tusk %s: exit %d, want %d:\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

func (e *env) tuskAs(ak, sk string, args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(tuskBin, args...)
	cmd.Env = append(cleanEnv(), "TUSK_ENDPOINT="+e.srv.URL, "TUSK_ACCESS_KEY="+ak, "TUSK_SECRET_KEY="+sk,
		"XDG_CONFIG_HOME="+e.t.TempDir())
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("tusk: %v", err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// tuskJSON runs the CLI with -o json and decodes its answer.
func (e *env) tuskJSON(v any, args ...string) {
	e.t.Helper()
	out := e.tusk(0, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("tusk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cleanEnv is this process's environment without AWS_* and TUSK_*.
func cleanEnv() []string { return pipelines.WorkerEnv(os.Environ()) }

// spec writes a spec file and returns its path.
func (e *env) spec(text string) string {
	e.t.Helper()
	p := filepath.Join(e.t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// create creates a pipeline from a YAML spec through the CLI.
func (e *env) create(spec string) {
	e.t.Helper()
	e.tusk(0, "pipeline", "create", "-f", e.spec(spec))
}

// wait waits until every pipeline is idle; it returns each one's newest
// job by pipeline.
func (e *env) wait() map[string]*pipelines.Job {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := e.srv.Pipelines.WaitIdle(ctx); err != nil {
		e.t.Fatalf("pipelines still busy: %v", err)
	}
	out := map[string]*pipelines.Job{}
	list, err := e.srv.Pipelines.List(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range list {
		if jobs, _ := e.srv.Pipelines.ListJobs(ctx, p.Name(), 1); len(jobs) > 0 {
			out[p.Name()] = jobs[0]
		}
	}
	return out
}

func (e *env) jobs(pipe string) []*pipelines.Job {
	e.t.Helper()
	jobs, err := e.srv.Pipelines.ListJobs(context.Background(), pipe, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return jobs
}

// waitJob waits until a job of pipe (the newest first) satisfies cond,
// described by what, and returns it; it fails the test after limit, showing
// the newest job. The service announces no event when a job's stats change,
// so this polls, with that deadline.
func (e *env) waitJob(pipe, what string, limit time.Duration, cond func(*pipelines.Job) bool) *pipelines.Job {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		jobs := e.jobs(pipe)
		for _, j := range jobs {
			if cond(j) {
				return j
			}
		}
		if time.Now().After(deadline) {
			var last *pipelines.Job
			if len(jobs) > 0 {
				last = jobs[0]
			}
			e.t.Fatalf("pipeline %s: no job %s within %s; newest job %+v", pipe, what, limit, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantJob(t *testing.T, j *pipelines.Job, state string, total, processed, skipped int) {
	t.Helper()
	if j == nil {
		t.Fatalf("no job, want %s", state)
	}
	st := j.Stats
	if j.State != state || st.Total != total || st.Processed != processed || st.Skipped != skipped {
		t.Fatalf("job %s of %s: %s (%s) %+v; want %s with %d datums, %d processed, %d skipped",
			j.ID, j.Pipeline, j.State, j.Reason, st, state, total, processed, skipped)
	}
}

// awsCLI runs /usr/bin/aws (the aws CLI v2) against the gateway; it fails
// the test when the CLI is missing (scripts/install-test-deps.sh, run by
// make test, installs it): a missing tool is a gap, not a pass.
func (e *env) awsCLI(args ...string) string {
	e.t.Helper()
	bin := "/usr/bin/aws"
	if _, err := os.Stat(bin); err != nil {
		e.t.Fatal("the aws CLI (/usr/bin/aws) is missing: run scripts/install-test-deps.sh")
	}
	dir := e.t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"), 0o600)
	os.WriteFile(creds, []byte(fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", gatewaytest.AccessKey, gatewaytest.SecretKey)), 0o600)
	cmd := exec.Command(bin, append([]string{"--endpoint-url", e.srv.URL}, args...)...)
	cmd.Env = append(cleanEnv(), "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=", "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost", "BOTO_DISABLE_CRT=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// boto3 runs a Python script with boto3 (Debian's /usr/bin/python3) and
// returns its output; it fails the test when boto3 is missing
// (scripts/install-test-deps.sh installs it).
func (e *env) boto3(script string) string {
	e.t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		e.t.Fatalf("boto3 for /usr/bin/python3 is missing (%v: %s): run scripts/install-test-deps.sh", err, out)
	}
	pre := fmt.Sprintf(`import boto3, json, sys
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=%q, aws_access_key_id=%q, aws_secret_access_key=%q,
    region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
`, e.srv.URL, gatewaytest.AccessKey, gatewaytest.SecretKey)
	cmd := exec.Command(py, "-c", pre+script)
	cmd.Env = append(cleanEnv(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost", "BOTO_DISABLE_CRT=true", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("boto3: %v\n%s", err, out)
	}
	return string(out)
}
