package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// Limits on hostile input (issue 13): each limit answers S3's error, and
// nothing is written.

// TestLimitsInput: key length, object and part sizes, part numbers,
// DeleteObjects keys and header size.
func TestLimitsInput(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "k", []byte("kept"))
	put(t, c, repo, strings.Repeat("x", 1024), []byte("a key of 1024 bytes is allowed"))
	up := e.do(t, rawReq{method: "POST", bucket: repo, key: "mp", query: "uploads"})
	if up.status != 200 {
		t.Fatalf("CreateMultipartUpload: %d %s", up.status, up.body)
	}
	var init struct {
		UploadID string `xml:"UploadId"`
	}
	if err := xml.Unmarshal(up.body, &init); err != nil {
		t.Fatal(err)
	}
	before := e.versions(t, repo)
	for _, tc := range []struct {
		name   string
		req    rawReq
		status int
		code   string
	}{
		{"key of 1025 bytes", rawReq{method: "PUT", bucket: repo, key: strings.Repeat("x", 1025), body: []byte("x")}, 400, "KeyTooLongError"},
		{"copy to a key of 1025 bytes", rawReq{method: "PUT", bucket: repo, key: strings.Repeat("y", 1025),
			header: map[string]string{"X-Amz-Copy-Source": repo + "/k"}}, 400, "KeyTooLongError"},
		{"DeleteObjects of 1001 keys", rawReq{method: "POST", bucket: repo, query: "delete",
			body: []byte("<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 1001) + "</Delete>")}, 400, "MalformedXML"},
		{"part number 10001", rawReq{method: "PUT", bucket: repo, key: "mp", query: "partNumber=10001&uploadId=" + init.UploadID,
			body: []byte("p")}, 400, "InvalidArgument"},
		{"part number 0", rawReq{method: "PUT", bucket: repo, key: "mp", query: "partNumber=0&uploadId=" + init.UploadID,
			body: []byte("p")}, 400, "InvalidArgument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRawErr(t, e.do(t, tc.req), tc.status, tc.code)
		})
	}
	// Sizes are refused from the announced Content-Length, before any
	// byte of the body is read: the test sends none.
	for _, tc := range []struct {
		name, path string
		size       int64
	}{
		{"PutObject of 5 GiB + 1", "/" + repo + "/big", 5<<30 + 1},
		{"UploadPart of 5 GiB + 1", "/" + repo + "/mp?partNumber=1&uploadId=" + init.UploadID, 5<<30 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := e.dialRaw(t)
			e.writeSigned(t, conn, "PUT", tc.path, tc.size)
			r := readRaw(t, conn, "PUT")
			wantRawErr(t, r, 400, "EntityTooLarge")
		})
	}
	t.Run("header section over 8 KiB", func(t *testing.T) {
		r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "padded", body: []byte("x"), header: map[string]string{"X-Pad": strings.Repeat("p", 9<<10)}})
		wantRawErr(t, r, 400, "RequestHeaderSectionTooLarge")
	})
	t.Run("header section over 64 KiB", func(t *testing.T) {
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "k", header: map[string]string{"X-Pad": strings.Repeat("p", 70<<10)}})
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431: %s", r.status, r.body)
		}
	})
	sameVersions(t, "refused requests", e.versions(t, repo), before)
	wantErr(t, getErr(t, c, repo, "big", ""), 404, "NoSuchKey")
}

// TestLimitsTimeouts: a client that stalls its headers, its body, or keeps
// an idle connection is cut off (short timeouts configured here; the
// defaults are in gateway/limits.go). A stalled upload answers 400
// RequestTimeout and writes nothing.
func TestLimitsTimeouts(t *testing.T) {
	// The body timeout is 10 times the pause of the slow body below, so
	// that a loaded machine's scheduling does not cut off a body that
	// keeps coming.
	const d, body = 300 * time.Millisecond, time.Second
	srv := gatewaytest.Start(t, gateway.Config{Domain: domain, ReadHeaderTimeout: d, IdleTimeout: d, BodyTimeout: body})
	e := &env{t: t, srv: srv}
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "k", []byte("kept"))
	before := e.versions(t, repo)

	t.Run("stalled headers", func(t *testing.T) {
		conn := e.dialRaw(t)
		if _, err := io.WriteString(conn, "GET /"+repo+"/k HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, conn)
	})
	t.Run("idle connection", func(t *testing.T) {
		conn := e.dialRaw(t)
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		waitClosed(t, conn)
	})
	t.Run("stalled body", func(t *testing.T) {
		conn := e.dialRaw(t)
		e.writeSigned(t, conn, "PUT", "/"+repo+"/stalled", 100)
		if _, err := conn.Write([]byte("only ten b")); err != nil {
			t.Fatal(err)
		}
		// ... and nothing more: the server answers and closes.
		r := readRaw(t, conn, "PUT")
		wantRawErr(t, r, 400, "RequestTimeout")
		wantErr(t, getErr(t, c, repo, "stalled", ""), 404, "NoSuchKey")
	})
	t.Run("a slow body that keeps coming is not cut off", func(t *testing.T) {
		conn := e.dialRaw(t)
		e.writeSigned(t, conn, "PUT", "/"+repo+"/slow", 4)
		for _, b := range []byte("slow") {
			time.Sleep(body / 10)
			if _, err := conn.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
		}
		if r := readRaw(t, conn, "PUT"); r.status != 200 {
			t.Fatalf("slow PUT: %d %s", r.status, r.body)
		}
		if b, _ := get(t, c, repo, "slow", ""); string(b) != "slow" {
			t.Fatalf("slow PUT stored %q", b)
		}
		before = e.versions(t, repo)
	})
	sameVersions(t, "cut-off requests", e.versions(t, repo), before)
}

