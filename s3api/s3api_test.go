package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

func TestSplitBucket(t *testing.T) {
	for _, tc := range []struct {
		bucket, ref, repo string
		create, bad       bool
	}{
		{bucket: "images", repo: "images"},
		{bucket: "dev.images", ref: "dev", repo: "images"},
		{bucket: "a.b.images", ref: "a.b", repo: "images", bad: true}, // dots are not ref characters
		{bucket: "0123456789abcdef.images", ref: "0123456789abcdef", repo: "images"},
		{bucket: "0123456789abcdef.images", create: true, bad: true}, // all-hex branch
		{bucket: "deadbee.images", ref: "deadbee", repo: "images", create: true},
		{bucket: "Images", bad: true},
		{bucket: "im", bad: true},
		{bucket: "-images", bad: true},
		{bucket: "images-", bad: true},
		{bucket: "my_images", bad: true},
		{bucket: ".images", bad: true},
		{bucket: "dev.", bad: true},
		{bucket: "-dev.images", bad: true},
		{bucket: strings.Repeat("a", 64), bad: true},
		{bucket: strings.Repeat("b", 51) + ".images", create: true, bad: true},
	} {
		t.Run(tc.bucket, func(t *testing.T) {
			ref, repo, err := splitBucket(tc.bucket, tc.create)
			if tc.bad {
				if err == nil || codeOf(err) != "InvalidBucketName" {
					t.Fatalf("got %q %q %v, want InvalidBucketName", ref, repo, err)
				}
				return
			}
			if err != nil || ref != tc.ref || repo != tc.repo {
				t.Fatalf("got %q %q %v, want %q %q", ref, repo, err, tc.ref, tc.repo)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("images")
	if w := e.req("PUT", "/dev.images", ""); w.Code != 200 {
		t.Fatalf("create branch: %d %s", w.Code, w.Body)
	}
	e.put("images", "cats/1.jpg", "main-cat")
	e.put("dev.images", "cats/1.jpg", "dev-cat")
	for _, tc := range []struct {
		name, target, host, want string
	}{
		{"path main", "/images/cats/1.jpg", "", "main-cat"},
		{"path branch", "/dev.images/cats/1.jpg", "", "dev-cat"},
		{"vhost main", "/cats/1.jpg", "images.s3.test", "main-cat"},
		{"vhost branch", "/cats/1.jpg", "dev.images.s3.test:9000", "dev-cat"},
		{"vhost upper-case host", "/cats/1.jpg", "DEV.IMAGES.S3.TEST", "dev-cat"},
		{"domain itself is path style", "/dev.images/cats/1.jpg", "s3.test", "dev-cat"},
		{"ip host is path style", "/images/cats/1.jpg", "127.0.0.1:9000", "main-cat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.host != "" {
				hdr = append(hdr, "Host: "+tc.host)
			}
			w := e.req("GET", tc.target, "", hdr...)
			if w.Code != 200 || w.Body.String() != tc.want {
				t.Fatalf("%d %q, want %q", w.Code, w.Body, tc.want)
			}
		})
	}
	t.Run("vhost bucket listing", func(t *testing.T) {
		var res listBucketResult
		decodeXML(t, e.req("GET", "/?list-type=2", "", "Host: dev.images.s3.test"), &res)
		if res.Name != "dev.images" || len(res.Contents) != 1 {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("service", func(t *testing.T) {
		var res listAllMyBucketsResult
		decodeXML(t, e.req("GET", "/", ""), &res)
		if len(res.Buckets) != 1 || res.Buckets[0].Name != "images" || res.Owner.ID != "admin" {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("tag is read-only", func(t *testing.T) {
		e.be.tag("images", "main", "v1")
		if w := e.req("GET", "/v1.images/cats/1.jpg", ""); w.Body.String() != "main-cat" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		w := e.req("PUT", "/v1.images/cats/2.jpg", "x")
		expectError(t, w, 403, "AccessDenied")
		if !strings.Contains(errorOf(t, w).Message, "tag v1 is read-only") {
			t.Fatalf("message does not name the ref: %s", w.Body)
		}
	})
	t.Run("commit ref", func(t *testing.T) {
		w := e.req("HEAD", "/images/cats/1.jpg", "")
		commit := w.Header().Get("X-Tusk-Commit")
		if len(commit) < 32 {
			t.Fatalf("x-tusk-commit %q", commit)
		}
		w = e.req("GET", "/"+commit[:16]+".images/cats/1.jpg", "")
		if w.Code != 200 || w.Body.String() != "main-cat" || w.Header().Get("X-Tusk-Commit") != commit {
			t.Fatalf("%d %s %v", w.Code, w.Body, w.Header())
		}
	})
}

// oddKeys must round-trip unchanged and list correctly.
var oddKeys = []string{
	"a", "a/", "a/b", "a//b", "x/../y", "./z", "../w", "sp ace", "plus+sign", "pct%25", "pct%",
	"ünï/cödé", "日本/語", "q?mark", "hash#tag", "semi;colon", "amp&eq=", "tilde~", "trailing/",
	"/leading", "dot.", "back\\slash",
}

func TestOddKeysRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("odd")
	for _, k := range oddKeys {
		e.put("odd", k, "body of "+k)
	}
	for _, k := range oddKeys {
		t.Run(k, func(t *testing.T) {
			w := e.req("GET", "/odd/"+keyPath(k), "")
			if w.Code != 200 || w.Body.String() != "body of "+k {
				t.Fatalf("%d %q", w.Code, w.Body)
			}
		})
	}
	t.Run("%2F is a slash", func(t *testing.T) {
		w := e.req("GET", "/odd/a%2Fb", "")
		if w.Body.String() != "body of a/b" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("list all", func(t *testing.T) {
		var res listBucketResult
		decodeXML(t, e.req("GET", "/odd?list-type=2", ""), &res)
		got := map[string]bool{}
		for _, c := range res.Contents {
			got[c.Key] = true
		}
		for _, k := range oddKeys {
			if !got[k] {
				t.Errorf("key %q not listed", k)
			}
		}
		if *res.KeyCount != len(oddKeys) {
			t.Errorf("KeyCount %d", *res.KeyCount)
		}
	})
}

func listKeys(t *testing.T, e *testEnv, bucket, query string) (keys, prefixes []string) {
	t.Helper()
	var res listBucketResult
	decodeXML(t, e.req("GET", "/"+bucket+"?"+query, ""), &res)
	for _, c := range res.Contents {
		keys = append(keys, c.Key)
	}
	for _, p := range res.CommonPrefixes {
		prefixes = append(prefixes, p.Prefix)
	}
	return keys, prefixes
}

func TestListDelimiters(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("tree")
	for _, k := range []string{"a", "a/", "a/b", "a//b", "a/b/c", "b--c--d", "b--e", "bx", "c.d.e", "c.f", "x/../y"} {
		e.put("tree", k, "v")
	}
	for _, tc := range []struct {
		name, query    string
		keys, prefixes []string
	}{
		{"slash", "delimiter=/", []string{"a", "b--c--d", "b--e", "bx", "c.d.e", "c.f"}, []string{"a/", "x/"}},
		{"slash under a/", "delimiter=/&prefix=a/", []string{"a/", "a/b"}, []string{"a//", "a/b/"}},
		{"slash under a//", "delimiter=/&prefix=a//", []string{"a//b"}, nil},
		{"multi-char", "delimiter=--", []string{"a", "a/", "a//b", "a/b", "a/b/c", "bx", "c.d.e", "c.f", "x/../y"}, []string{"b--"}},
		{"multi-char prefix", "delimiter=--&prefix=b--", []string{"b--e"}, []string{"b--c--"}},
		{"dot", "delimiter=.&prefix=c", nil, []string{"c."}},
		{"dotdot", "delimiter=..", []string{"a", "a/", "a//b", "a/b", "a/b/c", "b--c--d", "b--e", "bx", "c.d.e", "c.f"}, []string{"x/.."}},
		{"v1", "delimiter=/&prefix=a/", []string{"a/", "a/b"}, []string{"a//", "a/b/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.query
			if tc.name != "v1" {
				q = "list-type=2&" + q
			}
			keys, prefixes := listKeys(t, e, "tree", q)
			if fmt.Sprint(keys) != fmt.Sprint(tc.keys) || fmt.Sprint(prefixes) != fmt.Sprint(tc.prefixes) {
				t.Fatalf("keys %q prefixes %q, want %q %q", keys, prefixes, tc.keys, tc.prefixes)
			}
		})
	}
}

func TestEncodingTypeURL(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("enc")
	keys := []string{"sp ace/x", "plus+/y", "ü/z", "a&b", "ctl\x01"}
	for _, k := range keys {
		e.put("enc", k, "v")
	}
	var res listBucketResult
	decodeXML(t, e.req("GET", "/enc?list-type=2&encoding-type=url&delimiter="+url.QueryEscape("/")+"&start-after="+url.QueryEscape("a b"), ""), &res)
	if res.EncodingType != "url" || res.StartAfter != "a%20b" || res.Delimiter != "/" {
		t.Fatalf("%+v", res)
	}
	var got []string
	for _, c := range res.Contents {
		got = append(got, c.Key)
	}
	for _, p := range res.CommonPrefixes {
		got = append(got, p.Prefix)
	}
	want := "[a%26b ctl%01 plus%2B/ sp%20ace/ %C3%BC/]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %s want %s", got, want)
	}
	// Decoders of both kinds recover the keys.
	for _, g := range got {
		a, _ := url.PathUnescape(g)
		b, _ := url.QueryUnescape(g)
		if a != b {
			t.Errorf("%q decodes differently: %q %q", g, a, b)
		}
	}
	// v1: Marker, NextMarker encoded too.
	var v1 listBucketResult
	decodeXML(t, e.req("GET", "/enc?encoding-type=url&delimiter=/&max-keys=1&marker="+url.QueryEscape("a b"), ""), &v1)
	if *v1.Marker != "a%20b" || !v1.IsTruncated || v1.NextMarker != "a%26b" {
		t.Fatalf("%+v", v1)
	}
	expectError(t, e.req("GET", "/enc?encoding-type=base64", ""), 400, "InvalidArgument")
	// Versions
	var vr listVersionsResult
	decodeXML(t, e.req("GET", "/enc?versions&encoding-type=url&prefix=sp%20", ""), &vr)
	if vr.Prefix != "sp%20" || len(vr.Entries) != 1 || vr.Entries[0].Key != "sp%20ace/x" {
		t.Fatalf("%+v", vr)
	}
}

func TestListObjectsV2Pagination(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("pages")
	var all []string
	for i := 0; i < 23; i++ {
		k := fmt.Sprintf("k%02d", i)
		if i%5 == 0 {
			k = fmt.Sprintf("d%02d/x", i)
		}
		all = append(all, k)
		e.put("pages", k, "v")
	}
	for _, delim := range []string{"", "/"} {
		t.Run("delimiter="+delim, func(t *testing.T) {
			var got []string
			token := ""
			pages := 0
			for {
				q := "list-type=2&max-keys=4&delimiter=" + url.QueryEscape(delim)
				if token != "" {
					q += "&continuation-token=" + url.QueryEscape(token)
				}
				var res listBucketResult
				decodeXML(t, e.req("GET", "/pages?"+q, ""), &res)
				pages++
				if res.ContinuationToken != token {
					t.Fatalf("continuation token not echoed")
				}
				if *res.KeyCount != len(res.Contents)+len(res.CommonPrefixes) || *res.KeyCount > 4 {
					t.Fatalf("KeyCount %d", *res.KeyCount)
				}
				if res.Contents != nil && len(res.Contents) > 0 && res.Contents[0].Owner != nil {
					t.Fatalf("Owner without fetch-owner")
				}
				for _, c := range res.Contents {
					got = append(got, c.Key)
				}
				for _, p := range res.CommonPrefixes {
					got = append(got, p.Prefix)
				}
				if !res.IsTruncated {
					if res.NextContinuationToken != "" {
						t.Fatal("NextContinuationToken on last page")
					}
					break
				}
				token = res.NextContinuationToken
				if pages > 20 {
					t.Fatal("no end")
				}
			}
			if len(got) != 23 || pages != 6 {
				t.Fatalf("%d entries in %d pages: %q", len(got), pages, got)
			}
		})
	}
	t.Run("start-after and fetch-owner", func(t *testing.T) {
		var res listBucketResult
		decodeXML(t, e.req("GET", "/pages?list-type=2&start-after=k20&fetch-owner=true", ""), &res)
		if len(res.Contents) != 2 || res.Contents[0].Key != "k21" || res.Contents[0].Owner == nil || res.Contents[0].Owner.ID != "admin" {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		expectError(t, e.req("GET", "/pages?list-type=2&continuation-token=%21%21", ""), 400, "InvalidArgument")
	})
	t.Run("max-keys", func(t *testing.T) {
		expectError(t, e.req("GET", "/pages?max-keys=x", ""), 400, "InvalidArgument")
		expectError(t, e.req("GET", "/pages?max-keys=-1", ""), 400, "InvalidArgument")
		var res listBucketResult
		decodeXML(t, e.req("GET", "/pages?max-keys=5000", ""), &res)
		if res.MaxKeys != 1000 || len(res.Contents) != 23 {
			t.Fatalf("MaxKeys %d", res.MaxKeys)
		}
		var zero listBucketResult
		decodeXML(t, e.req("GET", "/pages?max-keys=0", ""), &zero)
		if len(zero.Contents) != 0 || zero.IsTruncated || zero.MaxKeys != 0 {
			t.Fatalf("%+v", zero)
		}
	})
	t.Run("v1 marker without delimiter has no NextMarker", func(t *testing.T) {
		var res listBucketResult
		decodeXML(t, e.req("GET", "/pages?max-keys=3&marker=k01", ""), &res)
		if !res.IsTruncated || res.NextMarker != "" || res.Contents[0].Key != "k02" || res.Contents[0].Owner == nil {
			t.Fatalf("%+v", res)
		}
	})
}

func TestListObjectVersions(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("ver")
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, e.put("ver", "a", fmt.Sprint("a", i)).Header().Get("X-Amz-Version-Id"))
	}
	e.put("ver", "b", "b0")
	w := e.req("DELETE", "/ver/b", "")
	if w.Code != 204 || w.Header().Get("X-Amz-Delete-Marker") != "true" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	e.put("ver", "c/d", "cd")

	// Expected order: a (3 versions, newest first), b (marker then version), c/d.
	type entry struct {
		kind, key string
		latest    bool
	}
	want := []entry{{"Version", "a", true}, {"Version", "a", false}, {"Version", "a", false},
		{"DeleteMarker", "b", true}, {"Version", "b", false}, {"Version", "c/d", true}}
	var all []versionEntryXML
	km, vm := "", ""
	for pages := 0; ; pages++ {
		q := "/ver?versions&max-keys=2"
		if km != "" {
			q += "&key-marker=" + url.QueryEscape(km) + "&version-id-marker=" + url.QueryEscape(vm)
		}
		var res listVersionsResult
		decodeXML(t, e.req("GET", q, ""), &res)
		if res.KeyMarker != km || res.VersionIDMarker != vm {
			t.Fatalf("markers not echoed: %+v", res)
		}
		all = append(all, res.Entries...)
		if !res.IsTruncated {
			break
		}
		km, vm = res.NextKeyMarker, res.NextVersionIDMarker
		if pages > 10 {
			t.Fatal("no end")
		}
	}
	if len(all) != len(want) {
		t.Fatalf("%d entries: %+v", len(all), all)
	}
	for i, w := range want {
		g := all[i]
		if g.XMLName.Local != w.kind || g.Key != w.key || g.IsLatest != w.latest {
			t.Errorf("entry %d: %s %s %v, want %+v", i, g.XMLName.Local, g.Key, g.IsLatest, w)
		}
		if w.kind == "DeleteMarker" && (g.Size != nil || g.ETag != "") {
			t.Errorf("delete marker with size or etag: %+v", g)
		}
	}
	if all[0].VersionID != ids[2] || all[2].VersionID != ids[0] {
		t.Fatalf("versions not newest first: %+v", all[:3])
	}
	t.Run("raw XML order", func(t *testing.T) {
		body := e.req("GET", "/ver?versions", "").Body.String()
		iv, idm, icp := strings.Index(body, "<Version>"), strings.Index(body, "<DeleteMarker>"), strings.Index(body, "<Name>")
		if iv < 0 || idm < 0 || icp > iv {
			t.Fatalf("%s", body)
		}
	})
	t.Run("delimiter", func(t *testing.T) {
		var res listVersionsResult
		decodeXML(t, e.req("GET", "/ver?versions&delimiter=/", ""), &res)
		if len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0].Prefix != "c/" || len(res.Entries) != 5 {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("version-id-marker alone", func(t *testing.T) {
		expectError(t, e.req("GET", "/ver?versions&version-id-marker=x", ""), 400, "InvalidArgument")
	})
	t.Run("read old version", func(t *testing.T) {
		w := e.req("GET", "/ver/a?versionId="+ids[0], "")
		if w.Body.String() != "a0" || w.Header().Get("X-Amz-Version-Id") != ids[0] {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		expectError(t, e.req("GET", "/ver/a?versionId=ffffffffffffffff", ""), 404, "NoSuchVersion")
		expectError(t, e.req("GET", "/ver/a?versionId=", ""), 400, "InvalidArgument")
	})
}

func TestDeleteMarkers(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("dmk")
	v1 := e.put("dmk", "k", "one").Header().Get("X-Amz-Version-Id")
	w := e.req("DELETE", "/dmk/k", "")
	marker := w.Header().Get("X-Amz-Version-Id")
	if w.Code != 204 || marker == "" || marker == v1 {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	w = e.req("GET", "/dmk/k", "")
	expectError(t, w, 404, "NoSuchKey")
	if w.Header().Get("X-Amz-Delete-Marker") != "true" {
		t.Fatalf("no x-amz-delete-marker on 404: %v", w.Header())
	}
	w = e.req("HEAD", "/dmk/k", "")
	if w.Code != 404 || w.Body.Len() != 0 || w.Header().Get("X-Amz-Delete-Marker") != "true" {
		t.Fatalf("HEAD %d %q %v", w.Code, w.Body, w.Header())
	}
	w = e.req("GET", "/dmk/k?versionId="+marker, "")
	expectError(t, w, 405, "MethodNotAllowed")
	if w.Header().Get("X-Amz-Delete-Marker") != "true" || w.Header().Get("X-Amz-Version-Id") != marker {
		t.Fatalf("%v", w.Header())
	}
	// Deleting the marker by versionId restores the version before it.
	w = e.req("DELETE", "/dmk/k?versionId="+marker, "")
	if w.Code != 204 || w.Header().Get("X-Amz-Delete-Marker") != "true" || w.Header().Get("X-Amz-Version-Id") != marker {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	if w = e.req("GET", "/dmk/k", ""); w.Body.String() != "one" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Purge a content version.
	w = e.req("DELETE", "/dmk/k?versionId="+v1, "")
	if w.Code != 204 || w.Header().Get("X-Amz-Version-Id") != v1 || w.Header().Get("X-Amz-Delete-Marker") != "" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	expectError(t, e.req("GET", "/dmk/k?versionId="+v1, ""), 404, "NoSuchVersion")
}

func TestGetObjectHeaders(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("hdrs")
	w := e.put("hdrs", "f.txt", "hello world",
		"Content-Type: text/plain", "Content-Encoding: gzip", "Content-Disposition: attachment",
		"Content-Language: en", "Cache-Control: no-cache", "Expires: Thu, 01 Dec 2094 16:00:00 GMT",
		"X-Amz-Meta-Color: blue", "x-amz-meta-Two-Words: a b", "X-Amz-Acl: private")
	etag := w.Header().Get("ETag")
	if etag != `"5eb63bbbe01eeed093cb22bb8f5acdc3"` || w.Header().Get("X-Amz-Version-Id") == "" {
		t.Fatalf("%v", w.Header())
	}
	for _, method := range []string{"GET", "HEAD"} {
		t.Run(method, func(t *testing.T) {
			w := e.req(method, "/hdrs/f.txt", "")
			h := w.Header()
			for k, v := range map[string]string{
				"Content-Type": "text/plain", "Content-Encoding": "gzip", "Content-Disposition": "attachment",
				"Content-Language": "en", "Cache-Control": "no-cache", "Expires": "Thu, 01 Dec 2094 16:00:00 GMT",
				"Content-Length": "11", "Accept-Ranges": "bytes", "ETag": etag,
				"Last-Modified": e.be.clock.Format(http.TimeFormat),
			} {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if h["x-amz-meta-color"][0] != "blue" || h["x-amz-meta-two-words"][0] != "a b" {
				t.Errorf("user metadata: %v", h)
			}
			if h.Get("X-Amz-Version-Id") == "" || h.Get("X-Tusk-Commit") == "" || h.Get("X-Amz-Request-Id") == "" {
				t.Errorf("ids: %v", h)
			}
			if method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD with body")
			}
		})
	}
	t.Run("response overrides", func(t *testing.T) {
		w := e.req("GET", "/hdrs/f.txt?response-content-type=application/json&response-cache-control=max-age%3D5", "")
		if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "max-age=5" {
			t.Fatalf("%v", w.Header())
		}
		e.auth.public["hdrs"] = true
		expectError(t, e.req("GET", "/hdrs/f.txt?response-content-type=x", "", "X-Test-User:"), 400, "InvalidRequest")
	})
	t.Run("default content type", func(t *testing.T) {
		e.put("hdrs", "bare", "x")
		if ct := e.req("GET", "/hdrs/bare", "").Header().Get("Content-Type"); ct != "binary/octet-stream" {
			t.Fatalf("%q", ct)
		}
	})
}

func TestRange(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("rng")
	e.put("rng", "ten", "0123456789")
	e.put("rng", "empty", "")
	for _, tc := range []struct {
		key, rng string
		status   int
		body, cr string
	}{
		{"ten", "bytes=0-3", 206, "0123", "bytes 0-3/10"},
		{"ten", "bytes=7-", 206, "789", "bytes 7-9/10"},
		{"ten", "bytes=-3", 206, "789", "bytes 7-9/10"},
		{"ten", "bytes=5-100", 206, "56789", "bytes 5-9/10"},
		{"ten", "bytes=-100", 206, "0123456789", "bytes 0-9/10"},
		{"ten", "bytes=9-9", 206, "9", "bytes 9-9/10"},
		{"ten", "bytes=10-", 416, "", "bytes */10"},
		{"ten", "bytes=-0", 416, "", "bytes */10"},
		{"ten", "bytes=3-1", 200, "0123456789", ""},     // invalid: ignored
		{"ten", "bytes=0-1,3-4", 200, "0123456789", ""}, // several ranges: ignored
		{"ten", "items=0-1", 200, "0123456789", ""},     // other unit: ignored
		{"ten", "bytes=a-b", 200, "0123456789", ""},     // syntax: ignored
		{"empty", "bytes=0-", 416, "", "bytes */0"},
		{"empty", "bytes=-5", 200, "", ""},
		// Positions beyond int64 are past the end: clamped, not ignored.
		{"ten", "bytes=0-99999999999999999999", 206, "0123456789", "bytes 0-9/10"},
		{"ten", "bytes=4-99999999999999999999", 206, "456789", "bytes 4-9/10"},
		{"ten", "bytes=-99999999999999999999", 206, "0123456789", "bytes 0-9/10"},
		{"ten", "bytes=99999999999999999999-", 416, "", "bytes */10"},
		{"ten", "bytes=99999999999999999999-99999999999999999999", 416, "", "bytes */10"},
		{"ten", "bytes=10-20", 416, "", "bytes */10"},
		{"ten", "bytes=+1-2", 200, "0123456789", ""}, // a sign is not a digit: ignored
		{"ten", "bytes=1-+2", 200, "0123456789", ""},
		{"ten", "bytes=0x1-2", 200, "0123456789", ""},
		{"empty", "bytes=0-99999999999999999999", 416, "", "bytes */0"},
		{"empty", "bytes=-99999999999999999999", 200, "", ""},
	} {
		t.Run(tc.key+" "+tc.rng, func(t *testing.T) {
			w := e.req("GET", "/rng/"+tc.key, "", "Range: "+tc.rng)
			if w.Code != tc.status || w.Header().Get("Content-Range") != tc.cr {
				t.Fatalf("%d %q, want %d %q: %s", w.Code, w.Header().Get("Content-Range"), tc.status, tc.cr, w.Body)
			}
			if tc.status == 416 {
				expectError(t, w, 416, "InvalidRange")
				return
			}
			if w.Body.String() != tc.body || w.Header().Get("Content-Length") != fmt.Sprint(len(tc.body)) {
				t.Fatalf("body %q len %s", w.Body, w.Header().Get("Content-Length"))
			}
		})
	}
	t.Run("partNumber", func(t *testing.T) {
		w := e.req("GET", "/rng/ten?partNumber=1", "")
		if w.Code != 206 || w.Body.String() != "0123456789" || w.Header().Get("Content-Range") != "bytes 0-9/10" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		expectError(t, e.req("GET", "/rng/ten?partNumber=2", ""), 400, "InvalidPartNumber")
		expectError(t, e.req("GET", "/rng/ten?partNumber=0", ""), 400, "InvalidArgument")
		expectError(t, e.req("GET", "/rng/ten?partNumber=1", "", "Range: bytes=0-1"), 400, "InvalidRequest")
	})
	t.Run("multipart parts", func(t *testing.T) {
		// Make "ten" a 3-part object in the fake.
		e.be.mu.Lock()
		h := e.be.repos["rng"].branches["main"]
		for _, c := range h {
			if o, ok := c.changes["ten"]; ok {
				o.Parts = []int64{4, 4, 2}
			}
		}
		e.be.mu.Unlock()
		for n, want := range []string{"", "0123", "4567", "89"} {
			if n == 0 {
				continue
			}
			w := e.req("GET", fmt.Sprintf("/rng/ten?partNumber=%d", n), "")
			if w.Code != 206 || w.Body.String() != want || w.Header().Get("X-Amz-Mp-Parts-Count") != "3" {
				t.Fatalf("part %d: %d %q %v", n, w.Code, w.Body, w.Header())
			}
		}
		w := e.req("HEAD", "/rng/ten?partNumber=3", "")
		if w.Code != 206 || w.Header().Get("Content-Length") != "2" || w.Header().Get("Content-Range") != "bytes 8-9/10" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		if e.req("GET", "/rng/ten", "").Header().Get("X-Amz-Mp-Parts-Count") != "" {
			t.Fatal("parts count on a whole-object GET")
		}
		expectError(t, e.req("GET", "/rng/ten?partNumber=4", ""), 400, "InvalidPartNumber")
	})
}

func TestConditionalGet(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("cond")
	w := e.put("cond", "k", "data")
	etag := w.Header().Get("ETag")
	lm := e.req("HEAD", "/cond/k", "").Header().Get("Last-Modified")
	lmt, _ := http.ParseTime(lm)
	before := lmt.Add(-time.Hour).Format(http.TimeFormat)
	after := lmt.Add(time.Hour).Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"if-match ok", []string{"If-Match: " + etag}, 200},
		{"if-match unquoted", []string{"If-Match: " + strings.Trim(etag, `"`)}, 200},
		{"if-match list", []string{`If-Match: "nope", ` + etag}, 200},
		{"if-match star", []string{"If-Match: *"}, 200},
		{"if-match fails", []string{`If-Match: "nope"`}, 412},
		{"if-none-match hit", []string{"If-None-Match: " + etag}, 304},
		{"if-none-match weak", []string{"If-None-Match: W/" + etag}, 304},
		{"if-none-match star", []string{"If-None-Match: *"}, 304},
		{"if-none-match miss", []string{`If-None-Match: "nope"`}, 200},
		{"if-modified-since older", []string{"If-Modified-Since: " + before}, 200},
		{"if-modified-since same", []string{"If-Modified-Since: " + lm}, 304},
		{"if-modified-since later", []string{"If-Modified-Since: " + after}, 304},
		{"if-unmodified-since later", []string{"If-Unmodified-Since: " + after}, 200},
		{"if-unmodified-since older", []string{"If-Unmodified-Since: " + before}, 412},
		{"if-unmodified-since bad date ignored", []string{"If-Unmodified-Since: yesterday"}, 200},
		// S3 combinations (RFC 7232 order)
		{"if-match true + unmodified-since false", []string{"If-Match: " + etag, "If-Unmodified-Since: " + before}, 200},
		{"if-none-match false + modified-since true", []string{"If-None-Match: " + etag, "If-Modified-Since: " + before}, 304},
		{"if-none-match true + modified-since false", []string{`If-None-Match: "x"`, "If-Modified-Since: " + after}, 200},
		{"if-match fails before if-none-match", []string{`If-Match: "x"`, "If-None-Match: " + etag}, 412},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{"GET", "HEAD"} {
				w := e.req(method, "/cond/k", "", tc.hdr...)
				if w.Code != tc.status {
					t.Fatalf("%s: %d, want %d", method, w.Code, tc.status)
				}
				switch {
				case tc.status == 304:
					if w.Body.Len() != 0 || w.Header().Get("ETag") != etag || w.Header().Get("Content-Length") != "" {
						t.Fatalf("304 with body or without ETag: %q %v", w.Body, w.Header())
					}
				case tc.status == 412 && method == "GET":
					expectError(t, w, 412, "PreconditionFailed")
				case tc.status == 412 && method == "HEAD":
					if w.Body.Len() != 0 {
						t.Fatal("HEAD error with body")
					}
				}
			}
		})
	}
}

func TestPutObject(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("puts")
	md5b64 := func(s string) string { h := md5.Sum([]byte(s)); return base64.StdEncoding.EncodeToString(h[:]) }
	crc := func(s string) string {
		var b [4]byte
		v := crc32.ChecksumIEEE([]byte(s))
		b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		return base64.StdEncoding.EncodeToString(b[:])
	}
	t.Run("content-md5", func(t *testing.T) {
		e.put("puts", "m", "data", "Content-MD5: "+md5b64("data"))
		expectError(t, e.req("PUT", "/puts/m", "data", "Content-MD5: "+md5b64("other")), 400, "BadDigest")
		expectError(t, e.req("PUT", "/puts/m", "data", "Content-MD5: !!!"), 400, "InvalidDigest")
		expectError(t, e.req("PUT", "/puts/m", "data", "Content-MD5: "+base64.StdEncoding.EncodeToString([]byte("short"))), 400, "InvalidDigest")
	})
	t.Run("checksum header", func(t *testing.T) {
		w := e.put("puts", "c", "data", "X-Amz-Checksum-Crc32: "+crc("data"))
		if w.Header().Get("X-Amz-Checksum-Crc32") != crc("data") {
			t.Fatalf("%v", w.Header())
		}
		expectError(t, e.req("PUT", "/puts/c", "data", "X-Amz-Checksum-Crc32: "+crc("nope")), 400, "BadDigest")
		expectError(t, e.req("PUT", "/puts/c", "data", "X-Amz-Checksum-Crc32: xx"), 400, "InvalidRequest")
		expectError(t, e.req("PUT", "/puts/c", "data", "X-Amz-Checksum-Crc32: "+crc("data"), "X-Amz-Checksum-Sha1: "+crc("data")), 400, "InvalidRequest")
		// Returned with checksum mode only.
		if e.req("GET", "/puts/c", "").Header().Get("X-Amz-Checksum-Crc32") != "" {
			t.Fatal("checksum without x-amz-checksum-mode")
		}
		w = e.req("GET", "/puts/c", "", "X-Amz-Checksum-Mode: ENABLED")
		if w.Header().Get("X-Amz-Checksum-Crc32") != crc("data") || w.Header().Get("X-Amz-Checksum-Type") != "FULL_OBJECT" {
			t.Fatalf("%v", w.Header())
		}
		if e.req("GET", "/puts/c", "", "X-Amz-Checksum-Mode: ENABLED", "Range: bytes=0-1").Header().Get("X-Amz-Checksum-Crc32") != "" {
			t.Fatal("whole-object checksum on a range")
		}
	})
	t.Run("announced algorithm is computed", func(t *testing.T) {
		for _, algo := range checksumAlgos {
			w := e.put("puts", "s-"+algo, "data", "X-Amz-Sdk-Checksum-Algorithm: "+algo)
			h := newChecksumHash(algo)
			h.Write([]byte("data"))
			if got := w.Header().Get(checksumHeader(algo)); got != base64.StdEncoding.EncodeToString(h.Sum(nil)) {
				t.Fatalf("%s: %q", algo, got)
			}
		}
		expectError(t, e.req("PUT", "/puts/x", "data", "X-Amz-Sdk-Checksum-Algorithm: MD4"), 400, "InvalidRequest")
	})
	t.Run("forged provenance", func(t *testing.T) {
		w := e.req("PUT", "/puts/p", "data", "X-Amz-Meta-Tusk-Pipeline: edges@3")
		expectError(t, w, 400, "InvalidArgument")
		if !strings.Contains(errorOf(t, w).Message, "provenance") {
			t.Fatalf("%s", w.Body)
		}
		expectError(t, e.req("PUT", "/puts/p", "", "X-Amz-Copy-Source: puts/m", "X-Amz-Metadata-Directive: REPLACE", "X-Amz-Meta-TUSK-Job: j"), 400, "InvalidArgument")
	})
	t.Run("acl", func(t *testing.T) {
		e.put("puts", "acl", "d", "X-Amz-Acl: bucket-owner-full-control")
		expectError(t, e.req("PUT", "/puts/acl", "d", "X-Amz-Acl: public-read"), 501, "NotImplemented")
		expectError(t, e.req("PUT", "/puts/acl", "d", "X-Amz-Grant-Read: id=x"), 501, "NotImplemented")
		expectError(t, e.req("PUT", "/puts/acl", "d", "X-Amz-Server-Side-Encryption: aws:kms"), 501, "NotImplemented")
		expectError(t, e.req("PUT", "/puts/acl", "d", "X-Amz-Tagging: a=b"), 501, "NotImplemented")
	})
	t.Run("metadata too large", func(t *testing.T) {
		expectError(t, e.req("PUT", "/puts/big", "d", "X-Amz-Meta-Big: "+strings.Repeat("x", 2100)), 400, "MetadataTooLarge")
	})
	t.Run("missing content-length", func(t *testing.T) {
		r := httptestRequest("PUT", "/puts/nolen", "data")
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		w := serve(e, r)
		expectError(t, w, 411, "MissingContentLength")
	})
	t.Run("entity too large", func(t *testing.T) {
		r := httptestRequest("PUT", "/puts/huge", "")
		r.ContentLength = MaxObjectSize + 1
		expectError(t, serve(e, r), 400, "EntityTooLarge")
	})
	t.Run("short body", func(t *testing.T) {
		r := httptestRequest("PUT", "/puts/short", "abc")
		r.ContentLength = 10
		expectError(t, serve(e, r), 400, "IncompleteBody")
	})
	t.Run("conditional writes", func(t *testing.T) {
		w := e.put("puts", "cw", "v1", "If-None-Match: *")
		etag := w.Header().Get("ETag")
		expectError(t, e.req("PUT", "/puts/cw", "v2", "If-None-Match: *"), 412, "PreconditionFailed")
		expectError(t, e.req("PUT", "/puts/cw", "v2", `If-Match: "0000"`), 412, "PreconditionFailed")
		e.put("puts", "cw", "v2", "If-Match: "+etag)
		expectError(t, e.req("PUT", "/puts/cw", "v3", `If-None-Match: "abc"`), 501, "NotImplemented")
	})
	t.Run("trailer checksum", func(t *testing.T) {
		for _, tc := range []struct {
			value  string
			status int
		}{{crc("data"), 200}, {crc("nope"), 400}, {"", 400}} {
			r := httptestRequest("PUT", "/puts/tr", "data")
			r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
			r.Trailer = http.Header{}
			if tc.value != "" {
				r.Trailer.Set("X-Amz-Checksum-Crc32", tc.value)
			}
			w := serve(e, r)
			if w.Code != tc.status {
				t.Fatalf("%q: %d %s", tc.value, w.Code, w.Body)
			}
			if tc.status == 200 && w.Header().Get("X-Amz-Checksum-Crc32") != crc("data") {
				t.Fatalf("%v", w.Header())
			}
		}
	})
	t.Run("key too long", func(t *testing.T) {
		expectError(t, e.req("PUT", "/puts/"+strings.Repeat("k", 1025), "d"), 400, "KeyTooLongError")
		e.put("puts", strings.Repeat("k", 1024), "d")
	})
	t.Run("bad keys", func(t *testing.T) {
		expectError(t, e.req("PUT", "/puts/a%00b", "d"), 400, "InvalidURI")
		expectError(t, e.req("PUT", "/puts/a%ffb", "d"), 400, "InvalidURI")
	})
}

func httptestRequest(method, target, body string) *http.Request {
	r, _ := http.NewRequest(method, "http://example.com"+target, strings.NewReader(body))
	r.RequestURI = target
	r.Header.Set("X-Test-User", "admin")
	return r
}

func serve(e *testEnv, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func TestCopyObject(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("src")
	e.mkRepo("dst")
	v1 := e.put("src", "a b+c", "first", "Content-Type: text/plain", "X-Amz-Meta-K: v").Header().Get("X-Amz-Version-Id")
	e.put("src", "a b+c", "second", "Content-Type: text/plain", "X-Amz-Meta-K: v2")
	t.Run("across repos, metadata copied", func(t *testing.T) {
		w := e.req("PUT", "/dst/copied", "", "X-Amz-Copy-Source: /src/a%20b+c")
		var res copyObjectResult
		decodeXML(t, w, &res)
		if res.ETag != quoteETag(fmt.Sprintf("%x", md5.Sum([]byte("second")))) || w.Header().Get("X-Amz-Version-Id") == "" ||
			w.Header().Get("X-Amz-Copy-Source-Version-Id") == "" {
			t.Fatalf("%+v %v", res, w.Header())
		}
		g := e.req("GET", "/dst/copied", "")
		if g.Body.String() != "second" || g.Header().Get("Content-Type") != "text/plain" || g.Header()["x-amz-meta-k"][0] != "v2" {
			t.Fatalf("%s %v", g.Body, g.Header())
		}
	})
	t.Run("old version, replace metadata", func(t *testing.T) {
		w := e.req("PUT", "/dst/old", "", "X-Amz-Copy-Source: src/a%20b%2Bc?versionId="+v1,
			"X-Amz-Metadata-Directive: REPLACE", "Content-Type: x/y", "X-Amz-Meta-New: n")
		if w.Code != 200 || w.Header().Get("X-Amz-Copy-Source-Version-Id") != v1 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		g := e.req("GET", "/dst/old", "")
		if g.Body.String() != "first" || g.Header().Get("Content-Type") != "x/y" || g.Header()["x-amz-meta-new"][0] != "n" || g.Header()["x-amz-meta-k"] != nil {
			t.Fatalf("%s %v", g.Body, g.Header())
		}
	})
	t.Run("branch to branch", func(t *testing.T) {
		e.req("PUT", "/dev.dst", "")
		if w := e.req("PUT", "/dev.dst/x", "", "X-Amz-Copy-Source: dst/copied"); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if e.req("GET", "/dst/x", "").Code != 404 || e.req("GET", "/dev.dst/x", "").Body.String() != "second" {
			t.Fatal("copy landed on the wrong branch")
		}
	})
	t.Run("conditions", func(t *testing.T) {
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: src/a%20b+c", `X-Amz-Copy-Source-If-Match: "nope"`), 412, "PreconditionFailed")
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: src/a%20b+c", "X-Amz-Copy-Source-If-None-Match: *"), 412, "PreconditionFailed")
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: src/a%20b+c", "X-Amz-Copy-Source-If-Modified-Since: "+time.Now().Add(time.Hour*24*3650).UTC().Format(http.TimeFormat)), 412, "PreconditionFailed")
	})
	t.Run("errors", func(t *testing.T) {
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: src/missing"), 404, "NoSuchKey")
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: nosuch/k"), 404, "NoSuchBucket")
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: src"), 400, "InvalidArgument")
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: src/a%20b+c", "X-Amz-Metadata-Directive: MOVE"), 400, "InvalidArgument")
		expectError(t, e.req("PUT", "/src/a%20b+c", "", "X-Amz-Copy-Source: src/a%20b+c"), 400, "InvalidRequest")
		expectError(t, e.req("PUT", "/dst/c", "", "X-Amz-Copy-Source: src/a%20b+c?versionId=ffff"), 404, "NoSuchVersion")
	})
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("del")
	for _, k := range []string{"a", "b", "c&d"} {
		e.put("del", k, "v")
	}
	body := `<Delete><Object><Key>a</Key></Object><Object><Key>c&amp;d</Key></Object><Object><Key>nope</Key><VersionId>ffff</VersionId></Object></Delete>`
	var res deleteResultXML
	w := e.req("POST", "/del?delete", body)
	decodeXML(t, w, &res)
	if len(res.Deleted) != 2 || !res.Deleted[0].DeleteMarker || res.Deleted[0].DeleteMarkerVersionID == "" ||
		res.Deleted[0].DeleteMarkerVersionID != res.Deleted[1].DeleteMarkerVersionID || len(res.Errors) != 1 || res.Errors[0].Code != "NoSuchVersion" {
		t.Fatalf("one commit for all keys expected: %s", w.Body)
	}
	keys, _ := listKeys(t, e, "del", "list-type=2")
	if fmt.Sprint(keys) != "[b]" {
		t.Fatalf("%q", keys)
	}
	t.Run("quiet", func(t *testing.T) {
		var res deleteResultXML
		decodeXML(t, e.req("POST", "/del?delete", `<Delete><Quiet>true</Quiet><Object><Key>b</Key></Object></Delete>`), &res)
		if len(res.Deleted) != 0 || len(res.Errors) != 0 {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("content-md5", func(t *testing.T) {
		b := `<Delete><Object><Key>x</Key></Object></Delete>`
		sum := md5.Sum([]byte(b))
		if w := e.req("POST", "/del?delete", b, "Content-MD5: "+base64.StdEncoding.EncodeToString(sum[:])); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		expectError(t, e.req("POST", "/del?delete", b, "Content-MD5: "+base64.StdEncoding.EncodeToString(make([]byte, 16))), 400, "BadDigest")
	})
	t.Run("bad key is a per-item error", func(t *testing.T) {
		var res deleteResultXML
		decodeXML(t, e.req("POST", "/del?delete", `<Delete><Object><Key>`+strings.Repeat("k", 1025)+`</Key></Object></Delete>`), &res)
		if len(res.Errors) != 1 || res.Errors[0].Code != "KeyTooLongError" {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		expectError(t, e.req("POST", "/del?delete", `<Delete><Object>`), 400, "MalformedXML")
		expectError(t, e.req("POST", "/del?delete", `<Delete></Delete>`), 400, "MalformedXML")
		expectError(t, e.req("POST", "/del?delete", `<Other/>`), 400, "MalformedXML")
		many := "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 1001) + "</Delete>"
		expectError(t, e.req("POST", "/del?delete", many), 400, "MalformedXML")
		huge := "<Delete>" + strings.Repeat(" ", maxDeleteBody) + "</Delete>"
		expectError(t, e.req("POST", "/del?delete", huge), 400, "MaxMessageLengthExceeded")
	})
}

func TestBucketOperations(t *testing.T) {
	e := newEnv(t)
	t.Run("create with configuration", func(t *testing.T) {
		// us-east-1 takes no LocationConstraint but an empty one.
		expectError(t, e.req("PUT", "/conf", `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`),
			400, "IllegalLocationConstraintException")
		expectError(t, e.req("PUT", "/conf", `<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`),
			400, "InvalidLocationConstraint")
		w := e.req("PUT", "/conf", `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint></LocationConstraint></CreateBucketConfiguration>`)
		if w.Code != 200 || w.Header().Get("Location") != "/conf" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		// Again, by its owner, in us-east-1: 200 (AWS's legacy answer).
		if w := e.req("PUT", "/conf", ""); w.Code != 200 {
			t.Fatalf("second create: %d %s", w.Code, w.Body)
		}
		expectError(t, e.req("PUT", "/conf2", "<CreateBucketConfiguration>"), 400, "MalformedXML")
		expectError(t, e.req("PUT", "/Bad_Name", ""), 400, "InvalidBucketName")
		expectError(t, e.req("PUT", "/deadbeef00.conf", ""), 400, "InvalidBucketName")
		expectError(t, e.req("PUT", "/192.168.5.4", ""), 400, "InvalidBucketName")
		expectError(t, e.req("PUT", "/public.conf", "", "X-Amz-Acl: public-read"), 501, "NotImplemented")
		expectError(t, e.req("PUT", "/rwx", "", "X-Amz-Acl: public-read-write"), 501, "NotImplemented")
	})
	t.Run("head", func(t *testing.T) {
		if w := e.req("HEAD", "/conf", ""); w.Code != 200 || w.Header().Get("X-Amz-Bucket-Region") != "us-east-1" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		if w := e.req("HEAD", "/nosuch", ""); w.Code != 404 || w.Body.Len() != 0 {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
	})
	t.Run("location and versioning", func(t *testing.T) {
		var loc locationConstraint
		decodeXML(t, e.req("GET", "/conf?location", ""), &loc)
		if loc.Value != "" {
			t.Fatalf("%+v", loc)
		}
		var v versioningConfiguration
		decodeXML(t, e.req("GET", "/conf?versioning", ""), &v)
		if v.Status != "Enabled" {
			t.Fatalf("%+v", v)
		}
		if w := e.req("PUT", "/conf?versioning", `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := e.req("PUT", "/conf?versioning", `<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>`); w.Code != 200 {
			t.Fatalf("suspend: %d %s", w.Code, w.Body)
		}
		expectError(t, e.req("PUT", "/conf?versioning", `<VersioningConfiguration><Status>Paused</Status></VersioningConfiguration>`), 400, "MalformedXML")
		expectError(t, e.req("PUT", "/conf?versioning", `<VersioningConfiguration>`), 400, "MalformedXML")
	})
	t.Run("delete", func(t *testing.T) {
		e.req("PUT", "/dev.conf", "")
		e.put("dev.conf", "k", "v")
		expectError(t, e.req("DELETE", "/dev.conf", ""), 409, "BucketNotEmpty")
		e.req("DELETE", "/dev.conf/k", "")
		if w := e.req("DELETE", "/dev.conf", ""); w.Code != 204 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		expectError(t, e.req("GET", "/dev.conf?list-type=2", ""), 404, "NoSuchBucket")
		if w := e.req("DELETE", "/conf", ""); w.Code != 204 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		expectError(t, e.req("DELETE", "/conf", ""), 404, "NoSuchBucket")
	})
}

func TestSubResources(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("sub")
	e.put("sub", "k", "v")
	for _, tc := range []struct {
		method, target string
		status         int
		code           string
	}{
		{"GET", "/sub?policy", 404, "NoSuchBucketPolicy"},
		{"GET", "/sub?cors", 404, "NoSuchCORSConfiguration"},
		{"GET", "/sub?lifecycle", 404, "NoSuchLifecycleConfiguration"},
		{"GET", "/sub?encryption", 404, "ServerSideEncryptionConfigurationNotFoundError"},
		{"GET", "/sub?tagging", 404, "NoSuchTagSet"},
		{"GET", "/sub?website", 404, "NoSuchWebsiteConfiguration"},
		{"GET", "/sub?object-lock", 404, "ObjectLockConfigurationNotFoundError"},
		{"GET", "/nosuch?policy", 404, "NoSuchBucket"},
		{"PUT", "/sub?policy", 501, "NotImplemented"},
		{"PUT", "/sub?cors", 501, "NotImplemented"},
		{"PUT", "/sub?acl", 400, "MissingSecurityHeader"},
		{"PUT", "/sub?tagging", 501, "NotImplemented"},
		{"PUT", "/sub?lifecycle", 501, "NotImplemented"},
		{"POST", "/sub?uploads", 501, "NotImplemented"},
		{"GET", "/sub?analytics", 501, "NotImplemented"},
		{"GET", "/sub?inventory&id=x", 501, "NotImplemented"},
		{"GET", "/sub?metrics", 501, "NotImplemented"},
		{"GET", "/sub?intelligent-tiering", 501, "NotImplemented"},
		{"PUT", "/sub/k?partNumber=1&uploadId=x", 404, "NoSuchUpload"},
		{"GET", "/sub/k?uploads", 501, "NotImplemented"},
		{"PUT", "/sub/k?tagging", 501, "NotImplemented"},
		{"PUT", "/sub/k?acl", 501, "NotImplemented"},
		{"PUT", "/sub/k?retention", 501, "NotImplemented"},
		{"PUT", "/sub/k?legal-hold", 501, "NotImplemented"},
		{"GET", "/sub/k?torrent", 501, "NotImplemented"},
		{"POST", "/sub/k?restore", 501, "NotImplemented"},
		{"POST", "/sub/k?select&select-type=2", 501, "NotImplemented"},
		{"GET", "/sub/k?attributes", 400, "InvalidRequest"}, // no x-amz-object-attributes
		{"DELETE", "/sub/k?tagging", 501, "NotImplemented"},
		{"POST", "/sub", 501, "NotImplemented"},
		{"PATCH", "/sub/k", 405, "MethodNotAllowed"},
		{"PUT", "/", 405, "MethodNotAllowed"},
		{"GET", "/sub/missing?acl", 404, "NoSuchKey"},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			expectError(t, e.req(tc.method, tc.target, ""), tc.status, tc.code)
		})
	}
	// Deleting a configuration that was never set is a no-op, as on AWS.
	for _, sub := range []string{"policy", "cors", "lifecycle", "tagging", "encryption"} {
		t.Run("DELETE /sub?"+sub, func(t *testing.T) {
			if rr := e.req("DELETE", "/sub?"+sub, ""); rr.Code != 204 {
				t.Fatalf("status %d, want 204: %s", rr.Code, rr.Body)
			}
		})
	}
	// Configuration with a sub-resource must never be served as a plain write.
	if w := e.req("GET", "/sub/k", ""); w.Body.String() != "v" {
		t.Fatalf("object changed by a sub-resource request: %s", w.Body)
	}
	t.Run("acl", func(t *testing.T) {
		for _, target := range []string{"/sub?acl", "/sub/k?acl"} {
			var acl accessControlPolicy
			body := e.req("GET", target, "").Body.String()
			if err := xml.Unmarshal([]byte(body), &acl); err != nil || len(acl.Grants) != 1 ||
				acl.Grants[0].Permission != "FULL_CONTROL" || acl.Owner.ID != "admin" || !strings.Contains(body, `xsi:type="CanonicalUser"`) {
				t.Fatalf("%s: %v", body, err)
			}
		}
	})
	t.Run("object tagging", func(t *testing.T) {
		w := e.req("GET", "/sub/k?tagging", "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "<TagSet></TagSet>") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("probes answer documents", func(t *testing.T) {
		for _, q := range []string{"logging", "notification", "accelerate", "requestPayment"} {
			if w := e.req("GET", "/sub?"+q, ""); w.Code != 200 {
				t.Errorf("%s: %d %s", q, w.Code, w.Body)
			}
		}
	})
}

func TestAuthAndErrors(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("priv")
	e.mkRepo("pub")
	e.put("priv", "k", "secret")
	e.put("pub", "k", "open")
	e.auth.public["pub"] = true
	anon := "X-Test-User:"
	for _, tc := range []struct {
		name, method, target string
		hdr                  []string
		status               int
		code                 string
	}{
		{"anonymous private read", "GET", "/priv/k", []string{anon}, 403, "AccessDenied"},
		{"anonymous private list", "GET", "/priv", []string{anon}, 403, "AccessDenied"},
		{"anonymous public write", "PUT", "/pub/k", []string{anon}, 403, "AccessDenied"},
		{"anonymous public delete", "DELETE", "/pub/k", []string{anon}, 403, "AccessDenied"},
		{"anonymous list buckets", "GET", "/", []string{anon}, 403, "AccessDenied"},
		{"reader writes", "PUT", "/priv/k", []string{"X-Test-User: reader"}, 403, "AccessDenied"},
		{"reader creates", "PUT", "/newrepo", []string{"X-Test-User: reader"}, 403, "AccessDenied"},
		{"reader deletes bucket", "DELETE", "/priv", []string{"X-Test-User: reader"}, 403, "AccessDenied"},
		{"bad signature", "GET", "/priv/k", []string{"X-Test-User: bad-signature"}, 403, "SignatureDoesNotMatch"},
		{"no such bucket", "GET", "/nosuch/k", nil, 404, "NoSuchBucket"},
		{"no such ref", "GET", "/nosuch.priv/k", nil, 404, "NoSuchBucket"},
		{"no such key", "GET", "/priv/nokey", nil, 404, "NoSuchKey"},
		{"bad bucket name", "GET", "/BAD/k", nil, 400, "InvalidBucketName"},
		{"bad ref", "GET", "/a_b.priv/k", nil, 400, "InvalidBucketName"},
		{"empty bucket with key", "GET", "//k", nil, 400, "InvalidBucketName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.req(tc.method, tc.target, "", tc.hdr...)
			expectError(t, w, tc.status, tc.code)
		})
	}
	t.Run("anonymous public read", func(t *testing.T) {
		if w := e.req("GET", "/pub/k", "", anon); w.Code != 200 || w.Body.String() != "open" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("reader reads", func(t *testing.T) {
		if w := e.req("GET", "/priv/k", "", "X-Test-User: reader"); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("error XML resource", func(t *testing.T) {
		w := e.req("GET", "/priv/no%20key", "")
		er := errorOf(t, w)
		if er.Resource != "/priv/no%20key" || er.Key != "no key" || er.BucketName != "priv" {
			t.Fatalf("%+v", er)
		}
	})
	t.Run("request id on success", func(t *testing.T) {
		if e.req("GET", "/priv/k", "").Header().Get("X-Amz-Request-Id") == "" {
			t.Fatal("no x-amz-request-id")
		}
	})
}

func TestErrorTable(t *testing.T) {
	for _, tc := range []struct {
		err    error
		object bool
		code   string
		status int
		msg    string
	}{
		{errs.E("x", errs.NotExist, "gone"), true, "NoSuchKey", 404, "gone"},
		{errs.E("x", errs.NotExist, "gone"), false, "NoSuchBucket", 404, "gone"},
		{errs.E("x", errs.NotExist, "").Because(errs.Upload), true, "NoSuchUpload", 404, codeTable["NoSuchUpload"].Msg},
		{errs.E("x", errs.Exist, "there"), false, "BucketAlreadyOwnedByYou", 409, "there"},
		{errs.E("x", errs.Invalid, "bad"), true, "InvalidArgument", 400, "bad"},
		{s3code.New("x", errs.Invalid, "MalformedXML", "bad"), true, "MalformedXML", 400, "bad"},
		{errs.E("x", errs.Invalid, "r").Because(errs.Range), true, "InvalidRange", 416, "r"},
		{s3code.New("x", errs.Invalid, "MissingContentLength", "l"), true, "MissingContentLength", 411, "l"},
		{errs.E("x", errs.Permission, "no"), true, "AccessDenied", 403, "no"},
		{s3code.New("x", errs.Permission, "RequestTimeTooSkewed", "skew"), true, "RequestTimeTooSkewed", 403, "skew"},
		{errs.E("x", errs.Conflict, "p").Because(errs.Precondition), true, "PreconditionFailed", 412, "p"},
		{errs.E("x", errs.Conflict, "n").Because(errs.NotEmpty), false, "BucketNotEmpty", 409, "n"},
		{errs.E("x", errs.Conflict, "c"), true, "OperationAborted", 409, "c"},
		{errs.E("x", errs.Transient, "busy"), true, "ServiceUnavailable", 503, "busy"},
		{s3code.New("x", errs.Transient, "SlowDown", "slow"), true, "SlowDown", 503, "slow"},
		{errs.E("x", errs.NoSpace, "disk /data below its 5%% floor"), true, "InsufficientStorage", 507, "disk /data below its 5% floor"},
		{errs.E("x", errs.NotImplemented, "nope"), true, "NotImplemented", 501, "nope"},
		{errs.E("x", errs.TooLarge, "big"), true, "EntityTooLarge", 400, "big"},
		{errs.E("x", errs.Internal, "secret detail"), true, "InternalError", 500, codeTable["InternalError"].Msg},
		{fmt.Errorf("plain"), true, "InternalError", 500, codeTable["InternalError"].Msg},
		{fmt.Errorf("wrapped: %w", errs.E("x", errs.NotExist, "deep").Because(errs.Version)), true, "NoSuchVersion", 404, "deep"},
		{s3code.New("x", errs.Invalid, "SomeNewCode", "odd"), true, "SomeNewCode", 400, "odd"},
		{s3code.New("x", errs.Internal, "NotModified", ""), true, "NotModified", 304, "Not Modified"},
		// Domain kinds and reasons below s3api (reasonTable).
		{errs.E("x", errs.ReadOnly, "tag v1 is read-only"), true, "AccessDenied", 403, "tag v1 is read-only"},
		{errs.E("x", errs.Purged, "gone").Because(errs.Version), true, "NoSuchVersion", 404, "gone"},
		{errs.E("x", errs.Purged, "gone"), false, "NoSuchVersion", 404, "gone"},
		{errs.E("x", errs.NotExist, "no commit").Because(errs.Commit), false, "NoSuchVersion", 404, "no commit"},
		{errs.E("x", errs.NotExist, "no repo").Because(errs.Repo), true, "NoSuchBucket", 404, "no repo"},
		{errs.E("x", errs.NotExist, "no key").Because(errs.UnknownKey), true, "InvalidAccessKeyId", 403, "no key"},
		{errs.E("x", errs.Invalid, "bad name").Because(errs.Name), false, "InvalidBucketName", 400, "bad name"},
		{errs.E("x", errs.TooLarge, "long").Because(errs.Key), true, "KeyTooLongError", 400, "long"},
		{errs.E("x", errs.Invalid, "marker").Because(errs.DeleteMarker), true, "MethodNotAllowed", 405, "marker"},
		{errs.E("x", errs.Invalid, "not a branch").Because(errs.RefKind), false, "InvalidRequest", 400, "not a branch"},
		{errs.E("x", errs.Conflict, "replaced").Because(errs.Part), true, "InvalidPart", 400, "replaced"},
		{errs.E("x", errs.Conflict, "gc").Because(errs.Busy), false, "OperationAborted", 409, "gc"},
		{errs.E("x", errs.Permission, "blocked").Because(errs.Blocked), true, "AccessDenied", 403, "blocked"},
		// A pair not in the table answers by kind; the outer kind picks the
		// status of a code S3 does not list; the message is the reasoned one.
		{errs.E("x", errs.Invalid, "bad user").Because(errs.User), true, "InvalidArgument", 400, "bad user"},
		{&errs.Error{Op: "o", Kind: errs.Conflict, Msg: "outer", Err: errs.E("x", errs.Conflict, "inner").Because(errs.Merge)}, true, "MergeConflict", 409, "inner"},
		{errs.Wrap("o", errs.Internal, errs.E("x", errs.NotExist, "v").Because(errs.Version)), true, "NoSuchVersion", 404, "v"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			w := wireError(tc.err, tc.object)
			if w.Code != tc.code || w.Status != tc.status || w.Message != tc.msg {
				t.Fatalf("%+v, want %s %d %q", w, tc.code, tc.status, tc.msg)
			}
		})
	}
	for code, info := range codeTable {
		if info.Status == 0 || info.Msg == "" {
			t.Errorf("%s: incomplete entry", code)
		}
	}
}

func TestValidKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		code string
	}{
		{"a", ""}, {"a/", ""}, {"..", ""}, {"//", ""}, {strings.Repeat("é", 512), ""},
		{"", "InvalidArgument"}, {"a\x00", "InvalidURI"}, {"\xff", "InvalidURI"},
		{strings.Repeat("a", 1025), "KeyTooLongError"},
	} {
		err := ValidKey(tc.key)
		if codeOf(err) != tc.code {
			t.Errorf("%q: %v, want %q", tc.key, err, tc.code)
		}
	}
}
