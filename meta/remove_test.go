package meta

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// vlist renders a branch's version list as "key:version[*][D]" items
// (* = IsLatest, D = delete marker), versions as returned to clients.
func vlist(t *testing.T, s *Store, repo, ref string) []string {
	t.Helper()
	r, err := s.Resolve(context.Background(), repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := s.ListVersions(context.Background(), r.Commit, "", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range pg.Versions {
		s := v.Key + ":" + v.Entry.VersionID()
		if v.IsLatest {
			s += "*"
		}
		if v.Entry.Deleted {
			s += "D"
		}
		out = append(out, s)
	}
	return out
}

func remove(t *testing.T, s *Store, repo, branch string, rms ...Removal) *WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), WriteRequest{Repo: repo, Branch: branch, Author: "t", Removals: rms})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func getETag(t *testing.T, s *Store, repo, ref, key string) string {
	t.Helper()
	r, err := s.Resolve(context.Background(), repo, ref)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.GetLatest(context.Background(), repo, r.Root(), r.Commit.VRoot, key)
	if errs.Is(err, errs.NotExist) {
		return "-"
	}
	if err != nil {
		t.Fatal(err)
	}
	return e.ETag + "@" + e.Version
}

func join(ss ...string) string { return strings.Join(ss, " ") }

