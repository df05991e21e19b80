package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// versionIDParam returns ?versionId; present but empty is InvalidArgument.
func versionIDParam(q url.Values) (string, error) {
	vals, ok := q["versionId"]
	if !ok {
		return "", nil
	}
	if len(vals) == 0 || vals[0] == "" {
		return "", s3err("InvalidArgument", "version id cannot be the empty string")
	}
	return vals[0], nil
}

// setDeleteMarkerHeaders flags an answer about a delete marker.
func setDeleteMarkerHeaders(h http.Header, o Object) {
	h.Set("X-Amz-Delete-Marker", "true")
	if o.VersionID != "" {
		h.Set("X-Amz-Version-Id", o.VersionID)
	}
	if !o.LastModified.IsZero() {
		h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
	}
}

// headForRead looks key up for a read and turns delete markers into S3's
// answers: without versionId, 404 NoSuchKey; with the marker's versionId,
// 405 MethodNotAllowed; both with x-amz-delete-marker: true.
func (s *server) headForRead(r *http.Request, w http.ResponseWriter, rc *reqCtx, b Bucket, key, versionID string) (Object, error) {
	obj, err := s.cfg.Backend.Head(r.Context(), rc.caller(), b, key, versionID)
	if obj.DeleteMarker {
		setDeleteMarkerHeaders(w.Header(), obj)
		if versionID != "" {
			if err == nil || codeOf(err) == "" {
				return Object{}, s3err("MethodNotAllowed", "the specified version of %q is a delete marker", key)
			}
			return Object{}, err
		}
		if err == nil {
			err = s3err("NoSuchKey", "the key %q is deleted", key)
		}
		return Object{}, err
	}
	if err != nil {
		if errs.KindOf(err) == errs.NotExist && codeOf(err) == "" {
			code := "NoSuchKey"
			if versionID != "" {
				code = "NoSuchVersion"
			}
			return Object{}, s3code.Wrap("s3api.head", errs.NotExist, code, "", err)
		}
		return Object{}, err
	}
	return obj, nil
}

// responseOverrides are the response-* query parameters of GetObject.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject serves GetObject and HeadObject: version, conditional
// requests, a single Range or a partNumber, response-* overrides and
// checksums on request (x-amz-checksum-mode: ENABLED).
func (s *server) getObject(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	versionID, err := versionIDParam(q)
	if err != nil {
		return err
	}
	for p := range responseOverrides {
		if q.Has(p) && rc.anonymous() {
			return s3err("InvalidRequest", "request specific response headers cannot be used for anonymous GET requests")
		}
	}
	partNumber := 0
	if q.Has("partNumber") {
		n, perr := strconv.Atoi(q.Get("partNumber"))
		if perr != nil || n < 1 || n > 10000 {
			return s3err("InvalidArgument", "part number must be an integer between 1 and 10000, inclusive")
		}
		partNumber = n
		if r.Header.Get("Range") != "" {
			return s3err("InvalidRequest", "cannot specify both Range header and partNumber query parameter")
		}
	}

	obj, err := s.headForRead(r, w, rc, b, key, versionID)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", quoteETag(obj.ETag))
	h.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	if obj.VersionID != "" {
		h.Set("X-Amz-Version-Id", obj.VersionID)
	}
	commit := obj.Commit
	if commit == "" {
		commit = b.Commit
	}
	if commit != "" {
		h.Set("X-Tusk-Commit", commit)
	}

	switch getConditions(r.Header).eval(obj.ETag, obj.LastModified) {
	case condNotModified:
		return s3code.Wrap("s3api.getObject", errs.Conflict, "NotModified", "", nil)
	case condFailed:
		return s3err("PreconditionFailed", "at least one of the pre-conditions you specified did not hold")
	}

	status := http.StatusOK
	off, length := int64(0), obj.Size
	whole := true
	if partNumber > 0 {
		br, count, perr := partRange(obj, partNumber)
		if perr != nil {
			return perr
		}
		if obj.Size > 0 {
			off, length, status, whole = br.off, br.length, http.StatusPartialContent, false
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+length-1, obj.Size))
		}
		if count > 0 {
			h.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(count))
		}
	} else if rh := r.Header.Get("Range"); rh != "" {
		br, ok, rerr := parseRange(rh, obj.Size)
		if rerr != nil {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", obj.Size))
			return rerr
		}
		if ok {
			off, length, status, whole = br.off, br.length, http.StatusPartialContent, false
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+length-1, obj.Size))
		}
	}

	setObjectHeaders(h, obj)
	for p, hdr := range responseOverrides {
		if v := q.Get(p); v != "" {
			h.Set(hdr, v)
		}
	}
	if whole && strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		setChecksumHeaders(h, obj.Checksums, obj.ChecksumType)
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.FormatInt(length, 10))

	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}
	var rd io.ReadCloser
	if length > 0 {
		if rd, err = s.cfg.Backend.Open(ctx, rc.caller(), b, obj, off, length); err != nil {
			return err
		}
		defer rd.Close()
	}
	w.WriteHeader(status)
	if rd == nil {
		return nil
	}
	n, err := io.Copy(w, rd)
	if err == nil && n != length {
		err = errs.E("s3api.getObject", errs.Internal, "content of %q ended after %d of %d bytes", key, n, length)
	}
	return err // after the header: the connection is aborted (see s.h)
}

