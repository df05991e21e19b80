package meta

import (
	"context"
	"fmt"
	"testing"
)

// listStats sums the live tree at the ref by listing it: the model
// RootStats must agree with.
func listStats(t *testing.T, s *Store, repo, ref string) (Hash, TreeStats) {
	t.Helper()
	ctx := context.Background()
	r, err := s.Resolve(ctx, repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	var st TreeStats
	after := ""
	for {
		p, err := s.List(ctx, r.Root(), "", "", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range p.Entries {
			st.Objects++
			st.Bytes += k.Entry.Size
			after = k.Key
		}
		if !p.Truncated {
			return r.Root(), st
		}
	}
}

func TestRootStatsFollowPutsDeletesMerges(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "stats", "a"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func()
		ref  string
		want TreeStats
	}{
		{"empty", func() {}, "main", TreeStats{}},
		{"two puts", func() { put(t, s, "stats", "main", "a", "aaaa"); put(t, s, "stats", "main", "b", "bb") }, "main", TreeStats{2, 6}},
		{"overwrite", func() { put(t, s, "stats", "main", "a", "a") }, "main", TreeStats{2, 3}},
		{"delete", func() { del(t, s, "stats", "main", "b") }, "main", TreeStats{1, 1}},
		{"delete missing key", func() { del(t, s, "stats", "main", "zz") }, "main", TreeStats{1, 1}},
		{"branch puts", func() {
			if _, err := s.CreateBranch(ctx, "stats", "dev", "main"); err != nil {
				t.Fatal(err)
			}
			put(t, s, "stats", "dev", "d1", "ddd")
			put(t, s, "stats", "dev", "d2", "dddd")
		}, "dev", TreeStats{3, 8}},
		{"main unchanged", func() {}, "main", TreeStats{1, 1}},
		{"merge dev into main", func() {
			put(t, s, "stats", "main", "m", "mm")
			if _, err := s.Merge(ctx, "stats", "dev", "main", StrategyFail, "a", ""); err != nil {
				t.Fatal(err)
			}
		}, "main", TreeStats{4, 10}},
		{"many keys", func() {
			var cs []Change
			for i := 0; i < 2000; i++ {
				cs = append(cs, Change{Key: fmt.Sprintf("k/%05d", i), Entry: &Entry{ETag: "e", Size: int64(i)}})
			}
			if _, err := s.Write(ctx, WriteRequest{Repo: "stats", Branch: "main", Author: "t", Changes: cs}); err != nil {
				t.Fatal(err)
			}
		}, "main", TreeStats{2004, 10 + 1999*2000/2}},
		{"delete half", func() {
			var ks []string
			for i := 0; i < 2000; i += 2 {
				ks = append(ks, fmt.Sprintf("k/%05d", i))
			}
			del(t, s, "stats", "main", ks...)
		}, "main", TreeStats{1004, 10 + 1000*1000}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			root, model := listStats(t, s, "stats", st.ref)
			if model != st.want {
				t.Fatalf("listing gives %+v, the test expects %+v", model, st.want)
			}
			got, err := s.RootStats(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			if got != st.want {
				t.Fatalf("RootStats = %+v, want %+v", got, st.want)
			}
			// A fresh cache (a full walk) agrees with the cached path.
			fresh, _, err := rootStats(ctx, readNodes{s}, newStatsCache(1<<16), root)
			if err != nil || fresh != st.want {
				t.Fatalf("walk without cache = %+v, %v; want %+v", fresh, err, st.want)
			}
		})
	}
}

// TestRootStatsCacheHit checks the cost contract: a first walk reads every
// node, a new root one key away from a cached one reads only its changed
// path, a cached root reads nothing, and an evicting cache stays bounded.
func TestRootStatsCacheHit(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "hits", "a"); err != nil {
		t.Fatal(err)
	}
	var cs []Change
	for i := 0; i < 20000; i++ {
		cs = append(cs, Change{Key: fmt.Sprintf("key/%06d", i), Entry: &Entry{ETag: "e", Size: 10}})
	}
	if _, err := s.Write(ctx, WriteRequest{Repo: "hits", Branch: "main", Author: "t", Changes: cs}); err != nil {
		t.Fatal(err)
	}
	root1, _ := listStats(t, s, "hits", "main")
	total, err := verifyTree(readNodes{s}, root1)
	if err != nil {
		t.Fatal(err)
	}
	cache := newStatsCache(1 << 16)
	st, reads, err := rootStats(ctx, readNodes{s}, cache, root1)
	if err != nil || st != (TreeStats{20000, 200000}) {
		t.Fatalf("first walk: %+v %v", st, err)
	}
	if reads < 100 || cache.len() != reads {
		t.Fatalf("first walk read %d nodes, cached %d (tree has %d entries)", reads, cache.len(), total)
	}
	full := reads

	put(t, s, "hits", "main", "key/010000", "new-etag-of-13")
	root2, _ := listStats(t, s, "hits", "main")
	st, reads, err = rootStats(ctx, readNodes{s}, cache, root2)
	if err != nil || st != (TreeStats{20000, 200000 - 10 + 14}) {
		t.Fatalf("after one put: %+v %v", st, err)
	}
	if reads == 0 || reads > 8 {
		t.Fatalf("one changed key read %d nodes (a full walk reads %d)", reads, full)
	}
	t.Logf("20,000 keys: full walk %d node reads, after a one-key commit %d", full, reads)

	if _, reads, _ = rootStats(ctx, readNodes{s}, cache, root2); reads != 0 {
		t.Fatalf("cached root read %d nodes", reads)
	}

	small := newStatsCache(10)
	st, _, err = rootStats(ctx, readNodes{s}, small, root2)
	if err != nil || st.Objects != 20000 || small.len() != 10 {
		t.Fatalf("bounded cache: %+v %v, %d entries", st, err, small.len())
	}
}
