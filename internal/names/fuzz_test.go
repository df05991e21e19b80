package names

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tusk-data/tusk/internal/errs"
)

// Property fuzz targets of the name rules; seed corpora (and findings) in
// testdata/fuzz/<FuzzName>/.

// formatBucket is SplitBucket's inverse: REF.REPO, or REPO for no ref.
func formatBucket(ref, repo string) string {
	if ref == "" {
		return repo
	}
	return ref + "." + repo
}

func isNameError(err error) bool {
	return errs.KindOf(err) == errs.Invalid && errs.ReasonOf(err) == errs.Name
}

// FuzzSplitBucket: whatever the name, SplitBucket either refuses it as an
// invalid name or splits it into parts that format back to it, with a
// valid repo; a name good for a create is good for a read with the same
// split; a new branch's name obeys ValidRef and the 63-character limit.
func FuzzSplitBucket(f *testing.F) {
	for _, s := range []string{"images", "dev.images", "v1.2.images", "a.b.c", ".images", "images.", "dev..images",
		"0123456789ab.images", "deadbeef.images", "192.168.5.4", "1.2.3.images", "Dev.images", "-x.images",
		strings.Repeat("a", 64), strings.Repeat("b", 51) + ".images", "dev.ima_ges", "\xff.images", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, bucket string) {
		for _, create := range []bool{false, true} {
			ref, repo, err := SplitBucket(bucket, create)
			if err != nil {
				if !isNameError(err) {
					t.Fatalf("SplitBucket(%q, %v): %v is not an Invalid Name error", bucket, create, err)
				}
				if ref != "" || repo != "" {
					t.Fatalf("SplitBucket(%q, %v) failed but returned %q, %q", bucket, create, ref, repo)
				}
				continue
			}
			if got := formatBucket(ref, repo); got != bucket {
				t.Fatalf("SplitBucket(%q, %v) = %q, %q, which formats as %q", bucket, create, ref, repo, got)
			}
			if ValidRepo(repo) != nil || strings.Contains(repo, ".") {
				t.Fatalf("SplitBucket(%q) gave repo %q", bucket, repo)
			}
			if create {
				if ref != "" && (ValidRef(ref) != nil || len(bucket) > 63) {
					t.Fatalf("SplitBucket(%q, create) accepted ref %q", bucket, ref)
				}
				r2, p2, err := SplitBucket(bucket, false)
				if err != nil || r2 != ref || p2 != repo {
					t.Fatalf("%q: create splits as %q, %q; read as %q, %q, %v", bucket, ref, repo, r2, p2, err)
				}
			}
		}
	})
}

// FuzzBucketRoundTrip: parse(format(x)) == x for every valid (ref, repo)
// pair: a valid repo with a valid branch name, joined, splits back into
// them, for a create and for a read (unless the join looks like an IPv4
// address, which S3 refuses).
func FuzzBucketRoundTrip(f *testing.F) {
	f.Add("dev", "images")
	f.Add("", "images")
	f.Add("0123abc", "x-y-z")
	f.Add("1", "2.3") // not a repo
	f.Add("12", "345")
	f.Fuzz(func(t *testing.T, ref, repo string) {
		if ValidRepo(repo) != nil || (ref != "" && ValidRef(ref) != nil) {
			return
		}
		bucket := formatBucket(ref, repo)
		for _, create := range []bool{false, true} {
			r, p, err := SplitBucket(bucket, create)
			switch {
			case ipLike(bucket) || create && len(bucket) > 63:
				if err == nil {
					t.Fatalf("SplitBucket(%q, %v) accepted", bucket, create)
				}
			case err != nil || r != ref || p != repo:
				t.Fatalf("SplitBucket(%q, %v) = %q, %q, %v; want %q, %q", bucket, create, r, p, err, ref, repo)
			}
		}
	})
}

// FuzzNameRules: each validator agrees with its documented rule.
func FuzzNameRules(f *testing.F) {
	for _, s := range []string{"", "a", "main", "deadbeef", "deadbeefx", "a-", "-a", "anonymous", "a.b_c-d", "Ab",
		strings.Repeat("k", MaxKeyLen), strings.Repeat("k", MaxKeyLen+1), "k\x00", "\xff", "x/../y", "0123456789abcdef0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lowerDash := s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
		alnumAt := func(i int) bool { return i >= 0 && i < len(s) && alnum(s[i]) }

		repoOK := len(s) >= 3 && len(s) <= 63 && lowerDash && alnumAt(0) && alnumAt(len(s)-1)
		if (ValidRepo(s) == nil) != repoOK {
			t.Fatalf("ValidRepo(%q) = %v, rule says %v", s, ValidRepo(s), repoOK)
		}
		refOK := len(s) <= 50 && lowerDash && alnumAt(0) && !(len(s) >= 8 && IsHex(s))
		if (ValidRef(s) == nil) != refOK {
			t.Fatalf("ValidRef(%q) = %v, rule says %v", s, ValidRef(s), refOK)
		}
		for _, err := range []error{ValidRepo(s), ValidRef(s)} {
			if err != nil && !isNameError(err) {
				t.Fatalf("%q: %v is not an Invalid Name error", s, err)
			}
		}
		if IsCommitID(s) && !IsCommitPrefix(s) || IsCommitPrefix(s) && ValidRef(s) == nil {
			t.Fatalf("%q: commit id %v, prefix %v, ref %v", s, IsCommitID(s), IsCommitPrefix(s), ValidRef(s))
		}

		keyOK := len(s) >= 1 && len(s) <= MaxKeyLen && utf8.ValidString(s) && !strings.Contains(s, "\x00")
		err := ValidKey(s)
		if (err == nil) != keyOK {
			t.Fatalf("ValidKey(%q) = %v, rule says %v", s, err, keyOK)
		}
		if err != nil {
			want := errs.Invalid
			if len(s) > MaxKeyLen {
				want = errs.TooLarge
			}
			if errs.KindOf(err) != want || errs.ReasonOf(err) != errs.Key {
				t.Fatalf("ValidKey(%q): %v, want kind %v reason Key", s, err, want)
			}
		}

		userOK := s != "anonymous" && len(s) >= 1 && len(s) <= 63 && alnumAt(0) &&
			strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == ""
		if (ValidUser(s) == nil) != userOK {
			t.Fatalf("ValidUser(%q) = %v, rule says %v", s, ValidUser(s), userOK)
		}
	})
}
