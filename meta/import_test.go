package meta

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// importKey is the i-th key of the import tests.
func importKey(i int) string { return fmt.Sprintf("imp/%05d", i) }

// TestImportOneCommit imports keys added in random order, in chunks, while
// the branch moves on: the result is one commit on the branch head whose
// live tree holds the branch's own changes plus every imported key (the
// imported entry wins on a key both wrote), and whose version tree lists
// each imported key once, as a version of that commit.
func TestImportOneCommit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		chunk int
	}{
		{"one chunk", 50, 0},
		{"many chunks", 2000, 97},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTestStore(t)
			if _, err := s.CreateRepo(ctx, "imp", "t"); err != nil {
				t.Fatal(err)
			}
			put(t, s, "imp", "main", "before", "b")
			im, err := s.StartImport(ctx, ImportRequest{Repo: "imp", Branch: "main", Author: "imp", Message: "import", Chunk: tc.chunk})
			if err != nil {
				t.Fatal(err)
			}
			order := rand.Perm(tc.n)
			for _, i := range order {
				e := &Entry{Content: fmt.Sprintf("%064x", i), Size: int64(i), ETag: fmt.Sprint("e", i)}
				if err := im.Add(ctx, importKey(i), e); err != nil {
					t.Fatal(err)
				}
			}
			// The branch moves while the import runs: a new key, and a key
			// the import also writes.
			put(t, s, "imp", "main", "meanwhile", "m")
			put(t, s, "imp", "main", importKey(0), "branch")
			c, err := im.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.ID != im.ID() || c.Message != "import" || c.Author != "imp" {
				t.Fatalf("commit %+v, want id %s", c, im.ID())
			}
			ref, err := s.Resolve(ctx, "imp", "main")
			if err != nil {
				t.Fatal(err)
			}
			if ref.Commit.ID != c.ID {
				t.Fatalf("main at %s, want the import's commit %s", ref.Commit.ID, c.ID)
			}
			pg, err := s.List(ctx, ref.Root(), "", "", "", 10000)
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Entries) != tc.n+2 {
				t.Fatalf("%d keys on main, want %d", len(pg.Entries), tc.n+2)
			}
			for i := 0; i < tc.n; i++ {
				e, err := s.Get(ctx, ref.Root(), importKey(i))
				if err != nil {
					t.Fatal(err)
				}
				if e.ETag != fmt.Sprint("e", i) || e.Size != int64(i) || e.Version != c.ID || !e.Time.Equal(c.Time) {
					t.Fatalf("%s = %+v, want etag e%d of commit %s at %v", importKey(i), e, i, c.ID, c.Time)
				}
			}
			for _, k := range []string{"before", "meanwhile"} {
				if _, err := s.Get(ctx, ref.Root(), k); err != nil {
					t.Fatalf("%s lost: %v", k, err)
				}
			}
			vp, err := s.ListVersions(ctx, ref.Commit, "imp/", "", "", "", 10000)
			if err != nil {
				t.Fatal(err)
			}
			mine := 0
			for _, v := range vp.Versions {
				if v.Entry.Version == c.ID {
					mine++
					if !v.IsLatest {
						t.Fatalf("version of %s by the import is not latest", v.Key)
					}
				}
			}
			if mine != tc.n {
				t.Fatalf("%d versions by the import, want %d", mine, tc.n)
			}
			if n, err := verifyTree(readNodes{s}, ref.Commit.VRoot); err != nil || n != tc.n+3 {
				t.Fatalf("version tree: %d entries, %v; want %d", n, err, tc.n+3)
			}
			if open, _ := s.ListOpenCommits(ctx, "imp"); len(open) != 0 {
				t.Fatalf("open commits left: %+v", open)
			}
		})
	}
}

// TestImportAbortAndRefusals: an aborted import leaves the branch as it
// was; bad keys, protected branches and Suspended branches are refused
// with clear errors.
func TestImportAbortAndRefusals(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "imp", "t"); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Resolve(ctx, "imp", "main")
	im, err := s.StartImport(ctx, ImportRequest{Repo: "imp", Branch: "main", Chunk: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := im.Add(ctx, importKey(i), &Entry{ETag: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Add(ctx, "", &Entry{}); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("empty key: %v, want Invalid", err)
	}
	if err := im.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Finish(ctx); err == nil {
		t.Fatal("finish after abort succeeded")
	}
	after, _ := s.Resolve(ctx, "imp", "main")
	if after.Commit.ID != before.Commit.ID {
		t.Fatalf("main moved from %s to %s after an aborted import", before.Commit.ID, after.Commit.ID)
	}

	for _, tc := range []struct {
		name  string
		setup func()
		kind  errs.Kind
	}{
		{"unknown branch", func() {}, errs.NotExist},
		{"protected", func() {
			if err := s.SetBranchProtected(ctx, "imp", "main", true); err != nil {
				t.Fatal(err)
			}
		}, errs.Permission},
		{"suspended", func() {
			if _, err := s.CreateBranch(ctx, "imp", "susp", "main"); err != nil {
				t.Fatal(err)
			}
			if err := s.SetVersioning(ctx, "imp", "susp", VersioningSuspended); err != nil {
				t.Fatal(err)
			}
		}, errs.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			br := map[string]string{"unknown branch": "nope", "protected": "main", "suspended": "susp"}[tc.name]
			_, err := s.StartImport(ctx, ImportRequest{Repo: "imp", Branch: br})
			if errs.KindOf(err) != tc.kind {
				t.Fatalf("import into %s: %v, want kind %v", br, err, tc.kind)
			}
		})
	}
}

// BenchmarkImport imports 100k entries (as tusk import registers them) into
// a repo on Badger as one commit and reports entries/s over the whole
// import and how long Finish held the committer.
func BenchmarkImport(b *testing.B) {
	const n = 100000
	ctx := context.Background()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateRepo(ctx, "imp", "bench"); err != nil {
		b.Fatal(err)
	}
	var total, finish float64
	for run := 0; run < b.N; run++ {
		t0 := time.Now()
		im, err := s.StartImport(ctx, ImportRequest{Repo: "imp", Branch: "main", Message: "import"})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i++ {
			e := &Entry{Content: fmt.Sprintf("%064x", run*n+i), Size: 4096, ETag: fmt.Sprintf("%032x", i),
				Headers: map[string]string{"Content-Type": "application/octet-stream"}}
			if err := im.Add(ctx, fmt.Sprintf("run%d/data/%08d.bin", run, i), e); err != nil {
				b.Fatal(err)
			}
		}
		if err := im.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := im.Finish(ctx); err != nil {
			b.Fatal(err)
		}
		finish += time.Since(t1).Seconds()
		total += time.Since(t0).Seconds()
	}
	b.ReportMetric(float64(n*b.N)/total, "entries/s")
	b.ReportMetric(finish/float64(b.N)*1000, "finish-ms")
}
