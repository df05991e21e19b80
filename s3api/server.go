package s3api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
	"github.com/tusk-data/tusk/s3api/sigv4"
)

// Config configures the S3 handler.
type Config struct {
	// Backend is the versioned store (required).
	Backend Backend
	// Auth answers permission questions (required). Its Secret method is
	// what the Verifier is usually built on.
	Auth Auth
	// Verifier authenticates every request (required; *sigv4.Verifier).
	Verifier Verifier
	// Domain enables virtual-hosted-style requests: a Host of
	// BUCKET.Domain names BUCKET. "" = path style only.
	Domain string
	// Region is answered by GetBucketLocation and HeadBucket
	// ("us-east-1" when empty).
	Region string
	// Log receives one line per request (zerolog's zero value: no logging).
	Log zerolog.Logger
	// RequestID makes the id returned as x-amz-request-id and logged with
	// the request; a random 16-hex-digit id when nil.
	RequestID func() string
}

// Limits on hostile input. A header section over maxHeaderSection is
// refused here with S3's 400 RequestHeaderSectionTooLarge; the
// http.Server's MaxHeaderBytes (the gateway sets it; net/http's default
// is 1 MiB) refuses larger ones before any handler runs (431).
const (
	// maxHeaderSection is S3's limit on a request's headers (8 KB), counted
	// as the bytes of "Name: value\r\n" lines.
	maxHeaderSection = 8 << 10
	// MaxObjectSize is the largest single PutObject (5 GiB, as S3).
	MaxObjectSize = 5 << 30
	// maxDeleteBody bounds a DeleteObjects request body: 1000 keys of 1024
	// bytes with XML escaping fit easily.
	maxDeleteBody = 4 << 20
	// maxConfigBody bounds small configuration bodies (CreateBucket,
	// PutBucketVersioning).
	maxConfigBody = 64 << 10
	// maxDeleteKeys is S3's limit of keys in one DeleteObjects.
	maxDeleteKeys = 1000
	// maxUserMeta is S3's limit on the size of user metadata (keys + values).
	maxUserMeta = 2 << 10
)

type server struct {
	cfg    Config
	router *mux.Router
}

// New returns the S3 protocol handler. It panics when Backend, Auth or
// Verifier is nil: those are wiring bugs, not run-time conditions.
//
// Contract: every response carries x-amz-request-id; every error is S3
// error XML (no body for HEAD and 304) with the status of the one error
// table in errors.go; every request is authenticated by cfg.Verifier before
// anything else is looked at, and the body is read only through the
// Verifier's result.
func New(cfg Config) http.Handler {
	if cfg.Backend == nil || cfg.Auth == nil || cfg.Verifier == nil {
		panic("s3api.New: Backend, Auth and Verifier are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.RequestID == nil {
		cfg.RequestID = randomID
	}
	s := &server{cfg: cfg}
	s.router = s.routes()
	return s
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// reqCtx is the per-request state handlers share.
type reqCtx struct {
	id    string
	start time.Time
	addr  address
	auth  *sigv4.Result
	user  string // "" = anonymous
	// body is the payload to read (auth.Body, never r.Body).
	body io.Reader

	errCode string // for the log
	err     error
}

func (rc *reqCtx) anonymous() bool { return rc.auth == nil || rc.auth.Anonymous }

// trailers is the source of the request's trailing headers for a
// checksummer: the verifier's, nil without one.
func (rc *reqCtx) trailers() func() http.Header {
	if rc.auth == nil {
		return nil
	}
	return rc.auth.Trailer
}

// owner is the Owner shown in listings and ACLs: the requesting user.
func (rc *reqCtx) owner() ownerXML {
	u := rc.user
	if u == "" {
		u = "anonymous"
	}
	return ownerXML{ID: u, DisplayName: u}
}

// caller is who the request's Backend calls act for.
func (rc *reqCtx) caller() Caller { return Caller{User: rc.user} }

type ctxKey struct{}

func ctxOf(r *http.Request) *reqCtx {
	rc, _ := r.Context().Value(ctxKey{}).(*reqCtx)
	return rc
}

// statusWriter records what was written, for the log and for deciding
// whether an error can still be reported as XML.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := &reqCtx{id: s.cfg.RequestID(), start: time.Now()}
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("X-Amz-Request-Id", rc.id)
	defer s.logRequest(r, rc, sw)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			rc.err = fmt.Errorf("panic: %v", p)
			if sw.status == 0 {
				writeError(sw, r, rc, errs.E("s3api", errs.Internal, "panic: %v", p))
				return
			}
			panic(http.ErrAbortHandler)
		}
	}()

	if n := headerSection(r.Header); n > maxHeaderSection {
		writeError(sw, r, rc, s3err("RequestHeaderSectionTooLarge", "the request's headers are %d bytes, above the limit of %d", n, maxHeaderSection))
		return
	}
	addr, err := parseAddress(r, s.cfg.Domain)
	rc.addr = addr
	if err != nil {
		writeError(sw, r, rc, err)
		return
	}
	res, err := s.cfg.Verifier.Verify(r)
	if err == nil && res == nil {
		err = errs.E("s3api", errs.Internal, "the verifier answered no result")
	}
	if err != nil {
		if errs.KindOf(err) == errs.Other {
			err = errs.Wrap("s3api.verify", errs.Internal, err)
		}
		writeError(sw, r, rc, err)
		return
	}
	rc.auth = res
	if !res.Anonymous {
		rc.user = res.User
	}
	rc.body = res.Body
	if rc.body == nil {
		rc.body = http.NoBody
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc))
	s.router.ServeHTTP(sw, r)
}

