package meta

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// auditFixture writes n entries one second apart from t0: user u<i%3>,
// repo r<i%2>, action a.x for even i and b for odd i.
func auditFixture(t *testing.T, s *Store, t0 time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		act := "a.x"
		if i%2 == 1 {
			act = "b"
		}
		e := AuditEntry{Time: t0.Add(time.Duration(i) * time.Second), User: fmt.Sprintf("u%d", i%3),
			Repo: fmt.Sprintf("r%d", i%2), Action: act, Target: fmt.Sprint(i)}
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

func targets(es []AuditEntry) string {
	out := ""
	for _, e := range es {
		out += e.Target + " "
	}
	return out
}

// AuditPage filters by user, repo, action group and time range, and its
// cursors walk the selection exactly, in both orders.
func TestAuditPage(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	auditFixture(t, s, t0, 12)

	cases := []struct {
		name string
		q    AuditQuery
		want string // every page's targets, joined
	}{
		{"all", AuditQuery{Limit: 5}, "0 1 2 3 4 5 6 7 8 9 10 11 "},
		{"all newest", AuditQuery{Limit: 5, Newest: true}, "11 10 9 8 7 6 5 4 3 2 1 0 "},
		{"user", AuditQuery{User: "u1", Limit: 2}, "1 4 7 10 "},
		{"repo", AuditQuery{Repo: "r1", Limit: 4}, "1 3 5 7 9 11 "},
		{"group", AuditQuery{Action: "a", Limit: 10}, "0 2 4 6 8 10 "},
		{"action", AuditQuery{Action: "b", Limit: 10}, "1 3 5 7 9 11 "},
		{"prefix is not a group", AuditQuery{Action: "a.", Limit: 10}, ""},
		{"since until", AuditQuery{Since: t0.Add(3 * time.Second), Until: t0.Add(7 * time.Second), Limit: 1}, "3 4 5 6 "},
		{"since until newest", AuditQuery{Since: t0.Add(3 * time.Second), Until: t0.Add(7 * time.Second), Limit: 3, Newest: true}, "6 5 4 3 "},
		{"user repo newest", AuditQuery{User: "u0", Repo: "r0", Limit: 1, Newest: true}, "6 0 "},
		{"empty range", AuditQuery{Since: t0.Add(time.Hour), Limit: 3}, ""},
		{"result ok", AuditQuery{Result: AuditOK, Limit: 20}, "0 1 2 3 4 5 6 7 8 9 10 11 "},
		{"result failed", AuditQuery{Result: AuditFailed, Limit: 20}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, pages := "", 0
			q := tc.q
			for {
				es, next, err := s.AuditPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) > q.Limit {
					t.Fatalf("page of %d entries, limit %d", len(es), q.Limit)
				}
				for _, e := range es {
					if e.Result != AuditOK {
						t.Fatalf("result %q, want ok", e.Result)
					}
				}
				got += targets(es)
				if pages++; next == "" || pages > 20 {
					break
				}
				q.Cursor = next
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	for _, q := range []AuditQuery{{Limit: 0}, {Limit: 1, Cursor: "nope"}, {Limit: 1, Cursor: "L/x"}} {
		if _, _, err := s.AuditPage(ctx, q); !errs.Is(err, errs.Invalid) {
			t.Fatalf("%+v: %v, want Invalid", q, err)
		}
	}
}

// The access key and request id ride on the context; a failure is kept
// as written.
func TestAuditCallerFromContext(t *testing.T) {
	s := newTestStore(t)
	ctx := WithAuditCaller(context.Background(), AuditCaller{Key: "AK1", RequestID: "RID1"})
	if err := s.Audit(ctx, AuditEntry{User: "u", Action: "purge", Result: AuditFailed, Code: "AccessDenied"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditEntry{User: "u", Action: "gc", Key: "AK2"}); err != nil {
		t.Fatal(err)
	}
	es, _, err := s.AuditPage(context.Background(), AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Key != "AK1" || es[0].RequestID != "RID1" || es[0].Result != AuditFailed ||
		es[0].Code != "AccessDenied" || es[1].Key != "AK2" || es[1].RequestID != "RID1" || es[1].Result != AuditOK || es[1].Time.IsZero() {
		t.Fatalf("%+v", es)
	}
}

// PruneAudit deletes exactly the entries older than the cut, across
// several transactions.
func TestPruneAudit(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	n := pruneBatch + 20
	auditFixture(t, s, t0, n)
	cut := t0.Add(time.Duration(pruneBatch+5) * time.Second)
	deleted, err := s.PruneAudit(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if deleted != pruneBatch+5 {
		t.Fatalf("deleted %d, want %d", deleted, pruneBatch+5)
	}
	es, err := s.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 15 || es[0].Target != fmt.Sprint(pruneBatch+5) {
		t.Fatalf("%d left, first %+v", len(es), es[0])
	}
	if deleted, err = s.PruneAudit(ctx, cut); err != nil || deleted != 0 {
		t.Fatalf("second prune: %d, %v", deleted, err)
	}
}
