package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/crc64nvme"
)

// mpData returns n deterministic pseudo-random bytes as a string.
func mpData(seed byte, n int) string {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed, 'm', 'p'}).Read(b)
	return string(b)
}

func md5hex(s string) string { m := md5.Sum([]byte(s)); return hex.EncodeToString(m[:]) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sumOf(algo, s string) string {
	h := newChecksumHash(algo)
	h.Write([]byte(s))
	return b64(h.Sum(nil))
}

func (e *testEnv) mpCreate(bucket, key string, hdr ...string) string {
	e.t.Helper()
	w := e.req("POST", "/"+bucket+"/"+keyPath(key)+"?uploads", "", hdr...)
	var res initiateMultipartUploadResult
	decodeXML(e.t, w, &res)
	if res.UploadID == "" || res.Key != key || res.Bucket != bucket {
		e.t.Fatalf("CreateMultipartUpload: %s", w.Body)
	}
	return res.UploadID
}

func (e *testEnv) mpPart(bucket, key, id string, n int, body string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.req("PUT", fmt.Sprintf("/%s/%s?partNumber=%d&uploadId=%s", bucket, keyPath(key), n, id), body, hdr...)
}

func (e *testEnv) mustPart(bucket, key, id string, n int, body string, hdr ...string) string {
	e.t.Helper()
	w := e.mpPart(bucket, key, id, n, body, hdr...)
	if w.Code != 200 {
		e.t.Fatalf("UploadPart %d: %d %s", n, w.Code, w.Body)
	}
	return unquoteETag(w.Header().Get("ETag"))
}

// completeDoc lists parts as "number:etag" (or "number:etag:ALGO=value").
func completeDoc(parts ...string) string {
	var b strings.Builder
	b.WriteString("<CompleteMultipartUpload>")
	for _, p := range parts {
		f := strings.SplitN(p, ":", 3)
		fmt.Fprintf(&b, "<Part><PartNumber>%s</PartNumber><ETag>\"%s\"</ETag>", f[0], f[1])
		if len(f) == 3 {
			algo, v, _ := strings.Cut(f[2], "=")
			fmt.Fprintf(&b, "<Checksum%s>%s</Checksum%s>", algo, v, algo)
		}
		b.WriteString("</Part>")
	}
	b.WriteString("</CompleteMultipartUpload>")
	return b.String()
}

func (e *testEnv) mpComplete(bucket, key, id, doc string, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.req("POST", "/"+bucket+"/"+keyPath(key)+"?uploadId="+id, doc, hdr...)
}

func (e *testEnv) head(bucket string) string {
	e.t.Helper()
	b, err := e.be.Resolve(context.Background(), bucket, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return b.Commit
}

func TestMultipartUpload(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("mpu")
	p1, p2, p3 := mpData(1, MinPartSize), mpData(2, MinPartSize+7), mpData(3, 1000)
	whole := p1 + p2 + p3
	id := e.mpCreate("mpu", "dir/big.bin", "Content-Type: text/big", "X-Amz-Meta-Color: blue",
		"Cache-Control: no-cache", "X-Amz-Checksum-Algorithm: CRC32")
	// Part 1 with its checksum, part 2 without (computed), part 3 sent
	// first with other bytes then replaced.
	e1 := e.mustPart("mpu", "dir/big.bin", id, 1, p1, "X-Amz-Checksum-Crc32: "+sumOf("CRC32", p1))
	e2 := e.mustPart("mpu", "dir/big.bin", id, 2, p2)
	e.mustPart("mpu", "dir/big.bin", id, 3, "first try")
	w := e.mpPart("mpu", "dir/big.bin", id, 3, p3)
	if w.Code != 200 || w.Header().Get("X-Amz-Checksum-Crc32") != sumOf("CRC32", p3) {
		t.Fatalf("UploadPart 3: %d %v", w.Code, w.Header())
	}
	e3 := unquoteETag(w.Header().Get("ETag"))
	if e1 != md5hex(p1) || e2 != md5hex(p2) || e3 != md5hex(p3) {
		t.Fatalf("part ETags %s %s %s", e1, e2, e3)
	}

	var lp listPartsResult
	decodeXML(t, e.req("GET", "/mpu/dir/big.bin?uploadId="+id+"&max-parts=2", ""), &lp)
	if len(lp.Parts) != 2 || !lp.IsTruncated || lp.NextPartNumberMarker != 2 || lp.Parts[1].Size != int64(len(p2)) ||
		lp.Parts[1].ChecksumCRC32 != sumOf("CRC32", p2) || lp.ChecksumAlgorithm != "CRC32" || lp.Initiator.ID != "admin" {
		t.Fatalf("ListParts page 1: %+v", lp)
	}
	lp = listPartsResult{}
	decodeXML(t, e.req("GET", "/mpu/dir/big.bin?uploadId="+id+"&part-number-marker=2", ""), &lp)
	if len(lp.Parts) != 1 || lp.IsTruncated || lp.Parts[0].PartNumber != 3 || lp.Parts[0].ETag != quoteETag(e3) {
		t.Fatalf("ListParts page 2: %+v", lp)
	}

	before := e.head("mpu")
	doc := completeDoc("1:"+e1, "2:"+e2, "3:"+e3+":CRC32="+sumOf("CRC32", p3))
	w = e.mpComplete("mpu", "dir/big.bin", id, doc)
	var res completeMultipartUploadResult
	decodeXML(t, w, &res)
	raw, _ := base64.StdEncoding.DecodeString(sumOf("CRC32", p1))
	c := crc32.NewIEEE()
	c.Write(raw)
	for _, p := range []string{p2, p3} {
		raw, _ = base64.StdEncoding.DecodeString(sumOf("CRC32", p))
		c.Write(raw)
	}
	wantCRC := b64(c.Sum(nil)) + "-3"
	wantETag, _ := multipartETag([]string{e1, e2, e3})
	if res.ETag != quoteETag(wantETag) || res.ChecksumCRC32 != wantCRC || res.ChecksumType != "COMPOSITE" ||
		res.Key != "dir/big.bin" || res.Bucket != "mpu" || !strings.HasSuffix(res.Location, "/mpu/dir/big.bin") {
		t.Fatalf("Complete: %+v (want ETag %s, crc %s)", res, wantETag, wantCRC)
	}
	version := w.Header().Get("X-Amz-Version-Id")
	if version == "" || version == before || e.head("mpu") != version {
		t.Fatalf("Complete: version %q, branch head %q (was %q)", version, e.head("mpu"), before)
	}
	if !strings.HasSuffix(wantETag, "-3") {
		t.Fatalf("ETag %s", wantETag)
	}

	// Read back: whole, by part, metadata, checksum.
	w = e.req("GET", "/mpu/dir/big.bin", "", "X-Amz-Checksum-Mode: ENABLED")
	if w.Code != 200 || w.Body.String() != whole || w.Header().Get("Content-Type") != "text/big" ||
		w.Header()["x-amz-meta-color"][0] != "blue" || w.Header().Get("Cache-Control") != "no-cache" ||
		w.Header().Get("X-Amz-Checksum-Crc32") != wantCRC || w.Header().Get("X-Amz-Checksum-Type") != "COMPOSITE" ||
		unquoteETag(w.Header().Get("ETag")) != wantETag {
		t.Fatalf("GET: %d, %d bytes, %v", w.Code, w.Body.Len(), w.Header())
	}
	w = e.req("GET", "/mpu/dir/big.bin?partNumber=2", "")
	if w.Code != 206 || w.Body.String() != p2 || w.Header().Get("X-Amz-Mp-Parts-Count") != "3" ||
		w.Header().Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", len(p1), len(p1)+len(p2)-1, len(whole)) {
		t.Fatalf("GET partNumber=2: %d %v", w.Code, w.Header())
	}
	expectError(t, e.req("GET", "/mpu/dir/big.bin?partNumber=4", ""), 400, "InvalidPartNumber")

	// Completing again answers the same; the upload is gone otherwise.
	w = e.mpComplete("mpu", "dir/big.bin", id, doc)
	var again completeMultipartUploadResult
	decodeXML(t, w, &again)
	if again.ETag != res.ETag || w.Header().Get("X-Amz-Version-Id") != version || e.head("mpu") != version {
		t.Fatalf("second Complete: %+v version %s", again, w.Header().Get("X-Amz-Version-Id"))
	}
	expectError(t, e.mpComplete("mpu", "dir/big.bin", id, completeDoc("1:"+e1, "2:"+e2)), 404, "NoSuchUpload")
	expectError(t, e.mpPart("mpu", "dir/big.bin", id, 4, "x"), 404, "NoSuchUpload")
	expectError(t, e.req("GET", "/mpu/dir/big.bin?uploadId="+id, ""), 404, "NoSuchUpload")
	expectError(t, e.req("DELETE", "/mpu/dir/big.bin?uploadId="+id, ""), 404, "NoSuchUpload")

	// A single-part upload, no checksum: ETag md5-of-md5-1, no checksum.
	id = e.mpCreate("mpu", "one")
	e1 = e.mustPart("mpu", "one", id, 7, "tiny")
	res = completeMultipartUploadResult{}
	decodeXML(t, e.mpComplete("mpu", "one", id, completeDoc("7:"+e1)), &res)
	want1, _ := multipartETag([]string{e1})
	if res.ETag != quoteETag(want1) || res.ChecksumCRC32 != "" || res.ChecksumType != "" {
		t.Fatalf("single-part Complete: %+v", res)
	}
	if w := e.req("GET", "/mpu/one", ""); w.Body.String() != "tiny" {
		t.Fatalf("single-part object: %q", w.Body)
	}

	// Abort.
	id = e.mpCreate("mpu", "aborted")
	e.mustPart("mpu", "aborted", id, 1, "x")
	if w := e.req("DELETE", "/mpu/aborted?uploadId="+id, ""); w.Code != 204 {
		t.Fatalf("Abort: %d %s", w.Code, w.Body)
	}
	expectError(t, e.mpPart("mpu", "aborted", id, 2, "y"), 404, "NoSuchUpload")
	expectError(t, e.mpComplete("mpu", "aborted", id, completeDoc("1:"+md5hex("x"))), 404, "NoSuchUpload")
	expectError(t, e.req("GET", "/mpu/aborted", ""), 404, "NoSuchKey")
}

// TestMultipartChecksums checks the object checksum of every algorithm
// and type against values computed here from the whole object.
func TestMultipartChecksums(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("cks")
	parts := []string{mpData(10, MinPartSize+3), mpData(11, MinPartSize), mpData(12, 12345)}
	whole := strings.Join(parts, "")
	for _, tc := range []struct{ algo, typ, sentType string }{
		{"CRC32", "COMPOSITE", ""}, {"CRC32", "FULL_OBJECT", "FULL_OBJECT"},
		{"CRC32C", "COMPOSITE", "COMPOSITE"}, {"CRC32C", "FULL_OBJECT", "FULL_OBJECT"},
		{"CRC64NVME", "FULL_OBJECT", ""}, {"SHA1", "COMPOSITE", ""}, {"SHA256", "COMPOSITE", "COMPOSITE"},
	} {
		t.Run(tc.algo+"-"+tc.typ, func(t *testing.T) {
			key := strings.ToLower(tc.algo + tc.typ)
			hdr := []string{"X-Amz-Checksum-Algorithm: " + strings.ToLower(tc.algo)}
			if tc.sentType != "" {
				hdr = append(hdr, "X-Amz-Checksum-Type: "+tc.sentType)
			}
			w := e.req("POST", "/cks/"+key+"?uploads", "", hdr...)
			var ir initiateMultipartUploadResult
			decodeXML(t, w, &ir)
			if w.Header().Get("X-Amz-Checksum-Algorithm") != tc.algo || w.Header().Get("X-Amz-Checksum-Type") != tc.typ {
				t.Fatalf("Create: %v", w.Header())
			}
			var listed []string
			for i, p := range parts {
				etag := e.mustPart("cks", key, ir.UploadID, i+1, p, checksumHeader(tc.algo)+": "+sumOf(tc.algo, p))
				listed = append(listed, fmt.Sprintf("%d:%s", i+1, etag))
			}
			var want string
			if tc.typ == "FULL_OBJECT" {
				want = sumOf(tc.algo, whole)
			} else {
				h := newChecksumHash(tc.algo)
				for _, p := range parts {
					raw, _ := base64.StdEncoding.DecodeString(sumOf(tc.algo, p))
					h.Write(raw)
				}
				want = b64(h.Sum(nil)) + "-3"
			}
			// A wrong object checksum is BadDigest and writes nothing.
			before := e.head("cks")
			expectError(t, e.mpComplete("cks", key, ir.UploadID, completeDoc(listed...), checksumHeader(tc.algo)+": "+sumOf(tc.algo, "nope")), 400, "BadDigest")
			if e.head("cks") != before {
				t.Fatal("a refused completion made a commit")
			}
			var res completeMultipartUploadResult
			decodeXML(t, e.mpComplete("cks", key, ir.UploadID, completeDoc(listed...), checksumHeader(tc.algo)+": "+want), &res)
			if got := res.asMap()[tc.algo]; got != want || res.ChecksumType != tc.typ {
				t.Fatalf("object %s = %q (%s), want %q (%s)", tc.algo, got, res.ChecksumType, want, tc.typ)
			}
			w = e.req("HEAD", "/cks/"+key, "", "X-Amz-Checksum-Mode: ENABLED")
			if w.Header().Get(checksumHeader(tc.algo)) != want || w.Header().Get("X-Amz-Checksum-Type") != tc.typ {
				t.Fatalf("HEAD: %v", w.Header())
			}
		})
	}
}

func TestCRCCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, algo := range []string{"CRC32", "CRC32C", "CRC64NVME"} {
		for i := 0; i < 30; i++ {
			n := 1 + rng.IntN(5)
			var parts []string
			for j := 0; j < n; j++ {
				size := rng.IntN(3000)
				if rng.IntN(5) == 0 {
					size = 0
				}
				parts = append(parts, mpData(byte(i*7+j), size))
			}
			var sums []string
			var sizes []int64
			for _, p := range parts {
				sums = append(sums, sumOf(algo, p))
				sizes = append(sizes, int64(len(p)))
			}
			got, ok := fullObjectChecksum(algo, sums, sizes)
			if want := sumOf(algo, strings.Join(parts, "")); !ok || got != want {
				t.Fatalf("%s of %d parts %v: combined %s, want %s", algo, n, sizes, got, want)
			}
		}
	}
	// The polynomials are the standard ones.
	if crc64nvme.New().Size() != 8 || crcParams["CRC32"].poly != crc32.IEEE || crcParams["CRC32C"].poly != crc32.Castagnoli {
		t.Fatal("polynomials")
	}
	if _, ok := fullObjectChecksum("SHA256", []string{"x"}, []int64{1}); ok {
		t.Fatal("SHA256 combined")
	}
}

