package meta

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/meta/kv/memkv"
)

// TestEngineOnMemKV runs the engine's tests that use newTestStore on
// memkv, the store unit tests of other packages use: the engine must not
// depend on Badger's behaviour beyond the kv contract.
func TestEngineOnMemKV(t *testing.T) {
	onMemKV = true
	defer func() { onMemKV = false }()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"RepoBranchTagLifecycle", TestRepoBranchTagLifecycle},
		{"VersionsFollowFirstParentHistory", TestVersionsFollowFirstParentHistory},
		{"ListDelimiterAndOddKeys", TestListDelimiterAndOddKeys},
		{"OpenCommit", TestOpenCommit},
		{"WatchReportsDurableBranchMoves", TestWatchReportsDurableBranchMoves},
		{"PurgeScoped", TestPurgeScoped},
		{"CommitLargerThanOneBadgerTransaction", TestCommitLargerThanOneBadgerTransaction},
		{"RecordsNeverOverflowAfterNodes", TestRecordsNeverOverflowAfterNodes},
		{"ProtectionAndOutputRepos", TestProtectionAndOutputRepos},
		{"DeleteBranchAbortsItsOpenCommits", TestDeleteBranchAbortsItsOpenCommits},
		{"GCDoesNotDeleteWhatBecameReachableDuringIt", TestGCDoesNotDeleteWhatBecameReachableDuringIt},
		{"MergeStrategiesAndFastForward", TestMergeStrategiesAndFastForward},
		{"RevertAndReset", TestRevertAndReset},
		{"ProvDownstreamAndDelete", TestProvDownstreamAndDelete},
		{"ProvRootsUnreachable", TestProvRootsUnreachable},
		{"ProvLargeRecord", TestProvLargeRecord},
		{"SetBranchOutput", TestSetBranchOutput},
		{"RemoveVersion", TestRemoveVersion},
		{"RemoveMiddleAndMixed", TestRemoveMiddleAndMixed},
		{"NullVersions", TestNullVersions},
		{"RepoOwnerAndLocation", TestRepoOwnerAndLocation},
		{"GCKeepsBytesOfRetainedDeletedBranch", TestGCKeepsBytesOfRetainedDeletedBranch},
		{"UploadLifecycle", TestUploadLifecycle},
		{"UploadIntoOpenCommit", TestUploadIntoOpenCommit},
		{"ListUploads", TestListUploads},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// onMemKV makes newTestStore run the engine on memkv (TestEngineOnMemKV).
