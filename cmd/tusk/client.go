package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

// client speaks the admin API (/api/v1), signing every request with SigV4.
type client struct {
	cfg  *config
	base string // endpoint without trailing slash
	http *http.Client
}

type whoami = apiv1.WhoAmI

func newClient(c *config) (*client, error) {
	base, err := normalizeEndpoint(c.Endpoint)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = 10 * time.Minute
	return &client{cfg: c, base: base, http: &http.Client{Transport: tr}}, nil
}

// client returns the CLI's admin API client, built from the settings once.
func (o *rootOptions) client() (*client, error) {
	if o.cl != nil {
		return o.cl, nil
	}
	c, err := o.settings()
	if err != nil {
		return nil, err
	}
	cl, err := newClient(c)
	if err != nil {
		return nil, err
	}
	o.cl = cl
	return cl, nil
}

var emptySHA256 = hex.EncodeToString(func() []byte { s := sha256.Sum256(nil); return s[:] }())

// request builds and signs an admin API request. path is relative to
// /api/v1 and already escaped.
func (c *client) request(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	u := c.base + "/api/v1" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(data))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "tusk-cli/"+version)
	if c.cfg.AccessKey != "" {
		hash := emptySHA256
		if len(data) > 0 {
			s := sha256.Sum256(data)
			hash = hex.EncodeToString(s[:])
		}
		req.Header.Set("X-Amz-Content-Sha256", hash)
		// SignV4 signs the hash above and sets X-Amz-Date and
		// Authorization (service "s3", the gateway's only scope).
		req = signer.SignV4(*req, c.cfg.AccessKey, c.cfg.SecretKey, "", c.cfg.Region)
	}
	return req, nil
}

// send sends a request and returns the response when it is a success; any
// other answer becomes an *apiv1.APIError.
func (c *client) send(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	req, err := c.request(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("cannot reach the Tusk gateway at %s (%v): start it with tusk serve, or set TUSK_ENDPOINT / --endpoint", c.base, op.Err)
		}
		return nil, fmt.Errorf("talking to %s: %w", c.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeError(resp)
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e apiv1.APIError
	if json.Unmarshal(b, &e) == nil && e.Code != "" {
		e.Status = resp.StatusCode
		return &e
	}
	if code := resp.Header.Get("X-Tusk-Error-Code"); code != "" {
		return &apiv1.APIError{Code: code, Message: code, Status: resp.StatusCode}
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = resp.Status
	}
	return &apiv1.APIError{Code: "HTTP" + fmt.Sprint(resp.StatusCode),
		Message: fmt.Sprintf("the gateway answered %s: %s (is --endpoint a Tusk gateway?)", resp.Status, msg), Status: resp.StatusCode}
}

// do sends a JSON request and decodes the JSON answer into out (if not nil).
func (c *client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the gateway's answer: %w", err)
	}
	return nil
}

// p escapes one path segment.
func p(s string) string { return url.PathEscape(s) }

// s3 returns an S3 client for the same gateway, keys and HTTP transport
// (path-style, since Tusk's bucket names hold dots). It fails only for an
// endpoint that minio-go cannot address (one with a path after the host).
func (c *client) s3() (*minio.Core, error) {
	u, err := url.Parse(c.base)
	if err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, usagef("endpoint %s has a path: the S3 API is served at the root of host:port", c.base)
	}
	return minio.NewCore(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(c.cfg.AccessKey, c.cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Transport:    c.http.Transport,
		Region:       c.cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   s3Attempts,
	})
}

// s3Attempts bounds the tries of one S3 request, as the aws SDK's standard
// retryer did before (three attempts).
const s3Attempts = 3