// TestMultipartErrors: every refusal answers S3's code and writes nothing;
// the upload stays completable after each refused completion.
func TestMultipartErrors(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("err")
	e.put("err", "exists", "old")
	e.be.tag("err", "main", "v1")
	big := mpData(20, MinPartSize)
	id := e.mpCreate("err", "obj", "X-Amz-Checksum-Algorithm: SHA256")
	e1 := e.mustPart("err", "obj", id, 1, big)
	e2 := e.mustPart("err", "obj", id, 2, "small")
	e3 := e.mustPart("err", "obj", id, 3, "last")
	other := e.mpCreate("err", "other")
	e.mustPart("err", "other", other, 1, "tiny")
	ok := []string{"1:" + e1, "2:" + e2 + ":SHA256=" + sumOf("SHA256", "small")}
	before := e.head("err")

	for _, tc := range []struct {
		name, method, target, body string
		hdr                        []string
		status                     int
		code                       string
	}{
		// CreateMultipartUpload
		{"create on a tag", "POST", "/v1.err/k?uploads", "", nil, 403, "AccessDenied"},
		{"create on a missing bucket", "POST", "/nosuch/k?uploads", "", nil, 404, "NoSuchBucket"},
		{"create with an unknown algorithm", "POST", "/err/k?uploads", "", []string{"X-Amz-Checksum-Algorithm: MD5"}, 400, "InvalidRequest"},
		{"create with a type but no algorithm", "POST", "/err/k?uploads", "", []string{"X-Amz-Checksum-Type: COMPOSITE"}, 400, "InvalidRequest"},
		{"create SHA256 full object", "POST", "/err/k?uploads", "", []string{"X-Amz-Checksum-Algorithm: SHA256", "X-Amz-Checksum-Type: FULL_OBJECT"}, 400, "InvalidRequest"},
		{"create CRC64NVME composite", "POST", "/err/k?uploads", "", []string{"X-Amz-Checksum-Algorithm: CRC64NVME", "X-Amz-Checksum-Type: COMPOSITE"}, 400, "InvalidRequest"},
		{"create with tusk metadata", "POST", "/err/k?uploads", "", []string{"X-Amz-Meta-Tusk-Pipeline: forged"}, 400, "InvalidArgument"},
		{"create with SSE", "POST", "/err/k?uploads", "", []string{"X-Amz-Server-Side-Encryption: AES256"}, 501, "NotImplemented"},
		{"create anonymous", "POST", "/err/k?uploads", "", []string{"X-Test-User:"}, 403, "AccessDenied"},
		{"create as a reader", "POST", "/err/k?uploads", "", []string{"X-Test-User: reader"}, 403, "AccessDenied"},
		// UploadPart
		{"part 0", "PUT", "/err/obj?partNumber=0&uploadId=" + id, "x", nil, 400, "InvalidArgument"},
		{"part 10001", "PUT", "/err/obj?partNumber=10001&uploadId=" + id, "x", nil, 400, "InvalidArgument"},
		{"part not a number", "PUT", "/err/obj?partNumber=one&uploadId=" + id, "x", nil, 400, "InvalidArgument"},
		{"part without a number", "PUT", "/err/obj?uploadId=" + id, "x", nil, 400, "InvalidArgument"},
		{"part of an unknown upload", "PUT", "/err/obj?partNumber=1&uploadId=nosuch", "x", nil, 404, "NoSuchUpload"},
		{"part with an empty upload id", "PUT", "/err/obj?partNumber=1&uploadId=", "x", nil, 404, "NoSuchUpload"},
		{"part under another key", "PUT", "/err/obj2?partNumber=1&uploadId=" + id, "x", nil, 404, "NoSuchUpload"},
		{"part through another ref", "PUT", "/v1.err/obj?partNumber=1&uploadId=" + id, "x", nil, 403, "AccessDenied"},
		{"part with a bad Content-MD5", "PUT", "/err/obj?partNumber=4&uploadId=" + id, "x", []string{"Content-MD5: " + b64(make([]byte, 16))}, 400, "BadDigest"},
		{"part with a bad checksum", "PUT", "/err/obj?partNumber=4&uploadId=" + id, "x", []string{"X-Amz-Checksum-Sha256: " + sumOf("SHA256", "y")}, 400, "BadDigest"},
		{"part with another algorithm", "PUT", "/err/obj?partNumber=4&uploadId=" + id, "x", []string{"X-Amz-Checksum-Crc32: " + sumOf("CRC32", "x")}, 400, "InvalidRequest"},
		{"part as a reader", "PUT", "/err/obj?partNumber=4&uploadId=" + id, "x", []string{"X-Test-User: reader"}, 403, "AccessDenied"},
		// CompleteMultipartUpload
		{"complete malformed", "POST", "/err/obj?uploadId=" + id, "<CompleteMultipartUpload><Part>", nil, 400, "MalformedXML"},
		{"complete with no part", "POST", "/err/obj?uploadId=" + id, "<CompleteMultipartUpload></CompleteMultipartUpload>", nil, 400, "MalformedXML"},
		{"complete with a bad part number", "POST", "/err/obj?uploadId=" + id, completeDoc("x:" + e1), nil, 400, "MalformedXML"},
		{"complete part 0", "POST", "/err/obj?uploadId=" + id, completeDoc("0:" + e1), nil, 400, "InvalidPart"},
		{"complete out of order", "POST", "/err/obj?uploadId=" + id, completeDoc("2:"+e2, "1:"+e1), nil, 400, "InvalidPartOrder"},
		{"complete with a part twice", "POST", "/err/obj?uploadId=" + id, completeDoc("1:"+e1, "1:"+e1), nil, 400, "InvalidPartOrder"},
		{"complete an unknown part", "POST", "/err/obj?uploadId=" + id, completeDoc("1:"+e1, "9:"+e2), nil, 400, "InvalidPart"},
		{"complete a wrong ETag", "POST", "/err/obj?uploadId=" + id, completeDoc("1:"+e2, "2:"+e2), nil, 400, "InvalidPart"},
		{"complete a wrong part checksum", "POST", "/err/obj?uploadId=" + id, completeDoc("1:"+e1, "2:"+e2+":SHA256="+sumOf("SHA256", "x")), nil, 400, "InvalidPart"},
		{"complete a small part", "POST", "/err/obj?uploadId=" + id, completeDoc("1:"+e1, "2:"+e2, "3:"+e3), nil, 400, "EntityTooSmall"},
		{"complete an unknown upload", "POST", "/err/obj?uploadId=nosuch", completeDoc(ok...), nil, 404, "NoSuchUpload"},
		{"complete under another key", "POST", "/err/other?uploadId=" + id, completeDoc(ok...), nil, 404, "NoSuchUpload"},
		{"complete on a tag", "POST", "/v1.err/obj?uploadId=" + id, completeDoc(ok...), nil, 403, "AccessDenied"},
		{"complete with a wrong checksum type", "POST", "/err/obj?uploadId=" + id, completeDoc(ok...), []string{"X-Amz-Checksum-Type: FULL_OBJECT"}, 400, "InvalidRequest"},
		{"complete with a wrong size", "POST", "/err/obj?uploadId=" + id, completeDoc(ok...), []string{"X-Amz-Mp-Object-Size: 5"}, 400, "InvalidRequest"},
		{"complete with a bad Content-MD5", "POST", "/err/obj?uploadId=" + id, completeDoc(ok...), []string{"Content-MD5: " + b64(make([]byte, 16))}, 400, "BadDigest"},
		{"complete with If-Match on a missing key", "POST", "/err/obj?uploadId=" + id, completeDoc(ok...), []string{"If-Match: \"abc\""}, 404, "NoSuchKey"},
		{"complete with If-None-Match on another ETag", "POST", "/err/obj?uploadId=" + id, completeDoc(ok...), []string{"If-None-Match: \"abc\""}, 501, "NotImplemented"},
		{"complete as a reader", "POST", "/err/obj?uploadId=" + id, completeDoc(ok...), []string{"X-Test-User: reader"}, 403, "AccessDenied"},
		// Abort, ListParts, ListMultipartUploads
		{"abort an unknown upload", "DELETE", "/err/obj?uploadId=nosuch", "", nil, 404, "NoSuchUpload"},
		{"abort under another key", "DELETE", "/err/other?uploadId=" + id, "", nil, 404, "NoSuchUpload"},
		{"abort as a reader", "DELETE", "/err/obj?uploadId=" + id, "", []string{"X-Test-User: reader"}, 403, "AccessDenied"},
		{"list parts of an unknown upload", "GET", "/err/obj?uploadId=nosuch", "", nil, 404, "NoSuchUpload"},
		{"list parts with a bad max-parts", "GET", "/err/obj?uploadId=" + id + "&max-parts=-1", "", nil, 400, "InvalidArgument"},
		{"list parts with a bad marker", "GET", "/err/obj?uploadId=" + id + "&part-number-marker=x", "", nil, 400, "InvalidArgument"},
		{"list uploads with a bad max", "GET", "/err?uploads&max-uploads=x", "", nil, 400, "InvalidArgument"},
		{"list uploads with a bad encoding", "GET", "/err?uploads&encoding-type=zip", "", nil, 400, "InvalidArgument"},
		{"list uploads anonymous", "GET", "/err?uploads", "", []string{"X-Test-User:"}, 403, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, e.req(tc.method, tc.target, tc.body, tc.hdr...), tc.status, tc.code)
			if h := e.head("err"); h != before {
				t.Fatalf("a refused request made a commit (head %s, was %s)", h, before)
			}
		})
	}
	// Conditions: If-None-Match: * on an existing key.
	idx := e.mpCreate("err", "exists")
	ex := e.mustPart("err", "exists", idx, 1, "new")
	expectError(t, e.mpComplete("err", "exists", idx, completeDoc("1:"+ex), "If-None-Match: *"), 412, "PreconditionFailed")
	expectError(t, e.mpComplete("err", "exists", idx, completeDoc("1:"+ex), "If-Match: \"0123\""), 412, "PreconditionFailed")
	if e.head("err") != before || e.req("GET", "/err/exists", "").Body.String() != "old" {
		t.Fatal("a refused conditional completion wrote")
	}
	// Nothing was written, nothing was lost: both uploads still complete.
	var lp listPartsResult
	decodeXML(t, e.req("GET", "/err/obj?uploadId="+id, ""), &lp)
	if len(lp.Parts) != 3 {
		t.Fatalf("parts after refusals: %+v", lp.Parts)
	}
	w := e.mpComplete("err", "obj", id, completeDoc(ok...))
	if w.Code != 200 {
		t.Fatalf("completion after the refusals: %d %s", w.Code, w.Body)
	}
	if got := e.req("GET", "/err/obj", "").Body.String(); got != big+"small" {
		t.Fatalf("object after completion: %d bytes", len(got))
	}
	w = e.mpComplete("err", "exists", idx, completeDoc("1:"+ex), "If-Match: \""+md5hex("old")+"\"")
	if w.Code != 200 || e.req("GET", "/err/exists", "").Body.String() != "new" {
		t.Fatalf("conditional completion: %d %s", w.Code, w.Body)
	}
}