var onMemKV bool

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{InMemory: onMemKV})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *Store, repo, branch, key, etag string) string {
	t.Helper()
	res, err := s.Write(context.Background(), WriteRequest{Repo: repo, Branch: branch, Author: "t",
		Changes: []Change{{Key: key, Entry: &Entry{ETag: etag, Size: int64(len(etag))}}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Version
}

func del(t *testing.T, s *Store, repo, branch string, keys ...string) string {
	t.Helper()
	var cs []Change
	for _, k := range keys {
		cs = append(cs, Change{Key: k})
	}
	res, err := s.Write(context.Background(), WriteRequest{Repo: repo, Branch: branch, Changes: cs})
	if err != nil {
		t.Fatal(err)
	}
	return res.Version
}

func TestRepoBranchTagLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "images", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRepo(ctx, "images", "admin"); !errs.Is(err, errs.Exist) {
		t.Fatalf("second create: %v", err)
	}
	for _, bad := range []string{"ab", "Images", "-x-", "a.b", "deadbeef00"} {
		if _, err := s.CreateRepo(ctx, bad, "a"); bad != "deadbeef00" && !errs.Is(err, errs.Invalid) {
			t.Fatalf("repo %q: %v", bad, err)
		}
	}
	v1 := put(t, s, "images", "main", "cats/1.jpg", "e1")
	if _, err := s.CreateBranch(ctx, "images", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBranch(ctx, "images", "deadbeef", "main"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("hex branch name accepted: %v", err)
	}
	put(t, s, "images", "dev", "cats/2.jpg", "e2")
	if _, err := s.CreateTag(ctx, "images", "v1", "main"); err != nil {
		t.Fatal(err)
	}
	main, _ := s.Resolve(ctx, "images", "main")
	dev, _ := s.Resolve(ctx, "images", "dev")
	tag, _ := s.Resolve(ctx, "images", "v1")
	if tag.Kind != KindTag || tag.Commit.ID != v1 || main.Commit.ID != v1 {
		t.Fatalf("tag/main should be at %s", v1)
	}
	byPrefix, err := s.Resolve(ctx, "images", v1[:12])
	if err != nil || byPrefix.Kind != KindCommit || byPrefix.Commit.ID != v1 {
		t.Fatalf("prefix resolve: %v", err)
	}
	if _, err := s.Get(ctx, main.Root(), "cats/2.jpg"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("dev's write visible on main: %v", err)
	}
	if e, err := s.Get(ctx, dev.Root(), "cats/1.jpg"); err != nil || e.Version != v1 {
		t.Fatalf("branch lost parent's key: %v", err)
	}
	if err := s.DeleteBranch(ctx, "images", "dev", false); errs.ReasonOf(err) != errs.NotEmpty {
		t.Fatalf("delete non-empty branch: %v", err)
	}
	if err := s.DeleteRepo(ctx, "images", false); errs.ReasonOf(err) != errs.NotEmpty {
		t.Fatalf("delete non-empty repo: %v", err)
	}
	if err := s.DeleteBranch(ctx, "images", "dev", true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRepo(ctx, "images", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, "images", "main"); errs.ReasonOf(err) != errs.Repo {
		t.Fatalf("deleted repo resolves: %v", err)
	}
}

func TestVersionsFollowFirstParentHistory(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "r01", "a")
	a1 := put(t, s, "r01", "main", "a", "1")
	b1 := put(t, s, "r01", "main", "b", "1")
	a2 := put(t, s, "r01", "main", "a", "2")
	d := del(t, s, "r01", "main", "a")
	// Deleting an absent key is still a commit with a delete marker, as on S3.
	nope := del(t, s, "r01", "main", "nope")
	if nope == "" {
		t.Fatal("deleting an absent key made no commit")
	}
	ref, _ := s.Resolve(ctx, "r01", "main")
	pg, err := s.ListVersions(ctx, ref.Commit, "", "", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range pg.Versions {
		got = append(got, fmt.Sprintf("%s:%s:%v:%v", v.Key, v.Entry.Version, v.Entry.Deleted, v.IsLatest))
	}
	want := []string{"a:" + d + ":true:true", "a:" + a2 + ":false:false", "a:" + a1 + ":false:false", "b:" + b1 + ":false:true", "nope:" + nope + ":true:true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("versions\n got %v\nwant %v", got, want)
	}
	// Paging one at a time reproduces the same sequence.
	var paged []string
	km, vm := "", ""
	for i := 0; i < 10; i++ {
		pg, err := s.ListVersions(ctx, ref.Commit, "", "", km, vm, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range pg.Versions {
			paged = append(paged, fmt.Sprintf("%s:%s:%v:%v", v.Key, v.Entry.Version, v.Entry.Deleted, v.IsLatest))
		}
		if !pg.Truncated {
			break
		}
		km, vm = pg.NextKey, pg.NextVersion
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Fatalf("paged versions\n got %v\nwant %v", paged, want)
	}
	if e, err := s.GetVersion(ctx, ref, "a", a1); err != nil || e.ETag != "1" {
		t.Fatalf("old version: %v", err)
	}
	if _, err := s.GetVersion(ctx, ref, "a", b1); errs.ReasonOf(err) != errs.Version {
		t.Fatalf("commit that did not write the key: %v", err)
	}
}

func TestListDelimiterAndOddKeys(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "odd", "a")
	keys := []string{"a", "a/", "a/b", "a//b", "x/../y", "x/z", "b--c--d", "b--e"}
	for _, k := range keys {
		put(t, s, "odd", "main", k, k)
	}
	ref, _ := s.Resolve(ctx, "odd", "main")
	cases := []struct{ prefix, delim, after, want string }{
		{"", "", "", "[a a/ a//b a/b b--c--d b--e x/../y x/z] []"},
		{"", "/", "", "[a b--c--d b--e] [a/ x/]"},
		{"a/", "/", "", "[a/ a/b] [a//]"},
		{"", "--", "", "[a a/ a//b a/b x/../y x/z] [b--]"},
		{"", "/", "a/", "[b--c--d b--e] [x/]"},
		{"x/", "", "", "[x/../y x/z] []"},
		{"", "b", "", "[a a/ x/../y x/z] [a//b a/b b]"},
	}
	for _, c := range cases {
		t.Run(c.prefix+"|"+c.delim+"|"+c.after, func(t *testing.T) {
			pg, err := s.List(ctx, ref.Root(), c.prefix, c.delim, c.after, 100)
			if err != nil {
				t.Fatal(err)
			}
			var ks []string
			for _, e := range pg.Entries {
				ks = append(ks, e.Key)
			}
			if got := fmt.Sprint(ks) + " " + fmt.Sprint(pg.Prefixes); got != c.want {
				t.Fatalf("got %s want %s", got, c.want)
			}
		})
	}
	// Paging with max 1 walks every key and prefix exactly once.
	var all []string
	after := ""
	for i := 0; i < 20; i++ {
		pg, _ := s.List(ctx, ref.Root(), "", "/", after, 1)
		for _, e := range pg.Entries {
			all = append(all, e.Key)
		}
		all = append(all, pg.Prefixes...)
		if !pg.Truncated {
			break
		}
		after = pg.Next
	}
	if fmt.Sprint(all) != "[a a/ b--c--d b--e x/]" {
		t.Fatalf("paged listing %v", all)
	}
}

func TestConcurrentWritersAndIfNoneMatch(t *testing.T) {
	ctx := context.Background()
	syncs := int64(0)
	s, err := Open(t.TempDir(), Options{OnSync: func() { atomic.AddInt64(&syncs, 1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.CreateRepo(ctx, "conc", "a")
	var wg sync.WaitGroup
	var wins, fails int64
	ids := sync.Map{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := s.Write(ctx, WriteRequest{Repo: "conc", Branch: "main",
				Changes: []Change{{Key: "once", IfNoneMatch: "*", Entry: &Entry{ETag: fmt.Sprint(i)}}}})
			if err == nil {
				atomic.AddInt64(&wins, 1)
			} else if errs.ReasonOf(err) == errs.Precondition {
				atomic.AddInt64(&fails, 1)
			} else {
				t.Error(err)
			}
			res, err = s.Write(ctx, WriteRequest{Repo: "conc", Branch: "main",
				Changes: []Change{{Key: fmt.Sprintf("k%d", i), Entry: &Entry{ETag: "x"}}}})
			if err != nil {
				t.Error(err)
				return
			}
			ids.Store(res.Version, true)
		}(i)
	}
	wg.Wait()
	if wins != 1 || fails != 19 {
		t.Fatalf("If-None-Match: %d winners, %d refused", wins, fails)
	}
	ref, _ := s.Resolve(ctx, "conc", "main")
	log, _ := s.Log(ctx, ref.Commit, 0)
	if len(log) != 1+1+20 {
		t.Fatalf("expected 22 commits (create + 1 + 20), got %d", len(log))
	}
	t.Logf("42 writes, %d syncs", syncs)
}

func TestOpenCommit(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "oc1", "a")
	put(t, s, "oc1", "main", "keep", "k")
	put(t, s, "oc1", "main", "gone", "g")
	oc, err := s.StartCommit(ctx, "oc1", "main", "bob", "batch", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	w := func(key string, e *Entry) {
		if _, err := s.Write(ctx, WriteRequest{Repo: "oc1", Open: oc.ID, Changes: []Change{{Key: key, Entry: e}}}); err != nil {
			t.Fatal(err)
		}
	}
	w("new", &Entry{ETag: "n"})
	w("gone", nil)
	put(t, s, "oc1", "main", "new", "branch-wins?") // a change on the branch meanwhile
	r, _ := s.Resolve(ctx, "oc1", oc.ID)
	if e, err := s.Get(ctx, r.Root(), "new"); err != nil || e.ETag != "n" {
		t.Fatal("read-after-write in the open commit failed")
	}
	c, err := s.FinishCommit(ctx, "oc1", oc.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != oc.ID {
		t.Fatal("finished commit must keep the open commit's id")
	}
	main, _ := s.Resolve(ctx, "oc1", "main")
	if e, _ := s.Get(ctx, main.Root(), "new"); e == nil || e.ETag != "n" || e.Version != oc.ID {
		t.Fatal("open commit's keys must win")
	}
	if _, err := s.Get(ctx, main.Root(), "gone"); !errs.Is(err, errs.NotExist) {
		t.Fatal("deletion in open commit not applied")
	}
	if _, err := s.Resolve(ctx, "oc1", oc.ID); err != nil {
		t.Fatalf("finished commit must resolve as a commit: %v", err)
	}
	oc2, _ := s.StartCommit(ctx, "oc1", "main", "bob", "x", nil, false)
	s.Write(ctx, WriteRequest{Repo: "oc1", Open: oc2.ID, Changes: []Change{{Key: "z", Entry: &Entry{}}}})
	if err := s.AbortCommit(ctx, "oc1", oc2.ID); err != nil {
		t.Fatal(err)
	}
	main, _ = s.Resolve(ctx, "oc1", "main")
	if _, err := s.Get(ctx, main.Root(), "z"); !errs.Is(err, errs.NotExist) {
		t.Fatal("aborted write visible")
	}
}

func TestWatchReportsDurableBranchMoves(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	var mu sync.Mutex
	var got []string
	s.Watch(func(ev HeadEvent) {
		mu.Lock()
		got = append(got, ev.Repo+"/"+ev.Branch+":"+ev.Kind)
		mu.Unlock()
	})
	s.CreateRepo(ctx, "w01", "a")
	put(t, s, "w01", "main", "k", "1")
	s.CreateBranch(ctx, "w01", "dev", "main")
	put(t, s, "w01", "dev", "k", "2")
	s.Merge(ctx, "w01", "dev", "main", "", "a", "")
	// A refused write reports nothing.
	s.Write(ctx, WriteRequest{Repo: "w01", Branch: "main", Changes: []Change{{Key: "k", IfNoneMatch: "*", Entry: &Entry{}}}})
	mu.Lock()
	defer mu.Unlock()
	want := "[w01/main:create w01/main:commit w01/dev:create w01/dev:commit w01/main:fast-forward]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v\nwant %s", got, want)
	}
}

func TestPurgeScoped(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "pg1", "a")
	s.CreateRepo(ctx, "pg2", "a")
	w := func(repo, key, content string) string {
		res, err := s.Write(ctx, WriteRequest{Repo: repo, Branch: "main", Changes: []Change{{Key: key,
			Entry: &Entry{Content: content, ETag: content[:4]}}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Version
	}
	h := func(c byte) string { return strings.Repeat(string(c), 64) }
	w("pg1", "k", h('a'))
	vb := w("pg1", "k", h('b'))
	w("pg1", "only/inside", h('c'))
	w("pg1", "top", h('d'))
	w("pg2", "same", h('b'))
	if _, err := s.CreateTag(ctx, "pg1", "before", "main"); err != nil {
		t.Fatal(err)
	}
	oc, err := s.StartCommit(ctx, "pg1", "main", "a", "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, WriteRequest{Repo: "pg1", Open: oc.ID, Changes: []Change{{Key: "open/b", Entry: &Entry{Content: h('b'), ETag: "bbbb"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(ctx, PurgeRequest{Content: h('b'), Repo: "pg1", Block: true}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("a repo purge with block: %v", err)
	}
	res, err := s.Purge(ctx, PurgeRequest{Content: h('b'), Repo: "pg1", User: "admin", Target: "pg1@main:k"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0].Key != "k" || res.Removed[0].Version != vb || len(res.Commits) != 1 || res.OpenCommits != 1 {
		t.Fatalf("purge result %+v", res)
	}
	if _, err := s.Purge(ctx, PurgeRequest{Content: h('c'), Repo: "pg1"}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"main", "before"} {
		r, _ := s.Resolve(ctx, "pg1", ref)
		e, err := s.GetLatest(ctx, "pg1", r.Root(), r.Commit.VRoot, "k")
		if err != nil || e.Content != h('a') {
			t.Fatalf("%s: k should read its surviving version: %v %v", ref, e, err)
		}
		if _, err := s.GetLatest(ctx, "pg1", r.Root(), r.Commit.VRoot, "only/inside"); !errs.Is(err, errs.NotExist) {
			t.Fatalf("%s: fully purged key must be absent: %v", ref, err)
		}
		if _, err := s.GetVersion(ctx, r, "k", vb); errs.ReasonOf(err) != errs.Version {
			t.Fatalf("%s: purged version readable: %v", ref, err)
		}
		pg, _ := s.ListLatest(ctx, "pg1", r.Root(), r.Commit.VRoot, "", "/", "", 100)
		var keys []string
		for _, e := range pg.Entries {
			keys = append(keys, e.Key)
		}
		if fmt.Sprint(keys, pg.Prefixes) != "[k top] []" {
			t.Fatalf("%s: listing %v %v", ref, keys, pg.Prefixes)
		}
		vp, _ := s.ListVersions(ctx, r.Commit, "", "/", "", "", 100)
		if len(vp.Prefixes) != 0 || len(vp.Versions) != 2 || !vp.Versions[0].IsLatest || vp.Versions[0].Entry.Content != h('a') {
			t.Fatalf("%s: versions %+v prefixes %v", ref, vp.Versions, vp.Prefixes)
		}
	}
	// The branch head itself no longer holds the purged versions.
	r, _ := s.Resolve(ctx, "pg1", "main")
	if e, err := s.Get(ctx, r.Root(), "k"); err != nil || e.Content != h('a') {
		t.Fatalf("main's live tree still holds the purged version: %+v %v", e, err)
	}
	// The open commit forgot its write of it.
	or, _ := s.Resolve(ctx, "pg1", oc.ID)
	if _, err := s.Get(ctx, or.Root(), "open/b"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("open commit still holds purged content: %v", err)
	}
	// Another repo's identical bytes are untouched, and still referenced.
	r2, _ := s.Resolve(ctx, "pg2", "main")
	if e, err := s.GetLatest(ctx, "pg2", r2.Root(), r2.Commit.VRoot, "same"); err != nil || e.Content != h('b') {
		t.Fatalf("pg2's same bytes: %v %v", e, err)
	}
	if ref, err := s.ContentReferenced(ctx, h('b')); err != nil || !ref {
		t.Fatalf("ContentReferenced of b (pg2 holds it): %v %v", ref, err)
	}
	if ref, err := s.ContentReferenced(ctx, h('c')); err != nil || ref {
		t.Fatalf("ContentReferenced of c (purged where it was): %v %v", ref, err)
	}
	// Written again after the purge: readable (the fence is the purge time).
	w("pg1", "k", h('b'))
	r, _ = s.Resolve(ctx, "pg1", "main")
	if e, err := s.GetLatest(ctx, "pg1", r.Root(), r.Commit.VRoot, "k"); err != nil || e.Content != h('b') {
		t.Fatalf("re-upload after purge: %v %v", e, err)
	}
	if s.Blocked(h('b')) {
		t.Fatal("an unblocked purge blocks")
	}
	// A global purge with block reaches every repo, and survives a reopen.
	if _, err := s.Purge(ctx, PurgeRequest{Content: h('b'), Block: true}); err != nil {
		t.Fatal(err)
	}
	r2, _ = s.Resolve(ctx, "pg2", "main")
	if _, err := s.GetLatest(ctx, "pg2", r2.Root(), r2.Commit.VRoot, "same"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("global purge left pg2's copy: %v", err)
	}
	if !s.Blocked(h('b')) {
		t.Fatal("block not recorded")
	}
	log, _ := s.AuditLog(ctx)
	n := 0
	for _, e := range log {
		if e.Action == "purge" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d purge audit entries, want 3: %+v", n, log)
	}
}

func TestCommitLargerThanOneBadgerTransaction(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "big1", "a")
	// 30k keys with ~200-byte entries: several times Badger's limit of one
	// transaction at these memtable settings (about 2.4 MiB).
	var cs []Change
	for i := 0; i < 30000; i++ {
		cs = append(cs, Change{Key: fmt.Sprintf("k/%06d", i), Entry: &Entry{ETag: strings.Repeat("e", 32),
			Content: strings.Repeat("c", 64), Size: int64(i), User: map[string]string{"note": strings.Repeat("n", 60)}}})
	}
	res, err := s.Write(ctx, WriteRequest{Repo: "big1", Branch: "main", Changes: cs})
	if err != nil {
		t.Fatal(err)
	}
	// A GC in between must not collect the big commit's nodes.
	if _, _, err := s.GC(ctx, time.Nanosecond, false); err != nil {
		t.Fatal(err)
	}
	ref, _ := s.Resolve(ctx, "big1", "main")
	if ref.Commit.ID != res.Version {
		t.Fatal("branch did not move to the big commit")
	}
	n, err := verifyTree(readNodes{s}, ref.Root())
	if err != nil || n != 30000 {
		t.Fatalf("tree after big commit: %d keys, %v", n, err)
	}
	// And a merge of 30k changes between branches.
	s.CreateBranch(ctx, "big1", "dev", "main")
	for i := range cs {
		cs[i].Entry.Size++
	}
	if _, err := s.Write(ctx, WriteRequest{Repo: "big1", Branch: "dev", Changes: cs}); err != nil {
		t.Fatal(err)
	}
	put(t, s, "big1", "main", "other", "x")
	mr, err := s.Merge(ctx, "big1", "dev", "main", "", "a", "")
	if err != nil || mr.Changed != 30000 {
		t.Fatalf("merge: %+v %v", mr, err)
	}
}

func TestRecordsNeverOverflowAfterNodes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{MemTableSize: 1 << 20})
	if onMemKV { // the same transaction limit as Badger's 1 MiB memtable
		s, err = OpenStore(memkv.New(kv.Limits{MaxTxnBytes: (1 << 20) * 15 / 100}), Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.CreateRepo(ctx, "ovf", "a")
	msg := strings.Repeat("m", 2048)
	// Sizes around every flush boundary of a 1 MiB memtable (150 KiB txns).
	for n := 740; n < 800; n++ {
		var cs []Change
		for i := 0; i < n; i++ {
			cs = append(cs, Change{Key: fmt.Sprintf("k%d/%06d", n, i), Entry: &Entry{ETag: "e", Content: strings.Repeat("c", 64)}})
		}
		if _, err := s.Write(ctx, WriteRequest{Repo: "ovf", Branch: "main", Message: msg, Changes: cs}); err != nil {
			t.Fatalf("%d keys: %v", n, err)
		}
		oc, err := s.StartCommit(ctx, "ovf", "main", "a", msg, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cs {
			cs[i].Key += "-open"
		}
		if _, err := s.Write(ctx, WriteRequest{Repo: "ovf", Open: oc.ID, Changes: cs}); err != nil {
			t.Fatalf("%d keys into an open commit: %v", n, err)
		}
		if _, err := s.FinishCommit(ctx, "ovf", oc.ID, msg); err != nil {
			t.Fatalf("finish %d keys: %v", n, err)
		}
	}
}

func TestProtectionAndOutputRepos(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "pr1", "a")
	// An open commit started before the branch was protected cannot land.
	oc, _ := s.StartCommit(ctx, "pr1", "main", "alice", "sneaky", nil, false)
	s.Write(ctx, WriteRequest{Repo: "pr1", Open: oc.ID, Changes: []Change{{Key: "k", Entry: &Entry{}}}})
	s.SetBranchProtected(ctx, "pr1", "main", true)
	if _, err := s.FinishCommit(ctx, "pr1", oc.ID, ""); !errs.Is(err, errs.Permission) {
		t.Fatalf("finishing onto a protected branch: %v", err)
	}
	// A pipeline's output repo cannot be deleted while it is an output.
	s.CreateRepo(ctx, "out1", "a")
	if err := s.SetBranchOutput(ctx, "out1", "main", "out1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRepo(ctx, "out1", true); !errs.Is(err, errs.Conflict) {
		t.Fatalf("deleting an output repo: %v", err)
	}
	s.SetBranchOutput(ctx, "out1", "main", "")
	if err := s.DeleteRepo(ctx, "out1", true); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteBranchAbortsItsOpenCommits(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.CreateRepo(ctx, "dbo", "a")
	s.CreateBranch(ctx, "dbo", "tmp", "main")
	oc, _ := s.StartCommit(ctx, "dbo", "tmp", "a", "", nil, false)
	other, _ := s.StartCommit(ctx, "dbo", "main", "a", "", nil, false)
	if err := s.DeleteBranch(ctx, "dbo", "tmp", true); err != nil {
		t.Fatal(err)
	}
	ocs, _ := s.ListOpenCommits(ctx, "dbo")
	if len(ocs) != 1 || ocs[0].ID != other.ID {
		t.Fatalf("open commits after deleting their branch: %+v (deleted branch's was %s)", ocs, oc.ID)
	}
}
