package soak

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

// Mix is the relative weight of each operation a client picks.
type Mix struct {
	Put, Get, GetVersion, List, Delete, DeleteObjects, Multipart, Copy int
}

// SoakMix is the soak's default mix.
var SoakMix = Mix{Put: 30, Get: 15, GetVersion: 15, List: 8, Delete: 8, DeleteObjects: 5, Multipart: 1, Copy: 8}

// KillMix is the kill loop's: writes of every kind, a few reads.
var KillMix = Mix{Put: 50, Get: 4, GetVersion: 4, List: 2, Delete: 8, DeleteObjects: 8, Multipart: 3, Copy: 8}

// minPart is S3's smallest part but the last.
const minPart = 5 << 20

// NewClient returns an aws-sdk-go-v2 S3 client for url (path-style, no
// retries: a request either got its answer or it did not).
func NewClient(url string) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}},
	})
}

// stats counts operations by kind and errors by kind and code.
type stats struct {
	mu     sync.Mutex
	ops    map[string]int64
	errors map[string]int64
}

func newStats() *stats { return &stats{ops: map[string]int64{}, errors: map[string]int64{}} }

func (s *stats) op(kind string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.ops[kind]++
		return
	}
	s.errors[kind+" "+errCode(err)]++
}

// load is a set of clients running a mix against one server.
type load struct {
	m   *Model
	c   *s3.Client
	mc  *minio.Client // when set, every other client runs PUT, GET, LIST and multipart through minio-go
	st  *stats
	mix Mix
	// gate: each operation holds it for reading; a quiescent check takes
	// it for writing.
	gate *sync.RWMutex
	// maxSize bounds single PUT bodies.
	maxSize int
	// okErr says which errors the mode expects (none in the soak, cut
	// connections in the kill loop, 503s in the outage test); any other
	// error of any operation is a violation.
	okErr func(error) bool
}

// run runs n clients until stop is set, then waits for them.
func (l *load) run(ctx context.Context, n int, seed uint64, stop *atomic.Bool) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.client(ctx, rand.New(rand.NewPCG(seed, uint64(i))), stop, l.mc != nil && i%2 == 1)
		}()
	}
	wg.Wait()
}

// client runs operations picked by the mix on branches taking writes until
// stop is set; with mn, PUT, GET, LIST and multipart go through minio-go.
// Each operation holds the gate and its branch for reading.
func (l *load) client(ctx context.Context, rng *rand.Rand, stop *atomic.Bool, mn bool) {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	content := rand.NewChaCha8(seed)
	mix := l.mix
	total := mix.Put + mix.Get + mix.GetVersion + mix.List + mix.Delete + mix.DeleteObjects + mix.Multipart + mix.Copy
	for !stop.Load() && ctx.Err() == nil {
		l.gate.RLock()
		b := l.m.pick(rng)
		if b == nil {
			l.gate.RUnlock()
			time.Sleep(10 * time.Millisecond) // no branch takes writes for a moment
			continue
		}
		b.mu.RLock()
		if !b.frozen {
			n := rng.IntN(total)
			switch {
			case n < mix.Put:
				l.put(ctx, b, rng, content, mn)
			case n < mix.Put+mix.Get:
				l.get(ctx, b, rng, mn)
			case n < mix.Put+mix.Get+mix.GetVersion:
				l.getVersion(ctx, b, rng, mn)
			case n < mix.Put+mix.Get+mix.GetVersion+mix.List:
				l.list(ctx, b, rng, mn)
			case n < mix.Put+mix.Get+mix.GetVersion+mix.List+mix.Delete:
				l.delete(ctx, b, rng)
			case n < mix.Put+mix.Get+mix.GetVersion+mix.List+mix.Delete+mix.DeleteObjects:
				l.deleteObjects(ctx, b, rng)
			case n < mix.Put+mix.Get+mix.GetVersion+mix.List+mix.Delete+mix.DeleteObjects+mix.Multipart:
				l.multipart(ctx, b, rng, content, mn)
			default:
				l.copy(ctx, b, rng, content)
			}
		}
		b.mu.RUnlock()
		l.gate.RUnlock()
	}
}

