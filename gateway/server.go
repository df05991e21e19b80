package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/adminapi"
	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	blobs3 "github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/console"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/pipelines"
	k8srunner "github.com/tusk-data/tusk/pipelines/kubernetes"
	"github.com/tusk-data/tusk/s3api"
	"github.com/tusk-data/tusk/s3api/sigv4"
)

// Config configures a gateway. Zero values take the embedded defaults.
type Config struct {
	Addr    string // listen address (default 127.0.0.1:9000)
	DataDir string // Badger metadata, server key and (disk backend) blobs (default ./tusk-data)
	// Backend is "disk" (default: DataDir/blobs) or "s3" (S3 settings).
	Backend string
	S3      blobs3.Config
	// Domain enables virtual-hosted-style buckets (BUCKET.Domain).
	Domain string
	Region string
	// AccessKey/SecretKey are the admin's keys (TUSK_ACCESS_KEY /
	// TUSK_SECRET_KEY). When empty at first start (no admin user yet), a
	// key pair is generated and written to AdminCredentialsFile.
	AccessKey, SecretKey string
	// AdminCredentialsFile receives generated admin keys, mode 0600, as
	// shell lines (export TUSK_ACCESS_KEY=...; default
	// DataDir/admin-credentials). Never written when keys are given.
	AdminCredentialsFile string
	// ServerKeyFile holds the key that encrypts secrets at rest (default
	// DataDir/server.key, generated with mode 0600).
	ServerKeyFile string
	// MinFree is the free-space floor for the disk backend in bytes: 0 takes
	// the default (256 MiB), a negative value turns the floor off.
	MinFree int64
	Log     zerolog.Logger
	// Test hooks: called after each metadata sync and each blob fsync.
	OnMetaSync func()
	OnBlobSync func(path string, dir bool)
	// MetaNow, when set, is the metadata engine's clock (tests age records
	// with it).
	MetaNow func() time.Time
	// ShutdownTimeout bounds the drain of in-flight requests (default 30s).
	ShutdownTimeout time.Duration
	// GCInterval runs garbage collection periodically while serving
	// (default 1h; negative disables). GCRetention keeps unreachable commits
	// this long (default 7 days).
	GCInterval  time.Duration
	GCRetention time.Duration
	UploadTTL   time.Duration // GC aborts multipart uploads in flight this long (default 7 days; negative: never)
	// AuditRetention: GC deletes audit log entries older than this
	// (default 90 days; negative: never).
	AuditRetention time.Duration
	// Pipelines configures the pipelines the gateway runs (pipelines.go).
	Pipelines PipelineConfig
	// Version is the server's version, reported by GET /api/v1/version
	// (default "dev"); tusk serve sets its build version.
	Version string
	// ImportRoots are the directories of this host that admin users may
	// import files from (POST /api/v1/repos/{repo}/import, import.go);
	// none: importing is refused.
	ImportRoots []string
	// Request limits (limits.go): 0 takes the default, a negative value
	// turns the limit off. MaxRequests caps requests served at once (503
	// SlowDown beyond; /healthz and /metrics not counted); BodyTimeout
	// bounds each wait for request body bytes (400 RequestTimeout);
	// ReadHeaderTimeout and IdleTimeout are the http.Server's.
	MaxRequests       int
	BodyTimeout       time.Duration
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// MetaMirrorInterval is how often the metadata mirror copies what
	// changed to the backing store (mirror.go; default 10s, negative: no
	// mirror).
	MetaMirrorInterval time.Duration
}

// DefaultMinFree is the disk backend's free-space floor when Config.MinFree
// is 0.
const DefaultMinFree = 256 << 20

// Server is a running gateway's state.
type Server struct {
	cfg     Config
	Meta    *meta.Store
	Blobs   *blob.Store
	Auth    *auth.Auth
	Backend *Backend
	handler http.Handler
	reg     *prometheus.Registry
	// AdminKeyID/AdminSecret are set when the admin key was generated now;
	// it was then written to AdminCredentialsFile.
	AdminKeyID, AdminSecret string
	AdminCredentialsFile    string
	ready                   atomic.Bool

	// Pipelines runs pipelines (nil when disabled); it starts with Serve.
	Pipelines *pipelines.Service
	kube      *k8srunner.Runner // the kubernetes runner (nil: none)
	board     *pipelines.TaskBoard
	mirror    *metaMirror // mirror.go (nil: none)
}