// partRange returns the byte range of part n and the number of parts (0
// for a single-part object, whose only part 1 is the whole object).
func partRange(o Object, n int) (byteRange, int, error) {
	if len(o.Parts) == 0 {
		if n != 1 {
			return byteRange{}, 0, s3err("InvalidPartNumber", "the object has a single part; part %d does not exist", n)
		}
		return byteRange{0, o.Size}, 0, nil
	}
	if n > len(o.Parts) {
		return byteRange{}, 0, s3err("InvalidPartNumber", "the object has %d parts; part %d does not exist", len(o.Parts), n)
	}
	var off int64
	for _, p := range o.Parts[:n-1] {
		off += p
	}
	return byteRange{off, o.Parts[n-1]}, len(o.Parts), nil
}

// setObjectHeaders sets the stored content headers and user metadata.
func setObjectHeaders(h http.Header, o Object) {
	ct := o.Meta.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for hdr, v := range map[string]string{
		"Content-Encoding":    o.Meta.ContentEncoding,
		"Content-Disposition": o.Meta.ContentDisposition,
		"Content-Language":    o.Meta.ContentLanguage,
		"Cache-Control":       o.Meta.CacheControl,
		"Expires":             o.Meta.Expires,
	} {
		if v != "" {
			h.Set(hdr, v)
		}
	}
	for k, v := range o.Meta.User {
		// Lower-case as S3 sends them; set raw so keys that do not
		// canonicalize survive.
		h["x-amz-meta-"+strings.ToLower(k)] = []string{v}
	}
}

// metaFromHeaders reads the per-version metadata of a write. Client-sent
// x-amz-meta-tusk-* is refused (InvalidArgument): provenance cannot be
// forged (SPEC §3). User metadata over 2 KB is MetadataTooLarge.
func metaFromHeaders(h http.Header) (ObjectMeta, error) {
	m := ObjectMeta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    stripAwsChunked(h.Get("Content-Encoding")),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	size := 0
	for k, vals := range h {
		name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-")
		if !ok {
			continue
		}
		if name == "" {
			return ObjectMeta{}, s3err("InvalidArgument", "a user metadata header needs a name after x-amz-meta-")
		}
		if strings.HasPrefix(name, "tusk-") {
			return ObjectMeta{}, s3err("InvalidArgument", "x-amz-meta-%s is refused: x-amz-meta-tusk-* is provenance that Tusk generates and cannot be set by clients", name)
		}
		if m.User == nil {
			m.User = map[string]string{}
		}
		v := strings.Join(vals, ",")
		m.User[name] = v
		size += len(name) + len(v)
	}
	if size > maxUserMeta {
		return ObjectMeta{}, s3err("MetadataTooLarge", "your metadata headers are %d bytes, above the limit of %d", size, maxUserMeta)
	}
	return m, nil
}

// stripAwsChunked removes the aws-chunked transfer coding from a stored
// Content-Encoding, as S3 does.
func stripAwsChunked(ce string) string {
	if ce == "" {
		return ""
	}
	var keep []string
	for _, c := range strings.Split(ce, ",") {
		c = strings.TrimSpace(c)
		if c != "" && !strings.EqualFold(c, "aws-chunked") {
			keep = append(keep, c)
		}
	}
	return strings.Join(keep, ",")
}