func TestListMultipartUploads(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("lmu")
	if w := e.req("PUT", "/dev.lmu", ""); w.Code != 200 {
		t.Fatal(w.Body)
	}
	ids := map[string][]string{}
	for _, k := range []string{"a/1", "a/2", "b c", "b c", "c/x/1", "d+e"} {
		ids[k] = append(ids[k], e.mpCreate("lmu", k))
	}
	e.mpCreate("dev.lmu", "on-dev")
	list := func(q string) listMultipartUploadsResult {
		t.Helper()
		var res listMultipartUploadsResult
		decodeXML(t, e.req("GET", "/lmu?uploads"+q, ""), &res)
		return res
	}
	names := func(r listMultipartUploadsResult) string {
		var out []string
		for _, u := range r.Uploads {
			out = append(out, u.Key)
		}
		for _, p := range r.CommonPrefixes {
			out = append(out, "P:"+p.Prefix)
		}
		return strings.Join(out, ",")
	}
	if got := names(list("")); got != "a/1,a/2,b c,b c,c/x/1,d+e" {
		t.Errorf("all: %s", got)
	}
	r := list("&delimiter=/")
	if got := names(r); got != "b c,b c,d+e,P:a/,P:c/" || r.Delimiter != "/" {
		t.Errorf("delimiter: %s", got)
	}
	if got := names(list("&prefix=c/&delimiter=/")); got != "P:c/x/" {
		t.Errorf("prefix: %s", got)
	}
	r = list("&max-uploads=3")
	if got := names(r); got != "a/1,a/2,b c" || !r.IsTruncated || r.NextKeyMarker != "b c" || r.NextUploadIDMarker != ids["b c"][0] {
		t.Errorf("page 1: %s %+v", got, r)
	}
	r = list("&max-uploads=3&key-marker=" + url_(r.NextKeyMarker) + "&upload-id-marker=" + r.NextUploadIDMarker)
	if got := names(r); got != "b c,c/x/1,d+e" || r.IsTruncated || r.Uploads[0].UploadID != ids["b c"][1] {
		t.Errorf("page 2: %s %+v", got, r)
	}
	r = list("&encoding-type=url&prefix=b")
	if len(r.Uploads) != 2 || r.Uploads[0].Key != "b%20c" || r.EncodingType != "url" || r.Uploads[0].Initiator.ID != "admin" ||
		r.Uploads[0].StorageClass != "STANDARD" {
		t.Errorf("url encoding: %+v", r)
	}
	var dev listMultipartUploadsResult
	decodeXML(t, e.req("GET", "/dev.lmu?uploads", ""), &dev)
	if names(dev) != "on-dev" {
		t.Errorf("dev: %s", names(dev))
	}
	if r := list("&max-uploads=0"); len(r.Uploads) != 0 || r.MaxUploads != 0 {
		t.Errorf("max-uploads=0: %+v", r)
	}
}

