package meta

import (
	"context"
	"fmt"
	"testing"
)

// seedRepo makes repo with n keys on main in batches (one commit per batch).
func seedRepo(b testing.TB, s *Store, repo string, n int) {
	ctx := context.Background()
	if _, err := s.CreateRepo(ctx, repo, "bench"); err != nil {
		b.Fatal(err)
	}
	const batch = 5000
	for i := 0; i < n; i += batch {
		var cs []Change
		for j := i; j < i+batch && j < n; j++ {
			cs = append(cs, Change{Key: fmt.Sprintf("data/%08d.bin", j), Entry: &Entry{Content: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 4096, ETag: "0123456789abcdef0123456789abcdef"}})
		}
		if _, err := s.Write(ctx, WriteRequest{Repo: repo, Branch: "main", Changes: cs}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMeta(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100000
	seedRepo(b, s, "big", n)
	if _, err := s.CreateBranch(ctx, "big", "dev", "main"); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		s.Write(ctx, WriteRequest{Repo: "big", Branch: "dev", Changes: []Change{{Key: fmt.Sprintf("data/%08d.bin", i*9973), Entry: &Entry{ETag: "changed"}}}})
	}
	main, _ := s.Resolve(ctx, "big", "main")
	dev, _ := s.Resolve(ctx, "big", "dev")

	b.Run("Commit1Key/100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.Write(ctx, WriteRequest{Repo: "big", Branch: "main", Changes: []Change{{Key: fmt.Sprintf("data/%08d.bin", i%n), Entry: &Entry{ETag: fmt.Sprint(i)}}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Diff10Changes/100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cnt := 0
			if err := s.Diff(ctx, main.Root(), dev.Root(), "", func(DiffEntry) error { cnt++; return nil }); err != nil {
				b.Fatal(err)
			}
			if cnt != 10 {
				b.Fatalf("diff found %d changes, want 10", cnt)
			}
		}
	})
	b.Run("Get/100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.Get(ctx, main.Root(), fmt.Sprintf("data/%08d.bin", (i*7919)%n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListPage1000/100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			pg, err := s.List(ctx, main.Root(), "data/", "/", fmt.Sprintf("data/%08d.bin", (i*7919)%(n-2000)), 1000)
			if err != nil || len(pg.Entries) != 1000 {
				b.Fatalf("list: %v", err)
			}
		}
	})
	b.Run("RemoveCurrentVersion/100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			key := fmt.Sprintf("data/%08d.bin", (i*7919)%n)
			res, err := s.Write(ctx, WriteRequest{Repo: "big", Branch: "main", Changes: []Change{{Key: key, Entry: &Entry{ETag: fmt.Sprint("r", i)}}}})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			rr, err := s.Write(ctx, WriteRequest{Repo: "big", Branch: "main", Removals: []Removal{{Key: key, Version: res.Version}}})
			if err != nil || !rr.Removed[0].Found {
				b.Fatalf("remove: %v", err)
			}
		}
	})
	b.Run("PurgeOneKey/100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			content := fmt.Sprintf("%064x", 1<<40+i)
			if _, err := s.Write(ctx, WriteRequest{Repo: "big", Branch: "main", Changes: []Change{{Key: fmt.Sprintf("data/%08d.bin", (i*7919)%n), Entry: &Entry{Content: content, ETag: "p"}}}}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := s.Purge(ctx, PurgeRequest{Content: content, Repo: "big"})
			if err != nil || len(res.Removed) != 1 {
				b.Fatalf("purge: %v %+v", err, res)
			}
		}
	})
	nb := 0
	b.Run("CreateBranch/100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			nb++
			if _, err := s.CreateBranch(ctx, "big", fmt.Sprintf("b%d", nb), "main"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