// checkWriteHeaders refuses write features Tusk does not have, instead of
// silently ignoring them: server-side encryption, tagging, object lock,
// website redirects, storage classes other than STANDARD, and ACLs other
// than the owner's.
func checkWriteHeaders(h http.Header) error {
	if err := checkCannedACL(h); err != nil {
		return err
	}
	for k := range h {
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "x-amz-server-side-encryption"):
			return s3err("NotImplemented", "%s: server-side encryption settings are not implemented by Tusk", lk)
		case lk == "x-amz-tagging":
			return s3err("NotImplemented", "object tagging is not implemented by Tusk")
		case strings.HasPrefix(lk, "x-amz-object-lock-"):
			return s3err("NotImplemented", "object lock is not implemented by Tusk")
		case lk == "x-amz-website-redirect-location":
			return s3err("NotImplemented", "website redirects are not implemented by Tusk")
		}
	}
	if sc := h.Get("X-Amz-Storage-Class"); sc != "" && sc != "STANDARD" {
		return s3err("NotImplemented", "storage class %q is not implemented by Tusk (only STANDARD)", sc)
	}
	return nil
}

// isAwsChunked reports an aws-chunked payload (the verifier decodes it).
func isAwsChunked(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return true
	}
	for _, c := range strings.Split(r.Header.Get("Content-Encoding"), ",") {
		if strings.EqualFold(strings.TrimSpace(c), "aws-chunked") {
			return true
		}
	}
	return false
}

// payloadLength is the decoded body length of a write: the verifier's
// decoded length (or x-amz-decoded-content-length) for aws-chunked bodies,
// Content-Length otherwise. Unknown is MissingContentLength (411).
func payloadLength(r *http.Request, rc *reqCtx) (int64, error) {
	if isAwsChunked(r) && !strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		// The verifier decodes aws-chunked framing only for STREAMING-*
		// payloads; anything else would store the framing as the data.
		return 0, s3err("InvalidRequest", "Content-Encoding aws-chunked needs x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] or STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	}
	if isAwsChunked(r) {
		if rc.auth != nil && rc.auth.DecodedLength >= 0 {
			return rc.auth.DecodedLength, nil
		}
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, s3err("InvalidArgument", "x-amz-decoded-content-length %q is not a length", v)
			}
			return n, nil
		}
		return 0, s3err("MissingContentLength", "an aws-chunked body needs x-amz-decoded-content-length")
	}
	if r.ContentLength < 0 {
		return 0, s3err("MissingContentLength", "you must provide the Content-Length HTTP header")
	}
	return r.ContentLength, nil
}

// contentMD5 decodes the Content-MD5 header (nil when absent); bad base64
// or a wrong length is InvalidDigest.
func contentMD5(h http.Header) ([]byte, error) {
	v, ok := h["Content-Md5"]
	if !ok {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.Join(v, "")))
	if err != nil || len(raw) != md5.Size {
		return nil, s3err("InvalidDigest", "the Content-MD5 you specified is not valid base64 of 16 bytes")
	}
	return raw, nil
}

// writeConditions reads If-Match / If-None-Match of a write, passed to
// the backend which checks them atomically. As S3: If-None-Match supports
// only "*" (another value is 501 NotImplemented, before anything is
// looked up), and the two headers together are NotImplemented too.
func writeConditions(h http.Header) (ifMatch, ifNoneMatch string, err error) {
	if v := strings.TrimSpace(h.Get("If-None-Match")); v != "" {
		if v != "*" {
			return "", "", s3err("NotImplemented", "If-None-Match on writes supports only *")
		}
		if strings.TrimSpace(h.Get("If-Match")) != "" {
			return "", "", s3err("NotImplemented", "If-Match and If-None-Match cannot be combined on a write")
		}
		ifNoneMatch = "*"
	}
	if v := strings.TrimSpace(h.Get("If-Match")); v != "" {
		if v == "*" {
			ifMatch = "*"
		} else {
			ifMatch = unquoteETag(v)
		}
	}
	return ifMatch, ifNoneMatch, nil
}

func (s *server) putOrCopyObject(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, ok := r.Header["X-Amz-Copy-Source"]; ok {
		return s.copyObject(w, r, rc)
	}
	return s.putObject(w, r, rc)
}

