package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tusk-data/tusk/pipelines"
)

// Main runs the worker with args (what follows `tusk worker`): no args
// runs the task read from stdin and writes one Result per line on stdout;
// --gateway URL --task ID takes the task from the gateway (Remote). It
// returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		becomeSubreaper()
		return remoteMain(ctx, args, stderr)
	}
	var t pipelines.Task
	dec := json.NewDecoder(stdin)
	if err := dec.Decode(&t); err != nil {
		fmt.Fprintf(stderr, "tusk worker: reading the task from stdin: %v\n", err)
		return 2
	}
	becomeSubreaper()
	// What follows the task on stdin is the gateway's heartbeats (EnvLease).
	ctx, stop, err := watchParent(ctx, io.MultiReader(dec.Buffered(), stdin), os.Getenv(EnvLease), os.Getenv(EnvParent))
	if err != nil {
		fmt.Fprintf(stderr, "tusk worker: %v\n", err)
		return 2
	}
	defer stop()
	w := &worker{t: &t, stderr: stderr}
	s3c, err := newS3(&t)
	if err != nil {
		fmt.Fprintf(stderr, "tusk worker: %v\n", err)
		return 2
	}
	w.s3 = s3c
	enc := json.NewEncoder(stdout)
	for _, d := range t.Datums {
		if ctx.Err() != nil {
			break
		}
		r := w.runDatum(ctx, d)
		if ctx.Err() != nil {
			break // killed: the try does not count
		}
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "tusk worker: writing a result: %v\n", err)
			return 1
		}
	}
	if err := orphaned(ctx); err != nil {
		fmt.Fprintf(stderr, "tusk worker: %v: its datum's command was killed\n", err)
		return ExitOrphan
	}
	return 0
}

// s3Attempts bounds the tries of one S3 request to the gateway.
const s3Attempts = 3

// newS3 returns the S3 client of the task's gateway: path-style (commit
// buckets hold a dot) with the task's keys. Errors: an endpoint that is not
// http(s)://host:port.
func newS3(t *pipelines.Task) (*minio.Core, error) {
	u, err := url.Parse(t.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("the task's endpoint %q is not http(s)://host:port", t.Endpoint)
	}
	return minio.NewCore(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(t.AccessKey, t.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       orDefault(t.Region, "us-east-1"),
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   s3Attempts,
	})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

type worker struct {
	t      *pipelines.Task
	s3     *minio.Core
	stderr io.Writer
	// pfs, when set, is where each datum's tree is staged, emptied before
	// and after each datum (a pod's /pfs volume: the worker runs one
	// datum at a time), instead of a fresh directory under WorkDir.
	pfs string
}

// runDatum runs one try of one datum.
func (w *worker) runDatum(ctx context.Context, d pipelines.DatumTask) (r pipelines.Result) {
	r = pipelines.Result{Datum: d.ID, Attempt: d.Attempt, ExitCode: -1, Started: time.Now().UTC()}
	log := &logBuffer{max: pipelines.MaxLog}
	defer func() {
		r.Ended = time.Now().UTC()
		r.Log, r.LogBytes = log.String(), log.total
	}()
	note := func(format string, args ...any) { fmt.Fprintf(log, "[tusk] "+format+"\n", args...) }
	pfs := w.pfs
	if pfs == "" {
		dir, err := os.MkdirTemp(w.t.WorkDir, "tusk-datum-")
		if err != nil {
			r.Error = "making the datum directory: " + err.Error()
			return r
		}
		defer os.RemoveAll(dir)
		pfs = filepath.Join(dir, "pfs")
	} else {
		if err := emptyDir(pfs); err != nil {
			r.Error = "emptying the datum directory: " + err.Error()
			return r
		}
		defer emptyDir(pfs)
	}
	if err := os.MkdirAll(filepath.Join(pfs, "out"), 0o755); err != nil {
		r.Error = "making the datum directory: " + err.Error()
		return r
	}
	n, err := w.stage(ctx, pfs, d)
	if err != nil {
		r.Error = err.Error()
		note("%s", r.Error)
		return r
	}
	note("staged %d input files under %s", n, pfs)
	code, err := w.exec(ctx, pfs, d, log)
	r.ExitCode = code
	if err != nil {
		r.Error = err.Error()
		note("%s", r.Error)
		return r
	}
	if code != 0 {
		note("the command exited with code %d", code)
		return r
	}
	outs, err := w.upload(ctx, filepath.Join(pfs, "out"), d.Prefix)
	r.Outputs = outs
	if err != nil {
		r.Error = err.Error()
		note("%s", r.Error)
		return r
	}
	note("uploaded %d output files", outs)
	return r
}

// pfsMount is where a datum's tree appears to its command in a private
// mount namespace (Linux, root), and where the kubernetes runner mounts a
// pod's datum volume.
const pfsMount = "/pfs"

// emptyDir removes what dir holds, keeping dir (a mount point).
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// stagePaths checks every key of the datum and returns where each goes:
// keys must be relative paths of plain segments (no "", ".", ".."), and no
// key may be both a file and a directory of another ("a" and "a/b").
func stagePaths(pfs string, d pipelines.DatumTask) (map[string]string, error) {
	out := map[string]string{}
	files := map[string]string{} // staged relative path -> key
	dirs := map[string]string{}
	for _, in := range d.Inputs {
		for _, f := range in.Files {
			segs := strings.Split(f.Key, "/")
			for _, s := range segs {
				if s == "" || s == "." || s == ".." {
					return nil, fmt.Errorf("input key %q of repo %s cannot be staged safely: as a path it would leave the datum directory or is not a plain file path (empty, \".\" or \"..\" segments); rename the key or change the glob", f.Key, in.Repo)
				}
			}
			rel := in.Name + "/" + f.Key
			if k, ok := dirs[rel]; ok {
				return nil, fmt.Errorf("input keys %q and %q of repo %s collide: %q would be both a file and a directory", f.Key, k, in.Repo, f.Key)
			}
			if _, ok := files[rel]; ok {
				return nil, fmt.Errorf("input key %q of repo %s is staged twice", f.Key, in.Repo)
			}
			parts := strings.Split(rel, "/")
			for i := 1; i < len(parts); i++ {
				p := strings.Join(parts[:i], "/")
				if k, ok := files[p]; ok {
					return nil, fmt.Errorf("input keys %q and %q of repo %s collide: %q would be both a file and a directory", k, f.Key, in.Repo, strings.TrimPrefix(p, in.Name+"/"))
				}
				dirs[p] = f.Key
			}
			files[rel] = f.Key
			out[in.Name+"\x00"+f.Key] = filepath.Join(pfs, filepath.FromSlash(rel))
		}
	}
	return out, nil
}

// stage downloads the datum's inputs through S3, stageJobs at once; the
// first failure stops the rest.
func (w *worker) stage(ctx context.Context, pfs string, d pipelines.DatumTask) (int, error) {
	paths, err := stagePaths(pfs, d)
	if err != nil {
		return 0, err
	}
	type fetch struct{ bucket, key, dst, what string }
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan fetch)
	var n atomic.Int64
	var wg sync.WaitGroup
	for range stageJobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if ctx.Err() != nil {
					continue
				}
				if err := w.download(ctx, f.bucket, f.key, f.dst); err != nil {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("staging %s: %v", f.what, err))
					}
					continue
				}
				n.Add(1)
			}
		}()
	}