func url_(s string) string { return strings.ReplaceAll(urlEncodeKey(s), "/", "%2F") }

func TestUploadPartCopy(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("dst")
	e.mkRepo("src")
	if w := e.req("PUT", "/dev.src", ""); w.Code != 200 {
		t.Fatal(w.Body)
	}
	old := mpData(30, MinPartSize+100)
	v1 := e.put("dev.src", "data", old).Header().Get("X-Amz-Version-Id")
	e.put("dev.src", "data", "newer")
	e.put("src", "small", "0123456789")
	id := e.mpCreate("dst", "copy", "X-Amz-Checksum-Algorithm: CRC32C")
	copyPart := func(n int, hdr ...string) *httptest.ResponseRecorder {
		return e.req("PUT", fmt.Sprintf("/dst/copy?partNumber=%d&uploadId=%s", n, id), "", hdr...)
	}
	// Part 1: a range of an old version on another repo's branch.
	w := copyPart(1, "X-Amz-Copy-Source: /dev.src/data?versionId="+v1, "X-Amz-Copy-Source-Range: bytes=50-"+strconv.Itoa(MinPartSize+49))
	var cr copyPartResult
	decodeXML(t, w, &cr)
	want1 := old[50 : 50+MinPartSize]
	if cr.ETag != quoteETag(md5hex(want1)) || cr.ChecksumCRC32C != sumOf("CRC32C", want1) || w.Header().Get("X-Amz-Copy-Source-Version-Id") != v1 {
		t.Fatalf("UploadPartCopy: %+v %v", cr, w.Header())
	}
	// Part 2: a whole object.
	decodeXML(t, copyPart(2, "X-Amz-Copy-Source: src/small", "X-Amz-Copy-Source-If-Match: \""+md5hex("0123456789")+"\""), &cr)
	e2 := unquoteETag(cr.ETag)
	for _, tc := range []struct {
		hdr    []string
		status int
		code   string
	}{
		{[]string{"X-Amz-Copy-Source: src/missing"}, 404, "NoSuchKey"},
		{[]string{"X-Amz-Copy-Source: nosuch/small"}, 404, "NoSuchBucket"},
		{[]string{"X-Amz-Copy-Source: src/small?versionId=" + strings.Repeat("0", 32)}, 404, "NoSuchVersion"},
		{[]string{"X-Amz-Copy-Source: src"}, 400, "InvalidArgument"},
		{[]string{"X-Amz-Copy-Source: src/small", "X-Amz-Copy-Source-Range: bytes=5-10"}, 400, "InvalidArgument"},
		{[]string{"X-Amz-Copy-Source: src/small", "X-Amz-Copy-Source-Range: bytes=5-"}, 400, "InvalidArgument"},
		{[]string{"X-Amz-Copy-Source: src/small", "X-Amz-Copy-Source-Range: 0-3"}, 400, "InvalidArgument"},
		{[]string{"X-Amz-Copy-Source: src/small", "X-Amz-Copy-Source-If-None-Match: \"" + md5hex("0123456789") + "\""}, 412, "PreconditionFailed"},
		{[]string{"X-Amz-Copy-Source: src/small", "X-Test-User: reader"}, 403, "AccessDenied"},
	} {
		expectError(t, copyPart(3, tc.hdr...), tc.status, tc.code)
	}
	expectError(t, e.req("PUT", "/dst/copy?partNumber=3&uploadId=nosuch", "", "X-Amz-Copy-Source: src/small"), 404, "NoSuchUpload")
	var lp listPartsResult
	decodeXML(t, e.req("GET", "/dst/copy?uploadId="+id, ""), &lp)
	if len(lp.Parts) != 2 {
		t.Fatalf("parts: %+v", lp.Parts)
	}
	decodeXML(t, e.mpComplete("dst", "copy", id, completeDoc("1:"+unquoteETag(lp.Parts[0].ETag), "2:"+e2)), &completeMultipartUploadResult{})
	if got := e.req("GET", "/dst/copy", "").Body.String(); got != want1+"0123456789" {
		t.Fatalf("copied object: %d bytes", len(got))
	}
}

