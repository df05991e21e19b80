package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	blobs3 "github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/pipelines"
)

type serveOptions struct {
	cfg gateway.Config
	k8s gateway.KubernetesConfig
	// k8s settings as flags give them
	k8sLabels, k8sRequests, k8sLimits, k8sNodes map[string]string
	k8sTolerations                              string
	memoryLimit                                 string // --memory-limit (memlimit.go)
}

// kubernetes turns the --k8s-* flags into the runner's config (nil when
// --k8s-namespace is unset).
func (o *serveOptions) kubernetes() (*gateway.KubernetesConfig, error) {
	if o.k8s.Namespace == "" {
		return nil, nil
	}
	if o.k8s.Image == "" || o.k8s.Gateway == "" {
		return nil, fmt.Errorf("--k8s-namespace needs --k8s-image (the Tusk image) and --k8s-gateway (the URL pods reach this gateway at)")
	}
	k := o.k8s
	k.Labels, k.NodeSelector = o.k8sLabels, o.k8sNodes
	for _, r := range []struct {
		flag string
		in   map[string]string
		out  *pipelines.Resources
	}{{"--k8s-requests", o.k8sRequests, &k.Requests}, {"--k8s-limits", o.k8sLimits, &k.Limits}} {
		for name, v := range r.in {
			switch name {
			case "cpu":
				r.out.CPU = v
			case "memory":
				r.out.Memory = v
			case "disk":
				r.out.Disk = v
			case "gpu":
				r.out.GPU = v
			default:
				return nil, fmt.Errorf("%s: unknown resource %q (use cpu, memory, disk, gpu)", r.flag, name)
			}
		}
	}
	if o.k8sTolerations != "" {
		if err := json.Unmarshal([]byte(o.k8sTolerations), &k.Tolerations); err != nil {
			return nil, fmt.Errorf("--k8s-tolerations: want a JSON list of {key, operator, value, effect}: %v", err)
		}
	}
	return &k, nil
}

// zeroMeansOff maps the flags whose 0 turns a bound off (--min-free,
// --s3-timeout, --pipeline-datum-timeout) to gateway.Config, which reads 0
// as "the default" and a negative value as "off".
func (o *serveOptions) zeroMeansOff() {
	for _, v := range []*time.Duration{&o.cfg.Pipelines.DatumTimeout, &o.cfg.S3.Timeout} {
		if *v <= 0 {
			*v = -1
		}
	}
	if o.cfg.MinFree <= 0 {
		o.cfg.MinFree = -1
	}
	// The request limits (gateway/limits.go): --max-requests,
	// --body-timeout, --read-header-timeout, --idle-timeout.
	for _, v := range []*time.Duration{&o.cfg.BodyTimeout, &o.cfg.ReadHeaderTimeout, &o.cfg.IdleTimeout} {
		if *v <= 0 {
			*v = -1
		}
	}
	if o.cfg.MaxRequests <= 0 {
		o.cfg.MaxRequests = -1
	}
}

func newServeCmd(root *rootOptions) *cobra.Command { return newServeCmdWith(root, &serveOptions{}) }

