package names

import (
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

// check asserts err is nil (ok) or classified as kind and reason.
func check(t *testing.T, err error, ok bool, kind errs.Kind, reason errs.Reason) {
	t.Helper()
	if ok {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("accepted")
	}
	if errs.KindOf(err) != kind || errs.ReasonOf(err) != reason {
		t.Fatalf("%v: kind %v reason %v, want %v %v", err, errs.KindOf(err), errs.ReasonOf(err), kind, reason)
	}
}

func TestValidRepo(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"abc", true}, {"my-repo-1", true}, {"0ab", true}, {strings.Repeat("a", 63), true},
		{"ab", false}, {strings.Repeat("a", 64), false}, {"-ab", false}, {"ab-", false},
		{"Abc", false}, {"a_b", false}, {"a.bc", false}, {"", false},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, ValidRepo(tc.name), tc.ok, errs.Invalid, errs.Name) })
	}
}

func TestValidRef(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"main", true}, {"a", true}, {"dev-1", true}, {"abc-", true}, {"deadbee", true}, {"deadbeeg", true},
		{strings.Repeat("x", 50), true},
		{"", false}, {strings.Repeat("x", 51), false}, {"-dev", false}, {"Dev", false}, {"a.b", false},
		{"deadbeef", false}, {"0123456789abcdef", false},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, ValidRef(tc.name), tc.ok, errs.Invalid, errs.Name) })
	}
}

func TestCommitShapes(t *testing.T) {
	id := strings.Repeat("0a", 16)
	for _, tc := range []struct {
		s               string
		hex, id, prefix bool
	}{
		{id, true, true, true},
		{id[:12], true, false, true},
		{id[:11], true, false, false},
		{id + "0", true, false, false},
		{"", false, false, false},
		{"ABCDEF012345", false, false, false},
		{"main", false, false, false},
	} {
		t.Run(tc.s, func(t *testing.T) {
			if IsHex(tc.s) != tc.hex || IsCommitID(tc.s) != tc.id || IsCommitPrefix(tc.s) != tc.prefix {
				t.Fatalf("hex %v id %v prefix %v", IsHex(tc.s), IsCommitID(tc.s), IsCommitPrefix(tc.s))
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		ok   bool
		kind errs.Kind
	}{
		{"plain", "a/b.txt", true, 0},
		{"dots and slashes", "../x//y/", true, 0},
		{"max", strings.Repeat("k", MaxKeyLen), true, 0},
		{"utf8", "é/ü", true, 0},
		{"empty", "", false, errs.Invalid},
		{"too long", strings.Repeat("k", MaxKeyLen+1), false, errs.TooLarge},
		{"bad utf8", "a\xffb", false, errs.Invalid},
		{"nul", "a\x00b", false, errs.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, ValidKey(tc.key), tc.ok, tc.kind, errs.Key) })
	}
}

func TestValidUser(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"a", true}, {"a.b_c-d", true}, {"0x", true}, {strings.Repeat("u", 63), true},
		{"", false}, {"anonymous", false}, {".a", false}, {"Alice", false}, {"a b", false}, {strings.Repeat("u", 64), false},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, ValidUser(tc.name), tc.ok, errs.Invalid, errs.User) })
	}
}

func TestSplitBucket(t *testing.T) {
	for _, tc := range []struct {
		bucket    string
		create    bool
		ref, repo string
		ok        bool
		says      string // part of the message when refused
	}{
		{"images", false, "", "images", true, ""},
		{"dev.images", false, "dev", "images", true, ""},
		{"dev.images", true, "dev", "images", true, ""},
		{"0123456789abcdef0123456789abcdef.images", false, "0123456789abcdef0123456789abcdef", "images", true, ""},
		{"deadbeef00.images", true, "", "", false, "hex"},
		{"192.168.5.4", false, "", "", false, "IP address"},
		{".images", false, "", "", false, "empty ref"},
		{"my.bucket.site", false, "", "", false, "REF.REPO"},
		{"logs.my-company.c", true, "", "", false, "REF.REPO"},
		{"Bad_Name", false, "", "", false, "invalid repo name"},
		{strings.Repeat("b", 50) + ".images-images", true, "", "", false, "longer than 63"},
		{"-dev.images", false, "", "", false, "REF.REPO"},
	} {
		t.Run(tc.bucket, func(t *testing.T) {
			ref, repo, err := SplitBucket(tc.bucket, tc.create)
			check(t, err, tc.ok, errs.Invalid, errs.Name)
			if tc.ok && (ref != tc.ref || repo != tc.repo) {
				t.Fatalf("(%q, %q), want (%q, %q)", ref, repo, tc.ref, tc.repo)
			}
			if !tc.ok && !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v does not say %q", err, tc.says)
			}
		})
	}
}
