package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts and
// ListMultipartUploads, with S3's rules and codes. Parts are stored and
// the object composed by the Backend; this file holds the protocol: limits,
// part checksums, the ETag and checksums of the object (multipart_checksum.go),
// and the rule checks of a completion (checkCompletion), which the Backend
// runs through CompleteOptions.Check between reading the parts and making
// anything durable.

// S3's multipart limits.
const (
	// MinPartSize is the smallest part but the last of a completed upload.
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part.
	MaxPartSize = 5 << 30
	// MaxParts is the highest part number.
	MaxParts = 10000
	// MaxMultipartObjectSize is the largest object (5 TiB).
	MaxMultipartObjectSize = 5 << 40
	// maxCompleteBody bounds a CompleteMultipartUpload document: 10000
	// parts with every checksum field fit in about 4 MiB.
	maxCompleteBody = 8 << 20
	// maxListParts is S3's default and cap of max-parts and max-uploads.
	maxListParts = 1000
)

// A CompleteMultipartUpload (or UploadPartCopy) whose work outlasts
// keepaliveAfter answers 200 at once and sends a space every
// keepaliveEvery, so that clients' read timeouts do not fire while a large
// object is composed; the result (or an <Error> document) follows in the
// body. S3 does the same, and SDKs read an error from such a 200.
var (
	keepaliveAfter = 20 * time.Second
	keepaliveEvery = 10 * time.Second
)

// keepaliveSent, when set (tests), is called after each keepalive space is
// flushed, so that tests wait for the event instead of racing a timer.
var keepaliveSent func()

// uploadIDParam returns ?uploadId (an empty one is NoSuchUpload).
func uploadIDParam(q url.Values) (string, error) {
	id := q.Get("uploadId")
	if id == "" {
		return "", s3err("NoSuchUpload", "the upload id is empty")
	}
	return id, nil
}

// partParams returns ?partNumber, 1-10000, else InvalidArgument, and
// ?uploadId (uploadIDParam).
func partParams(q url.Values) (int, string, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > MaxParts {
		return 0, "", s3err("InvalidArgument", "part number must be an integer between 1 and %d, inclusive", MaxParts)
	}
	id, err := uploadIDParam(q)
	return n, id, err
}

// intParam reads a non-negative integer query parameter (def when absent).
func intParam(q url.Values, name string, def int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.ParseInt(q.Get(name), 10, 32)
	if err != nil || n < 0 {
		return 0, s3err("InvalidArgument", "%s must be an integer between 0 and 2147483647", name)
	}
	return int(n), nil
}

func (s *server) createMultipartUpload(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	meta, err := metaFromHeaders(r.Header)
	if err != nil {
		return err
	}
	if err := checkWriteHeaders(r.Header); err != nil {
		return err
	}
	algo, typ, err := uploadChecksum(r.Header)
	if err != nil {
		return err
	}
	u, err := s.cfg.Backend.CreateMultipartUpload(ctx, rc.caller(), b, key, UploadOptions{Meta: meta,
		ChecksumAlgorithm: algo, ChecksumType: typ})
	if err != nil {
		return err
	}
	if algo != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", algo)
		w.Header().Set("X-Amz-Checksum-Type", typ)
	}
	return writeXML(w, http.StatusOK, initiateMultipartUploadResult{NS: s3NS, Bucket: rc.addr.Bucket, Key: key, UploadID: u.ID})
}

// partChecksummer is newChecksummer for a part of an upload made with
// algo: a part sending another algorithm is refused; a part sending none
// gets algo computed, as every part of such an upload carries its
// checksum (the object's checksum is made of them).
func partChecksummer(h http.Header, trailers func() http.Header, algo string) (*checksummer, error) {
	cs, err := newChecksummer(h, trailers)
	if err != nil || algo == "" {
		return cs, err
	}
	if cs == nil {
		return &checksummer{algo: algo, h: newChecksumHash(algo)}, nil
	}
	if cs.algo != algo {
		return nil, s3err("InvalidRequest", "checksum type mismatch occurred, expected checksum type: %s, actual checksum type: %s",
			strings.ToLower(algo), strings.ToLower(cs.algo))
	}
	return cs, nil
}