// size picks a PUT body size: mostly small, some large.
func (l *load) size(rng *rand.Rand) int {
	switch r := rng.IntN(100); {
	case r < 2:
		return rng.IntN(l.maxSize + 1)
	case r < 20:
		return rng.IntN(min(l.maxSize, 256<<10) + 1)
	default:
		return rng.IntN(16<<10 + 1)
	}
}

func (l *load) put(ctx context.Context, b *Branch, rng *rand.Rand, content *rand.ChaCha8, mn bool) {
	key := b.keys[rng.IntN(len(b.keys))]
	body, sha := makePayload(content, key, l.size(rng))
	if mn {
		l.minioPut(ctx, b, key, body, sha, "put")
		return
	}
	w := l.m.begin(b, "put", key, false, sha, int64(len(body)))
	out, err := l.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	var v string
	if err == nil {
		v = aws.ToString(out.VersionId)
		if e, want := strings.Trim(aws.ToString(out.ETag), `"`), md5hex(body); e != want {
			l.m.violation("PROTOCOL", "PutObject %s on %s: ETag %s, want the body's MD5 %s", key, b.Name, e, want)
		}
	}
	l.m.end(w, v, err)
	l.done("put", "PutObject "+key+" on "+b.Name, err)
}

func (l *load) multipart(ctx context.Context, b *Branch, rng *rand.Rand, content *rand.ChaCha8, mn bool) {
	key := b.keys[rng.IntN(len(b.keys))]
	body, sha := makePayload(content, key, minPart+rng.IntN(64<<10))
	if mn {
		l.minioPut(ctx, b, key, body, sha, "multipart")
		return
	}
	err := func() error {
		cr, err := l.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b.Bucket), Key: aws.String(key)})
		if err != nil {
			return err
		}
		var parts []types.CompletedPart
		for i, p := range [][]byte{body[:minPart], body[minPart:]} {
			out, err := l.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b.Bucket), Key: aws.String(key), UploadId: cr.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ContentLength: aws.Int64(int64(len(p)))})
			if err != nil {
				return err
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		}
		// The object can become visible only from here: the write starts now.
		w := l.m.begin(b, "multipart", key, false, sha, int64(len(body)))
		out, err := l.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b.Bucket), Key: aws.String(key),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		var v string
		if err == nil {
			v = aws.ToString(out.VersionId)
		}
		l.m.end(w, v, err)
		return err
	}()
	l.done("multipart", "multipart upload of "+key+" on "+b.Name, err)
}

func (l *load) copy(ctx context.Context, b *Branch, rng *rand.Rand, content *rand.ChaCha8) {
	src := l.m.randomPut(b, rng)
	if src == nil {
		l.put(ctx, b, rng, content, false)
		return
	}
	key := b.keys[rng.IntN(len(b.keys))]
	w := l.m.begin(b, "copy", key, false, src.sha, src.size)
	out, err := l.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(key),
		CopySource: aws.String(b.Bucket + "/" + url.PathEscape(src.key) + "?versionId=" + src.version)})
	var v string
	if err == nil {
		v = aws.ToString(out.VersionId)
	}
	l.m.end(w, v, err)
	l.done("copy", "CopyObject "+src.key+" -> "+key+" on "+b.Name, err)
}

func (l *load) delete(ctx context.Context, b *Branch, rng *rand.Rand) {
	key := b.keys[rng.IntN(len(b.keys))]
	w := l.m.begin(b, "delete", key, true, "", 0)
	out, err := l.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(key)})
	var v string
	if err == nil {
		v = aws.ToString(out.VersionId)
		if !aws.ToBool(out.DeleteMarker) {
			l.m.violation("PROTOCOL", "DeleteObject %s on %s: no x-amz-delete-marker", key, b.Name)
		}
	}
	l.m.end(w, v, err)
	l.done("delete", "DeleteObject "+key+" on "+b.Name, err)
}