// headerSection is the size of h as header lines: "Name: value\r\n" each.
func headerSection(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (s *server) logRequest(r *http.Request, rc *reqCtx, sw *statusWriter) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	lvl := zerolog.InfoLevel
	if status >= 500 {
		lvl = zerolog.ErrorLevel
	}
	ev := s.cfg.Log.WithLevel(lvl)
	if ev == nil {
		return
	}
	ev = ev.Str("request_id", rc.id).
		Str("method", r.Method).
		Str("bucket", rc.addr.Bucket).
		Str("key", rc.addr.Key).
		Str("user", rc.user).
		Int("status", status).
		Int64("bytes", sw.bytes).
		Dur("took", time.Since(rc.start))
	if rc.errCode != "" {
		ev = ev.Str("code", rc.errCode)
	}
	if rc.err != nil {
		ev = ev.Err(rc.err)
	}
	ev.Msg("s3")
}

// handlerFunc is an S3 operation. It returns an error instead of writing
// one; the error is encoded by writeError unless the response has started,
// in which case the connection is aborted so the client sees a truncated
// answer rather than a silently short one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error

func (s *server) h(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := ctxOf(r)
		err := fn(w, r, rc)
		if err == nil {
			return
		}
		if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
			rc.err = err
			panic(http.ErrAbortHandler)
		}
		writeError(w, r, rc, err)
	})
}

// level is what a request addresses.
type level int

const (
	lvService level = iota
	lvBucket
	lvObject
)

func levelOf(a address) level {
	switch {
	case a.Bucket == "":
		return lvService
	case a.Key == "":
		return lvBucket
	}
	return lvObject
}

func atLevel(lv level) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		rc := ctxOf(r)
		return rc != nil && levelOf(rc.addr) == lv
	}
}

// hasQuery matches requests whose query names key (with or without value).
func hasQuery(key string) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		_, ok := r.URL.Query()[key]
		return ok
	}
}

// subResources are the S3 query keys that turn a request into another
// operation than the plain GET/PUT/DELETE/POST of a bucket or object. A
// request naming one is never served as the plain operation: it is routed
// to its handler or answered NotImplemented.
var subResources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "attributes": true,
	"cors": true, "delete": true, "encryption": true, "intelligent-tiering": true,
	"inventory": true, "legal-hold": true, "lifecycle": true, "location": true,
	"logging": true, "metadataConfiguration": true, "metadataTable": true,
	"metrics": true, "notification": true, "object-lock": true,
	"ownershipControls": true, "policy": true, "policyStatus": true,
	"publicAccessBlock": true, "renameObject": true, "replication": true,
	"requestPayment": true, "restore": true, "retention": true, "select": true,
	"select-type": true, "session": true, "tagging": true, "torrent": true,
	"uploadId": true, "uploads": true, "versioning": true, "versions": true,
	"website": true,
}

// anySubResource matches requests naming any sub-resource.
func anySubResource(r *http.Request, _ *mux.RouteMatch) bool {
	for k := range r.URL.Query() {
		if subResources[k] {
			return true
		}
	}
	return false
}

func noSubResource(r *http.Request, m *mux.RouteMatch) bool { return !anySubResource(r, m) }

