package s3

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
)

// Config says where the driver stores keys.
type Config struct {
	// Endpoint is "host:port", or a URL "http://host:port" or
	// "https://host:port" whose scheme then decides TLS (UseTLS is ignored).
	Endpoint string
	// Bucket holds the keys; Open creates it when absent.
	Bucket string
	// Prefix is prepended to every key, so several stores can share a
	// bucket. "" or a prefix ending with "/" (one is added when missing).
	Prefix string
	// Region of the bucket; "" lets the client discover it.
	Region string
	// AccessKey and SecretKey sign requests (SigV4); both empty means
	// anonymous requests.
	AccessKey, SecretKey string
	// UseTLS selects https.
	UseTLS bool
	// InsecureSkipVerify disables TLS certificate checks (test servers with
	// self-signed certificates only).
	InsecureSkipVerify bool
	// PartSize is the multipart part size in bytes: 0 means DefaultPartSize;
	// otherwise between 5 MiB and 5 GiB. A Put of unknown size holds at most
	// three parts in memory, and can store at most 10000 parts.
	PartSize int64
	// Timeout bounds how long a call to the service may make no progress
	// (no byte sent or received, no answer; stall.go): past it the call
	// fails errs.Transient (503 to S3 clients) instead of waiting on a
	// frozen service for ever. 0 means DefaultTimeout; negative: no bound.
	Timeout time.Duration
}

// DefaultPartSize is the part size used when Config.PartSize is 0.
const DefaultPartSize = 16 << 20

const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10000
	// maxCopySize is the largest object CopyObject copies in one request;
	// larger ones are copied part by part (ComposeObject).
	maxCopySize = 5 << 30
	// uploadThreads is how many parts of one multipart upload are in flight
	// (and buffered) at once.
	uploadThreads = 2
	// maxRetries bounds the client's attempts at a failed request (minio-go's
	// MaxRetries counts every attempt, the first included), so an
	// unreachable server is reported (errs.Transient) within seconds.
	maxRetries = 3
)

// Driver is a blob.Driver over an S3-compatible service. It is safe for
// concurrent use.
type Driver struct {
	c        *minio.Client
	tr       interface{ CloseIdleConnections() }
	bucket   string
	prefix   string
	partSize int64
	peekBufs sync.Pool // *[]byte of partSize, for Puts of unknown size
}

var _ blob.Driver = (*Driver)(nil)

// Open connects to cfg.Endpoint, checks that cfg.Bucket exists and creates it
// when it does not. Errors: errs.Invalid for a bad Config; errs.Transient
// when the server cannot be reached; errs.Permission when the credentials
// are refused; otherwise the classified server error.
func Open(ctx context.Context, cfg Config) (*Driver, error) {
	const op = "blob/s3.Open"
	host, secure := cfg.Endpoint, cfg.UseTLS
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, errs.E(op, errs.Invalid, "endpoint %q is not host:port or http(s)://host:port", cfg.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	if host == "" {
		return nil, errs.E(op, errs.Invalid, "no endpoint")
	}
	if cfg.Bucket == "" {
		return nil, errs.E(op, errs.Invalid, "no bucket")
	}
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if err := blob.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < minPartSize || partSize > maxPartSize {
		return nil, errs.E(op, errs.Invalid, "part size %d is outside [%d, %d]", partSize, minPartSize, maxPartSize)
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, errs.Wrap(op, errs.Internal, err)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout > 0 {
		bound(tr, timeout)
	}
	if cfg.InsecureSkipVerify {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	c, err := minio.New(host, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     secure,
		Transport:  tr,
		Region:     cfg.Region,
		MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, errs.E(op, errs.Invalid, "endpoint %q: %v", cfg.Endpoint, err)
	}
	d := &Driver{c: c, tr: tr, bucket: cfg.Bucket, prefix: prefix, partSize: partSize}
	d.peekBufs.New = func() any { b := make([]byte, partSize); return &b }

	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, classify(op, err)
	}
	if !ok {
		err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			tr.CloseIdleConnections()
			return nil, classify(op, err)
		}
	}
	return d, nil
}

// objectName validates key and returns its object name in the bucket.
func (d *Driver) objectName(key string) (string, error) {
	if err := blob.CheckKey(key); err != nil {
		return "", err
	}
	return d.prefix + key, nil
}

// classify turns a minio-go or network error into an errs kind, once, at the
// edge.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) && errs.KindOf(err) != errs.Other {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &errs.Error{Op: op, Msg: "interrupted", Err: err}
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.Code != "" || er.StatusCode != 0) {
		k := kindOfCode(er.Code, er.StatusCode)
		ce := &errs.Error{Op: op, Kind: k, Err: err}
		if k == errs.Invalid {
			ce.Reason = reasonOfCode(er.Code)
		}
		return ce
	}
	if errors.Is(err, os.ErrDeadlineExceeded) { // a stalled connection (stall.go)
		return &errs.Error{Op: op, Kind: errs.Transient, Msg: "object store made no progress within the timeout (frozen or overloaded)", Err: err}
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &errs.Error{Op: op, Kind: errs.Transient, Msg: "object store unreachable", Err: err}
	}
	return &errs.Error{Op: op, Kind: errs.Internal, Err: err}
}

