package gateway

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
	k8srunner "github.com/tusk-data/tusk/pipelines/kubernetes"
	"github.com/tusk-data/tusk/s3api"
	kclient "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// PipelineConfig configures the pipelines the gateway runs (SPEC §7).
type PipelineConfig struct {
	// Disabled runs no pipeline (the admin API answers NotImplemented).
	Disabled bool
	// WorkerCommand starts a local worker (default: this executable with
	// "worker", i.e. `tusk worker`).
	WorkerCommand []string
	// WorkerEnv is added to the workers' environment.
	WorkerEnv []string
	// WorkDir holds the datum directories (default: the system temp dir).
	WorkDir string
	// WorkerLease is how long a worker (local, or a pod's) runs on without
	// hearing from the gateway, and how long a re-attached kubernetes Job's
	// datums wait for its pods to re-claim them (default
	// pipelines.DefaultLease).
	WorkerLease time.Duration
	// Endpoint is the S3 endpoint workers use (default: the address the
	// gateway listens on, 127.0.0.1 for a wildcard address).
	Endpoint string
	// Runner replaces the local runner (tests).
	Runner pipelines.Runner
	// Kubernetes configures the kubernetes runner; nil (or an empty
	// Namespace) refuses pipelines with runner kubernetes.
	Kubernetes *KubernetesConfig
	// RetryBackoff is the wait before a failed job's first automatic retry
	// (default pipelines.DefaultRetryBackoff; it doubles per attempt).
	RetryBackoff time.Duration
	// DatumTimeout bounds one try of a datum whose pipeline spec sets no
	// datum_timeout (default pipelines.DefaultDatumTimeout; negative: no
	// bound, as before).
	DatumTimeout time.Duration
}

// KubernetesConfig configures the kubernetes runner (docs/kubernetes.md):
// how to reach the API server, and the runner's own settings (Namespace,
// Image, Gateway required; Client, Region, Board and Log are set by the
// gateway).
type KubernetesConfig struct {
	// REST is the API server's client config; nil: Kubeconfig, or the
	// in-cluster config when Kubeconfig is "" too.
	REST       *rest.Config
	Kubeconfig string
	k8srunner.Config
}

// pipelineCreds implements pipelines.Credentials over Auth: each pipeline
// has its own user, with read on its input repos and write on its output
// repo, and one key, kept across restarts (pods of the kubernetes runner
// outlive the gateway; the secret is at rest only in its encrypted form).
type pipelineCreds struct {
	auth *auth.Auth
	mu   sync.Mutex
	keys map[string][2]string // pipeline -> access key, secret
}

var _ pipelines.Credentials = (*pipelineCreds)(nil)

func (c *pipelineCreds) User(p string) string { return auth.PipelineUser(p) }

func (c *pipelineCreds) Key(ctx context.Context, p string, inputs []string, output string) (string, string, error) {
	user := c.User(p)
	perms := map[string]int{output: auth.PermWrite}
	for _, in := range inputs {
		if in != output {
			perms[in] = auth.PermRead
		}
	}
	u, err := c.auth.GetUser(ctx, user)
	if err != nil && !errs.Is(err, errs.NotExist) {
		return "", "", err
	}
	if u == nil || !samePerms(u.Perms, perms) || u.Admin {
		nu := &auth.User{Name: user, Perms: perms, Created: time.Now().UTC()}
		if u != nil {
			nu.Created = u.Created
		}
		if err := c.auth.PutUser(ctx, nu); err != nil {
			return "", "", err
		}
	}
	c.mu.Lock()
	k, ok := c.keys[p]
	c.mu.Unlock()
	if ok {
		if _, owner, err := c.auth.Secret(ctx, k[0]); err == nil && owner == user {
			return k[0], k[1], nil
		}
	}
	// The key of an earlier run is kept when there is exactly one: workers
	// that outlive a restart (pods of the kubernetes runner) hold it.
	if keys, err := c.auth.ListKeys(ctx, user); err == nil && len(keys) == 1 {
		if sec, owner, err := c.auth.Secret(ctx, keys[0].ID); err == nil && owner == user {
			c.mu.Lock()
			if c.keys == nil {
				c.keys = map[string][2]string{}
			}
			c.keys[p] = [2]string{keys[0].ID, sec}
			c.mu.Unlock()
			return keys[0].ID, sec, nil
		}
	}
	// A new key; the ones of earlier runs are revoked.
	if err := c.revoke(ctx, user); err != nil {
		return "", "", err
	}
	key, secret, err := c.auth.CreateKey(ctx, user)
	if err != nil {
		return "", "", err
	}
	c.mu.Lock()
	if c.keys == nil {
		c.keys = map[string][2]string{}
	}
	c.keys[p] = [2]string{key.ID, secret}
	c.mu.Unlock()
	return key.ID, secret, nil
}