// routes builds the dispatch table. The address was parsed before routing
// (path or virtual-hosted style); the router dispatches on level, method
// and sub-resource, most specific first, with a catch-all at each level.
// Multipart upload routes (?uploads, ?uploadId; multipart.go) come before
// the NotImplemented catch-alls.
func (s *server) routes() *mux.Router {
	m := mux.NewRouter().SkipClean(true).UseEncodedPath()
	m.NotFoundHandler = s.h(methodNotAllowed)
	m.MethodNotAllowedHandler = s.h(methodNotAllowed)

	svc := m.MatcherFunc(atLevel(lvService)).Subrouter()
	svc.Methods(http.MethodGet).MatcherFunc(noSubResource).Handler(s.h(s.listBuckets))
	svc.NewRoute().Handler(s.h(methodNotAllowed))

	bk := m.MatcherFunc(atLevel(lvBucket)).Subrouter()
	get := func(sub string, fn handlerFunc) {
		bk.Methods(http.MethodGet).MatcherFunc(hasQuery(sub)).Handler(s.h(fn))
	}
	get("location", s.getBucketLocation)
	get("versioning", s.getBucketVersioning)
	get("versions", s.listObjectVersions)
	get("acl", s.getBucketACL)
	get("uploads", s.listMultipartUploads)
	for sub, answer := range notConfigured {
		get(sub, s.notConfiguredProbe(answer))
	}
	bk.Methods(http.MethodPut).MatcherFunc(hasQuery("versioning")).Handler(s.h(s.putBucketVersioning))
	bk.Methods(http.MethodPut).MatcherFunc(hasQuery("acl")).Handler(s.h(s.putBucketACL))
	bk.Methods(http.MethodPost).MatcherFunc(hasQuery("delete")).Handler(s.h(s.deleteObjects))
	for _, sub := range deletableConfigs {
		bk.Methods(http.MethodDelete).MatcherFunc(hasQuery(sub)).Handler(s.h(s.deleteNothingConfigured))
	}
	bk.MatcherFunc(anySubResource).Handler(s.h(notImplementedSub))
	bk.Methods(http.MethodGet).Handler(s.h(s.listObjects))
	bk.Methods(http.MethodHead).Handler(s.h(s.headBucket))
	bk.Methods(http.MethodPut).Handler(s.h(s.createBucket))
	bk.Methods(http.MethodDelete).Handler(s.h(s.deleteBucket))
	bk.Methods(http.MethodPost).Handler(s.h(notImplementedPost))
	bk.NewRoute().Handler(s.h(methodNotAllowed))

	ob := m.MatcherFunc(atLevel(lvObject)).Subrouter()
	ob.Methods(http.MethodGet).MatcherFunc(hasQuery("acl")).Handler(s.h(s.getObjectACL))
	ob.Methods(http.MethodGet).MatcherFunc(hasQuery("tagging")).Handler(s.h(s.getObjectTagging))
	ob.Methods(http.MethodGet).MatcherFunc(hasQuery("attributes")).Handler(s.h(s.getObjectAttributes))
	ob.Methods(http.MethodPost).MatcherFunc(hasQuery("uploads")).Handler(s.h(s.createMultipartUpload))
	ob.Methods(http.MethodPost).MatcherFunc(hasQuery("uploadId")).Handler(s.h(s.completeMultipartUpload))
	ob.Methods(http.MethodPut).MatcherFunc(hasQuery("uploadId")).Handler(s.h(s.uploadPart))
	ob.Methods(http.MethodDelete).MatcherFunc(hasQuery("uploadId")).Handler(s.h(s.abortMultipartUpload))
	ob.Methods(http.MethodGet).MatcherFunc(hasQuery("uploadId")).Handler(s.h(s.listParts))
	ob.MatcherFunc(anySubResource).Handler(s.h(notImplementedSub))
	ob.Methods(http.MethodGet).Handler(s.h(s.getObject))
	ob.Methods(http.MethodHead).Handler(s.h(s.getObject))
	ob.Methods(http.MethodPut).Handler(s.h(s.putOrCopyObject))
	ob.Methods(http.MethodDelete).Handler(s.h(s.deleteObject))
	ob.NewRoute().Handler(s.h(methodNotAllowed))
	return m
}

func methodNotAllowed(_ http.ResponseWriter, r *http.Request, _ *reqCtx) error {
	return s3err("MethodNotAllowed", "the method %s is not allowed against this resource", r.Method)
}

func notImplementedSub(_ http.ResponseWriter, r *http.Request, _ *reqCtx) error {
	var names []string
	for k := range r.URL.Query() {
		if subResources[k] {
			names = append(names, "?"+k)
		}
	}
	return s3err("NotImplemented", "%s %s is not implemented by Tusk", r.Method, strings.Join(names, " "))
}

