package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/tusk-data/tusk/adminapi/pipev1"
	"github.com/tusk-data/tusk/pipelines"
)

// Environment of a remote worker (the kubernetes runner sets it; the keys
// come from a Secret). The user command never sees TUSK_* or AWS_*
// variables of the worker (pipelines.WorkerEnv).
const (
	EnvAccessKey = "TUSK_ACCESS_KEY"
	EnvSecretKey = "TUSK_SECRET_KEY"
	EnvEndpoint  = "TUSK_ENDPOINT"
	EnvRegion    = "TUSK_REGION"
	EnvWorker    = "TUSK_WORKER_NAME"
)

// Remote is a worker that takes its work from the gateway: it reads task
// ID, then claims one datum at a time, runs it and reports its Result
// (docs/api.md, "Remote workers' tasks"), until no datum is left.
type Remote struct {
	// Gateway is the gateway's URL (S3 and admin API).
	Gateway string
	Task    string
	// Worker names this worker in its claims (a pod's name).
	Worker    string
	AccessKey string
	SecretKey string
	Region    string
	// Wait bounds how long the worker retries a gateway that cannot be
	// reached or does not know the task yet (it restarted and has not
	// resumed the job): the runner re-attaches to running workers.
	Wait time.Duration
	// PFS, when set, is the directory each datum is staged in, emptied
	// between datums (a pod's /pfs volume); "" stages each in a fresh
	// directory under the system's temp dir.
	PFS string
	// HTTP is the client (default: http.DefaultClient's transport).
	HTTP   *http.Client
	Stderr io.Writer
}

func remoteMain(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("tusk worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	r := &Remote{Stderr: stderr}
	host, _ := os.Hostname()
	fs.StringVar(&r.Gateway, "gateway", os.Getenv(EnvEndpoint), "the gateway's URL (default $"+EnvEndpoint+")")
	fs.StringVar(&r.Task, "task", "", "the id of the task to run")
	fs.StringVar(&r.Worker, "worker", orDefault(os.Getenv(EnvWorker), host), "this worker's name in its claims (default $"+EnvWorker+" or the host name)")
	fs.DurationVar(&r.Wait, "wait", 5*time.Minute, "how long to retry a gateway that is unreachable or does not know the task yet")
	fs.StringVar(&r.PFS, "pfs", "", "stage each datum in this directory, emptied between datums (a pod's /pfs volume)")
	install := fs.String("install", "", "copy this binary to this path (mode 0755) and exit: the init container of a worker pod")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *install != "" {
		if err := Install(*install); err != nil {
			fmt.Fprintf(stderr, "tusk worker: %v\n", err)
			return 1
		}
		return 0
	}
	if fs.NArg() > 0 || r.Gateway == "" || r.Task == "" {
		fmt.Fprintf(stderr, "tusk worker: usage: tusk worker (task on stdin) or tusk worker --gateway URL --task ID (keys in $%s, $%s)\n", EnvAccessKey, EnvSecretKey)
		return 2
	}
	r.AccessKey, r.SecretKey, r.Region = os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey), os.Getenv(EnvRegion)
	if r.AccessKey == "" || r.SecretKey == "" {
		fmt.Fprintf(stderr, "tusk worker: set $%s and $%s (the pipeline's key)\n", EnvAccessKey, EnvSecretKey)
		return 2
	}
	if err := r.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "tusk worker: %v\n", err)
		return 1
	}
	return 0
}

// Run runs the task until no datum is left (nil), ctx ends, or the gateway
// refuses the worker.
func (r *Remote) Run(ctx context.Context) error {
	if r.HTTP == nil {
		r.HTTP = &http.Client{}
	}
	if r.Stderr == nil {
		r.Stderr = io.Discard
	}
	r.Gateway = strings.TrimRight(r.Gateway, "/")
	var t pipelines.Task
	if err := r.call(ctx, "GET", "", nil, &t); err != nil {
		return fmt.Errorf("reading task %s: %w", r.Task, err)
	}
	t.Endpoint, t.AccessKey, t.SecretKey, t.WorkDir = r.Gateway, r.AccessKey, r.SecretKey, ""
	if r.Region != "" {
		t.Region = r.Region
	}
	if len(t.Cmd) == 0 {
		return fmt.Errorf("task %s has no command", r.Task)
	}
	s3c, err := newS3(&t)
	if err != nil {
		return err
	}
	w := &worker{t: &t, s3: s3c, stderr: r.Stderr, pfs: r.PFS}
	for ctx.Err() == nil {
		var c pipev1.TaskClaim
		if err := r.call(ctx, "POST", "/claim", pipev1.TaskClaimRequest{Worker: r.Worker}, &c); err != nil {
			return fmt.Errorf("claiming a datum of task %s: %w", r.Task, err)
		}
		if c.Datum == nil {
			return nil
		}
		dctx, lost := r.keepClaim(ctx, c)
		res := w.runDatum(dctx, *c.Datum)
		if err := lost(); err != nil {
			return fmt.Errorf("datum %s of task %s: %w: its command was killed", c.Datum.ID, r.Task, err)
		}
		if ctx.Err() != nil {
			return ctx.Err() // killed: the try does not count
		}
		err := r.call(ctx, "POST", "/results", pipev1.TaskResult{Token: c.Token, Result: res}, nil)
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusConflict {
			// A claim of before a gateway restart, or a datum given up on:
			// the gateway runs it again; go on with the next.
			fmt.Fprintf(r.Stderr, "tusk worker: the result of datum %s was refused: %v\n", res.Datum, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("reporting datum %s of task %s: %w", res.Datum, r.Task, err)
		}
	}
	return ctx.Err()
}

// httpError is an answer of the gateway that is not a success.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("the gateway answered %d: %s", e.status, e.msg)
}