// TestLimitsMaxRequests: beyond --max-requests requests in flight, S3
// requests get 503 SlowDown with Retry-After and admin API calls 503
// ServiceUnavailable, at once and without reading their bodies; /healthz
// and /metrics are not counted; tusk_http_requests_rejected_total counts
// the refusals; the held requests then complete.
func TestLimitsMaxRequests(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{Domain: domain, MaxRequests: 2, BodyTimeout: time.Minute})
	e := &env{t: t, srv: srv}
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "k", []byte("kept"))

	// Two uploads whose bodies have not all arrived hold both slots.
	var held []net.Conn
	for i := 0; i < 2; i++ {
		conn := e.dialRaw(t)
		e.writeSigned(t, conn, "PUT", fmt.Sprintf("/%s/held%d", repo, i), 8)
		if _, err := conn.Write([]byte("half")); err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, e, "tusk_http_in_flight_requests") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the held uploads never got in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Run("S3 request", func(t *testing.T) {
		r := e.do(t, rawReq{method: "GET", bucket: repo, key: "k"})
		wantRawErr(t, r, 503, "SlowDown")
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After %q, want 1", got)
		}
	})
	t.Run("S3 upload", func(t *testing.T) {
		r := e.do(t, rawReq{method: "PUT", bucket: repo, key: "refused", body: bytes.Repeat([]byte("r"), 1<<20)})
		wantRawErr(t, r, 503, "SlowDown")
	})
	t.Run("admin API call", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/api/v1/version")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct{ Code string }
		json.NewDecoder(resp.Body).Decode(&doc)
		if resp.StatusCode != 503 || doc.Code != "ServiceUnavailable" || resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("admin API: %d %q Retry-After %q", resp.StatusCode, doc.Code, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("healthz and metrics are not counted", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		resp.Body.Close()
		if got := metricValue(t, e, "tusk_http_requests_rejected_total"); got != 3 {
			t.Fatalf("tusk_http_requests_rejected_total = %v, want 3", got)
		}
	})
	for i, conn := range held {
		if _, err := conn.Write([]byte("done")); err != nil {
			t.Fatal(err)
		}
		if r := readRaw(t, conn, "PUT"); r.status != 200 {
			t.Fatalf("held upload %d: %d %s", i, r.status, r.body)
		}
		if b, _ := get(t, c, repo, fmt.Sprintf("held%d", i), ""); string(b) != "halfdone" {
			t.Fatalf("held upload %d stored %q", i, b)
		}
	}
	wantErr(t, getErr(t, c, repo, "refused", ""), 404, "NoSuchKey")
}

// dialRaw opens a TCP connection to the gateway, closed with the test.
func (e *env) dialRaw(t *testing.T) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", e.srv.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// writeSigned writes the head of a request signed by the admin with
// UNSIGNED-PAYLOAD and announcing size bytes of body, and no body.
func (e *env) writeSigned(t *testing.T, conn net.Conn, method, path string, size int64) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req.Header.Set("Content-Length", strconv.FormatInt(size, 10))
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx(t), aws.Credentials{AccessKeyID: gatewaytest.AccessKey, SecretAccessKey: gatewaytest.SecretKey},
		req, "UNSIGNED-PAYLOAD", "s3", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, req.URL.RequestURI(), req.URL.Host)
	req.Header.Write(&b)
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
}

// readRaw reads one response from conn (within 30 s).
func readRaw(t *testing.T, conn net.Conn, method string) rawResp {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: body}
}

// waitClosed fails unless the server closes conn within 30 s.
func waitClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}

// metricValue reads one unlabelled metric from /metrics.
func metricValue(t *testing.T, e *env, name string) float64 {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}