func notImplementedPost(_ http.ResponseWriter, _ *http.Request, _ *reqCtx) error {
	return s3err("NotImplemented", "POST object (browser-based upload) is not implemented by Tusk")
}

// allow checks that the requester may perform act on repo. Anonymous
// requests may only read, and only what Auth allows the anonymous user
// (public-read repos).
func (s *server) allow(ctx context.Context, rc *reqCtx, repo string, act Action) error {
	if rc.anonymous() && act != ActRead {
		return s3err("AccessDenied", "anonymous requests may only read public repos")
	}
	if err := s.cfg.Auth.Allow(ctx, rc.user, repo, act); err != nil {
		if errs.KindOf(err) == errs.Other {
			return errs.Wrap("s3api.allow", errs.Internal, err)
		}
		return err
	}
	return nil
}

// objectBucket is an object request's preamble: its key, checked, and
// its bucket (s.bucket with act).
func (s *server) objectBucket(ctx context.Context, rc *reqCtx, act Action) (string, Bucket, error) {
	key := rc.addr.Key
	if err := ValidKey(key); err != nil {
		return "", Bucket{}, err
	}
	b, err := s.bucket(ctx, rc, act)
	return key, b, err
}

// bucket resolves the request's bucket and checks act on its repo
// (authorize). For writes it refuses read-only refs (tags, commits,
// pipeline outputs) with AccessDenied naming the ref before any body is
// read.
func (s *server) bucket(ctx context.Context, rc *reqCtx, act Action) (Bucket, error) {
	b, err := s.authorize(ctx, rc, rc.addr.Bucket, act)
	if err != nil {
		return Bucket{}, err
	}
	if act == ActWrite && !b.Writable {
		msg := b.ReadOnly
		if msg == "" {
			msg = fmt.Sprintf("%s is read-only", rc.addr.Bucket)
		}
		return Bucket{}, s3err("AccessDenied", "%s", msg)
	}
	return b, nil
}

// authorize resolves bucket name for act: it checks act on the name's repo
// BEFORE resolving the ref, so that a caller without act learns nothing of
// the repo's branches, tags and commits (dev.R, v1.R and <commit>.R answer
// AccessDenied whether they exist or not). Only the repo's existence shows,
// as a bucket's does on S3: a caller without act on a repo that does not
// exist gets NoSuchBucket. A name that is not a bucket name is
// InvalidBucketName first.
func (s *server) authorize(ctx context.Context, rc *reqCtx, name string, act Action) (Bucket, error) {
	_, repo, err := splitBucket(name, false)
	if err != nil {
		return Bucket{}, err
	}
	if aerr := s.allow(ctx, rc, repo, act); aerr != nil {
		if errs.KindOf(aerr) != errs.Permission {
			return Bucket{}, aerr
		}
		if _, rerr := s.resolve(ctx, repo); errs.KindOf(rerr) == errs.NotExist {
			return Bucket{}, rerr // no such repo: NoSuchBucket, as for anyone
		}
		return Bucket{}, aerr
	}
	return s.resolve(ctx, name)
}

// resolve splits and resolves an S3 bucket name; an unknown repo or ref is
// NoSuchBucket. Bucket.Repo is always set. It checks no access: callers
// that answer a requester use authorize.
func (s *server) resolve(ctx context.Context, name string) (Bucket, error) {
	ref, repo, err := splitBucket(name, false)
	if err != nil {
		return Bucket{}, err
	}
	b, err := s.cfg.Backend.Resolve(ctx, repo, ref)
	if err != nil {
		return Bucket{}, noSuchBucket(name, ref, err)
	}
	if b.Repo == "" {
		b.Repo = repo
	}
	if b.Name == "" {
		b.Name = name
	}
	return b, nil
}

// noSuchBucket classifies a NotExist from resolving or creating a bucket as
// NoSuchBucket; for a dotted name (REF.REPO) the message says how the name
// was read, so that a plain S3 bucket name with dots is not a mystery.
func noSuchBucket(name, ref string, err error) error {
	if errs.KindOf(err) != errs.NotExist {
		return err
	}
	if code := codeOf(err); code != "" && code != "NoSuchBucket" {
		return err
	}
	if ref == "" {
		return s3code.Wrap("s3api.resolve", errs.NotExist, "NoSuchBucket", "", err)
	}
	return s3code.New("s3api.resolve", errs.NotExist, "NoSuchBucket", "bucket %s: %s; %s", name, messageOf(err), dottedNames)
}
