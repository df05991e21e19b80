package s3api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/names"
)

// FuzzParseAddress: a bucket and key written into a request, path style
// (key URI-encoded once, as SDKs do) or virtual-hosted style, parse back
// to exactly that bucket and key; any raw path parses or fails with
// InvalidURI / InvalidBucketName, never otherwise.
func FuzzParseAddress(f *testing.F) {
	f.Add("images", "cats/1.jpg", false, "/images/cats/1.jpg")
	f.Add("dev.images", "a//b/../c/", true, "/dev.images/a%2Fb")
	f.Add("images", "100% +=&?#", false, "//key")
	f.Add("images", "", true, "/%zz")
	f.Add("v1.images", "\u65e5\u672c", false, "/b/%2e%2e/%00")
	f.Fuzz(func(t *testing.T, bucket, key string, virtual bool, raw string) {
		// Any raw path: classified or parsed.
		if u, err := url.Parse("http://h" + raw); err == nil && strings.HasPrefix(raw, "/") {
			r := &http.Request{URL: u, Host: "h"}
			if _, err := parseAddress(r, testDomain); err != nil {
				switch c := codeOf(err); c {
				case "InvalidURI", "InvalidBucketName":
				default:
					t.Fatalf("parseAddress(%q): %v (code %q)", raw, err, c)
				}
			}
		}
		if _, _, err := names.SplitBucket(bucket, false); err != nil || names.ValidKey(key) != nil {
			return // only names a client can address
		}
		var u *url.URL
		host := "127.0.0.1:9000"
		if virtual {
			host = bucket + "." + testDomain + ":9000"
			u = &url.URL{Path: "/" + key, RawPath: "/" + urlEncodeKey(key)}
		} else {
			u = &url.URL{Path: "/" + bucket + "/" + key, RawPath: "/" + bucket + "/" + urlEncodeKey(key)}
		}
		r := &http.Request{URL: u, Host: host}
		a, err := parseAddress(r, testDomain)
		if err != nil || a.Bucket != bucket || a.Key != key || a.Virtual != virtual {
			t.Fatalf("bucket %q key %q virtual %v: parsed %+v, %v", bucket, key, virtual, a, err)
		}
	})
}
