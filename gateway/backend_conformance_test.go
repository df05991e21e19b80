package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/s3api"
	"github.com/tusk-data/tusk/s3api/backendtest"
)

// TestBackendConformance runs the s3api.Backend conformance suite on the
// gateway's Backend over meta and a disk blob store in a temp dir: user
// "admin" (bootstrapped, a global admin) and "stranger", a user without any
// right.
func TestBackendConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Harness {
		ctx := context.Background()
		srv, err := gateway.New(ctx, gateway.Config{DataDir: t.TempDir(), MinFree: 1 << 20, GCInterval: -1,
			Pipelines: gateway.PipelineConfig{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if err := srv.Auth.PutUser(ctx, &auth.User{Name: "stranger", Created: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		return backendtest.Harness{Backend: srv.Backend,
			Admin: s3api.Caller{User: "admin"}, Stranger: s3api.Caller{User: "stranger"}}
	})
}
