package meta

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

func hashOf(i int) string { return fmt.Sprintf("%064x", i) }

func mustUpload(t *testing.T, s *Store, repo, branch, key string) *Upload {
	t.Helper()
	u, err := s.CreateUpload(context.Background(), Upload{Repo: repo, Branch: branch, Key: key, User: "u",
		Headers: map[string]string{"Content-Type": "text/plain"}, Meta: map[string]string{"a": "b"},
		ChecksumAlgorithm: "CRC32", ChecksumType: "COMPOSITE"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustPart(t *testing.T, s *Store, repo, id string, n, content int) Part {
	t.Helper()
	p, err := s.PutPart(context.Background(), repo, id, Part{Number: n, Size: int64(100 * n), ETag: fmt.Sprintf("etag%d", n), Content: hashOf(content)})
	if err != nil {
		t.Fatal(err)
	}
	return *p
}

func wantReason(t *testing.T, what string, err error, reason errs.Reason) {
	t.Helper()
	if errs.ReasonOf(err) != reason {
		t.Fatalf("%s: %v (reason %q), want reason %q", what, err, errs.ReasonOf(err), reason)
	}
}

// records counts the records under prefix.
func records(t *testing.T, s *Store, prefix string) int {
	t.Helper()
	n := 0
	s.view(func(txn kv.Reader) error {
		it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for ; it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n
}

func TestUploadLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "upl", "admin"); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateUpload(ctx, Upload{Repo: "upl", Branch: "nope", Key: "k"})
	wantReason(t, "upload to a missing branch", err, errs.Ref)
	_, err = s.CreateUpload(ctx, Upload{Repo: "nope", Branch: "main", Key: "k"})
	wantReason(t, "upload to a missing repo", err, errs.Repo)

	u := mustUpload(t, s, "upl", "main", "big/file")
	if !ValidUploadID(u.ID) || u.Initiated.IsZero() {
		t.Fatalf("upload %+v", u)
	}
	u2 := mustUpload(t, s, "upl", "main", "big/file")
	if u2.ID <= u.ID {
		t.Errorf("ids do not sort by initiation: %s then %s", u.ID, u2.ID)
	}
	got, err := s.GetUpload(ctx, "upl", u.ID)
	if err != nil || got.Key != "big/file" || got.Headers["Content-Type"] != "text/plain" || got.ChecksumAlgorithm != "CRC32" {
		t.Fatalf("GetUpload = %+v, %v", got, err)
	}
	for _, id := range []string{"", "x", strings.Repeat("0", 40), u.ID + "/00001", "../" + u.ID[3:]} {
		_, err := s.GetUpload(ctx, "upl", id)
		wantReason(t, "GetUpload "+id, err, errs.Upload)
	}
	_, err = s.PutPart(ctx, "upl", u.ID, Part{Number: 0})
	wantReason(t, "part 0", err, errs.Argument)
	_, err = s.PutPart(ctx, "upl", u.ID, Part{Number: 10001})
	wantReason(t, "part 10001", err, errs.Argument)
	for n := 1; n <= 12; n++ {
		mustPart(t, s, "upl", u.ID, n, n)
	}
	mustPart(t, s, "upl", u.ID, 3, 33) // replaced
	parts, more, err := s.ListParts(ctx, "upl", u.ID, 0, 5)
	if err != nil || !more || len(parts) != 5 || parts[0].Number != 1 || parts[2].Content != hashOf(33) {
		t.Fatalf("ListParts page 1 = %+v %v %v", parts, more, err)
	}
	parts, more, err = s.ListParts(ctx, "upl", u.ID, 10, 5)
	if err != nil || more || len(parts) != 2 || parts[0].Number != 11 {
		t.Fatalf("ListParts after 10 = %+v %v %v", parts, more, err)
	}
	all, _, _ := s.ListParts(ctx, "upl", u.ID, 0, 0)
	if len(all) != 12 {
		t.Fatalf("ListParts all = %d parts", len(all))
	}

	// A failing condition: no commit, the upload stays completable.
	head := func() string {
		r, err := s.Resolve(ctx, "upl", "main")
		if err != nil {
			t.Fatal(err)
		}
		return r.Commit.ID
	}
	put(t, s, "upl", "main", "big/file", "old")
	h0 := head()
	req := CompleteRequest{Repo: "upl", ID: u.ID, Parts: all, IfNoneMatch: "*", Author: "u", Message: "complete",
		Entry: &Entry{Content: hashOf(99), Size: 1200, ETag: "x-12", Parts: []int64{100, 200}}}
	_, err = s.CompleteUpload(ctx, req)
	wantReason(t, "complete with If-None-Match on an existing key", err, errs.Precondition)
	if head() != h0 {
		t.Fatal("a failed completion moved the branch")
	}
	// A part that changed since validation: refused, nothing written.
	stale := append([]Part(nil), all...)
	stale[4].Content = hashOf(1234)
	req.IfNoneMatch, req.Parts = "", stale
	_, err = s.CompleteUpload(ctx, req)
	wantReason(t, "complete with a changed part", err, errs.Part)
	missing := append(append([]Part(nil), all...), Part{Number: 13, Content: hashOf(13)})
	req.Parts = missing
	_, err = s.CompleteUpload(ctx, req)
	wantReason(t, "complete with a missing part", err, errs.Part)
	if head() != h0 {
		t.Fatal("a failed completion moved the branch")
	}
	req.Parts = all
	done, err := s.CompleteUpload(ctx, req)
	if err != nil || done.Done == nil || done.Done.Version == "" || done.Done.ETag != "x-12" {
		t.Fatalf("CompleteUpload = %+v, %v", done, err)
	}
	if head() != done.Done.Version {
		t.Fatal("completion is not the branch head")
	}
	e, err := s.Get(ctx, mustResolve(t, s, "upl", "main").Root(), "big/file")
	if err != nil || e.Content != hashOf(99) || len(e.Parts) != 2 || e.Version != done.Done.Version {
		t.Fatalf("completed entry %+v, %v", e, err)
	}
	// Again: the same answer, no new commit.
	again, err := s.CompleteUpload(ctx, req)
	if err != nil || again.Done.Version != done.Done.Version || head() != done.Done.Version {
		t.Fatalf("second CompleteUpload = %+v, %v", again, err)
	}
	if n := records(t, s, uploadKey("upl", u.ID)+"/"); n != 0 {
		t.Errorf("%d part records left after completion", n)
	}
	_, err = s.PutPart(ctx, "upl", u.ID, Part{Number: 1, Content: hashOf(1)})
	wantReason(t, "part of a completed upload", err, errs.Upload)
	_, _, err = s.ListParts(ctx, "upl", u.ID, 0, 0)
	wantReason(t, "parts of a completed upload", err, errs.Upload)
	wantReason(t, "abort of a completed upload", s.AbortUpload(ctx, "upl", u.ID), errs.Upload)

	// Abort.
	mustPart(t, s, "upl", u2.ID, 1, 7)
	if err := s.AbortUpload(ctx, "upl", u2.ID); err != nil {
		t.Fatal(err)
	}
	wantReason(t, "second abort", s.AbortUpload(ctx, "upl", u2.ID), errs.Upload)
	_, err = s.PutPart(ctx, "upl", u2.ID, Part{Number: 2, Content: hashOf(2)})
	wantReason(t, "part of an aborted upload", err, errs.Upload)
	if n := records(t, s, uploadKey("upl", u2.ID)); n != 0 {
		t.Errorf("%d records left after abort", n)
	}
}

func mustResolve(t *testing.T, s *Store, repo, ref string) *Ref {
	t.Helper()
	r, err := s.Resolve(context.Background(), repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUploadIntoOpenCommit(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "occ", "admin"); err != nil {
		t.Fatal(err)
	}
	oc, err := s.StartCommit(ctx, "occ", "main", "a", "batch", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload(ctx, Upload{Repo: "occ", Open: oc.ID, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	p := mustPart(t, s, "occ", u.ID, 1, 1)
	done, err := s.CompleteUpload(ctx, CompleteRequest{Repo: "occ", ID: u.ID, Parts: []Part{p},
		Entry: &Entry{Content: hashOf(5), Size: 100, ETag: "e-1"}})
	if err != nil || done.Done.Version != oc.ID {
		t.Fatalf("complete into open commit: %+v, %v", done, err)
	}
	if _, err := s.Get(ctx, mustResolve(t, s, "occ", oc.ID).Root(), "k"); err != nil {
		t.Fatalf("key not in the open commit: %v", err)
	}
	if _, err := s.Get(ctx, mustResolve(t, s, "occ", "main").Root(), "k"); !errs.Is(err, errs.NotExist) {
		t.Fatalf("key visible on the branch before finish: %v", err)
	}
}

func TestListUploads(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "lup", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBranch(ctx, "lup", "dev", "main"); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a/1", "a/2", "b", "b", "c/x/1", "d"}
	var ids []string
	for _, k := range keys {
		u := mustUpload(t, s, "lup", "main", k)
		mustPart(t, s, "lup", u.ID, 1, 1)
		ids = append(ids, u.ID)
	}
	mustUpload(t, s, "lup", "dev", "on-dev")
	done := mustUpload(t, s, "lup", "main", "done")
	p := mustPart(t, s, "lup", done.ID, 1, 1)
	if _, err := s.CompleteUpload(ctx, CompleteRequest{Repo: "lup", ID: done.ID, Parts: []Part{p}, Entry: &Entry{Content: hashOf(1)}}); err != nil {
		t.Fatal(err)
	}
	list := func(o UploadListOptions) *UploadPage {
		t.Helper()
		o.Branch = "main"
		pg, err := s.ListUploads(ctx, "lup", o)
		if err != nil {
			t.Fatal(err)
		}
		return pg
	}
	names := func(pg *UploadPage) string {
		var out []string
		for _, u := range pg.Uploads {
			out = append(out, u.Key)
		}
		for _, p := range pg.Prefixes {
			out = append(out, "P:"+p)
		}
		return strings.Join(out, ",")
	}
	if got := names(list(UploadListOptions{})); got != "a/1,a/2,b,b,c/x/1,d" {
		t.Errorf("all = %s", got)
	}
	if got := names(list(UploadListOptions{Delimiter: "/"})); got != "b,b,d,P:a/,P:c/" {
		t.Errorf("delimiter = %s", got)
	}
	if got := names(list(UploadListOptions{Prefix: "c/", Delimiter: "/"})); got != "P:c/x/" {
		t.Errorf("prefix c/ = %s", got)
	}
	// Pages of 2, following the markers, with the delimiter.
	var seen []string
	o := UploadListOptions{Delimiter: "/", Max: 2}
	for i := 0; ; i++ {
		pg := list(o)
		seen = append(seen, names(pg))
		if !pg.Truncated {
			break
		}
		if i > 5 {
			t.Fatal("pagination does not end")
		}
		o.KeyMarker, o.UploadIDMarker = pg.NextKey, pg.NextUploadID
	}
	if got := strings.Join(seen, "|"); got != "b,P:a/|b,P:c/|d" {
		t.Errorf("pages = %s", got)
	}
	// Same key, two uploads: the upload-id marker splits them.
	pg := list(UploadListOptions{KeyMarker: "b", UploadIDMarker: ids[2]})
	if len(pg.Uploads) == 0 || pg.Uploads[0].ID != ids[3] {
		t.Errorf("after b/%s: %s", ids[2], names(pg))
	}
	if got := names(list(UploadListOptions{KeyMarker: "b"})); got != "c/x/1,d" {
		t.Errorf("after key b = %s", got)
	}
}

func TestExpireUploadsAndGC(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(t.TempDir(), Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	if _, err := s.CreateRepo(ctx, "exp", "admin"); err != nil {
		t.Fatal(err)
	}
	old := mustUpload(t, s, "exp", "main", "old")
	mustPart(t, s, "exp", old.ID, 1, 101)
	done := mustUpload(t, s, "exp", "main", "done")
	dp := mustPart(t, s, "exp", done.ID, 1, 102)
	if _, err := s.CompleteUpload(ctx, CompleteRequest{Repo: "exp", ID: done.ID, Parts: []Part{dp}, Entry: &Entry{Content: hashOf(200)}}); err != nil {
		t.Fatal(err)
	}
	advance(48 * time.Hour)
	young := mustUpload(t, s, "exp", "main", "young")
	mustPart(t, s, "exp", young.ID, 1, 103)
	// A crash leftover: a part record of an upload that no longer exists.
	if err := s.update(ctx, func(w *wtx) error {
		return kv.PutJSON(w.txn, partKey("exp", strings.Repeat("a", 40), 1), &Part{Number: 1, Content: hashOf(104)})
	}); err != nil {
		t.Fatal(err)
	}

	live, _, err := s.GC(ctx, time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]bool{hashOf(101): true, hashOf(103): true, hashOf(102): false, hashOf(104): false, hashOf(200): true} {
		if live[h] != want {
			t.Errorf("GC live[%s...] = %v, want %v", h[60:], live[h], want)
		}
	}
	st, err := s.ExpireUploads(ctx, now.Add(-24*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Aborted != 1 || st.Forgotten != 1 || st.Parts != 2 {
		t.Errorf("ExpireUploads = %+v, want 1 aborted, 1 forgotten, 2 dead part records", st)
	}
	_, err = s.GetUpload(ctx, "exp", old.ID)
	wantReason(t, "expired upload", err, errs.Upload)
	_, err = s.GetUpload(ctx, "exp", done.ID)
	wantReason(t, "forgotten completion", err, errs.Upload)
	if _, err := s.GetUpload(ctx, "exp", young.ID); err != nil {
		t.Errorf("young upload expired: %v", err)
	}
	if n := records(t, s, pUpload); n != 2 {
		t.Errorf("%d upload records left, want the young upload and its part", n)
	}
	live, _, err = s.GC(ctx, time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	if live[hashOf(101)] || !live[hashOf(103)] {
		t.Errorf("after expiry: live 101 %v (want false), 103 %v (want true)", live[hashOf(101)], live[hashOf(103)])
	}
	// A repo deleted (and made again) takes its uploads with it.
	if err := s.DeleteRepo(ctx, "exp", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRepo(ctx, "exp", "admin"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetUpload(ctx, "exp", young.ID)
	wantReason(t, "upload of a re-created repo", err, errs.Upload)
	if st, err := s.ExpireUploads(ctx, now.Add(-24*time.Hour), now.Add(-24*time.Hour)); err != nil || st.Aborted != 1 {
		t.Errorf("ExpireUploads after repo delete = %+v, %v", st, err)
	}
	if n := records(t, s, pUpload); n != 0 {
		t.Errorf("%d upload records left", n)
	}
}

func TestComposeKeyIsStable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	keys := make([][]byte, 4)
	for i := range keys {
		wg.Go(func() { keys[i], _ = s.ComposeKey(ctx) })
	}
	wg.Wait()
	for _, k := range keys {
		if len(k) != 32 || string(k) != string(keys[0]) {
			t.Fatalf("ComposeKey under concurrency: %x vs %x", k, keys[0])
		}
	}
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, err := s.ComposeKey(ctx)
	if err != nil || string(k) != string(keys[0]) {
		t.Fatalf("ComposeKey after reopen = %x, %v; want %x", k, err, keys[0])
	}
}