// deleteObjects deletes 2-5 keys in one request (one commit).
func (l *load) deleteObjects(ctx context.Context, b *Branch, rng *rand.Rand) {
	n := 2 + rng.IntN(4)
	perm := rng.Perm(len(b.keys))[:n]
	ws := map[string]*write{}
	var ids []types.ObjectIdentifier
	for _, i := range perm {
		key := b.keys[i]
		ws[key] = l.m.begin(b, "deletes", key, true, "", 0)
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(key)})
	}
	out, err := l.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b.Bucket), Delete: &types.Delete{Objects: ids}})
	if err != nil {
		for _, w := range ws {
			l.m.end(w, "", err)
		}
		l.done("deleteobjects", "DeleteObjects on "+b.Name, err)
		return
	}
	var version string
	for _, d := range out.Deleted {
		w := ws[aws.ToString(d.Key)]
		if w == nil {
			l.m.violation("PROTOCOL", "DeleteObjects on %s answered for key %q it was not asked", b.Name, aws.ToString(d.Key))
			continue
		}
		v := aws.ToString(d.DeleteMarkerVersionId)
		if version != "" && v != version {
			l.m.violation("PROTOCOL", "DeleteObjects on %s: two commits %s and %s for one request", b.Name, version, v)
		}
		version = v
		delete(ws, aws.ToString(d.Key))
		l.m.end(w, v, nil)
	}
	for _, e := range out.Errors {
		l.m.violation("ERROR", "DeleteObjects on %s: key %s: %s %s", b.Name, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
	}
	for k, w := range ws {
		l.m.violation("PROTOCOL", "DeleteObjects on %s: no answer for key %s", b.Name, k)
		l.m.end(w, "", fmt.Errorf("no answer"))
	}
	l.done("deleteobjects", "", nil)
}

// get reads the current version of a key: it must be a whole payload sent
// for that key (any, since writes run concurrently).
func (l *load) get(ctx context.Context, b *Branch, rng *rand.Rand, mn bool) {
	key := b.keys[rng.IntN(len(b.keys))]
	if mn {
		v, body, err := l.minioGet(ctx, b, key, "")
		if err == nil && body != nil {
			l.checkCurrent(b, key, v, body)
		}
		l.done("get", "minio GetObject "+key+" on "+b.Name, err)
		return
	}
	out, err := l.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(key)})
	if err != nil {
		if errCode(err) == "NoSuchKey" {
			err = nil
		}
		l.done("get", "GetObject "+key+" on "+b.Name, err)
		return
	}
	body, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		l.done("get", "GetObject "+key+" on "+b.Name+" (body)", err)
		return
	}
	l.checkCurrent(b, key, aws.ToString(out.VersionId), body)
	l.done("get", "", nil)
}

// checkCurrent checks a current version read under load: whole, and bytes
// some write of the key sent.
func (l *load) checkCurrent(b *Branch, key, version string, body []byte) {
	if why := checkPayload(body); why != "" {
		l.m.violation("CORRUPT", "GetObject %s on %s (version %s): %s", key, b.Name, version, why)
	} else if !l.m.knownSHA(key, sha256hex(body)) {
		l.m.violation("PHANTOM", "GetObject %s on %s (version %s): bytes no write of this key sent", key, b.Name, version)
	}
}

