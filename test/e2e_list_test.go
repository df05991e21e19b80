package test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	minio "github.com/minio/minio-go/v7"
)

// oddKeys are keys S3 takes as flat strings: nothing is cleaned.
var oddKeys = []string{
	"a",
	"a/",
	"a/b",
	"a//b",
	"a/b/c",
	"x/../y",
	"x/./y",
	"./dot",
	"/leading",
	"trailing//",
	"ünïcødé/日本語/ключ",
	"emoji 😀/file",
	"with space",
	"with+plus",
	"pct%20literal%2F",
	"q?mark&amp=eq#hash",
	"tab\tand",
	"a--b--c",
	"a--b",
	"xaby",
	"xab",
	"ab",
	"~tilde",
	"a:colon;semi,comma",
	"<lt>&\"'",
	"sub!$&'()*,;=:@delims",
	"brackets[]{}|^`\\back",
}

// expectList is the reference S3 listing: keys with prefix, sorted
// bytewise, folded into common prefixes at the first delimiter after the
// prefix. It returns the interleaved sequence ("K key" / "P prefix").
func expectList(keys []string, prefix, delim string) []string {
	s := sortedCopy(keys)
	var out []string
	seen := map[string]bool{}
	for _, k := range s {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					out = append(out, "P "+cp)
				}
				continue
			}
		}
		out = append(out, "K "+k)
	}
	return out
}