func samePerms(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (c *pipelineCreds) revoke(ctx context.Context, user string) error {
	keys, err := c.auth.ListKeys(ctx, user)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.auth.DeleteKey(ctx, k.ID); err != nil && !errs.Is(err, errs.NotExist) {
			return err
		}
	}
	return nil
}

func (c *pipelineCreds) Drop(ctx context.Context, p string) error {
	c.mu.Lock()
	delete(c.keys, p)
	c.mu.Unlock()
	err := c.auth.DeleteUser(ctx, c.User(p))
	if errs.Is(err, errs.NotExist) {
		return nil
	}
	return err
}

// initPipelines builds the pipeline service (it starts with Serve).
func (s *Server) initPipelines() {
	if s.cfg.Pipelines.Disabled {
		return
	}
	pc := s.cfg.Pipelines
	runner := pc.Runner
	if runner == nil {
		// Workers are recorded under the data dir: the next start after a
		// crash kills what they left before jobs resume.
		runner = pipelines.NewLocal(pipelines.LocalConfig{Command: pc.WorkerCommand, Env: pc.WorkerEnv,
			Lease: pc.WorkerLease, RunDir: filepath.Join(s.cfg.DataDir, "workers")})
	}
	var kube pipelines.Runner
	if s.kube != nil {
		kube = s.kube
	}
	s.Pipelines = pipelines.New(s.Meta, pipelines.Config{Endpoint: pc.Endpoint, Region: s.cfg.Region,
		Runner: runner, Kubernetes: kube, Tasks: s.board, Creds: &pipelineCreds{auth: s.Auth}, WorkDir: pc.WorkDir,
		Log: s.cfg.Log.With().Str("component", "pipelines").Logger(), RetryBackoff: pc.RetryBackoff,
		DatumTimeout: datumTimeout(pc.DatumTimeout)})
}

// datumTimeout is PipelineConfig.DatumTimeout with its default applied.
func datumTimeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return pipelines.DefaultDatumTimeout
	case d < 0:
		return 0
	}
	return d
}

// initKubernetes builds the kubernetes runner when configured (it starts
// with Serve).
func (s *Server) initKubernetes() error {
	kc := s.cfg.Pipelines.Kubernetes
	if s.cfg.Pipelines.Disabled || kc == nil || kc.Namespace == "" {
		return nil
	}
	rc := kc.REST
	if rc == nil {
		var err error
		if kc.Kubeconfig != "" {
			rc, err = clientcmd.BuildConfigFromFlags("", kc.Kubeconfig)
		} else {
			rc, err = rest.InClusterConfig()
		}
		if err != nil {
			return fmt.Errorf("kubernetes runner: the API server's config: %w", err)
		}
	}
	cl, err := kclient.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes runner: %w", err)
	}
	s.board = pipelines.NewTaskBoard()
	s.board.SetLease(s.cfg.Pipelines.WorkerLease)
	rcfg := kc.Config
	rcfg.Client, rcfg.Region, rcfg.Board = cl, s.cfg.Region, s.board
	rcfg.Log = s.cfg.Log.With().Str("component", "kubernetes").Logger()
	s.kube, err = k8srunner.New(rcfg)
	return err
}

// startPipelines starts the pipeline service for a gateway listening on
// addr; it stops when ctx ends or the returned func is called (running
// jobs resume at the next start).
//
// The service and the kubernetes runner run under a context of their own
// that only Service.Stop ends, not ctx itself: Stop detaches the kubernetes
// runner before it cancels the running jobs, so that their Jobs keep
// running for the next gateway to re-attach (a Run cancelled without
// Detach deletes its Job, as when a pipeline is deleted).
func (s *Server) startPipelines(ctx context.Context, addr net.Addr) func() {
	if s.Pipelines == nil {
		return func() {}
	}
	endpoint := "http://" + loopbackAddr(addr.String())
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// While starting (the runner waits for its informers, the service
	// resumes jobs), ctx ending ends everything at once, the kubernetes
	// runner detached first.
	starting := context.AfterFunc(ctx, func() {
		if s.kube != nil {
			s.kube.Detach()
		}
		cancel()
	})
	if s.kube != nil {
		if err := s.kube.Start(sctx); err != nil {
			cancel()
			s.cfg.Log.Error().Err(err).Msg("the kubernetes runner did not start: pipelines did not start")
			return func() {}
		}
	}
	if err := s.Pipelines.Start(sctx, endpoint); err != nil {
		s.cfg.Log.Error().Err(err).Msg("pipelines did not start")
	}
	if !starting() { // ctx ended while starting
		s.Pipelines.Stop()
		return func() {}
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			s.Pipelines.Stop()
			cancel()
		})
	}
	unhook := context.AfterFunc(ctx, stop)
	return func() {
		unhook()
		stop()
	}
}