// finishFunc is cs.finish, or nil without a checksummer.
func finishFunc(cs *checksummer, drain io.Reader) func() (map[string]string, error) {
	if cs == nil && drain == nil {
		return nil
	}
	return func() (map[string]string, error) {
		if drain != nil {
			// Let the verifier below see EOF (see putObject).
			if _, err := io.Copy(io.Discard, drain); err != nil {
				return nil, err
			}
		}
		return cs.finish()
	}
}

// uploadPart is UploadPart, or UploadPartCopy with x-amz-copy-source.
func (s *server) uploadPart(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, ok := r.Header["X-Amz-Copy-Source"]; ok {
		return s.uploadPartCopy(w, r, rc)
	}
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	n, id, err := partParams(r.URL.Query())
	if err != nil {
		return err
	}
	size, err := payloadLength(r, rc)
	if err != nil {
		return err
	}
	if size > MaxPartSize {
		return s3err("EntityTooLarge", "your proposed part of %d bytes exceeds the maximum part size of %d", size, int64(MaxPartSize))
	}
	sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	u, err := s.cfg.Backend.GetMultipartUpload(ctx, rc.caller(), b, key, id)
	if err != nil {
		return err
	}
	cs, err := partChecksummer(r.Header, rc.trailers(), u.ChecksumAlgorithm)
	if err != nil {
		return err
	}
	body := cs.wrap(newExactReader(rc.body, size))
	p, err := s.cfg.Backend.UploadPart(ctx, rc.caller(), b, key, id, n, body, PartOptions{Size: size, ContentMD5: sum,
		Finish: finishFunc(cs, body)})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", quoteETag(p.ETag))
	for algo, v := range p.Checksums {
		if newChecksumHash(algo) != nil {
			h.Set(checksumHeader(algo), v)
		}
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopyRange reads x-amz-copy-source-range ("bytes=first-last", both
// inclusive, within the source) against the source's size.
func parseCopyRange(v string, size int64) (off, length int64, err error) {
	bad := s3err("InvalidArgument", "the x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, bad
	}
	first, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	last, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, bad
	}
	if last >= size {
		return 0, 0, s3err("InvalidArgument", "range specified is not valid for source object of size: %d", size)
	}
	return first, last - first + 1, nil
}

// uploadPartCopy stores a range of any object (any repo, any ref, any
// version) as a part: the bytes are read from the source's content and
// stored as the part's own blob.
func (s *server) uploadPartCopy(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	n, id, err := partParams(r.URL.Query())
	if err != nil {
		return err
	}
	srcBucket, srcKey, srcVersion, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	if err := ValidKey(srcKey); err != nil {
		return err
	}
	u, err := s.cfg.Backend.GetMultipartUpload(ctx, rc.caller(), b, key, id)
	if err != nil {
		return err
	}
	srcB, srcObj, err := s.copySource(ctx, rc, r, srcBucket, srcKey, srcVersion)
	if err != nil {
		return err
	}
	off, length := int64(0), srcObj.Size
	if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		if off, length, err = parseCopyRange(v, srcObj.Size); err != nil {
			return err
		}
	}
	if length > MaxPartSize {
		return s3err("InvalidRequest", "the specified copy source is larger than the maximum allowable size for a copy source: %d", int64(MaxPartSize))
	}
	cs, err := partChecksummer(http.Header{}, nil, u.ChecksumAlgorithm)
	if err != nil {
		return err
	}
	var rd io.ReadCloser = io.NopCloser(bytes.NewReader(nil))
	if length > 0 {
		if rd, err = s.cfg.Backend.Open(ctx, rc.caller(), srcB, srcObj, off, length); err != nil {
			return err
		}
	}
	defer rd.Close()
	ka := startKeepalive(w)
	p, err := s.cfg.Backend.UploadPart(ctx, rc.caller(), b, key, id, n, cs.wrap(rd), PartOptions{Size: length,
		Finish: finishFunc(cs, nil)})
	res := copyPartResult{NS: s3NS, LastModified: isoTime(p.LastModified), ETag: quoteETag(p.ETag), checksumFields: checksumFieldsOf(p.Checksums)}
	return ka.answer(w, r, rc, res, err, func(h http.Header) {
		if srcObj.VersionID != "" {
			h.Set("X-Amz-Copy-Source-Version-Id", srcObj.VersionID)
		}
	})
}

// completeMultipartUpload makes the object of an upload as one commit
// (SPEC §3).
func (s *server) completeMultipartUpload(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	id, err := uploadIDParam(r.URL.Query())
	if err != nil {
		return err
	}
	ifMatch, ifNoneMatch, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	wantSize := int64(-1)
	if v := r.Header.Get("X-Amz-Mp-Object-Size"); v != "" {
		if wantSize, err = strconv.ParseInt(v, 10, 64); err != nil || wantSize < 0 {
			return s3err("InvalidArgument", "x-amz-mp-object-size %q is not a size", v)
		}
	}
	var doc completeMultipartUpload
	data, err := readXML(rc.body, maxCompleteBody, &doc)
	if err != nil {
		return err
	}
	if sum != nil {
		if got := md5.Sum(data); !bytes.Equal(got[:], sum) {
			return s3err("BadDigest", "the Content-MD5 you specified did not match what we received")
		}
	}
	if len(doc.Parts) == 0 {
		return s3err("MalformedXML", "the CompleteMultipartUpload document lists no Part")
	}
	if len(doc.Parts) > MaxParts {
		return s3err("MalformedXML", "the CompleteMultipartUpload document lists %d parts; an upload has at most %d", len(doc.Parts), MaxParts)
	}
	numbers := make([]int, len(doc.Parts))
	etags := make([]string, len(doc.Parts))
	for i, p := range doc.Parts {
		n, perr := strconv.Atoi(strings.TrimSpace(p.PartNumber))
		if perr != nil {
			return s3err("MalformedXML", "part number %q is not an integer", p.PartNumber)
		}
		if n < 1 || n > MaxParts {
			return s3err("InvalidPart", "part number %d is not between 1 and %d: no such part can exist", n, MaxParts)
		}
		if i > 0 && n <= numbers[i-1] {
			return s3err("InvalidPartOrder", "the list of parts was not in ascending order: part %d follows part %d", n, numbers[i-1])
		}
		numbers[i] = n
		etags[i] = unquoteETag(p.ETag)
	}
	etag, _ := multipartETag(etags)
	check := func(u Upload, parts []Part) (Completion, error) {
		return checkCompletion(r.Header, doc, etags, wantSize, u, parts)
	}
	var ka *keepalive
	obj, err := s.cfg.Backend.CompleteMultipartUpload(ctx, rc.caller(), b, key, id, numbers, CompleteOptions{
		IfMatch: ifMatch, IfNoneMatch: ifNoneMatch, ETag: etag, Check: check,
		Slow: func() {
			if ka == nil {
				ka = startKeepalive(w)
			}
		},
	})
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	res := completeMultipartUploadResult{NS: s3NS, Bucket: rc.addr.Bucket, Key: key, ETag: quoteETag(obj.ETag),
		Location: scheme + "://" + r.Host + "/" + urlEncodeKey(rc.addr.Bucket) + "/" + urlEncodeKey(key)}
	if rc.addr.Virtual {
		res.Location = scheme + "://" + r.Host + "/" + urlEncodeKey(key)
	}
	if len(obj.Checksums) > 0 {
		res.checksumFields = checksumFieldsOf(obj.Checksums)
		res.ChecksumType = obj.ChecksumType
	}
	return ka.answer(w, r, rc, res, err, func(h http.Header) {
		if obj.VersionID != "" {
			h.Set("X-Amz-Version-Id", obj.VersionID)
		}
		if obj.Commit != "" {
			h.Set("X-Tusk-Commit", obj.Commit)
		}
	})
}

// checkCompletion enforces S3's rules on the parts of a completion and
// returns the object's checksums: every listed ETag (and part checksum,
// when listed) matches the stored part, else InvalidPart; every part but
// the last is at least MinPartSize, else EntityTooSmall; the object is at
// most MaxMultipartObjectSize and of x-amz-mp-object-size when sent; the
// object's checksum (COMPOSITE or FULL_OBJECT, multipart_checksum.go)
// matches x-amz-checksum-<algo> when sent, else BadDigest.
func checkCompletion(h http.Header, doc completeMultipartUpload, etags []string, wantSize int64, u Upload, parts []Part) (Completion, error) {
	if len(parts) != len(etags) {
		return Completion{}, errs.E("s3api.complete", errs.Internal, "backend answered %d parts for %d asked", len(parts), len(etags))
	}
	var total int64
	for i, p := range parts {
		if !strings.EqualFold(etags[i], p.ETag) {
			return Completion{}, s3err("InvalidPart", "one or more of the specified parts could not be found: the ETag of part %d does not match the part's entity tag", p.Number)
		}
		for algo, v := range doc.Parts[i].asMap() {
			if p.Checksums[algo] != v {
				return Completion{}, s3err("InvalidPart", "one or more of the specified parts could not be found: the %s checksum of part %d does not match the part's", strings.ToLower(algo), p.Number)
			}
		}
		if i < len(parts)-1 && p.Size < MinPartSize {
			return Completion{}, s3err("EntityTooSmall", "your proposed upload is smaller than the minimum allowed object size: part %d is %d bytes; every part but the last must be at least %d bytes", p.Number, p.Size, MinPartSize)
		}
		total += p.Size
	}
	if total > MaxMultipartObjectSize {
		return Completion{}, s3err("EntityTooLarge", "the object would be %d bytes, above the maximum of %d", total, int64(MaxMultipartObjectSize))
	}
	if wantSize >= 0 && wantSize != total {
		return Completion{}, s3err("InvalidRequest", "x-amz-mp-object-size is %d but the parts add up to %d bytes", wantSize, total)
	}
	if t := strings.ToUpper(strings.TrimSpace(h.Get("X-Amz-Checksum-Type"))); t != "" && t != u.ChecksumType {
		if u.ChecksumType == "" {
			return Completion{}, s3err("InvalidRequest", "the upload was created without a checksum algorithm; x-amz-checksum-type %s cannot be used", t)
		}
		return Completion{}, s3err("InvalidRequest", "the upload was created with checksum type %s; x-amz-checksum-type %s does not match", u.ChecksumType, t)
	}
	algo := u.ChecksumAlgorithm
	if algo == "" {
		return Completion{}, nil
	}
	sums := make([]string, len(parts))
	sizes := make([]int64, len(parts))
	for i, p := range parts {
		sums[i], sizes[i] = p.Checksums[algo], p.Size
		if sums[i] == "" {
			return Completion{}, s3err("InvalidPart", "part %d has no %s checksum", p.Number, strings.ToLower(algo))
		}
	}
	var value string
	var ok bool
	if u.ChecksumType == "FULL_OBJECT" {
		value, ok = fullObjectChecksum(algo, sums, sizes)
	} else {
		value, ok = compositeChecksum(algo, sums)
	}
	if !ok {
		return Completion{}, errs.E("s3api.complete", errs.Internal, "stored %s checksums of the parts do not decode", algo)
	}
	if want := strings.TrimSpace(h.Get(checksumHeader(algo))); want != "" {
		bare, _, _ := strings.Cut(value, "-")
		if want != value && want != bare {
			return Completion{}, s3err("BadDigest", "the %s you specified did not match the calculated checksum %s", strings.ToLower(checksumHeader(algo)), value)
		}
	}
	return Completion{Checksums: map[string]string{algo: value}, ChecksumType: u.ChecksumType}, nil
}

func (s *server) abortMultipartUpload(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	id, err := uploadIDParam(r.URL.Query())
	if err != nil {
		return err
	}
	if err := s.cfg.Backend.AbortMultipartUpload(ctx, rc.caller(), b, key, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func ownerOf(user string) ownerXML {
	if user == "" {
		user = "anonymous"
	}
	return ownerXML{ID: user, DisplayName: user}
}

func (s *server) listParts(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	id, err := uploadIDParam(q)
	if err != nil {
		return err
	}
	max, err := intParam(q, "max-parts", maxListParts)
	if err != nil {
		return err
	}
	max = min(max, maxListParts)
	marker, err := intParam(q, "part-number-marker", 0)
	if err != nil {
		return err
	}
	res, err := s.cfg.Backend.ListParts(ctx, rc.caller(), b, key, id, PartListOptions{Marker: marker, Max: max})
	if err != nil {
		return err
	}
	out := listPartsResult{NS: s3NS, Bucket: rc.addr.Bucket, Key: key, UploadID: id,
		Initiator: ownerOf(res.Upload.User), Owner: ownerOf(res.Upload.User), StorageClass: "STANDARD",
		PartNumberMarker: marker, NextPartNumberMarker: res.NextMarker, MaxParts: max, IsTruncated: res.IsTruncated,
		ChecksumAlgorithm: res.Upload.ChecksumAlgorithm, ChecksumType: res.Upload.ChecksumType}
	for _, p := range res.Parts {
		out.Parts = append(out.Parts, partXML{PartNumber: p.Number, LastModified: isoTime(p.LastModified),
			ETag: quoteETag(p.ETag), Size: p.Size, checksumFields: checksumFieldsOf(p.Checksums)})
	}
	return writeXML(w, http.StatusOK, out)
}

func (s *server) listMultipartUploads(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	b, err := s.bucket(ctx, rc, ActRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	enc, encType, err := encoder(q)
	if err != nil {
		return err
	}
	max, err := intParam(q, "max-uploads", maxListParts)
	if err != nil {
		return err
	}
	max = min(max, maxListParts)
	opts := UploadListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"), MaxUploads: max}
	if opts.KeyMarker == "" {
		opts.UploadIDMarker = "" // S3 ignores it without a key marker
	}
	out := listMultipartUploadsResult{NS: s3NS, Bucket: rc.addr.Bucket, KeyMarker: enc(opts.KeyMarker),
		UploadIDMarker: opts.UploadIDMarker, Delimiter: enc(opts.Delimiter), Prefix: enc(opts.Prefix),
		EncodingType: encType, MaxUploads: max}
	if max > 0 {
		res, err := s.cfg.Backend.ListMultipartUploads(ctx, rc.caller(), b, opts)
		if err != nil {
			return err
		}
		out.IsTruncated = res.IsTruncated
		out.NextKeyMarker, out.NextUploadIDMarker = enc(res.NextKeyMarker), res.NextUploadIDMarker
		for _, u := range res.Uploads {
			out.Uploads = append(out.Uploads, uploadXML{Key: enc(u.Key), UploadID: u.ID, Initiator: ownerOf(u.User),
				Owner: ownerOf(u.User), StorageClass: "STANDARD", Initiated: isoTime(u.Initiated),
				ChecksumAlgorithm: u.ChecksumAlgorithm, ChecksumType: u.ChecksumType})
		}
		for _, p := range res.CommonPrefixes {
			out.CommonPrefixes = append(out.CommonPrefixes, commonPrefixXML{Prefix: enc(p)})
		}
	}
	return writeXML(w, http.StatusOK, out)
}

// keepalive answers 200 early for a request whose work may be long (see
// keepaliveAfter). A nil *keepalive never started.
type keepalive struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	started bool
	stop    chan struct{}
	done    chan struct{}
}

func startKeepalive(w http.ResponseWriter) *keepalive {
	k := &keepalive{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	after, every := keepaliveAfter, keepaliveEvery
	go func() {
		defer close(k.done)
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		rc := http.NewResponseController(w)
		k.mu.Lock()
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, xml.Header)
		_ = rc.Flush()
		k.started = true
		k.mu.Unlock()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-k.stop:
				return
			case <-tick.C:
				_, _ = io.WriteString(w, " ")
				_ = rc.Flush()
				if keepaliveSent != nil {
					keepaliveSent()
				}
			}
		}
	}()
	return k
}

// end stops the keepalive and reports whether 200 was already sent.
func (k *keepalive) end() bool {
	if k == nil {
		return false
	}
	close(k.stop)
	<-k.done
	return k.started
}

// answer ends k and answers res (or err): normally when nothing was sent
// yet (with the headers hdr sets, on success), else as the rest of the
// 200's body, an <Error> document for err. Until k ends, only its
// goroutine touches the response.
func (k *keepalive) answer(w http.ResponseWriter, r *http.Request, rc *reqCtx, res any, err error, hdr func(http.Header)) error {
	if !k.end() {
		if err != nil {
			return err
		}
		hdr(w.Header())
		return writeXML(w, http.StatusOK, res)
	}
	if err != nil {
		we := wireError(err, true)
		rc.errCode, rc.err = we.Code, err
		res = errorXML{Code: we.Code, Message: we.Message, Resource: resourceOf(r, rc), RequestID: rc.id}
	}
	if err := xml.NewEncoder(w).Encode(res); err != nil {
		return fmt.Errorf("encoding the answer after a keepalive: %w", err)
	}
	return nil
}