// newServeCmdWith is newServeCmd setting o from the flags.
func newServeCmdWith(root *rootOptions, o *serveOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (S3 API, metrics and health on one port)",
		Long: `Run the gateway. With no flags it stores metadata and blobs under ./tusk-data
and listens on 127.0.0.1:9000. The admin's keys come from TUSK_ACCESS_KEY and
TUSK_SECRET_KEY; when they are unset at first start, a key pair is generated
and written to DATA_DIR/admin-credentials (mode 0600, shell lines that export
TUSK_* and AWS_* keys); stdout names the file, never the secret.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.cfg.AccessKey = os.Getenv("TUSK_ACCESS_KEY")
			o.cfg.SecretKey = os.Getenv("TUSK_SECRET_KEY")
			if (o.cfg.AccessKey == "") != (o.cfg.SecretKey == "") {
				return usageError{fmt.Errorf("set both TUSK_ACCESS_KEY and TUSK_SECRET_KEY, or neither")}
			}
			if o.cfg.S3.AccessKey == "" {
				o.cfg.S3.AccessKey = os.Getenv("TUSK_S3_ACCESS_KEY")
			}
			if o.cfg.S3.SecretKey == "" {
				o.cfg.S3.SecretKey = os.Getenv("TUSK_S3_SECRET_KEY")
			}
			kc, err := o.kubernetes()
			if err != nil {
				return usageError{err}
			}
			o.cfg.Pipelines.Kubernetes = kc
			o.zeroMeansOff()
			log, err := newLogger(root, cmd.ErrOrStderr())
			if err != nil {
				return usageError{err}
			}
			o.cfg.Log = log
			limit, err := setMemoryLimit(o.memoryLimit)
			if err != nil {
				return usageError{err}
			}
			if limit < math.MaxInt64 {
				log.Info().Str("memory_limit", humanize.IBytes(uint64(limit))).Msg("soft memory limit")
			}
			return runServe(cmd.Context(), o.cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.cfg.Addr, "addr", "127.0.0.1:9000", "address to listen on")
	f.StringVar(&o.cfg.DataDir, "data-dir", "./tusk-data", "directory for metadata, the server key and (disk backend) blobs")
	f.StringVar(&o.cfg.Backend, "backend", "disk", "blob backing store: disk or s3")
	f.StringVar(&o.cfg.Domain, "domain", "", "domain for virtual-hosted-style buckets (BUCKET.DOMAIN)")
	f.StringVar(&o.cfg.Region, "region", "us-east-1", "region reported to clients")
	f.Int64Var(&o.cfg.MinFree, "min-free", gateway.DefaultMinFree, "refuse writes when the disk backend has fewer free bytes (0: no floor)")
	f.IntVar(&o.cfg.MaxRequests, "max-requests", gateway.DefaultMaxRequests, "serve at most this many requests at once; more get 503 SlowDown with Retry-After (0: no cap; /healthz and /metrics are not counted)")
	f.DurationVar(&o.cfg.BodyTimeout, "body-timeout", gateway.DefaultBodyTimeout, "fail an upload whose body sends no byte for this long with 400 RequestTimeout (0: wait for ever)")
	f.DurationVar(&o.cfg.ReadHeaderTimeout, "read-header-timeout", gateway.DefaultReadHeaderTimeout, "close a connection whose request headers take longer (0: wait for ever)")
	f.DurationVar(&o.cfg.IdleTimeout, "idle-timeout", gateway.DefaultIdleTimeout, "close a keep-alive connection idle this long (0: never)")
	f.StringVar(&o.cfg.S3.Endpoint, "s3-endpoint", "", "s3 backend: endpoint (host:port or URL)")
	f.StringVar(&o.cfg.S3.Bucket, "s3-bucket", "", "s3 backend: bucket")
	f.StringVar(&o.cfg.S3.Prefix, "s3-prefix", "", "s3 backend: key prefix")
	f.StringVar(&o.cfg.S3.Region, "s3-region", "", "s3 backend: region")
	f.BoolVar(&o.cfg.S3.UseTLS, "s3-tls", false, "s3 backend: use https")
	f.BoolVar(&o.cfg.S3.InsecureSkipVerify, "s3-insecure", false, "s3 backend: skip TLS verification")
	f.StringVar(&o.cfg.S3.AccessKey, "s3-access-key", "", "s3 backend: access key (or TUSK_S3_ACCESS_KEY)")
	f.StringVar(&o.cfg.S3.SecretKey, "s3-secret-key", "", "s3 backend: secret key (or TUSK_S3_SECRET_KEY)")
	f.DurationVar(&o.cfg.S3.Timeout, "s3-timeout", blobs3.DefaultTimeout, "s3 backend: fail a call that makes no progress this long with 503 (0: wait for ever)")
	f.StringVar(&o.cfg.ServerKeyFile, "server-key-file", "", "file holding the 32-byte key that encrypts secrets at rest (default DATA_DIR/server.key, generated with mode 0600)")
	f.DurationVar(&o.cfg.GCInterval, "gc-interval", time.Hour, "run garbage collection this often (negative: never)")
	f.DurationVar(&o.cfg.GCRetention, "gc-retention", 7*24*time.Hour, "keep commits that no ref reaches this long")
	f.BoolVar(&o.cfg.Pipelines.Disabled, "no-pipelines", false, "run no pipelines on this gateway")
	f.StringVar(&o.cfg.Pipelines.WorkDir, "pipeline-work-dir", "", "where workers stage datums (default: the system temp dir)")
	f.DurationVar(&o.cfg.Pipelines.WorkerLease, "pipeline-worker-lease", pipelines.DefaultLease, "how long a worker (local or pod) runs on without hearing from the gateway before it kills its command and exits")
	f.StringVar(&o.cfg.Pipelines.Endpoint, "pipeline-endpoint", "", "S3 endpoint workers use (default: this gateway's address)")
	f.DurationVar(&o.cfg.Pipelines.RetryBackoff, "pipeline-retry-backoff", pipelines.DefaultRetryBackoff, "wait before a failed job's first automatic retry (doubles per attempt, up to 5m)")
	f.DurationVar(&o.cfg.Pipelines.DatumTimeout, "pipeline-datum-timeout", pipelines.DefaultDatumTimeout, "bound one try of a datum whose pipeline spec sets no datum_timeout (0: no bound)")
	f.StringVar(&o.k8s.Namespace, "k8s-namespace", "", "run pipelines with runner kubernetes as Jobs in this namespace (docs/kubernetes.md)")
	f.StringVar(&o.k8s.Kubeconfig, "k8s-kubeconfig", "", "kubeconfig of the API server (default: the in-cluster config)")
	f.StringVar(&o.k8s.Image, "k8s-image", "", "the Tusk image, whose /tusk the worker pods copy in")
	f.StringVar(&o.k8s.Gateway, "k8s-gateway", "", "the URL worker pods reach this gateway at (e.g. http://tusk.tusk.svc:9000)")
	f.StringVar(&o.k8s.ServiceAccount, "k8s-service-account", "", "service account of the worker pods")
	f.StringSliceVar(&o.k8s.ImagePullSecrets, "k8s-image-pull-secret", nil, "image pull secret of the worker pods (repeatable)")
	f.StringToStringVar(&o.k8sLabels, "k8s-labels", nil, "labels added to the Jobs and pods (k=v,...)")
	f.StringToStringVar(&o.k8sRequests, "k8s-requests", nil, "default resource requests of worker pods (cpu=100m,memory=128Mi,disk=,gpu=)")
	f.StringToStringVar(&o.k8sLimits, "k8s-limits", nil, "default resource limits of worker pods")
	f.StringToStringVar(&o.k8sNodes, "k8s-node-selector", nil, "node selector of worker pods (k=v,...)")
	f.StringVar(&o.k8sTolerations, "k8s-tolerations", "", `tolerations of worker pods, JSON ([{"key":"gpu","operator":"Exists","effect":"NoSchedule"}])`)
	f.DurationVar(&o.k8s.TTL, "k8s-job-ttl", 10*time.Minute, "how long finished Jobs stay")
	f.DurationVar(&o.cfg.UploadTTL, "upload-ttl", 7*24*time.Hour, "abort multipart uploads left in flight this long")
	f.DurationVar(&o.cfg.AuditRetention, "audit-retention", gateway.DefaultAuditRetention, "GC deletes audit log entries older than this (negative: never)")
	f.StringVar(&o.memoryLimit, "memory-limit", "", "soft limit of the gateway's memory (Go's GOMEMLIMIT): a size such as 512MiB, or off (default: GOMEMLIMIT if set, else 192MiB)")
	f.StringSliceVar(&o.cfg.ImportRoots, "import-root", nil, "a directory of this host that admin users may import files from (tusk import; repeatable; none: no import)")
	f.DurationVar(&o.cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for in-flight requests")
	f.DurationVar(&o.cfg.MetaMirrorInterval, "meta-mirror-interval", gateway.DefaultMetaMirrorInterval, "copy changed metadata to the backing store this often, for tusk restore --from-backend (negative: no mirror)")
	return cmd
}

func newLogger(root *rootOptions, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(root.logLevel)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("bad --log-level %q", root.logLevel)
	}
	console := root.logFormat == "console"
	if root.logFormat == "auto" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			console = true
		}
	} else if root.logFormat != "json" && root.logFormat != "console" {
		return zerolog.Logger{}, fmt.Errorf("bad --log-format %q: use json, console or auto", root.logFormat)
	}
	if console {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// runServe starts the gateway and serves until ctx is cancelled (SIGINT,
// SIGTERM), then drains in-flight requests.
func runServe(ctx context.Context, cfg gateway.Config, out io.Writer) error {
	if cfg.Version == "" {
		cfg.Version = version
	}
	srv, err := gateway.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if srv.AdminKeyID != "" {
		// The secret itself stays out of stdout, which log capture keeps.
		fmt.Fprintf(out, "Created admin user %s. Its keys are in %s (mode 0600); load them with:\n  . %s\n",
			srv.AdminKeyID, srv.AdminCredentialsFile, srv.AdminCredentialsFile)
	}
	minFree := srv.Config().MinFree // the floor in force (0: none)
	if minFree < 0 || srv.Config().Backend != "disk" {
		minFree = 0
	}
	cfg.Log.Info().Str("addr", ln.Addr().String()).Str("data_dir", cfg.DataDir).Str("backend", cfg.Backend).
		Int64("min_free", minFree).Msg("tusk listening")
	err = srv.Serve(ctx, ln)
	cfg.Log.Info().Msg("tusk stopped")
	return err
}
