package s3api_test

import (
	"testing"

	"github.com/tusk-data/tusk/s3api"
	"github.com/tusk-data/tusk/s3api/backendtest"
)

// TestFakeBackendConformance checks the in-memory fake the S3 layer's own
// tests run on against the Backend contract, as gateway's test checks the
// real backend: what the handlers are tested with behaves as the real one.
func TestFakeBackendConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Harness {
		return backendtest.Harness{Backend: s3api.NewFakeBackend(),
			Admin: s3api.Caller{User: "admin"}, Stranger: s3api.Caller{User: "stranger"}}
	})
}
