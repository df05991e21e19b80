package meta

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// TestRepoOwnerAndLocation: a repo records its owner (the author, unless
// given) and LocationConstraint; creating it again changes nothing; old
// records without an owner read as owned by DefaultOwner.
func TestRepoOwnerAndLocation(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateRepoWith(ctx, "euro", "alice", RepoOptions{Location: "eu-west-1", Public: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRepo(ctx, "plain", "bob"); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateRepoWith(ctx, "euro", "bob", RepoOptions{Owner: "bob"})
	if !errs.Is(err, errs.Exist) {
		t.Fatalf("creating euro again: %v", err)
	}
	for _, c := range []struct{ name, owner, loc string }{{"euro", "alice", "eu-west-1"}, {"plain", "bob", ""}} {
		r, err := s.GetRepo(ctx, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if r.Owner != c.owner || r.OwnerName() != c.owner || r.Location != c.loc || r.Public != (c.name == "euro") {
			t.Fatalf("repo %s: %+v", c.name, r)
		}
	}
	var old Repo
	if err := json.Unmarshal([]byte(`{"name":"old","created":"2025-01-02T03:04:05Z","public":true}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Owner != "" || old.OwnerName() != DefaultOwner || old.Location != "" || !old.Public {
		t.Fatalf("old record: %+v owned by %s", old, old.OwnerName())
	}
	b, _ := json.Marshal(&Repo{Name: "x"})
	if string(b) != `{"name":"x","created":"0001-01-01T00:00:00Z"}` {
		t.Fatalf("a record without owner or location writes %s", b)
	}
}
