package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tusk-data/tusk/adminapi"
	"github.com/tusk-data/tusk/s3api"
)

// Request limits (issue 13). Hostile or broken clients must not hold the
// server's resources without bound: a request's headers must arrive within
// ReadHeaderTimeout and fit in MaxHeaderBytes; its body must keep arriving
// (each read waits at most BodyTimeout: a client that sends headers and
// then stalls is cut off, however large its upload); an idle keep-alive
// connection is closed after IdleTimeout; and at most MaxRequests requests
// are served at once, the next ones being refused at once with 503 SlowDown
// and Retry-After, never queued.
const (
	// DefaultMaxRequests bounds requests served at once. On this 2-core
	// machine a request is mostly waiting on disk (fsync) or on its
	// client, not on a core, so the cap is about memory and file
	// descriptors, not CPU: 256 requests, each holding at most a few MiB
	// of buffers and 2-3 descriptors, stay far below 1 GiB and the default
	// 1024-descriptor limit, while more than any client here sends (the
	// SDKs' default pools are 100 connections).
	DefaultMaxRequests = 256
	// DefaultBodyTimeout is how long one read of a request body may wait
	// for bytes (S3 answers a stalled upload RequestTimeout after about 20 s;
	// a minute leaves room for slow links).
	DefaultBodyTimeout = time.Minute
	// DefaultReadHeaderTimeout bounds the arrival of a request's headers.
	DefaultReadHeaderTimeout = 30 * time.Second
	// DefaultIdleTimeout closes keep-alive connections idle this long.
	DefaultIdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's header section (S3 allows 8 KiB of
	// user metadata, presigned URLs and SigV4 headers a few KiB more). A
	// larger one is answered 431 Request Header Fields Too Large by Go's
	// server before any handler runs.
	MaxHeaderBytes = 64 << 10
	// slowDownRetry is the Retry-After of a refused request.
	slowDownRetry = time.Second
)

// limitOf maps a configured limit to the one in force: 0 is the default,
// a negative value turns the limit off (0 in force).
func limitOf[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// limiter caps requests in flight and bounds the wait for body bytes.
type limiter struct {
	slots       chan struct{} // nil: no cap
	bodyTimeout time.Duration // 0: none
	rejected    prometheus.Counter
	// own reports requests to the gateway's own host (not a
	// virtual-hosted bucket's): their /healthz and /metrics are not
	// counted, their admin API calls are answered in JSON.
	own func(*http.Request) bool
}

func newLimiter(maxRequests int, bodyTimeout time.Duration, reg prometheus.Registerer, own func(*http.Request) bool) *limiter {
	l := &limiter{bodyTimeout: bodyTimeout, own: own,
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "tusk_http_requests_rejected_total",
			Help: "Requests refused with 503 SlowDown because --max-requests were being served."})}
	if maxRequests > 0 {
		l.slots = make(chan struct{}, maxRequests)
	}
	reg.MustRegister(l.rejected)
	return l
}

// wrap returns next behind the limits. A refused request's body is never
// read.
func (l *limiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.bodyTimeout > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			// The first byte must come within bodyTimeout too, also when
			// the body is never read (a refused request: net/http then
			// discards up to 256 KiB of it before answering). The request
			// is copied: net/http keeps the original, whose Body it
			// discards from.
			ctl := http.NewResponseController(w)
			if ctl.SetReadDeadline(time.Now().Add(l.bodyTimeout)) == nil {
				r = r.WithContext(r.Context())
				r.Body = &progressBody{rc: r.Body, ctl: ctl, idle: l.bodyTimeout, left: r.ContentLength}
			}
		}
		if l.slots != nil && !l.isOwn(r, "/healthz", "/metrics") {
			select {
			case l.slots <- struct{}{}:
				defer func() { <-l.slots }()
			default:
				l.rejected.Inc()
				if l.isOwn(r, adminapi.Prefix) {
					adminapi.Busy(w, r, slowDownRetry)
				} else {
					s3api.SlowDown(w, r, slowDownRetry)
				}
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// progressBody is a request body each read of which must make progress
// within idle: before each read it sets the connection's read deadline to
// now+idle, and clears it once the body is read to its end (so that the
// server's own wait for the next request, or its check for a closed
// connection, is not cut short). A read that times out fails with S3's
// RequestTimeout, and the deadline stays passed: net/http gives up on the
// rest of the body and closes the connection after the answer.
type progressBody struct {
	rc   io.ReadCloser
	ctl  *http.ResponseController
	idle time.Duration
	left int64 // announced bytes not read yet; -1: unknown (chunked)
	done bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	if b.done {
		return b.rc.Read(p)
	}
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.rc.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.done = true
		return n, s3api.RequestTimeout("gateway.body", b.idle)
	}
	if err != nil || b.left == 0 {
		b.finish()
	}
	return n, err
}

func (b *progressBody) finish() {
	if !b.done {
		b.done = true
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
}

// Close leaves the deadline as it is: a body closed before its end makes
// net/http close the connection (or discard what is left, within the
// deadline); one read to its end has cleared it already.
func (b *progressBody) Close() error {
	b.done = true
	return b.rc.Close()
}

// isOwn reports whether r asks for one of paths (or a path under one
// ending in "/") on the gateway's own host.
func (l *limiter) isOwn(r *http.Request, paths ...string) bool {
	for _, p := range paths {
		if (r.URL.Path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(r.URL.Path, p)) && l.own(r) {
			return true
		}
	}
	return false
}