// reasonOfCode is the errs.Reason of an Invalid answer of the object
// store, for the codes that say what was wrong with the bytes Tusk sent;
// other codes (a bucket name, XML) are the store's business and keep none.
func reasonOfCode(code string) errs.Reason {
	switch code {
	case "IncompleteBody":
		return errs.IncompleteBody
	case "BadDigest", "InvalidDigest":
		return errs.Digest
	case "InvalidRange":
		return errs.Range
	case "InvalidPart", "InvalidPartOrder":
		return errs.Part
	case "InvalidArgument":
		return errs.Argument
	}
	return errs.NoReason
}

func kindOfCode(code string, status int) errs.Kind {
	switch code {
	case "NoSuchKey", "NotFound", "NoSuchVersion", "NoSuchUpload":
		return errs.NotExist
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
		"AccountProblem", "InvalidToken", "ExpiredToken", "InvalidSecurity", "BucketAlreadyExists",
		"XAdminUserNotFound": // versitygw: unknown access key (HTTP 404)
		return errs.Permission
	case "InvalidRange", "InvalidArgument", "InvalidRequest", "KeyTooLongError", "InvalidBucketName",
		"IncompleteBody", "BadDigest", "InvalidDigest", "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML":
		return errs.Invalid
	case "EntityTooLarge":
		return errs.TooLarge
	case "XMinioStorageFull", "QuotaExceeded", "XMinioAdminBucketQuotaExceeded":
		return errs.NoSpace
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "OperationAborted",
		"XMinioServerNotInitialized", "RequestTimeTooSkewed", "503 SlowDown":
		return errs.Transient
	case "NoSuchBucket":
		// The configured bucket vanished: nothing a retry fixes.
		return errs.Internal
	}
	switch {
	case status == 404:
		return errs.NotExist
	case status == 403 || status == 401:
		return errs.Permission
	case status == 416 || status == 400:
		return errs.Invalid
	case status >= 500:
		return errs.Transient
	}
	return errs.Internal
}

var (
	errTooLong  = errors.New("body is longer than its declared size")
	errTooShort = errors.New("body is shorter than its declared size")
)

// guard reads the caller's stream for minio-go. It enforces a known size
// (minio-go stops reading at the declared size, so the byte after it is
// probed as soon as the size is reached) and remembers the stream's own
// error so Put can report it rather than the HTTP failure it causes.
type guard struct {
	r    io.Reader
	left int64 // bytes still expected, -1 when unknown
	eof  bool
	err  error
}

func (g *guard) fail(err error) error {
	if g.err == nil {
		g.err = err
	}
	return g.err
}

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.eof {
		return 0, io.EOF
	}
	if g.left < 0 {
		n, err := g.r.Read(p)
		if err == io.EOF {
			g.eof = true
		} else if err != nil {
			return n, g.fail(err)
		}
		return n, err
	}
	if g.left == 0 {
		return 0, g.probe()
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, err := g.r.Read(p)
	g.left -= int64(n)
	switch {
	case err == io.EOF && g.left > 0:
		return n, g.fail(errTooShort)
	case err != nil && err != io.EOF:
		return n, g.fail(err)
	case g.left == 0:
		if err := g.probe(); err != io.EOF {
			return n, err
		}
		return n, io.EOF
	}
	return n, nil
}

// probe checks that the stream ends here: io.EOF if so.
func (g *guard) probe() error {
	if g.eof {
		return io.EOF
	}
	var one [1]byte
	for {
		n, err := g.r.Read(one[:])
		if n > 0 {
			return g.fail(errTooLong)
		}
		if err == io.EOF {
			g.eof = true
			return io.EOF
		}
		if err != nil {
			return g.fail(err)
		}
	}
}

var errFenced = errors.New("blob/s3: body read after Put returned")

// fence wraps the body handed to minio-go. net/http writes a request body
// from its own goroutine, which can still be reading after the request
// failed and PutObject returned; after close, such reads fail without
// touching the caller's reader (or the pooled peek buffer), so Put never
// uses r after it returns.
type fence struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