feed:
	for _, in := range d.Inputs {
		if err := os.MkdirAll(filepath.Join(pfs, in.Name), 0o755); err != nil {
			cancel(err)
			break
		}
		bucket := bucketOf(in.Commit, in.Repo)
		for _, f := range in.Files {
			select {
			case work <- fetch{bucket, f.Key, paths[in.Name+"\x00"+f.Key], in.Repo + "@" + short(in.Commit) + ":" + f.Key}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(work)
	wg.Wait()
	return int(n.Load()), context.Cause(ctx)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// bucketOf is the S3 bucket of a commit of repo (SPEC §2).
func bucketOf(commit, repo string) string {
	if len(commit) > 16 {
		commit = commit[:16]
	}
	return commit + "." + repo
}

func (w *worker) download(ctx context.Context, bucket, key, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	body, _, _, err := w.s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// env is the command's environment.
func (w *worker) env(pfs string, d pipelines.DatumTask) []string {
	t := w.t
	env := pipelines.WorkerEnv(os.Environ())
	keys := make([]string, 0, len(t.Env))
	for k := range t.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+t.Env[k])
	}
	region := orDefault(t.Region, "us-east-1")
	return append(env,
		"TUSK_JOB_ID="+t.Job,
		"TUSK_DATUM_ID="+d.ID,
		"TUSK_OUTPUT_COMMIT="+t.OutputCommit,
		"TUSK_PIPELINE="+t.Pipeline,
		"TUSK_PFS="+pfs,
		"AWS_ENDPOINT_URL="+t.Endpoint,
		"AWS_ACCESS_KEY_ID="+t.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+t.SecretKey,
		"AWS_REGION="+region,
		"AWS_DEFAULT_REGION="+region,
	)
}

// exec runs the command; it returns the exit code, and an error when the
// command did not run to an exit (not found, killed, timed out).
func (w *worker) exec(ctx context.Context, pfs string, d pipelines.DatumTask, log io.Writer) (int, error) {
	t := w.t
	dctx := ctx
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	argv := t.Cmd
	if p, err := exec.LookPath(argv[0]); err == nil {
		argv = append([]string{p}, argv[1:]...)
	}
	newCmd := func() *exec.Cmd {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = w.env(pfs, d)
		cmd.Dir = pfs
		if len(t.Stdin) > 0 {
			cmd.Stdin = strings.NewReader(strings.Join(t.Stdin, "\n") + "\n")
		}
		cmd.Stdout, cmd.Stderr = log, log
		commandAttrs(cmd)
		return cmd
	}
	run := func(cmd *exec.Cmd) error {
		if err := cmd.Start(); err != nil {
			return &startError{fmt.Errorf("starting %s: %v", t.Cmd[0], err)}
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-dctx.Done():
				killGroup(cmd)
			}
		}()
		err := cmd.Wait()
		close(done)
		// Nothing of the datum outlives it (reapStragglers).
		reapStragglers(cmd)
		return err
	}
	var err error
	ran := false
	if useMountNS() && pfs != pfsMount {
		cmd := newCmd()
		if ran, err = inMountNS(pfs, func() error { return run(cmd) }); !ran {
			fmt.Fprintf(log, "[tusk] no private mount namespace here (%v): the datum is at $TUSK_PFS only\n", err)
		}
	}
	if !ran {
		err = run(newCmd())
	}
	var se *startError
	if errors.As(err, &se) {
		return -1, se.err
	}
	if dctx.Err() != nil && ctx.Err() == nil {
		return -1, fmt.Errorf("timed out after %s (datum_timeout, or the gateway's --pipeline-datum-timeout when the spec sets none) and was killed", t.Timeout)
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("killed: the job was stopped")
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if code := ee.ExitCode(); code >= 0 {
				return code, nil
			}
			return -1, fmt.Errorf("the command was killed: %v", err)
		}
		return -1, err
	}
	return 0, nil
}

// startError is a command that did not start.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }

// logBuffer keeps the last max bytes of a log (and counts them all).
type logBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > b.max {
		return string(b.buf[len(b.buf)-b.max:])
	}
	return string(b.buf)
}
