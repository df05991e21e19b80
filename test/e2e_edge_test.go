package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	minio "github.com/minio/minio-go/v7"

	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// TestOpenCommit: writes to an open commit's bucket <id>.REPO are read back
// there at once, stay invisible on the branch until the commit is finished,
// and then appear as one commit whose id is the open commit's (SPEC §3).
func TestOpenCommit(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "base", []byte("base"))
	oc, err := e.srv.Meta.StartCommit(ctx(t), repo, "main", "admin", "batch", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ob := oc.ID[:16] + "." + repo
	p := put(t, c, ob, "batch/1", []byte("one"))
	put(t, c, ob, "batch/2", []byte("two"))
	deleteKey(t, c, ob, "base")
	// A plain write to the branch meanwhile stays its own commit.
	put(t, c, repo, "direct", []byte("direct"))
	// Both change "contested": the open commit's write wins at finish.
	put(t, c, ob, "contested", []byte("from the open commit"))
	put(t, c, repo, "contested", []byte("from the branch"))
	// The open commit's view does not have "direct": creating it there
	// with If-None-Match: * succeeds.
	put(t, c, ob, "direct", []byte("direct, open commit's"), func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })

	if b, _ := get(t, c, ob, "batch/1", ""); string(b) != "one" {
		t.Fatalf("read-after-write in the open commit: %q", b)
	}
	if v := aws.ToString(p.VersionId); v != oc.ID {
		t.Errorf("open-commit write answered x-amz-version-id %q, want the open commit's id %s", v, oc.ID)
	}
	if got := keysOf(t, c, ob); strings.Join(got, ",") != "batch/1,batch/2,contested,direct" {
		t.Fatalf("open commit lists %q", got)
	}
	wantErr(t, getErr(t, c, repo, "batch/1", ""), 404, "NoSuchKey")
	// Conditional writes see the open commit's own view.
	_, err = c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(ob), Key: aws.String("batch/1"),
		Body: bytes.NewReader([]byte("x")), IfNoneMatch: aws.String("*")})
	wantErr(t, err, 412, "PreconditionFailed")

	if _, err := e.srv.Meta.FinishCommit(ctx(t), repo, oc.ID, ""); err != nil {
		t.Fatal(err)
	}
	b, g := get(t, c, repo, "batch/2", "")
	if string(b) != "two" || aws.ToString(g.VersionId) != oc.ID {
		t.Fatalf("after finish: %q version %q, want the open commit's id %s", b, aws.ToString(g.VersionId), oc.ID)
	}
	wantErr(t, getErr(t, c, repo, "base", ""), 404, "NoSuchKey")
	if b, _ := get(t, c, repo, "contested", ""); string(b) != "from the open commit" {
		t.Fatalf("contested after finish: %q, want the open commit's", b)
	}
	// Aborting discards every write of an open commit.
	ab, err := e.srv.Meta.StartCommit(ctx(t), repo, "main", "admin", "to abort", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	abBucket := ab.ID[:16] + "." + repo
	put(t, c, abBucket, "aborted", []byte("never visible"))
	before := e.versions(t, repo)
	if err := e.srv.Meta.AbortCommit(ctx(t), repo, ab.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, getErr(t, c, abBucket, "aborted", ""), 404, "NoSuchBucket")
	wantErr(t, getErr(t, c, repo, "aborted", ""), 404, "NoSuchKey")
	sameVersions(t, "abort", e.versions(t, repo), before)

	// The finished commit's bucket is read-only now.
	_, err = c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(ob), Key: aws.String("late"), Body: bytes.NewReader([]byte("x"))})
	wantErr(t, err, 403, "AccessDenied")
	if !strings.Contains(apiMessage(err), "read-only") {
		t.Errorf("finished commit refusal message %q", apiMessage(err))
	}
}

// TestInterruptedWrite: a PUT whose body stops short leaves no trace.
func TestInterruptedWrite(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "keep", []byte("keep"))
	before := e.versions(t, repo)

	full := bytes.Repeat([]byte("0123456789"), 10000) // 100 KB announced
	for _, sent := range []int{0, 1, 50000, len(full) - 1} {
		t.Run(fmt.Sprintf("%d of %d bytes", sent, len(full)), func(t *testing.T) {
			req, err := http.NewRequest("PUT", e.srv.URL+"/"+repo+"/partial", bytes.NewReader(full))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
				aws.Credentials{AccessKeyID: gatewaytest.AccessKey, SecretAccessKey: gatewaytest.SecretKey},
				req, "UNSIGNED-PAYLOAD", "s3", region, time.Now()); err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", e.srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			var hdr bytes.Buffer
			fmt.Fprintf(&hdr, "PUT /%s/partial HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", repo, req.Host, len(full))
			for k, vs := range req.Header {
				for _, v := range vs {
					fmt.Fprintf(&hdr, "%s: %s\r\n", k, v)
				}
			}
			hdr.WriteString("\r\n")
			conn.Write(hdr.Bytes())
			conn.Write(full[:sent])
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					t.Fatalf("a PUT with %d of %d bytes succeeded", sent, len(full))
				}
			}
			// The server closes the connection (the client sent all it
			// will) once its handler returned: after that EOF nothing of
			// the request can still be committed.
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Fatalf("waiting for the server to close the connection: %v", err)
			}
			conn.Close()
			sameVersions(t, "interrupted PUT", e.versions(t, repo), before)
			_, err = c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String("partial")})
			wantErr(t, err, 404, "")
		})
	}
}