// seekFence is a fence over a seekable body, so minio-go can still retry it.
type seekFence struct {
	*fence
	s io.Seeker
}

// newFence returns the reader to hand over and the fence to close.
func newFence(r io.Reader) (io.Reader, *fence) {
	f := &fence{r: r}
	if s, ok := r.(io.Seeker); ok {
		return seekFence{f, s}, f
	}
	return f, f
}

func (f *fence) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errFenced
	}
	return f.r.Read(p)
}

func (f *fence) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

func (f seekFence) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, errFenced
	}
	return f.s.Seek(off, whence)
}

// Put implements blob.Driver. A known size up to PartSize is sent in one
// streamed PUT; larger or unknown sizes use a multipart upload with
// uploadThreads parts in flight (an unknown-size stream that ends within
// the first part is sent as one PUT). At most three parts are buffered, and
// r is never read after Put returns. S3
// makes the object visible only when complete, so a failed Put leaves the key
// as it was (a failed multipart upload is aborted; if even the abort fails,
// the orphaned parts are invisible and a bucket lifecycle rule
// AbortIncompleteMultipartUpload reclaims them). Errors: errs.Invalid for a
// bad key or a body whose length differs from size (Code "IncompleteBody");
// r's error, wrapped, when r fails; otherwise the classified server error.
func (d *Driver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	const op = "blob/s3.Put"
	name, err := d.objectName(key)
	if err != nil {
		return err
	}
	if size < -1 {
		return errs.E(op, errs.Invalid, "negative size %d", size)
	}
	if err := ctx.Err(); err != nil {
		return classify(op, err)
	}
	g := &guard{r: r, left: size}
	body := io.Reader(g)
	partSize := d.partSize
	switch {
	case size == 0:
		// minio-go may not read an empty body at all: check it ends now.
		if err := g.probe(); err != io.EOF {
			return d.readErr(op, g, err)
		}
		body = bytes.NewReader(nil)
	case size < 0:
		bp := d.peekBufs.Get().(*[]byte)
		defer d.peekBufs.Put(bp)
		n, err := io.ReadFull(g, *bp)
		switch err {
		case io.EOF, io.ErrUnexpectedEOF:
			// The whole stream fits in one part: a plain PUT of known size,
			// retryable because bytes.Reader seeks.
			body, size = bytes.NewReader((*bp)[:n]), int64(n)
		case nil:
			body = io.MultiReader(bytes.NewReader(*bp), g)
		default:
			return d.readErr(op, g, err)
		}
		if err := ctx.Err(); err != nil {
			return classify(op, err)
		}
	case size > partSize*maxParts:
		// Grow parts (in whole MiB) so that maxParts of them hold size.
		partSize = ((size+maxParts-1)/maxParts + 1<<20 - 1) &^ (1<<20 - 1)
		if partSize > maxPartSize {
			return errs.E(op, errs.TooLarge, "object of %d bytes is too large for S3 multipart upload", size)
		}
	}
	fenced, f := newFence(body)
	defer f.close()
	_, err = d.c.PutObject(ctx, d.bucket, name, fenced, size, minio.PutObjectOptions{
		ContentType:           "application/octet-stream",
		PartSize:              uint64(partSize),
		NumThreads:            uploadThreads,
		ConcurrentStreamParts: true,
	})
	f.close() // from here on, nothing reads r or the peek buffer
	if err != nil {
		return d.readErr(op, g, err)
	}
	if g.err != nil {
		return d.readErr(op, g, g.err)
	}
	return nil
}

// readErr reports a failed upload: the stream's own failure when there was
// one, else the classified client error.
func (d *Driver) readErr(op string, g *guard, err error) error {
	switch g.err {
	case nil:
		return classify(op, err)
	case errTooLong, errTooShort:
		return errs.E(op, errs.Invalid, "%v", g.err).Because(errs.IncompleteBody)
	default:
		return &errs.Error{Op: op, Msg: "reading body", Err: g.err}
	}
}