type listXML struct {
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
	NextMarker            string `xml:"NextMarker"`
	EncodingType          string `xml:"EncodingType"`
	Prefix                string `xml:"Prefix"`
	Delimiter             string `xml:"Delimiter"`
	StartAfter            string `xml:"StartAfter"`
	KeyCount              int    `xml:"KeyCount"`
	Contents              []struct {
		Key  string `xml:"Key"`
		ETag string `xml:"ETag"`
		Size int64  `xml:"Size"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

// listRaw lists with raw query q (url-encoded), decoding keys when
// encoding-type=url. It returns the page in S3 order (keys and prefixes
// merged bytewise, as they are on the wire in two sorted lists).
func (e *env) listRaw(t *testing.T, bucket string, q url.Values) (listXML, []string) {
	t.Helper()
	r := e.do(t, rawReq{method: "GET", bucket: bucket, query: strings.ReplaceAll(q.Encode(), "+", "%20")})
	if r.status != 200 {
		t.Fatalf("list %s?%s: %d %s", bucket, q.Encode(), r.status, r.body)
	}
	var x listXML
	if err := xml.Unmarshal(r.body, &x); err != nil {
		t.Fatalf("list %s: %v: %s", bucket, err, r.body)
	}
	dec := func(s string) string {
		if q.Get("encoding-type") != "url" {
			return s
		}
		d, err := url.QueryUnescape(s)
		if err != nil {
			t.Fatalf("encoding-type=url: %q does not decode: %v", s, err)
		}
		if strings.ContainsAny(s, " \t\x01<>&\"'?#") || !isASCII(s) {
			t.Fatalf("encoding-type=url: %q is not percent-encoded", s)
		}
		return d
	}
	var page []string
	for _, c := range x.Contents {
		page = append(page, "K "+dec(c.Key))
	}
	for _, p := range x.CommonPrefixes {
		page = append(page, "P "+dec(p.Prefix))
	}
	sort.Slice(page, func(i, j int) bool { return page[i][2:] < page[j][2:] })
	return x, page
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestOddKeys: keys with "..", "//", trailing "/", unicode, spaces, '+',
// '%' and control characters round-trip unchanged through every client
// style and list correctly with "/", multi-character and other delimiters,
// with and without pagination and encoding-type=url.
func TestOddKeys(t *testing.T) {
	e := newEnv(t)
	body := func(k string) []byte { return []byte("content of <" + k + ">") }

	for _, st := range allStyles {
		t.Run("sdk-"+st.String(), func(t *testing.T) {
			c := e.sdk(st)
			repo := e.repo(t)
			for _, k := range oddKeys {
				put(t, c, repo, k, body(k))
			}
			for _, k := range oddKeys {
				b, g := get(t, c, repo, k, "")
				if !bytes.Equal(b, body(k)) {
					t.Fatalf("GET %q: %q", k, b)
				}
				if _, err := c.HeadObject(ctx(t), &s3.HeadObjectInput{Bucket: aws.String(repo), Key: aws.String(k)}); err != nil {
					t.Fatalf("HEAD %q: %v", k, err)
				}
				_ = g
			}
			if got, want := keysOf(t, c, repo), sortedCopy(oddKeys); !equalStrings(got, want) {
				t.Fatalf("ListObjectsV2 keys:\n got  %q\n want %q", got, want)
			}
			// Copy and delete an odd key through this client.
			src := "x/../y"
			if _, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(repo), Key: aws.String("copy of a//b"),
				CopySource: aws.String(repo + "/" + escapeKey("a//b"))}); err != nil {
				t.Fatalf("CopyObject a//b: %v", err)
			}
			b, _ := get(t, c, repo, "copy of a//b", "")
			if !bytes.Equal(b, body("a//b")) {
				t.Fatalf("copy of a//b: %q", b)
			}
			deleteKey(t, c, repo, src)
			wantErr(t, getErr(t, c, repo, src, ""), 404, "NoSuchKey")
		})
	}
	for _, dns := range []bool{false, true} {
		t.Run(fmt.Sprintf("minio-dns=%v", dns), func(t *testing.T) {
			mc := e.minio(dns)
			repo := e.repo(t)
			for _, k := range oddKeys {
				b := body(k)
				if _, err := mc.PutObject(ctx(t), repo, k, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
					t.Fatalf("minio PutObject %q: %v", k, err)
				}
			}
			for _, k := range oddKeys {
				o, err := mc.GetObject(ctx(t), repo, k, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(o)
				o.Close()
				if err != nil || !bytes.Equal(b, body(k)) {
					t.Fatalf("minio GET %q: %q %v", k, b, err)
				}
			}
			// minio-go lists with encoding-type=url and decodes.
			var got []string
			for o := range mc.ListObjects(ctx(t), repo, minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				got = append(got, o.Key)
			}
			if want := sortedCopy(oddKeys); !equalStrings(got, want) {
				t.Fatalf("minio ListObjects:\n got  %q\n want %q", got, want)
			}
			got = nil
			for o := range mc.ListObjects(ctx(t), repo, minio.ListObjectsOptions{Recursive: true, UseV1: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				got = append(got, o.Key)
			}
			if want := sortedCopy(oddKeys); !equalStrings(got, want) {
				t.Fatalf("minio ListObjects v1:\n got  %q\n want %q", got, want)
			}
		})
	}

	// Listings against the reference model, on one repo holding all keys.
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	for _, k := range oddKeys {
		put(t, c, repo, k, body(k))
	}
	type lcase struct{ prefix, delim string }
	var cases []lcase
	for _, d := range []string{"", "/", "//", "--", "ab", "b", "é", "%", "+"} {
		for _, p := range []string{"", "a", "a/", "a/b", "x", "ü", "a-"} {
			cases = append(cases, lcase{p, d})
		}
	}
	for _, lc := range cases {
		want := expectList(oddKeys, lc.prefix, lc.delim)
		name := fmt.Sprintf("prefix=%q delim=%q", lc.prefix, lc.delim)
		t.Run("list "+name, func(t *testing.T) {
			for _, enc := range []string{"", "url"} {
				q := url.Values{"list-type": {"2"}, "prefix": {lc.prefix}, "delimiter": {lc.delim}}
				if enc != "" {
					q.Set("encoding-type", enc)
				}
				x, page := e.listRaw(t, repo, q)
				if x.IsTruncated || fmt.Sprint(page) != fmt.Sprint(want) {
					t.Fatalf("v2 encoding=%q:\n got  %q\n want %q", enc, page, want)
				}
				if x.KeyCount != len(want) {
					t.Errorf("v2 KeyCount %d, want %d", x.KeyCount, len(want))
				}
				if enc == "url" && x.EncodingType != "url" {
					t.Errorf("EncodingType %q", x.EncodingType)
				}
				// Paginated one entry at a time: continuation tokens (v2)
				// and markers (v1) reproduce the same sequence.
				var v2 []string
				for i := 0; ; i++ {
					if i > len(want)+2 {
						t.Fatalf("v2 pagination does not end: %q", v2)
					}
					q.Set("max-keys", "1")
					x, page := e.listRaw(t, repo, q)
					if len(page) > 1 {
						t.Fatalf("max-keys=1 page %q", page)
					}
					v2 = append(v2, page...)
					if !x.IsTruncated {
						break
					}
					if x.NextContinuationToken == "" {
						t.Fatal("truncated v2 page without NextContinuationToken")
					}
					q.Set("continuation-token", x.NextContinuationToken)
				}
				if fmt.Sprint(v2) != fmt.Sprint(want) {
					t.Fatalf("v2 max-keys=1 encoding=%q:\n got  %q\n want %q", enc, v2, want)
				}
				var v1 []string
				q1 := url.Values{"prefix": {lc.prefix}, "delimiter": {lc.delim}, "max-keys": {"1"}}
				if enc != "" {
					q1.Set("encoding-type", enc)
				}
				for i := 0; ; i++ {
					if i > len(want)+2 {
						t.Fatalf("v1 pagination does not end: %q", v1)
					}
					x, page := e.listRaw(t, repo, q1)
					v1 = append(v1, page...)
					if !x.IsTruncated {
						break
					}
					next := x.NextMarker
					if next == "" {
						// Without a delimiter S3 sends no NextMarker:
						// clients continue from the last key.
						next = page[len(page)-1][2:]
					} else if enc == "url" {
						next, _ = url.QueryUnescape(next)
					}
					q1.Set("marker", next)
				}
				if fmt.Sprint(v1) != fmt.Sprint(want) {
					t.Fatalf("v1 max-keys=1 encoding=%q:\n got  %q\n want %q", enc, v1, want)
				}
			}
		})
	}
	t.Run("start-after", func(t *testing.T) {
		for _, sa := range []string{"a", "a/", "a//b", "x/../y", "with space", "zzz", "", "ünïcødé"} {
			q := url.Values{"list-type": {"2"}, "start-after": {sa}}
			_, page := e.listRaw(t, repo, q)
			var want []string
			for _, k := range sortedCopy(oddKeys) {
				if k > sa {
					want = append(want, "K "+k)
				}
			}
			if fmt.Sprint(page) != fmt.Sprint(want) {
				t.Fatalf("start-after %q:\n got  %q\n want %q", sa, page, want)
			}
			// v1 marker is the same thing.
			_, page = e.listRaw(t, repo, url.Values{"marker": {sa}})
			if fmt.Sprint(page) != fmt.Sprint(want) {
				t.Fatalf("marker %q:\n got  %q\n want %q", sa, page, want)
			}
		}
	})
	t.Run("sdk v2 paginator", func(t *testing.T) {
		var got []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(repo), MaxKeys: aws.Int32(1), StartAfter: aws.String("a/")})
		for p.HasMorePages() {
			pg, err := p.NextPage(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Contents) > 1 {
				t.Fatalf("MaxKeys 1 page with %d keys", len(pg.Contents))
			}
			for _, o := range pg.Contents {
				got = append(got, aws.ToString(o.Key))
				if aws.ToString(o.ETag) != `"`+md5hex(body(aws.ToString(o.Key)))+`"` || aws.ToInt64(o.Size) != int64(len(body(aws.ToString(o.Key)))) {
					t.Errorf("listing of %q: ETag %s size %d", aws.ToString(o.Key), aws.ToString(o.ETag), aws.ToInt64(o.Size))
				}
			}
		}
		var want []string
		for _, k := range sortedCopy(oddKeys) {
			if k > "a/" {
				want = append(want, k)
			}
		}
		if !equalStrings(got, want) {
			t.Fatalf("paginator:\n got  %q\n want %q", got, want)
		}
	})
	t.Run("sdk v1 with delimiter", func(t *testing.T) {
		var seq []string
		in := &s3.ListObjectsInput{Bucket: aws.String(repo), Delimiter: aws.String("--"), MaxKeys: aws.Int32(2)}
		for i := 0; i < 100; i++ {
			out, err := c.ListObjects(ctx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, o := range out.Contents {
				page = append(page, "K "+aws.ToString(o.Key))
			}
			for _, p := range out.CommonPrefixes {
				page = append(page, "P "+aws.ToString(p.Prefix))
			}
			sort.Slice(page, func(i, j int) bool { return page[i][2:] < page[j][2:] })
			seq = append(seq, page...)
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			if aws.ToString(out.NextMarker) == "" {
				t.Fatal("v1 with a delimiter: truncated without NextMarker")
			}
			in.Marker = out.NextMarker
		}
		if want := expectList(oddKeys, "", "--"); fmt.Sprint(seq) != fmt.Sprint(want) {
			t.Fatalf("v1 delimiter --:\n got  %q\n want %q", seq, want)
		}
	})
	t.Run("control character with encoding-type=url", func(t *testing.T) {
		// XML 1.0 cannot carry \x01: only encoding-type=url lists it exactly.
		r2 := e.repo(t)
		k := "ctl\x01char\x7f"
		put(t, c, r2, k, []byte("ctl"))
		if b, _ := get(t, c, r2, k, ""); string(b) != "ctl" {
			t.Fatalf("GET %q: %q", k, b)
		}
		_, page := e.listRaw(t, r2, url.Values{"list-type": {"2"}, "encoding-type": {"url"}})
		if fmt.Sprint(page) != fmt.Sprint([]string{"K " + k}) {
			t.Fatalf("encoding-type=url listing %q", page)
		}
	})
	t.Run("max-keys 0 and bad arguments", func(t *testing.T) {
		x, page := e.listRaw(t, repo, url.Values{"list-type": {"2"}, "max-keys": {"0"}})
		if len(page) != 0 || x.IsTruncated {
			t.Errorf("max-keys=0: %q truncated %v", page, x.IsTruncated)
		}
		wantRawErr(t, e.do(t, rawReq{method: "GET", bucket: repo, query: "list-type=2&max-keys=-1"}), 400, "InvalidArgument")
		wantRawErr(t, e.do(t, rawReq{method: "GET", bucket: repo, query: "list-type=2&encoding-type=base64"}), 400, "InvalidArgument")
		wantRawErr(t, e.do(t, rawReq{method: "GET", bucket: repo, query: "list-type=2&continuation-token=%21%21%21"}), 400, "InvalidArgument")
	})
}