func TestRemoveVersion(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	for _, r := range []string{"repa", "repb"} {
		if _, err := s.CreateRepo(ctx, r, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	// The reproduction of the issue, in meta: same content everywhere.
	v1 := put(t, s, "repa", "main", "a", "hello")
	v2 := put(t, s, "repa", "main", "a", "second")
	vb := put(t, s, "repa", "main", "b", "hello")
	vc := put(t, s, "repb", "main", "c", "hello")
	if _, err := s.CreateTag(ctx, "repa", "keep", "main"); err != nil {
		t.Fatal(err)
	}

	res := remove(t, s, "repa", "main", Removal{Key: "a", Version: v1})
	if len(res.Removed) != 1 || !res.Removed[0].Found || res.Removed[0].Marker || res.Removed[0].Version != v1 {
		t.Fatalf("removal result %+v", res.Removed)
	}
	if got, want := join(vlist(t, s, "repa", "main")...), join("a:"+v2+"*", "b:"+vb+"*"); got != want {
		t.Fatalf("versions after removing an old one:\n got  %s\n want %s", got, want)
	}
	if got := getETag(t, s, "repa", "main", "b"); got != "hello@"+vb {
		t.Fatalf("other key b: %s", got)
	}
	if got := getETag(t, s, "repb", "main", "c"); got != "hello@"+vc {
		t.Fatalf("other repo's c: %s", got)
	}
	main, _ := s.Resolve(ctx, "repa", "main")
	if _, err := s.GetVersion(ctx, main, "a", v1); errs.ReasonOf(err) != errs.Version {
		t.Fatalf("removed version readable on the branch: %v", err)
	}
	// The tag still holds it: nothing else changes.
	tag, _ := s.Resolve(ctx, "repa", "keep")
	if e, err := s.GetVersion(ctx, tag, "a", v1); err != nil || e.ETag != "hello" {
		t.Fatalf("tag lost version v1: %v", err)
	}
	if got, want := join(vlist(t, s, "repa", "keep")...), join("a:"+v2+"*", "a:"+v1, "b:"+vb+"*"); got != want {
		t.Fatalf("tag versions changed: %s", got)
	}

	// Removing the current version brings back the previous one with its
	// own version id.
	v3 := put(t, s, "repa", "main", "a", "third")
	res = remove(t, s, "repa", "main", Removal{Key: "a", Version: v3})
	if res.Version == "" || !res.Removed[0].Found {
		t.Fatalf("removing the current version made no commit: %+v", res)
	}
	if got := getETag(t, s, "repa", "main", "a"); got != "second@"+v2 {
		t.Fatalf("after removing the current version: %s, want second@%s", got, v2)
	}
	// A delete marker, then its removal.
	dm := del(t, s, "repa", "main", "a")
	if got := getETag(t, s, "repa", "main", "a"); got != "-" {
		t.Fatalf("after delete: %s", got)
	}
	res = remove(t, s, "repa", "main", Removal{Key: "a", Version: dm})
	if !res.Removed[0].Found || !res.Removed[0].Marker {
		t.Fatalf("marker removal %+v", res.Removed)
	}
	if got := getETag(t, s, "repa", "main", "a"); got != "second@"+v2 {
		t.Fatalf("after removing the marker: %s", got)
	}
	// Absent and unknown versions: found false, nothing committed.
	head := main.Commit.ID
	main, _ = s.Resolve(ctx, "repa", "main")
	head = main.Commit.ID
	res = remove(t, s, "repa", "main", Removal{Key: "a", Version: vb}, Removal{Key: "zz", Version: v2},
		Removal{Key: "a", Version: "0123456789abcdef0123456789abcdef"})
	for i, r := range res.Removed {
		if r.Found {
			t.Fatalf("removal %d found: %+v", i, r)
		}
	}
	if main, _ = s.Resolve(ctx, "repa", "main"); main.Commit.ID != head || res.Version != "" {
		t.Fatalf("a removal of nothing made a commit")
	}
	// Remove everything of a and b in one commit: the branch lists nothing,
	// and the repo can be deleted once no tag holds keys.
	res = remove(t, s, "repa", "main", Removal{Key: "a", Version: v2}, Removal{Key: "b", Version: vb})
	if got := vlist(t, s, "repa", "main"); len(got) != 0 {
		t.Fatalf("versions left: %v", got)
	}
	if err := s.DeleteRepo(ctx, "repa", false); errs.ReasonOf(err) != errs.NotEmpty {
		t.Fatalf("delete repo with a tag holding keys: %v", err)
	}
	if err := s.DeleteTag(ctx, "repa", "keep"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRepo(ctx, "repa", false); err != nil {
		t.Fatalf("delete repo whose versions are all removed: %v", err)
	}
	// A branch still listing a delete marker is not empty.
	del(t, s, "repb", "main", "c")
	if err := s.DeleteRepo(ctx, "repb", false); errs.ReasonOf(err) != errs.NotEmpty {
		t.Fatalf("delete repo listing a marker: %v", err)
	}
}

func TestRemoveMiddleAndMixed(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "r1x", "admin"); err != nil {
		t.Fatal(err)
	}
	var vs []string
	for i := 0; i < 4; i++ {
		vs = append(vs, put(t, s, "r1x", "main", "k", fmt.Sprint("e", i)))
	}
	put(t, s, "r1x", "main", "other", "o")
	// Remove the middle two and delete "other" (a marker) in one commit.
	res, err := s.Write(ctx, WriteRequest{Repo: "r1x", Branch: "main", Changes: []Change{{Key: "other"}},
		Removals: []Removal{{Key: "k", Version: vs[1]}, {Key: "k", Version: vs[2]}, {Key: "k", Version: vs[2]}}})
	if err != nil {
		t.Fatal(err)
	}
	got := vlist(t, s, "r1x", "main")
	want := []string{"k:" + vs[3] + "*", "k:" + vs[0], "other:" + res.Version + "*D"}
	if join(got[:3]...) != join(want...) {
		t.Fatalf("after mixed request:\n got  %v\n want %v (+ other's put)", got, want)
	}
	if getETag(t, s, "r1x", "main", "k") != "e3@"+vs[3] {
		t.Fatal("current version changed by removing middle ones")
	}
	// Removing the two newest at once falls back to the oldest.
	remove(t, s, "r1x", "main", Removal{Key: "k", Version: vs[3]})
	if g := getETag(t, s, "r1x", "main", "k"); g != "e0@"+vs[0] {
		t.Fatalf("after removing newest: %s", g)
	}
	// Version removal is refused in an open commit.
	oc, err := s.StartCommit(ctx, "r1x", "main", "t", "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, WriteRequest{Repo: "r1x", Open: oc.ID, Removals: []Removal{{Key: "k", Version: vs[0]}}}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("removal in open commit: %v", err)
	}
}

func TestNullVersions(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.CreateRepo(ctx, "nv1", "admin"); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, s, "nv1", "main", "k", "e1")
	if err := s.SetVersioning(ctx, "nv1", "main", "Suspended"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVersioning(ctx, "nv1", "main", "Paused"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad status: %v", err)
	}
	put(t, s, "nv1", "main", "k", "e2")
	put(t, s, "nv1", "main", "k", "e3") // replaces the null version e2
	if got, want := join(vlist(t, s, "nv1", "main")...), join("k:null*", "k:"+v1); got != want {
		t.Fatalf("suspended versions:\n got  %s\n want %s", got, want)
	}
	main, _ := s.Resolve(ctx, "nv1", "main")
	if e, err := s.GetVersion(ctx, main, "k", NullVersion); err != nil || e.ETag != "e3" {
		t.Fatalf("GET versionId=null: %v %+v", err, e)
	}
	// A delete while suspended is a null delete marker replacing it.
	res, err := s.Write(ctx, WriteRequest{Repo: "nv1", Branch: "main", Changes: []Change{{Key: "k"}}})
	if err != nil || !res.Null {
		t.Fatalf("suspended delete: %v %+v", err, res)
	}
	if got, want := join(vlist(t, s, "nv1", "main")...), join("k:null*D", "k:"+v1); got != want {
		t.Fatalf("after suspended delete:\n got  %s\n want %s", got, want)
	}
	// Remove the null marker by "null": v1 is back.
	rr := remove(t, s, "nv1", "main", Removal{Key: "k", Version: NullVersion})
	if !rr.Removed[0].Found || !rr.Removed[0].Marker || rr.Removed[0].Version != NullVersion {
		t.Fatalf("null removal %+v", rr.Removed)
	}
	if g := getETag(t, s, "nv1", "main", "k"); g != "e1@"+v1 {
		t.Fatalf("after removing null marker: %s", g)
	}
	// Re-enabled: real ids again, the null version stays listed.
	put(t, s, "nv1", "main", "k", "e4")
	if err := s.SetVersioning(ctx, "nv1", "main", "Enabled"); err != nil {
		t.Fatal(err)
	}
	v5 := put(t, s, "nv1", "main", "k", "e5")
	if got, want := join(vlist(t, s, "nv1", "main")...), join("k:"+v5+"*", "k:null", "k:"+v1); got != want {
		t.Fatalf("re-enabled:\n got  %s\n want %s", got, want)
	}
	// Paging by a null version-id-marker.
	main, _ = s.Resolve(ctx, "nv1", "main")
	pg, err := s.ListVersions(ctx, main.Commit, "", "", "k", NullVersion, 10)
	if err != nil || len(pg.Versions) != 1 || pg.Versions[0].Entry.Version != v1 {
		t.Fatalf("page after null marker: %v %+v", err, pg)
	}
	// The null version is not readable by its commit id.
	if _, err := s.GetVersion(ctx, main, "k", v1); err != nil {
		t.Fatal(err)
	}
}