// getVersion reads an acknowledged version byte-exact.
func (l *load) getVersion(ctx context.Context, b *Branch, rng *rand.Rand, mn bool) {
	w := l.m.randomPut(b, rng)
	if w == nil {
		l.get(ctx, b, rng, mn)
		return
	}
	if mn {
		v, body, err := l.minioGet(ctx, b, w.key, w.version)
		switch c := errCode(err); {
		case c == "NoSuchVersion" || c == "NoSuchKey":
			l.m.violation("LOST", "minio GetObject %s?versionId=%s on %s (acknowledged %s): %v", w.key, w.version, b.Name, w.op, err)
			err = nil
		case err == nil && (v != w.version || sha256hex(body) != w.sha):
			l.m.violation("CORRUPT", "minio GetObject %s?versionId=%s on %s: version %s, %d bytes that are not the acknowledged %s's (%d bytes)",
				w.key, w.version, b.Name, v, len(body), w.op, w.size)
		}
		l.done("getversion", "minio GetObject "+w.key+" version "+w.version+" on "+b.Name, err)
		return
	}
	out, err := l.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(w.key), VersionId: aws.String(w.version)})
	if err != nil {
		if c := errCode(err); c == "NoSuchVersion" || c == "NoSuchKey" {
			l.m.violation("LOST", "GetObject %s?versionId=%s on %s (acknowledged %s): %v", w.key, w.version, b.Name, w.op, err)
			err = nil
		}
		l.done("getversion", "GetObject "+w.key+" version "+w.version+" on "+b.Name, err)
		return
	}
	body, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err == nil && sha256hex(body) != w.sha {
		l.m.violation("CORRUPT", "GetObject %s?versionId=%s on %s: %d bytes that are not the acknowledged %s's (%d bytes)",
			w.key, w.version, b.Name, len(body), w.op, w.size)
	}
	l.done("getversion", "GetObject "+w.key+" version "+w.version+" on "+b.Name+" (body)", err)
}

// list lists a prefix of the branch (with or without delimiter, in small
// pages): keys come in order, once, each one a key some write wrote.
func (l *load) list(ctx context.Context, b *Branch, rng *rand.Rand, mn bool) {
	prefix := b.own
	if rng.IntN(2) == 0 {
		prefix += []string{"d1/", "d1/d2/", "d3/", "k0"}[rng.IntN(4)]
	}
	if mn {
		l.minioList(ctx, b, prefix, rng)
		return
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(int32(1 + rng.IntN(20)))}
	if rng.IntN(2) == 0 {
		in.Delimiter = aws.String("/")
	}
	p := s3.NewListObjectsV2Paginator(l.c, in)
	last := ""
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			l.done("list", "ListObjectsV2 "+prefix+" on "+b.Name, err)
			return
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if k <= last {
				l.m.violation("LIST", "ListObjectsV2 %s on %s: key %q after %q", prefix, b.Name, k, last)
			}
			last = k
			if in.Delimiter != nil && strings.Contains(k[len(prefix):], "/") {
				l.m.violation("LIST", "ListObjectsV2 %s on %s with delimiter: key %q", prefix, b.Name, k)
			}
			if !strings.HasPrefix(k, prefix) || !l.m.everWritten(b, k) {
				l.m.violation("PHANTOM", "ListObjectsV2 %s on %s lists key %q that no write on the branch wrote", prefix, b.Name, k)
			}
		}
	}
	l.done("list", "", nil)
}

// done counts an operation; an error the mode does not expect is a
// violation.
func (l *load) done(kind, what string, err error) {
	l.st.op(kind, err)
	if err != nil && (l.okErr == nil || !l.okErr(err)) {
		l.m.violation("ERROR", "%s: %v", what, err)
	}
}

// everWritten: some write on b (or merged into it) touched key.
func (m *Model) everWritten(b *Branch, key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return b.model[key] != nil
}

// Ops returns operation counts by kind and error counts by "kind code".
func (s *stats) Ops() (ops, errs map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops, errs = map[string]int64{}, map[string]int64{}
	for k, v := range s.ops {
		ops[k] = v
	}
	for k, v := range s.errors {
		errs[k] = v
	}
	return ops, errs
}

// formatCounts prints counts as "a 1, b 2" (with per-second rates when d > 0).
func formatCounts(m map[string]int64, d time.Duration) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (%.1f/s)", k, m[k], float64(m[k])/d.Seconds()))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