// New opens the stores and builds the handler. Close releases them.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9000"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "tusk-data"
	}
	if cfg.Backend == "" {
		cfg.Backend = "disk"
	}
	if cfg.MinFree == 0 {
		cfg.MinFree = DefaultMinFree
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.ServerKeyFile == "" {
		cfg.ServerKeyFile = filepath.Join(cfg.DataDir, "server.key")
	}
	if cfg.AdminCredentialsFile == "" {
		cfg.AdminCredentialsFile = filepath.Join(cfg.DataDir, AdminCredentialsName)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	var drv blob.Driver
	switch cfg.Backend {
	case "disk":
		d, err := disk.Open(filepath.Join(cfg.DataDir, "blobs"), disk.Options{MinFree: cfg.MinFree, OnSync: cfg.OnBlobSync})
		if err != nil {
			return nil, err
		}
		drv = d
	case "s3":
		d, err := blobs3.Open(ctx, cfg.S3)
		if err != nil {
			return nil, err
		}
		drv = d
	default:
		return nil, fmt.Errorf("unknown backend %q: use disk or s3", cfg.Backend)
	}
	ms, err := meta.Open(filepath.Join(cfg.DataDir, "meta"), meta.Options{OnSync: cfg.OnMetaSync, Now: cfg.MetaNow,
		WriteGate: metaWriteGate(filepath.Join(cfg.DataDir, "meta"), metaReserve(cfg.MinFree))}) // space.go
	if err != nil {
		drv.Close()
		return nil, err
	}
	key, err := auth.LoadServerKey(cfg.ServerKeyFile)
	if err != nil {
		ms.Close()
		drv.Close()
		return nil, fmt.Errorf("server key: %w", err)
	}
	au, err := auth.NewAuth(ms, key)
	if err != nil {
		ms.Close()
		drv.Close()
		return nil, err
	}
	ak, sk, generated, err := adminKeys(ctx, au, cfg)
	if err == nil {
		_, _, _, err = au.Bootstrap(ctx, ak, sk)
	}
	if err != nil {
		ms.Close()
		drv.Close()
		return nil, fmt.Errorf("admin user: %w", err)
	}
	s := &Server{cfg: cfg, Meta: ms, Blobs: blob.New(drv), Auth: au}
	if generated {
		s.AdminKeyID, s.AdminSecret, s.AdminCredentialsFile = ak, sk, cfg.AdminCredentialsFile
	}
	s.Backend = &Backend{Meta: ms, Blobs: s.Blobs, Auth: au}
	if err := s.initMirror(key, drv); err != nil { // mirror.go
		ms.Close()
		drv.Close()
		return nil, err
	}
	if err := s.initKubernetes(); err != nil {
		ms.Close()
		drv.Close()
		return nil, err
	}
	s.initPipelines()
	s.handler = s.buildHandler()
	s.ready.Store(true)
	return s, nil
}

// Config is the configuration the server runs with, defaults applied
// (MinFree < 0: no free-space floor).
func (s *Server) Config() Config { return s.cfg }

func (s *Server) buildHandler() http.Handler {
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tusk_http_requests_total",
		Help: "HTTP requests by method and status code."}, []string{"method", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tusk_http_request_duration_seconds",
		Help: "HTTP request latency.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"method"})
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tusk_http_in_flight_requests", Help: "Requests being served."})
	s.reg.MustRegister(reqs, dur, inflight)
	s.reg.MustRegister(newUploadCollector(s)) // uploadmetrics.go: multipart uploads in flight, by age
	s.registerMirrorMetrics()                 // mirror.go
	if s.Pipelines != nil {
		// Jobs by state, datums processed/skipped/failed, datum durations,
		// queue depth (pipelines/metrics.go).
		s.reg.MustRegister(s.Pipelines.Collector())
	}

	// The web console (/ui/): its session authenticates S3 and admin API
	// requests that carry no signature (console package doc).
	ui := console.New(console.Config{Creds: s.Auth, Log: s.cfg.Log})
	s3h := s3api.New(s3api.Config{Backend: s.Backend, Auth: s.Auth,
		Verifier: ui.Verifier(&sigv4.Verifier{Creds: s.Auth}), Domain: s.cfg.Domain, Region: s.cfg.Region, Log: s.cfg.Log})
	adm := adminapi.New(adminapi.Deps{Meta: s.Meta, Auth: s.Auth, Backend: s.Backend, Pipelines: s.Pipelines,
		Ops: adminOps{s}, Log: s.cfg.Log, Version: s.cfg.Version, Session: ui.Session})

	// One router: /metrics, /healthz and the admin API on the gateway's own
	// host (not on a virtual-hosted bucket's), everything else is S3. Paths
	// are not cleaned: S3 keys may hold "//" and "..".
	router := mux.NewRouter().SkipClean(true)
	own := func(r *http.Request, _ *mux.RouteMatch) bool {
		return s.cfg.Domain == "" || r.Host == s.cfg.Domain || !hasSuffixHost(r.Host, s.cfg.Domain)
	}
	router.Path("/metrics").MatcherFunc(own).Handler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	router.Path("/healthz").MatcherFunc(own).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	router.PathPrefix(adminapi.Prefix).MatcherFunc(own).Handler(adm)
	// "ui" is no repo name (3-63 characters): /ui/ never names a bucket.
	router.Path("/ui").MatcherFunc(own).Handler(ui)
	router.PathPrefix(console.Prefix).MatcherFunc(own).Handler(ui)
	router.NotFoundHandler = s3h
	router.MethodNotAllowedHandler = s3h
	protected := ui.Protect(router)
	lim := newLimiter(limitOf(s.cfg.MaxRequests, DefaultMaxRequests), limitOf(s.cfg.BodyTimeout, DefaultBodyTimeout), s.reg,
		func(r *http.Request) bool { return own(r, nil) })
	limited := lim.wrap(protected)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Go's server sends "100 Continue" only when a handler reads a
		// non-empty body. botocore (aws CLI, boto3) waits for it even on
		// empty PUTs and misreads the pooled connection when the final status
		// comes first, so answer it explicitly.
		if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
			w.WriteHeader(http.StatusContinue)
		}
		inflight.Inc()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		defer func() {
			inflight.Dec()
			reqs.WithLabelValues(r.Method, strconv.Itoa(sw.code)).Inc()
			dur.WithLabelValues(r.Method).Observe(time.Since(start).Seconds())
		}()
		limited.ServeHTTP(sw, r)
	})
}