// putObject writes one key as one commit (SPEC §3). The body is read only
// through the verifier's Result.Body, bounded to the announced length and
// hashed on the way for additional checksums, which PutOptions.Finish
// verifies before anything becomes durable.
func (s *server) putObject(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
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
	size, err := payloadLength(r, rc)
	if err != nil {
		return err
	}
	if size > MaxObjectSize {
		return s3err("EntityTooLarge", "your proposed upload of %d bytes exceeds the maximum of %d for a single PUT; use a multipart upload", size, int64(MaxObjectSize))
	}
	sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	cs, err := newChecksummer(r.Header, rc.trailers())
	if err != nil {
		return err
	}
	ifMatch, ifNoneMatch, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	var stored map[string]string
	body := cs.wrap(newExactReader(rc.body, size))
	opts := PutOptions{
		Size: size, Meta: meta,
		IfMatch: ifMatch, IfNoneMatch: ifNoneMatch,
		ContentMD5: sum,
		Finish: func() (map[string]string, error) {
			// Make sure the verifier below saw EOF (payload hash, chunk
			// signatures, trailer) even if the backend stopped reading at
			// exactly Size bytes; this reads nothing more on a body that is
			// complete.
			if _, err := io.Copy(io.Discard, body); err != nil {
				return nil, err
			}
			m, err := cs.finish()
			stored = m
			return m, err
		},
	}
	if cs != nil {
		opts.ChecksumType = "FULL_OBJECT"
	}
	obj, err := s.cfg.Backend.Put(ctx, rc.caller(), b, key, body, opts)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", quoteETag(obj.ETag))
	if obj.VersionID != "" {
		h.Set("X-Amz-Version-Id", obj.VersionID)
	}
	if obj.Commit != "" {
		h.Set("X-Tusk-Commit", obj.Commit)
	}
	sums := obj.Checksums
	if len(sums) == 0 {
		sums = stored
	}
	setChecksumHeaders(h, sums, opts.ChecksumType)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopySource reads x-amz-copy-source: "[/]bucket/key[?versionId=v]",
// URL-encoded. The path is unescaped once ('+' stays '+').
func parseCopySource(v string) (bucket, key, versionID string, err error) {
	bad := func(msg string) error { return s3err("InvalidArgument", "x-amz-copy-source: %s", msg) }
	path, query, hasQuery := strings.Cut(v, "?")
	if hasQuery {
		qv, qerr := url.ParseQuery(query)
		if qerr != nil {
			return "", "", "", bad("the query does not parse")
		}
		if vals, ok := qv["versionId"]; ok {
			if vals[0] == "" {
				return "", "", "", bad("versionId cannot be the empty string")
			}
			versionID = vals[0]
		}
	}
	path = strings.TrimPrefix(path, "/")
	bk, rawKey, ok := strings.Cut(path, "/")
	if !ok || bk == "" || rawKey == "" {
		return "", "", "", bad("must name the source bucket and key: sourcebucket/sourcekey")
	}
	if bucket, err = url.PathUnescape(bk); err != nil {
		return "", "", "", bad("invalid URL encoding")
	}
	if key, err = url.PathUnescape(rawKey); err != nil {
		return "", "", "", bad("invalid URL encoding")
	}
	return bucket, key, versionID, nil
}

// copyObject writes key as a copy of x-amz-copy-source, within or across
// repos and refs; no bytes move (content is shared).
func (s *server) copyObject(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, dst, err := s.objectBucket(ctx, rc, ActWrite)
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
	if r.Header.Get("X-Amz-Copy-Source-Range") != "" {
		return s3err("InvalidRequest", "x-amz-copy-source-range is only valid for UploadPartCopy")
	}
	meta, err := metaFromHeaders(r.Header)
	if err != nil {
		return err
	}
	if err := checkWriteHeaders(r.Header); err != nil {
		return err
	}
	directive := r.Header.Get("X-Amz-Metadata-Directive")
	switch directive {
	case "", "COPY", "REPLACE":
	default:
		return s3err("InvalidArgument", "unknown metadata directive %q (COPY or REPLACE)", directive)
	}
	if td := r.Header.Get("X-Amz-Tagging-Directive"); td != "" && td != "COPY" {
		return s3err("NotImplemented", "object tagging is not implemented by Tusk")
	}
	ifMatch, ifNoneMatch, err := writeConditions(r.Header)
	if err != nil {
		return err
	}

	src, srcObj, err := s.copySource(ctx, rc, r, srcBucket, srcKey, srcVersion)
	if err != nil {
		return err
	}
	if srcObj.Size > MaxObjectSize {
		return s3err("InvalidRequest", "the specified copy source is larger than the maximum allowable size for a copy source: %d", int64(MaxObjectSize))
	}
	if directive != "REPLACE" && srcVersion == "" && src.Repo == dst.Repo && src.Ref == dst.Ref && srcKey == key {
		return s3err("InvalidRequest", "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata")
	}
	obj, err := s.cfg.Backend.Copy(ctx, rc.caller(), dst, key, srcObj, PutOptions{
		Size: srcObj.Size, Meta: meta, ReplaceMeta: directive == "REPLACE",
		IfMatch: ifMatch, IfNoneMatch: ifNoneMatch,
	})
	if err != nil {
		return err
	}
	h := w.Header()
	if obj.VersionID != "" {
		h.Set("X-Amz-Version-Id", obj.VersionID)
	}
	if srcObj.VersionID != "" {
		h.Set("X-Amz-Copy-Source-Version-Id", srcObj.VersionID)
	}
	res := copyObjectResult{NS: s3NS, LastModified: isoTime(obj.LastModified), ETag: quoteETag(obj.ETag),
		checksumFields: checksumFieldsOf(obj.Checksums)}
	if len(obj.Checksums) > 0 {
		res.ChecksumType = obj.ChecksumType
		if res.ChecksumType == "" {
			res.ChecksumType = "FULL_OBJECT"
		}
	}
	return writeXML(w, http.StatusOK, res)
}

// deleteObject deletes key (a delete marker commit) or, with versionId,
// restores past a delete marker or purges a content version; the backend
// decides which and checks admin permission for a purge (SPEC §3).
func (s *server) deleteObject(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	key, b, err := s.objectBucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	versionID, err := versionIDParam(r.URL.Query())
	if err != nil {
		return err
	}
	ifMatch, ifNoneMatch, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	if ifNoneMatch != "" {
		return s3err("NotImplemented", "If-None-Match on DeleteObject is not supported (S3 supports If-Match only)")
	}
	res, err := s.cfg.Backend.Delete(ctx, rc.caller(), b, []DeleteItem{{Key: key, VersionID: versionID, IfMatch: ifMatch}})
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return errs.E("s3api.deleteObject", errs.Internal, "backend answered %d results for one delete", len(res))
	}
	if err := res[0].Err; err != nil {
		if codeOf(err) == "NoSuchVersion" {
			// A version that does not exist is deleted successfully; only
			// a malformed id is NoSuchVersion, which S3 answers as 400.
			return s3err("InvalidArgument", "Invalid version id specified")
		}
		return err
	}
	h := w.Header()
	if res[0].DeleteMarker {
		h.Set("X-Amz-Delete-Marker", "true")
	}
	if v := res[0].DeleteMarkerVersionID; v != "" {
		h.Set("X-Amz-Version-Id", v)
	} else if versionID != "" {
		h.Set("X-Amz-Version-Id", versionID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteObjects is DeleteObjects: all keys in ONE commit (SPEC §3).
// Content-MD5 and x-amz-checksum-* are verified when sent (not required).
func (s *server) deleteObjects(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	b, err := s.bucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	cs, err := newChecksummer(r.Header, rc.trailers())
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(cs.wrap(rc.body), maxDeleteBody+1))
	if err != nil {
		return bodyError(err)
	}
	if len(data) > maxDeleteBody {
		return s3err("MaxMessageLengthExceeded", "the Delete document is larger than %d bytes", maxDeleteBody)
	}
	if sum != nil {
		if got := md5.Sum(data); string(got[:]) != string(sum) {
			return s3err("BadDigest", "the Content-MD5 you specified did not match what we received")
		}
	}
	if _, err := cs.finish(); err != nil {
		return err
	}
	var req deleteRequest
	if err := decodeBody(data, &req, "MalformedXML", "Delete document"); err != nil {
		return err
	}
	if len(req.Objects) == 0 {
		return s3err("MalformedXML", "the Delete document names no Object")
	}
	if len(req.Objects) > maxDeleteKeys {
		return s3err("MalformedXML", "the Delete document names %d objects; at most %d are allowed", len(req.Objects), maxDeleteKeys)
	}
	out := deleteResultXML{NS: s3NS}
	var items []DeleteItem
	for _, o := range req.Objects {
		if o.ETag != nil {
			return s3err("NotImplemented", "conditional deletes (ETag in DeleteObjects) are not implemented by Tusk")
		}
		if err := ValidKey(o.Key); err != nil {
			we := wireError(err, true)
			out.Errors = append(out.Errors, deleteErrorXML{Key: o.Key, VersionID: o.VersionID, Code: we.Code, Message: we.Message})
			continue
		}
		items = append(items, DeleteItem{Key: o.Key, VersionID: o.VersionID})
	}
	if len(items) > 0 {
		results, err := s.cfg.Backend.Delete(ctx, rc.caller(), b, items)
		if err != nil {
			return err
		}
		for _, res := range results {
			if res.Err != nil {
				we := wireError(res.Err, true)
				out.Errors = append(out.Errors, deleteErrorXML{Key: res.Key, VersionID: res.VersionID, Code: we.Code, Message: we.Message})
				continue
			}
			if req.Quiet {
				continue
			}
			out.Deleted = append(out.Deleted, deletedXML{
				Key: res.Key, VersionID: res.VersionID,
				DeleteMarker: res.DeleteMarker, DeleteMarkerVersionID: res.DeleteMarkerVersionID,
			})
		}
	}
	return writeXML(w, http.StatusOK, out)
}

// getObjectACL: the owner with FULL_CONTROL, for an existing key.
func (s *server) getObjectACL(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	obj, err := s.objectForSub(w, r, rc)
	if err != nil {
		return err
	}
	if obj.VersionID != "" {
		w.Header().Set("X-Amz-Version-Id", obj.VersionID)
	}
	return writeXML(w, http.StatusOK, ownerACL(rc))
}

// getObjectTagging: an empty TagSet, which is what AWS answers for an
// object without tags.
func (s *server) getObjectTagging(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	obj, err := s.objectForSub(w, r, rc)
	if err != nil {
		return err
	}
	if obj.VersionID != "" {
		w.Header().Set("X-Amz-Version-Id", obj.VersionID)
	}
	return writeXML(w, http.StatusOK, taggingXML{NS: s3NS})
}

func (s *server) objectForSub(w http.ResponseWriter, r *http.Request, rc *reqCtx) (Object, error) {
	key, b, err := s.objectBucket(r.Context(), rc, ActRead)
	if err != nil {
		return Object{}, err
	}
	versionID, err := versionIDParam(r.URL.Query())
	if err != nil {
		return Object{}, err
	}
	return s.headForRead(r, w, rc, b, key, versionID)
}

// checksumAlgorithmsOf lists an object's checksum algorithms, sorted.
func checksumAlgorithmsOf(o Object) []string {
	if len(o.Checksums) == 0 {
		return nil
	}
	out := make([]string, 0, len(o.Checksums))
	for a := range o.Checksums {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// copySource resolves and reads the source of CopyObject and UploadPartCopy
// (any repo, ref and version the caller may read) and checks the
// x-amz-copy-source-if-* conditions. A delete marker is NoSuchKey, or
// InvalidRequest when named by version id.
func (s *server) copySource(ctx context.Context, rc *reqCtx, r *http.Request, bucket, key, version string) (Bucket, Object, error) {
	src, err := s.authorize(ctx, rc, bucket, ActRead)
	if err != nil {
		return Bucket{}, Object{}, err
	}
	obj, err := s.cfg.Backend.Head(ctx, rc.caller(), src, key, version)
	if obj.DeleteMarker {
		if version != "" {
			return Bucket{}, Object{}, s3err("InvalidRequest", "the source of a copy request may not specifically refer to a delete marker by version id")
		}
		return Bucket{}, Object{}, s3err("NoSuchKey", "the source key %q is deleted", key)
	}
	if err != nil {
		if errs.KindOf(err) == errs.NotExist && codeOf(err) == "" {
			code := "NoSuchKey"
			if version != "" {
				code = "NoSuchVersion"
			}
			return Bucket{}, Object{}, s3code.Wrap("s3api.copySource", errs.NotExist, code, "", err)
		}
		return Bucket{}, Object{}, err
	}
	if copySourceConditions(r.Header).eval(obj.ETag, obj.LastModified) != condOK {
		return Bucket{}, Object{}, s3err("PreconditionFailed", "at least one of the copy-source pre-conditions you specified did not hold")
	}
	return src, obj, nil
}