// TestEdgeCases: empty objects, metadata limits, response overrides,
// DeleteObjects limits, canned ACLs on CreateBucket, and purge vs listing
// prefixes.
func TestEdgeCases(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)

	t.Run("empty object", func(t *testing.T) {
		p := put(t, c, repo, "empty", nil)
		if aws.ToString(p.ETag) != `"d41d8cd98f00b204e9800998ecf8427e"` {
			t.Fatalf("empty ETag %s", aws.ToString(p.ETag))
		}
		b, g := get(t, c, repo, "empty", "")
		if len(b) != 0 || aws.ToInt64(g.ContentLength) != 0 {
			t.Fatalf("empty GET: %d bytes", len(b))
		}
		out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("empty"), PartNumber: aws.Int32(1)})
		if err != nil {
			t.Fatalf("partNumber=1 of an empty object: %v", err)
		}
		out.Body.Close()
		mc := e.minio(true)
		st, err := mc.StatObject(ctx(t), repo, "empty", minio.StatObjectOptions{})
		if err != nil || st.Size != 0 {
			t.Fatalf("minio stat of empty: %v %d", err, st.Size)
		}
	})
	t.Run("metadata too large", func(t *testing.T) {
		before := e.versions(t, repo)
		_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("big-meta"),
			Body: bytes.NewReader([]byte("x")), Metadata: map[string]string{"big": strings.Repeat("m", 2100)}})
		wantErr(t, err, 400, "MetadataTooLarge")
		sameVersions(t, "metadata too large", e.versions(t, repo), before)
	})
	t.Run("response overrides", func(t *testing.T) {
		put(t, c, repo, "ov", []byte("override me"), func(in *s3.PutObjectInput) { in.ContentType = aws.String("text/plain") })
		out, err := c.GetObject(ctx(t), &s3.GetObjectInput{Bucket: aws.String(repo), Key: aws.String("ov"),
			ResponseContentType: aws.String("application/x-override"), ResponseContentDisposition: aws.String("inline"),
			ResponseCacheControl: aws.String("no-store")})
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		if aws.ToString(out.ContentType) != "application/x-override" || aws.ToString(out.ContentDisposition) != "inline" ||
			aws.ToString(out.CacheControl) != "no-store" {
			t.Fatalf("overrides: %q %q %q", aws.ToString(out.ContentType), aws.ToString(out.ContentDisposition), aws.ToString(out.CacheControl))
		}
		_, g := get(t, c, repo, "ov", "")
		if aws.ToString(g.ContentType) != "text/plain" {
			t.Fatalf("override was stored: %q", aws.ToString(g.ContentType))
		}
	})
	t.Run("DeleteObjects over 1000 keys", func(t *testing.T) {
		before := e.versions(t, repo)
		var b strings.Builder
		b.WriteString("<Delete>")
		for i := 0; i < 1001; i++ {
			fmt.Fprintf(&b, "<Object><Key>k%d</Key></Object>", i)
		}
		b.WriteString("</Delete>")
		r := e.do(t, rawReq{method: "POST", bucket: repo, query: "delete", body: []byte(b.String()),
			header: map[string]string{"Content-MD5": md5b64([]byte(b.String()))}})
		wantRawErr(t, r, 400, "MalformedXML")
		sameVersions(t, "1001 keys", e.versions(t, repo), before)
	})
	t.Run("CreateBucket canned ACLs", func(t *testing.T) {
		name := e.name("acl")
		_, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name), ACL: types.BucketCannedACLPublicReadWrite})
		wantErr(t, err, 501, "NotImplemented")
		wantErr(t, headBucket(t, c, name), 404, "")
		if _, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name), ACL: types.BucketCannedACLPrivate}); err != nil {
			t.Fatalf("CreateBucket x-amz-acl private: %v", err)
		}
	})
	t.Run("purged key leaves no common prefix", func(t *testing.T) {
		r := e.repo(t)
		p := put(t, c, r, "only/inside", []byte("content only under only/"))
		put(t, c, r, "top", []byte("top"))
		deleteVersion(t, c, r, "only/inside", aws.ToString(p.VersionId))
		lo, err := c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(r), Delimiter: aws.String("/")})
		if err != nil {
			t.Fatal(err)
		}
		if len(lo.CommonPrefixes) != 0 || len(lo.Contents) != 1 {
			t.Errorf("after purging the only key under only/: %s; want only [top] and no prefix", describeList(lo))
		}
		vp := e.versionsRaw(t, r, url.Values{"delimiter": {"/"}})
		if len(vp.CommonPrefixes) != 0 {
			t.Fatalf("ListObjectVersions delimiter /: prefixes %q for purged-only content", vp.CommonPrefixes)
		}
	})
	t.Run("versions with odd keys and encoding-type=url", func(t *testing.T) {
		r := e.repo(t)
		for _, k := range oddKeys {
			put(t, c, r, k, []byte(k))
		}
		for _, k := range oddKeys[:6] {
			deleteKey(t, c, r, k)
		}
		q := url.Values{"encoding-type": {"url"}}
		full := decodeVersions(t, e.versionsRaw(t, r, q).Entries)
		if len(full) != len(oddKeys)+6 {
			t.Fatalf("%d versions, want %d", len(full), len(oddKeys)+6)
		}
		var keys []string
		for _, v := range full {
			if v.IsLatest {
				keys = append(keys, v.Key)
			}
		}
		if !equalStrings(keys, sortedCopy(oddKeys)) {
			t.Fatalf("decoded version keys:\n got  %q\n want %q", keys, sortedCopy(oddKeys))
		}
		// Paginate, decoding the markers the server encoded.
		var pag []verEntry
		q.Set("max-keys", "1")
		for i := 0; i < 200; i++ {
			pg := e.versionsRaw(t, r, q)
			pag = append(pag, decodeVersions(t, pg.Entries)...)
			if !pg.IsTruncated {
				break
			}
			km, err := url.QueryUnescape(pg.NextKeyMarker)
			if err != nil {
				t.Fatal(err)
			}
			q.Set("key-marker", km)
			q.Set("version-id-marker", pg.NextVersionIDMarker)
		}
		sameVersions(t, "versions encoding-type=url max-keys=1", pag, full)

		// Delimiters (one and several characters) on versions: the keys
		// and prefixes follow the reference model, and max-keys=1 pages
		// reproduce the unpaginated order.
		for _, delim := range []string{"/", "--", "ab", "b"} {
			for _, prefix := range []string{"", "a", "x/"} {
				q := url.Values{"encoding-type": {"url"}, "delimiter": {delim}, "prefix": {prefix}}
				pg := e.versionsRaw(t, r, q)
				if pg.IsTruncated {
					t.Fatal("truncated")
				}
				lines := versionLines(t, pg)
				var modelLines []string
				for _, it := range expectList(oddKeys, prefix, delim) {
					if strings.HasPrefix(it, "P ") {
						modelLines = append(modelLines, it)
						continue
					}
					k := it[2:]
					for _, v := range full {
						if v.Key == k {
							modelLines = append(modelLines, "K "+k+" "+v.VersionID)
						}
					}
				}
				if fmt.Sprint(lines) != fmt.Sprint(modelLines) {
					t.Fatalf("versions prefix %q delimiter %q:\n got  %q\n want %q", prefix, delim, lines, modelLines)
				}
				var paged []string
				q.Set("max-keys", "1")
				for i := 0; i < 300; i++ {
					pg := e.versionsRaw(t, r, q)
					paged = append(paged, versionLines(t, pg)...)
					if !pg.IsTruncated {
						break
					}
					km, err := url.QueryUnescape(pg.NextKeyMarker)
					if err != nil {
						t.Fatal(err)
					}
					q.Set("key-marker", km)
					if pg.NextVersionIDMarker != "" {
						q.Set("version-id-marker", pg.NextVersionIDMarker)
					} else {
						q.Del("version-id-marker")
					}
				}
				if fmt.Sprint(paged) != fmt.Sprint(lines) {
					t.Fatalf("versions prefix %q delimiter %q max-keys=1:\n got  %q\n want %q", prefix, delim, paged, lines)
				}
			}
		}
	})
}

// versionLines renders a versions page as "K key version" and "P prefix"
// lines in S3 order (by key; a key's versions keep their order).
func versionLines(t *testing.T, pg versionsPage) []string {
	t.Helper()
	type item struct{ key, line string }
	var items []item
	for _, v := range decodeVersions(t, pg.Entries) {
		items = append(items, item{v.Key, "K " + v.Key + " " + v.VersionID})
	}
	for _, p := range pg.CommonPrefixes {
		d, err := url.QueryUnescape(p)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item{d, "P " + d})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].key < items[j].key })
	var out []string
	for _, it := range items {
		out = append(out, it.line)
	}
	return out
}

func decodeVersions(t *testing.T, vs []verEntry) []verEntry {
	t.Helper()
	out := make([]verEntry, len(vs))
	for i, v := range vs {
		k, err := url.QueryUnescape(v.Key)
		if err != nil {
			t.Fatalf("key %q: %v", v.Key, err)
		}
		v.Key = k
		out[i] = v
	}
	return out
}