// adminOps gives the admin API the server operations it triggers.
type adminOps struct{ s *Server }

var _ adminapi.Ops = adminOps{}

func (o adminOps) Purge(ctx context.Context, p adminapi.Purge) (*apiv1.PurgeReport, error) {
	rep, err := o.s.Purge(ctx, PurgeOptions{Content: p.Content, Repo: p.Repo, All: p.All, Block: p.Block, Named: p.Named, User: p.User})
	if err == nil {
		o.s.mirrorAfterPurge(ctx) // mirror.go
	}
	return rep, err
}

func (o adminOps) GC(ctx context.Context, dryRun bool, retention time.Duration) (*apiv1.GCResult, error) {
	return o.s.GC(ctx, GCOptions{DryRun: dryRun, Retention: retention})
}

func hasSuffixHost(host, domain string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return len(host) > len(domain) && host[len(host)-len(domain)-1:] == "."+domain
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler returns the gateway's HTTP handler (S3, the admin API under
// /api/v1/, /metrics, /healthz).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until ctx is done, then stops accepting, drains
// in-flight requests (up to ShutdownTimeout) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: limitOf(s.cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		MaxHeaderBytes: MaxHeaderBytes, IdleTimeout: limitOf(s.cfg.IdleTimeout, DefaultIdleTimeout)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	gcDone := make(chan struct{})
	gcCtx, gcStop := context.WithCancel(ctx)
	go func() {
		defer close(gcDone)
		s.gcLoop(gcCtx)
	}()
	defer func() { gcStop(); <-gcDone }()
	defer s.startMirror(ctx)() // mirror.go: its last step runs after the drain and the pipelines' stop
	defer s.startPipelines(ctx, ln.Addr())()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

func (s *Server) gcLoop(ctx context.Context) {
	iv := s.cfg.GCInterval
	if iv == 0 {
		iv = time.Hour
	}
	if iv < 0 {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.GC(ctx, GCOptions{Retention: s.cfg.GCRetention}); err != nil && ctx.Err() == nil {
				s.cfg.Log.Error().Err(err).Msg("periodic gc failed")
			}
		}
	}
}

// Close closes the stores.
func (s *Server) Close() error {
	err := s.Meta.Close()
	if e := s.Blobs.Driver().Close(); err == nil {
		err = e
	}
	return err
}