// loopbackAddr turns a wildcard listen address into a loopback one.
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// pipelineWriteCheck refuses S3 writes into a pipeline job's open commits:
// the output commit takes no S3 write at all (the job moves each datum's
// outputs into it once the datum succeeded), the staging commit only its
// pipeline's workers' (user is "" for calls that cannot say who writes,
// which are refused).
func pipelineWriteCheck(r *meta.Ref, user string) error {
	if r == nil || r.Open == nil {
		return nil
	}
	role := r.Open.Meta[pipelines.MetaRole]
	if role == "" {
		return nil
	}
	if role == "staging" && user != "" && user == r.Open.Meta[pipelines.MetaUser] {
		return nil
	}
	return errs.E("gateway.write", errs.ReadOnly, "open commit %s of repo %s belongs to job %s of pipeline %s and is read-only: only the pipeline writes its outputs",
		r.Open.ID, r.Repo.Name, r.Open.Meta[pipelines.MetaJob], strings.SplitN(r.Open.Meta[pipelines.MetaPipeline], "@", 2)[0])
}

// provCache caches provenance records (immutable) for reads of outputs.
type provCache struct {
	mu sync.Mutex
	m  map[string]*meta.ProvRecord
}

func (c *provCache) get(ctx context.Context, ms *meta.Store, id string) (*meta.ProvRecord, error) {
	c.mu.Lock()
	r, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := ms.GetProv(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[string]*meta.ProvRecord{}
	}
	c.m[id] = r
	c.mu.Unlock()
	return r, nil
}

var provRecords provCache

// withProv sets the x-amz-meta-tusk-* metadata of an output from its
// provenance record (SPEC §8); stored user metadata never supplies them.
func (b *Backend) withProv(ctx context.Context, c s3api.Caller, o s3api.Object, e *meta.Entry) s3api.Object {
	if e == nil || e.Prov == "" {
		return o
	}
	rec, err := provRecords.get(ctx, b.Meta, e.Prov)
	if err != nil {
		return o
	}
	user := make(map[string]string, len(o.Meta.User)+4)
	for k, v := range o.Meta.User {
		user[k] = v
	}
	for k, v := range pipelines.ProvMeta(rec, o.Meta.User) {
		user[k] = v
	}
	// A caller who cannot read every input repo gets the count and the
	// record id, not the input keys (as the admin API's prov query).
	for _, in := range rec.Inputs {
		if b.Auth.Allow(ctx, c.User, in.Repo, s3api.ActRead) != nil {
			user["tusk-inputs"] = pipelines.InputsSummary(rec)
			break
		}
	}
	o.Meta.User = user
	return o
}

// withoutTuskMeta drops x-amz-meta-tusk-* from stored user metadata (it
// could only come from a copy of an output): provenance is generated,
// never stored from headers.
func withoutTuskMeta(m map[string]string) map[string]string {
	for k := range m {
		if strings.HasPrefix(k, "tusk-") {
			out := make(map[string]string, len(m))
			for k, v := range m {
				if !strings.HasPrefix(k, "tusk-") {
					out[k] = v
				}
			}
			if len(out) == 0 {
				return nil
			}
			return out
		}
	}
	return m
}

// pipelineReadOnly explains why an open commit takes no S3 write ("" when
// it does): a pipeline job's output commit.
func pipelineReadOnly(r *meta.Ref) string {
	if r.Open == nil || r.Open.Meta[pipelines.MetaRole] != "output" {
		return ""
	}
	return "open commit " + r.Open.ID + " of repo " + r.Repo.Name + " is the output of job " + r.Open.Meta[pipelines.MetaJob] +
		" of pipeline " + strings.SplitN(r.Open.Meta[pipelines.MetaPipeline], "@", 2)[0] + " and is read-only: only the pipeline writes to it"
}
