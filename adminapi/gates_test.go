package adminapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// TestMergeGateChecks: required pipelines must exist and read the repo,
// go with protected true and are cleared by unprotecting; a branch that
// requires pipelines refuses merges with MergeGate on a gateway without
// pipelines; POST /pipelines/{name}/run checks its arguments. (The gate's
// refusal and pass: test/pipelines TestMergeGate.)
func TestMergeGateChecks(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "src"}, nil)
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "other"}, nil)
	adm.must("POST", "/repos/src/branches", apiv1.CreateRefRequest{Name: "dev"}, nil)
	adm.must("POST", "/pipelines", map[string]any{"name": "reads-other",
		"input": map[string]any{"pfs": map[string]any{"repo": "other", "glob": "/*"}}, "transform": map[string]any{"cmd": []string{"true"}}}, nil)
	adm.must("POST", "/pipelines", map[string]any{"name": "reads-src",
		"input": map[string]any{"pfs": map[string]any{"repo": "src", "glob": "/*"}}, "transform": map[string]any{"cmd": []string{"true"}}}, nil)
	yes, no := true, false
	req := func(on *bool, names ...string) apiv1.SetProtectedRequest {
		return apiv1.SetProtectedRequest{Protected: on, RequiredPipelines: &names}
	}
	for _, c := range []struct {
		name       string
		body       apiv1.SetProtectedRequest
		status     int
		code, says string
	}{
		{"unknown pipeline", req(&yes, "nope"), 404, "NoSuchPipeline", `"nope"`},
		{"pipeline not reading the repo", req(&yes, "reads-other"), 400, "InvalidArgument", "does not read repo src"},
		{"unprotected", req(&no, "reads-src"), 400, "InvalidArgument", "protected true"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := adm.call("PUT", "/repos/src/branches/main/protected", c.body)
			if r.status != c.status || r.err.Code != c.code || !strings.Contains(r.err.Message, c.says) {
				t.Errorf("= %d %s %q; want %d %s mentioning %q", r.status, r.err.Code, r.err.Message, c.status, c.code, c.says)
			}
		})
	}
	var b apiv1.BranchInfo
	adm.must("PUT", "/repos/src/branches/main/protected", req(&yes, "reads-src"), &b)
	if !b.Protected || strings.Join(b.RequiredPipelines, ",") != "reads-src" {
		t.Fatalf("protected with a required pipeline: %+v", b)
	}
	adm.must("PUT", "/repos/src/branches/main/protected", apiv1.SetProtectedRequest{Protected: &yes}, &b)
	if strings.Join(b.RequiredPipelines, ",") != "reads-src" {
		t.Errorf("re-protecting without required_pipelines dropped them: %+v", b)
	}
	b = apiv1.BranchInfo{}
	adm.must("PUT", "/repos/src/branches/main/protected", apiv1.SetProtectedRequest{Protected: &no}, &b)
	if len(b.RequiredPipelines) != 0 {
		t.Errorf("unprotecting kept the required pipelines: %+v", b)
	}

	for _, c := range []struct {
		name       string
		pipe       string
		body       apiv1.RunGateRequest
		status     int
		code, says string
	}{
		{"no branch", "reads-src", apiv1.RunGateRequest{}, 400, "InvalidArgument", "branch"},
		{"unknown branch", "reads-src", apiv1.RunGateRequest{Branch: "nob"}, 404, "NoSuchRef", `"nob"`},
		{"its own branch", "reads-src", apiv1.RunGateRequest{Branch: "main"}, 400, "InvalidArgument", "already reads src@main"},
		{"unknown pipeline", "nope", apiv1.RunGateRequest{Branch: "dev"}, 404, "NoSuchPipeline", `"nope"`},
		{"repo it does not read", "reads-other", apiv1.RunGateRequest{Repo: "src", Branch: "dev"}, 400, "InvalidArgument", "does not read repo src"},
	} {
		t.Run("run/"+c.name, func(t *testing.T) {
			r := adm.call("POST", "/pipelines/"+c.pipe+"/run", c.body)
			if r.status != c.status || r.err.Code != c.code || !strings.Contains(r.err.Message, c.says) {
				t.Errorf("= %d %s %q; want %d %s mentioning %q", r.status, r.err.Code, r.err.Message, c.status, c.code, c.says)
			}
		})
	}

	t.Run("pipelines disabled", func(t *testing.T) {
		srv := gatewaytest.Start(t, gateway.Config{Pipelines: gateway.PipelineConfig{Disabled: true}})
		adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
		adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "src"}, nil)
		adm.must("POST", "/repos/src/branches", apiv1.CreateRefRequest{Name: "dev"}, nil)
		if r := adm.call("PUT", "/repos/src/branches/main/protected", req(&yes, "p")); r.status != 501 {
			t.Errorf("requiring a pipeline without pipelines: %d %s %q; want 501", r.status, r.err.Code, r.err.Message)
		}
		ctx := context.Background()
		if err := srv.Meta.SetBranchProtected(ctx, "src", "main", true); err != nil {
			t.Fatal(err)
		}
		if err := srv.Meta.SetBranchRequired(ctx, "src", "main", []string{"p"}); err != nil {
			t.Fatal(err)
		}
		r := adm.call("POST", "/repos/src/merge", apiv1.MergeRequest{Source: "dev", Destination: "main"})
		if r.status != 409 || r.err.Code != "MergeGate" || !strings.Contains(r.err.Message, "pipelines are disabled") {
			t.Errorf("merge into a gated branch without pipelines: %d %s %q; want 409 MergeGate", r.status, r.err.Code, r.err.Message)
		}
	})
}
