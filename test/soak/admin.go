package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

// admin is a client of the admin API (/api/v1) with HTTP basic auth (the
// servers here listen on loopback only).
type admin struct {
	base string
	hc   *http.Client
}

func newAdmin(base string) *admin {
	return &admin{base: base + "/api/v1", hc: &http.Client{Timeout: 60 * time.Second}}
}

// apiError is an admin API error answer.
type apiError struct {
	Status int
	Code   string
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg) }

// call sends a JSON request; out (if not nil) takes the answer. A
// transport error is returned as is (a cut connection); an error answer as
// *apiError.
func (a *admin) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(AccessKey, SecretKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var ae apiv1.APIError
		_ = json.Unmarshal(b, &ae)
		return &apiError{Status: resp.StatusCode, Code: ae.Code, Msg: ae.Message}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (a *admin) createBranch(ctx context.Context, repo, name string) (apiv1.BranchInfo, error) {
	var bi apiv1.BranchInfo
	err := a.call(ctx, "POST", "/repos/"+url.PathEscape(repo)+"/branches", map[string]string{"name": name, "from": "main"}, &bi)
	return bi, err
}

// branchExists asks whether branch name exists (after a cut create).
func (a *admin) branchExists(ctx context.Context, repo, name string) (bool, error) {
	err := a.call(ctx, "GET", "/repos/"+url.PathEscape(repo)+"/branches/"+url.PathEscape(name), nil, nil)
	if ae, ok := err.(*apiError); ok && ae.Status == 404 {
		return false, nil
	}
	return err == nil, err
}

func (a *admin) merge(ctx context.Context, repo, src, dst string) (apiv1.MergeResult, error) {
	var mr apiv1.MergeResult
	err := a.call(ctx, "POST", "/repos/"+url.PathEscape(repo)+"/merge",
		map[string]string{"source": src, "destination": dst, "strategy": "fail", "message": "soak: merge " + src}, &mr)
	return mr, err
}