func TestCompleteKeepalive(t *testing.T) {
	after, every := keepaliveAfter, keepaliveEvery
	keepaliveAfter, keepaliveEvery = time.Millisecond, time.Millisecond
	defer func() { keepaliveAfter, keepaliveEvery, keepaliveSent = after, every, nil }()
	e := newEnv(t)
	e.mkRepo("slow")
	// Each completion is held until the keepalive has sent its 200 and a
	// first space: the event, not a timer race, makes it "slow".
	hold := func() {
		spaced := make(chan struct{})
		var once sync.Once
		keepaliveSent = func() { once.Do(func() { close(spaced) }) }
		e.be.mu.Lock()
		e.be.mp().hold = spaced
		e.be.mu.Unlock()
	}
	hold()
	id := e.mpCreate("slow", "k")
	et := e.mustPart("slow", "k", id, 1, "body")
	w := e.mpComplete("slow", "k", id, completeDoc("1:"+et))
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(body, xml.Header+" ") {
		t.Fatalf("slow completion: %d %q", w.Code, body)
	}
	var res completeMultipartUploadResult
	if err := xml.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Key != "k" {
		t.Fatalf("slow completion body %q: %v", body, err)
	}
	// A failure after the 200: an <Error> document in the body.
	hold()
	e.put("slow", "taken", "x")
	id = e.mpCreate("slow", "taken")
	et = e.mustPart("slow", "taken", id, 1, "body")
	w = e.mpComplete("slow", "taken", id, completeDoc("1:"+et), "If-None-Match: *")
	var ex errorXML
	if err := xml.Unmarshal(w.Body.Bytes(), &ex); w.Code != 200 || err != nil || ex.Code != "PreconditionFailed" || ex.RequestID == "" {
		t.Fatalf("slow failure: %d %q %v", w.Code, w.Body, err)
	}
}

// TestMultipartETag pins the ETag rule against a hand computation.
func TestMultipartETag(t *testing.T) {
	a, b := md5.Sum([]byte("a")), md5.Sum([]byte("b"))
	want := md5.Sum(append(a[:], b[:]...))
	got, ok := multipartETag([]string{hex.EncodeToString(a[:]), strings.ToUpper(hex.EncodeToString(b[:]))})
	if !ok || got != hex.EncodeToString(want[:])+"-2" {
		t.Fatalf("multipartETag = %s", got)
	}
	if _, ok := multipartETag([]string{"zz"}); ok {
		t.Fatal("bad ETag accepted")
	}
}
