package test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/minio/crc64nvme"
	minio "github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

const (
	region = "us-east-1"
	// domain is the gateway's virtual-hosting domain. BUCKET.localhost does
	// not resolve here: every client dials the gateway whatever the host.
	domain = "localhost"
)

// env is one running gateway (with Domain set, so that path-style and
// virtual-hosted requests both work) plus an HTTPS front end over the same
// handler, so that aws-sdk-go-v2 sends aws-chunked bodies with trailing
// checksums (it only does over TLS).
type env struct {
	t   *testing.T
	srv *gatewaytest.Server
	// tlsAddr is the HTTPS listener serving the same gateway handler.
	tlsAddr string
	n       atomic.Int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := gatewaytest.Start(t, gateway.Config{Domain: domain})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.StartTLS()
	t.Cleanup(ts.Close) // runs before the gateway's own cleanup (LIFO)
	return &env{t: t, srv: srv, tlsAddr: ts.Listener.Addr().String()}
}

func (e *env) port(tlsPort bool) string {
	addr := e.srv.Addr
	if tlsPort {
		addr = e.tlsAddr
	}
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// transport dials target for any host name (so bucket.localhost reaches the
// gateway) and skips certificate checks for the test TLS listener.
func (e *env) transport(useTLS bool) *http.Transport {
	target := e.srv.Addr
	if useTLS {
		target = e.tlsAddr
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", target)
		},
		MaxIdleConnsPerHost:   64,
		ResponseHeaderTimeout: 30 * time.Second,
		// As the SDK's default transport: honour Expect: 100-continue, so
		// a body the server refuses up front is not sent at all.
		ExpectContinueTimeout: time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
	}
	if useTLS {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// style is how an SDK client addresses buckets and carries bodies.
type style int

const (
	pathHTTP  style = iota // path-style, plain HTTP: signed SHA-256 payload, checksum headers
	pathTLS                // path-style, HTTPS: aws-chunked body with trailing checksum
	vhostHTTP              // virtual-hosted (bucket.localhost:PORT), plain HTTP
	vhostTLS               // virtual-hosted, HTTPS
)

func (s style) String() string {
	return [...]string{"path-http", "path-tls", "vhost-http", "vhost-tls"}[s]
}

var allStyles = []style{pathHTTP, pathTLS, vhostHTTP, vhostTLS}

// sdkWith returns an aws-sdk-go-v2 S3 client with the given credentials.
func (e *env) sdkWith(st style, accessKey, secret string) *s3.Client {
	c, _ := e.sdkRec(st, accessKey, secret)
	return c
}

// sdkRec is sdkWith with a recorder of the requests the client sends.
func (e *env) sdkRec(st style, accessKey, secret string) (*s3.Client, *recorder) {
	rec := &recorder{}
	useTLS := st == pathTLS || st == vhostTLS
	scheme, host := "http", "127.0.0.1"
	if useTLS {
		scheme = "https"
	}
	if st == vhostHTTP || st == vhostTLS {
		host = domain
	}
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(scheme + "://" + host + ":" + e.port(useTLS)),
		UsePathStyle: st == pathHTTP || st == pathTLS,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		HTTPClient:   &http.Client{Transport: rec.wrap(e.transport(useTLS))},
		// Surface every server answer as is: no retries.
		RetryMaxAttempts: 1,
		// The SDK's defaults (what config.LoadDefaultConfig gives): CRC32 on
		// every PutObject, response checksums validated when present.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}), rec
}

// recorder keeps the headers of the requests a client sent.
type recorder struct {
	mu   sync.Mutex
	reqs []http.Header
}

func (r *recorder) wrap(next http.RoundTripper) http.RoundTripper {
	return rtFunc(func(req *http.Request) (*http.Response, error) {
		h := req.Header.Clone()
		h.Set("X-Test-Method", req.Method)
		host := req.Host
		if host == "" {
			host = req.URL.Host
		}
		h.Set("X-Test-Host", host)
		h.Set("X-Test-Path", req.URL.EscapedPath())
		r.mu.Lock()
		r.reqs = append(r.reqs, h)
		r.mu.Unlock()
		return next.RoundTrip(req)
	})
}

// last returns the headers of the last request sent.
func (r *recorder) last() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return http.Header{}
	}
	return r.reqs[len(r.reqs)-1]
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// sdk returns an admin aws-sdk-go-v2 client.
func (e *env) sdk(st style) *s3.Client {
	return e.sdkWith(st, gatewaytest.AccessKey, gatewaytest.SecretKey)
}

// minio returns an admin minio-go client, path-style or DNS (virtual-host)
// lookup, over plain HTTP (streaming SigV4 chunked payloads).
func (e *env) minio(dns bool) *minio.Client {
	host, lookup := "127.0.0.1", minio.BucketLookupPath
	if dns {
		host, lookup = domain, minio.BucketLookupDNS
	}
	c, err := minio.New(host+":"+e.port(false), &minio.Options{
		Creds:        miniocreds.NewStaticV4(gatewaytest.AccessKey, gatewaytest.SecretKey, ""),
		Secure:       false,
		Transport:    e.transport(false),
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   1,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// name returns a fresh valid repo name.
func (e *env) name(prefix string) string {
	return fmt.Sprintf("%s%03d", prefix, e.n.Add(1))
}

// repo creates a fresh repo and returns its name.
func (e *env) repo(t *testing.T) string {
	t.Helper()
	name := e.name("repo")
	if _, err := e.sdk(pathHTTP).CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	return name
}

// tag tags ref of repo as name (there is no S3 call for it: the admin API's
// store is used directly).
func (e *env) tag(t *testing.T, repo, name, ref string) {
	t.Helper()
	if _, err := e.srv.Meta.CreateTag(ctx(t), repo, name, ref); err != nil {
		t.Fatalf("CreateTag %s@%s -> %s: %v", repo, ref, name, err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// ---- object helpers (SDK) ----

type putOpt func(*s3.PutObjectInput)

// put writes key and returns the version id (commit id) answered.
func put(t *testing.T, c *s3.Client, bucket, key string, body []byte, opts ...putOpt) *s3.PutObjectOutput {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	for _, o := range opts {
		o(in)
	}
	out, err := c.PutObject(ctx(t), in)
	if err != nil {
		t.Fatalf("PutObject %s/%q: %v", bucket, key, err)
	}
	if v := aws.ToString(out.VersionId); !isCommitID(v) {
		t.Fatalf("PutObject %s/%q: x-amz-version-id %q is not a commit id", bucket, key, v)
	}
	if got, want := aws.ToString(out.ETag), `"`+md5hex(body)+`"`; got != want {
		t.Fatalf("PutObject %s/%q: ETag %s, want %s (MD5 hex)", bucket, key, got, want)
	}
	return out
}

// get reads key (at versionID when not "") and returns body and output.
func get(t *testing.T, c *s3.Client, bucket, key, versionID string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := c.GetObject(ctx(t), in)
	if err != nil {
		t.Fatalf("GetObject %s/%q version %q: %v", bucket, key, versionID, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%q: reading body: %v", bucket, key, err)
	}
	return b, out
}

// getErr reads key expecting an error and returns it.
func getErr(t *testing.T, c *s3.Client, bucket, key, versionID string) error {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := c.GetObject(ctx(t), in)
	if err == nil {
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		t.Fatalf("GetObject %s/%q version %q succeeded (%d bytes, version %q); want an error",
			bucket, key, versionID, len(b), aws.ToString(out.VersionId))
	}
	return err
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func isCommitID(s string) bool {
	if len(s) < 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ---- errors ----

// apiCode is the S3 error code of an SDK error ("" if none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

func httpStatus(err error) int {
	var he interface{ HTTPStatusCode() int }
	if errors.As(err, &he) {
		return he.HTTPStatusCode()
	}
	return 0
}

func requestID(err error) string {
	var re interface{ ServiceRequestID() string }
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// wantErr asserts that err is an S3 error with status and code (code ""
// for HEAD answers, which have no body) and carries x-amz-request-id.
func wantErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %d %s", status, code)
	}
	if got := httpStatus(err); got != status {
		t.Fatalf("got HTTP status %d (%v), want %d %s", got, err, status, code)
	}
	if code != "" && apiCode(err) != code {
		t.Fatalf("got error code %q (%v), want %s", apiCode(err), err, code)
	}
	if requestID(err) == "" {
		t.Fatalf("error %v carries no x-amz-request-id", err)
	}
}

// wantMinioErr is wantErr for minio-go.
func wantMinioErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %d %s", status, code)
	}
	r := minio.ToErrorResponse(err)
	if r.StatusCode != status || (code != "" && r.Code != code) {
		t.Fatalf("got %d %s (%v), want %d %s", r.StatusCode, r.Code, err, status, code)
	}
	if r.RequestID == "" {
		t.Fatalf("error %v carries no x-amz-request-id", err)
	}
}

// ---- raw signed HTTP ----

// rawReq is a hand-made request, for what SDKs refuse to send.
type rawReq struct {
	method string
	bucket string
	key    string // unescaped; escapeKey'd into the path
	// path, when set, is the exact escaped path sent instead of bucket/key.
	path   string
	query  string // raw query string
	header map[string]string
	body   []byte
	// anon sends no signature at all.
	anon bool
	// accessKey/secret override the admin's.
	accessKey, secret string
	// host is sent as Host (virtual-hosted style), default 127.0.0.1:PORT.
	host string
	// payloadHash overrides the signed x-amz-content-sha256 value.
	payloadHash string
	// signTime overrides the signing time (default now).
	signTime time.Time
}

type rawResp struct {
	status int
	header http.Header
	body   []byte
}

// escapeKey percent-encodes every byte of k but unreserved ones and '/'.
func escapeKey(k string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

func (e *env) do(t *testing.T, r rawReq) rawResp {
	t.Helper()
	p := r.path
	if p == "" {
		p = "/"
		if r.bucket != "" {
			p += r.bucket
			if r.key != "" {
				p += "/" + escapeKey(r.key)
			}
		}
	}
	u := e.srv.URL + p
	if r.query != "" {
		u += "?" + r.query
	}
	req, err := http.NewRequestWithContext(ctx(t), r.method, u, bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("building %s %s: %v", r.method, u, err)
	}
	if r.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if r.host != "" {
		req.Host = r.host
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if !r.anon {
		ak, sk := gatewaytest.AccessKey, gatewaytest.SecretKey
		if r.accessKey != "" {
			ak, sk = r.accessKey, r.secret
		}
		hash := r.payloadHash
		if hash == "" {
			s := sha256.Sum256(r.body)
			hash = hex.EncodeToString(s[:])
		}
		req.Header.Set("X-Amz-Content-Sha256", hash)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		when := r.signTime
		if when.IsZero() {
			when = time.Now()
		}
		if err := signer.SignHTTP(ctx(t), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, hash, "s3", region, when); err != nil {
			t.Fatalf("signing: %v", err)
		}
	}
	cl := &http.Client{Transport: e.transport(false), CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", r.method, u, err)
	}
	return rawResp{status: resp.StatusCode, header: resp.Header, body: body}
}

type errorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	Resource  string   `xml:"Resource"`
}

// wantRawErr asserts an S3 error answer: status, code, and an XML body
// whose RequestId equals the x-amz-request-id header. It returns the doc.
func wantRawErr(t *testing.T, r rawResp, status int, code string) errorDoc {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d %s; body: %s", r.status, status, code, r.body)
	}
	id := r.header.Get("X-Amz-Request-Id")
	if id == "" {
		t.Fatalf("%d answer without x-amz-request-id; body: %s", r.status, r.body)
	}
	var doc errorDoc
	if err := xml.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("error body is not S3 error XML (%v): %q", err, r.body)
	}
	if code != "" && doc.Code != code {
		t.Fatalf("code %q (message %q), want %s", doc.Code, doc.Message, code)
	}
	if doc.RequestID != id {
		t.Fatalf("<RequestId> %q differs from x-amz-request-id %q", doc.RequestID, id)
	}
	return doc
}

// ---- version listings (raw XML: the SDKs split versions and delete
// markers into two lists, losing their order) ----

type verEntry struct {
	Marker       bool // a DeleteMarker entry
	Key          string
	VersionID    string
	IsLatest     bool
	ETag         string
	Size         int64
	LastModified string
}

func (v verEntry) String() string {
	kind := "V"
	if v.Marker {
		kind = "DM"
	}
	l := ""
	if v.IsLatest {
		l = "*"
	}
	return fmt.Sprintf("%s(%q %s%s)", kind, v.Key, short(v.VersionID), l)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

type versionsPage struct {
	Entries             []verEntry
	CommonPrefixes      []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

type versionsXML struct {
	XMLName             xml.Name `xml:"ListVersionsResult"`
	Name                string   `xml:"Name"`
	Prefix              string   `xml:"Prefix"`
	KeyMarker           string   `xml:"KeyMarker"`
	VersionIDMarker     string   `xml:"VersionIdMarker"`
	NextKeyMarker       string   `xml:"NextKeyMarker"`
	NextVersionIDMarker string   `xml:"NextVersionIdMarker"`
	MaxKeys             int      `xml:"MaxKeys"`
	Delimiter           string   `xml:"Delimiter"`
	EncodingType        string   `xml:"EncodingType"`
	IsTruncated         bool     `xml:"IsTruncated"`
	CommonPrefixes      []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
	Entries []struct {
		XMLName      xml.Name
		Key          string `xml:"Key"`
		VersionID    string `xml:"VersionId"`
		IsLatest     bool   `xml:"IsLatest"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		LastModified string `xml:"LastModified"`
	} `xml:",any"`
}

// versionsRaw lists one page of versions of bucket with query parameters q.
func (e *env) versionsRaw(t *testing.T, bucket string, q url.Values) versionsPage {
	t.Helper()
	qs := "versions"
	if enc := q.Encode(); enc != "" {
		qs += "&" + strings.ReplaceAll(enc, "+", "%20")
	}
	r := e.do(t, rawReq{method: "GET", bucket: bucket, query: qs})
	if r.status != 200 {
		t.Fatalf("ListObjectVersions %s?%s: %d %s", bucket, qs, r.status, r.body)
	}
	var x versionsXML
	if err := xml.Unmarshal(r.body, &x); err != nil {
		t.Fatalf("ListObjectVersions %s: bad XML (%v): %s", bucket, err, r.body)
	}
	pg := versionsPage{IsTruncated: x.IsTruncated, NextKeyMarker: x.NextKeyMarker, NextVersionIDMarker: x.NextVersionIDMarker}
	for _, p := range x.CommonPrefixes {
		pg.CommonPrefixes = append(pg.CommonPrefixes, p.Prefix)
	}
	for _, en := range x.Entries {
		switch en.XMLName.Local {
		case "Version", "DeleteMarker":
		default:
			continue
		}
		pg.Entries = append(pg.Entries, verEntry{Marker: en.XMLName.Local == "DeleteMarker", Key: en.Key,
			VersionID: en.VersionID, IsLatest: en.IsLatest, ETag: en.ETag, Size: en.Size, LastModified: en.LastModified})
	}
	return pg
}

// versions lists all versions of bucket (one unpaginated page).
func (e *env) versions(t *testing.T, bucket string) []verEntry {
	t.Helper()
	pg := e.versionsRaw(t, bucket, url.Values{})
	if pg.IsTruncated {
		t.Fatalf("ListObjectVersions %s: truncated at %d entries", bucket, len(pg.Entries))
	}
	return pg.Entries
}

// sameVersions fails unless two version sequences are identical.
func sameVersions(t *testing.T, what string, got, want []verEntry) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: versions changed:\n got  %v\n want %v", what, got, want)
	}
}

// keysOf lists every key at bucket (ListObjectsV2, all pages).
func keysOf(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("ListObjectsV2 %s: %v", bucket, err)
		}
		for _, o := range pg.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func credsFor(ak, sk string) *miniocreds.Credentials { return miniocreds.NewStaticV4(ak, sk, "") }

func lookupOf(dns bool) minio.BucketLookupType {
	if dns {
		return minio.BucketLookupDNS
	}
	return minio.BucketLookupPath
}

// ---- checksums, computed independently of the clients ----

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func crc32b64(b []byte) string {
	return b64(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)))
}

func crc32cb64(b []byte) string {
	return b64(binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))))
}

func crc64nvmeb64(b []byte) string {
	h := crc64nvme.New()
	h.Write(b)
	return b64(h.Sum(nil))
}

func sha1b64(b []byte) string {
	s := sha1.Sum(b)
	return b64(s[:])
}

func sha256b64(b []byte) string {
	s := sha256.Sum256(b)
	return b64(s[:])
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return b64(s[:])
}

func sha256sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