// retryable: the gateway is down or restarting (unreachable, 5xx), or it
// does not know the task yet (404: its job has not resumed).
func retryable(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		return he.status == http.StatusNotFound || he.status >= 500
	}
	return true // transport errors
}

// call sends a SigV4-signed admin API request about the task, retrying
// with backoff for up to r.Wait while retryable.
func (r *Remote) call(ctx context.Context, method, sub string, body, out any) error {
	deadline := time.Now().Add(r.Wait)
	delay := 200 * time.Millisecond
	last := ""
	for {
		err := r.once(ctx, method, sub, body, out)
		if err == nil || !retryable(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		// Say why the worker waits (its log is the pod's), once per cause.
		if msg := err.Error(); msg != last {
			last = msg
			fmt.Fprintf(r.Stderr, "tusk worker: %s %s: %v; retrying for up to %v\n", method, "/api/v1/tasks/"+r.Task+sub, err, time.Until(deadline).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

var emptySHA256 = hex.EncodeToString(func() []byte { s := sha256.Sum256(nil); return s[:] }())

func (r *Remote) once(ctx context.Context, method, sub string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	u := r.Gateway + "/api/v1/tasks/" + url.PathEscape(r.Task) + sub
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(data))
	hash := emptySHA256
	if len(data) > 0 {
		s := sha256.Sum256(data)
		hash = hex.EncodeToString(s[:])
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	req = signer.SignV4(*req, r.AccessKey, r.SecretKey, "", orDefault(r.Region, "us-east-1"))
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			msg = e.Code + ": " + e.Message
		}
		return &httpError{status: resp.StatusCode, msg: msg}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Install copies the running executable to dst (mode 0755): the init
// container of a worker pod puts the tusk binary of the Tusk image into the
// pod's shared emptyDir, from where the pipeline's image runs it (the Tusk
// image has no shell and no cp).
func Install(dst string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary: %w", err)
	}
	in, err := os.Open(self)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("installing the worker: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("installing the worker: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// errLeaseLost is the cause of a datum's context when its claim's lease
// could not be renewed.
var errLeaseLost = errors.New("the claim's lease was lost")

// keepClaim renews claim c every third of its lease while the datum runs
// (the returned context). The context ends, with a cause wrapping
// errLeaseLost, when the gateway refuses the renewal (the claim was dropped,
// or its datum reported or handed to another worker) or when no renewal
// succeeded for a whole lease (the gateway is gone, or cut off): the datum's
// command is then killed, so that it never runs next to a copy the gateway
// hands out again. lost stops the renewals and returns that cause (nil
// otherwise). A claim without a lease (an older gateway) is not renewed.
func (r *Remote) keepClaim(ctx context.Context, c pipev1.TaskClaim) (context.Context, func() error) {
	if c.LeaseMS <= 0 || c.Datum == nil {
		return ctx, func() error { return nil }
	}
	lease := time.Duration(c.LeaseMS) * time.Millisecond
	dctx, cancel := context.WithCancelCause(ctx)
	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := time.Now()
		tick := time.NewTicker(max(lease/3, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-stopped:
				return
			case <-dctx.Done():
				return
			case <-tick.C:
			}
			left := lease - time.Since(last)
			if left <= 0 {
				cancel(fmt.Errorf("%w: not renewed for %v (lease %v)", errLeaseLost, time.Since(last).Round(time.Millisecond), lease))
				return
			}
			var l pipev1.TaskLease
			rctx, rcancel := context.WithTimeout(dctx, left) // an unreachable gateway must not outlast the lease
			err := r.once(rctx, "POST", "/renew", pipev1.TaskRenew{Token: c.Token, Worker: r.Worker, Datum: *c.Datum}, &l)
			rcancel()
			var he *httpError
			switch {
			case err == nil:
				last = time.Now()
				if l.LeaseMS > 0 {
					lease = time.Duration(l.LeaseMS) * time.Millisecond
				}
			case errors.As(err, &he) && (he.status == http.StatusConflict || he.status == http.StatusForbidden):
				cancel(fmt.Errorf("%w: the gateway refused its renewal: %v", errLeaseLost, err))
				return
			case time.Since(last) >= lease:
				cancel(fmt.Errorf("%w: not renewed for %v (lease %v): %v", errLeaseLost, time.Since(last).Round(time.Millisecond), lease, err))
				return
			default:
				if dctx.Err() == nil {
					fmt.Fprintf(r.Stderr, "tusk worker: renewing the claim of datum %s: %v; retrying\n", c.Datum.ID, err)
				}
			}
		}
	}()
	return dctx, func() error {
		close(stopped)
		<-done
		err := context.Cause(dctx)
		cancel(nil)
		if errors.Is(err, errLeaseLost) {
			return err
		}
		return nil
	}
}