// Get implements blob.Driver with a ranged GET; the request is made before
// Get returns, so a missing key is reported here and not at the first Read.
// A length reaching past the end is cut at the end. Errors: errs.Invalid
// for a bad key, off < 0 or past the end, or length < -1; errs.NotExist when
// absent; otherwise the classified server error. Errors while reading the
// stream are classified too (a dropped connection is errs.Transient).
func (d *Driver) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	const op = "blob/s3.Get"
	name, err := d.objectName(key)
	if err != nil {
		return nil, err
	}
	if off < 0 || length < -1 {
		return nil, errs.E(op, errs.Invalid, "bad range: offset %d, length %d", off, length)
	}
	if length == 0 {
		return d.emptyAt(ctx, op, key, off)
	}
	var opts minio.GetObjectOptions
	switch {
	case length > 0:
		err = opts.SetRange(off, off+length-1)
	case off > 0:
		err = opts.SetRange(off, 0)
	}
	if err != nil {
		return nil, classify(op, err)
	}
	obj, err := d.c.GetObject(ctx, d.bucket, name, opts)
	if err != nil {
		return nil, classify(op, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "InvalidRange" || minio.ToErrorResponse(err).StatusCode == 416 {
			// S3 refuses any range starting at the end; Tusk reads it as
			// empty, like the disk driver.
			return d.emptyAt(ctx, op, key, off)
		}
		return nil, classify(op, err)
	}
	return &objReader{obj: obj}, nil
}

// emptyAt returns an empty reader if off is within or at the end of key.
func (d *Driver) emptyAt(ctx context.Context, op, key string, off int64) (io.ReadCloser, error) {
	a, err := d.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if off > a.Size {
		return nil, errs.E(op, errs.Invalid, "offset %d is past the end of %q (%d bytes)", off, key, a.Size).Because(errs.Range)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// objReader classifies errors met while streaming an object.
type objReader struct{ obj *minio.Object }

func (r *objReader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && err != io.EOF {
		err = classify("blob/s3.Get", err)
	}
	return n, err
}

func (r *objReader) Close() error { return r.obj.Close() }

// Stat implements blob.Driver with a HEAD request: errs.Invalid for a bad
// key, errs.NotExist when absent.
func (d *Driver) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	const op = "blob/s3.Stat"
	name, err := d.objectName(key)
	if err != nil {
		return blob.Attrs{}, err
	}
	oi, err := d.c.StatObject(ctx, d.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return blob.Attrs{}, classify(op, err)
	}
	return blob.Attrs{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete implements blob.Driver. An absent key is not an error.
func (d *Driver) Delete(ctx context.Context, key string) error {
	const op = "blob/s3.Delete"
	name, err := d.objectName(key)
	if err != nil {
		return err
	}
	err = classify(op, d.c.RemoveObject(ctx, d.bucket, name, minio.RemoveObjectOptions{}))
	if errs.Is(err, errs.NotExist) {
		return nil
	}
	return err
}

// Move implements blob.Driver with a server-side copy (CopyObject, or a
// part-by-part ComposeObject above 5 GiB) followed by a delete of src. dst
// is replaced atomically (it is either its old value or a complete copy);
// if the delete of src fails, the error is returned and src stays. Errors:
// errs.Invalid for bad keys, errs.NotExist when src is absent.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	const op = "blob/s3.Move"
	sn, err := d.objectName(src)
	if err != nil {
		return err
	}
	dn, err := d.objectName(dst)
	if err != nil {
		return err
	}
	oi, err := d.c.StatObject(ctx, d.bucket, sn, minio.StatObjectOptions{})
	if err != nil {
		return classify(op, err)
	}
	if sn == dn {
		return nil
	}
	from := minio.CopySrcOptions{Bucket: d.bucket, Object: sn}
	to := minio.CopyDestOptions{Bucket: d.bucket, Object: dn}
	if oi.Size <= maxCopySize {
		_, err = d.c.CopyObject(ctx, to, from)
	} else {
		_, err = d.c.ComposeObject(ctx, to, from)
	}
	if err != nil {
		return classify(op, err)
	}
	if err := d.c.RemoveObject(ctx, d.bucket, sn, minio.RemoveObjectOptions{}); err != nil {
		if err := classify(op, err); !errs.Is(err, errs.NotExist) {
			return err
		}
	}
	return nil
}

// List implements blob.Driver with a recursive ListObjectsV2. Objects whose
// names are not valid keys (directory markers "x/", objects written by other
// tools) are skipped. Errors: errs.Invalid for a bad prefix, fn's error
// unchanged, or the classified listing error.
func (d *Driver) List(ctx context.Context, prefix string, fn func(blob.Attrs) error) error {
	const op = "blob/s3.List"
	if err := blob.CheckPrefix(prefix); err != nil {
		return err
	}
	for oi := range d.c.ListObjectsIter(ctx, d.bucket, minio.ListObjectsOptions{Prefix: d.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return classify(op, oi.Err)
		}
		key, ok := strings.CutPrefix(oi.Key, d.prefix)
		if !ok || blob.CheckKey(key) != nil {
			continue
		}
		if err := fn(blob.Attrs{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return classify(op, ctx.Err())
}

// Close implements blob.Driver: it closes idle connections.
func (d *Driver) Close() error {
	d.tr.CloseIdleConnections()
	return nil
}
