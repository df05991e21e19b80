package meta

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// TestWriteGateRefusesEveryWrite: every kind of metadata write passes
// Options.WriteGate first (object writes too, which take their own path to
// the committer), and a closed gate refuses it with the gate's error,
// leaving the store as it was.
func TestWriteGateRefusesEveryWrite(t *testing.T) {
	ctx := context.Background()
	var closed atomic.Bool
	gate := func(context.Context) error {
		if closed.Load() {
			return errs.E("test", errs.NoSpace, "gate closed")
		}
		return nil
	}
	s, err := Open("", Options{InMemory: true, WriteGate: gate})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateRepo(ctx, "gated", "t"); err != nil {
		t.Fatal(err)
	}
	put := func(key string) error {
		_, err := s.Write(ctx, WriteRequest{Repo: "gated", Branch: "main", Changes: []Change{{Key: key, Entry: &Entry{ETag: key}}}})
		return err
	}
	if err := put("before"); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	for _, tc := range []struct {
		name string
		fn   func() error
	}{
		{"object write", func() error { return put("after") }},
		{"branch create", func() error { _, err := s.CreateBranch(ctx, "gated", "dev", "main"); return err }},
		{"repo create", func() error { _, err := s.CreateRepo(ctx, "other", "t"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.fn(); !errs.Is(err, errs.NoSpace) {
				t.Fatalf("with the gate closed: %v, want NoSpace", err)
			}
		})
	}
	closed.Store(false)
	if err := put("reopened"); err != nil {
		t.Fatalf("after the gate reopened: %v", err)
	}
	if _, err := s.CreateBranch(ctx, "gated", "dev", "main"); err != nil {
		t.Fatalf("branch after the gate reopened (the refused one must not exist): %v", err)
	}
}
