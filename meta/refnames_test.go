package meta

import (
	"context"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// TestBranchTagNamesShared: a branch and a tag may not share a name (the
// bucket REF.REPO names either; a branch named as a tag would shadow it
// and make the tag's bucket writable). Found by the authorization matrix:
// CreateBucket v1.REPO made a branch v1 beside tag v1.
func TestBranchTagNamesShared(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateRepo(ctx, "refs", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTag(ctx, "refs", "v1", "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBranch(ctx, "refs", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"branch named as a tag", func() error { _, err := s.CreateBranch(ctx, "refs", "v1", "main"); return err }()},
		{"tag named as a branch", func() error { _, err := s.CreateTag(ctx, "refs", "dev", "main"); return err }()},
		{"tag named main", func() error { _, err := s.CreateTag(ctx, "refs", "main", "main"); return err }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !errs.Is(c.err, errs.Exist) {
				t.Fatalf("got %v, want an Exist error", c.err)
			}
		})
	}
	if r, err := s.Resolve(ctx, "refs", "v1"); err != nil || r.Kind != KindTag {
		t.Fatalf("v1 resolves to %+v, %v; want the tag", r, err)
	}
	if r, err := s.Resolve(ctx, "refs", "dev"); err != nil || r.Kind != KindBranch {
		t.Fatalf("dev resolves to %+v, %v; want the branch", r, err)
	}
}
