package blob

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"blobs/ab/cd/" + strings.Repeat("0", 64), true},
		{"tmp/0123", true},
		{"dir/sub/file.txt", true},
		{".hidden", true},
		{"a.b/c", true},
		{"ünïcode/ключ", true},
		{"with space", true},
		{strings.Repeat("k", MaxKeyLen), true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"..", false},
		{"a/../b", false},
		{"a..b", false},
		{"a//b", false},
		{`a\b`, false},
		{"a\x00", false},
		{"\xff", false},
		{".", false},
		{"./a", false},
		{"a/./b", false},
		{"a/.", false},
		{strings.Repeat("k", MaxKeyLen+1), false},
	} {
		t.Run(fmt.Sprintf("%.24q", tc.key), func(t *testing.T) {
			err := CheckKey(tc.key)
			if tc.ok && err != nil {
				t.Errorf("CheckKey(%q) = %v, want nil", tc.key, err)
			}
			if !tc.ok && !errs.Is(err, errs.Invalid) {
				t.Errorf("CheckKey(%q) = %v, want Invalid", tc.key, err)
			}
		})
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"blobs/", true},
		{"blobs/a", true},
		{"a/b/", true},
		{"/", false},
		{"a//", false},
		{"../", false},
		{"a/./", false},
		{"a\x00", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			if err := CheckPrefix(tc.prefix); (err == nil) != tc.ok {
				t.Errorf("CheckPrefix(%q) = %v, want ok=%v", tc.prefix, err, tc.ok)
			}
		})
	}
}

func TestHashKeys(t *testing.T) {
	h := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err := CheckHash(h); err != nil {
		t.Fatal(err)
	}
	k := Key(h)
	if k != "blobs/e3/b0/"+h {
		t.Errorf("Key = %q", k)
	}
	if got, ok := hashOfKey(k); !ok || got != h {
		t.Errorf("hashOfKey(%q) = %q, %v", k, got, ok)
	}
	for _, bad := range []string{
		"blobs/e3/b1/" + h, // directories do not match the hash
		"blobs/" + h,
		"blobs/e3/b0/" + strings.ToUpper(h),
		"tmp/e3/b0/" + h,
		"blobs/e3/b0/" + h + "x",
		"blobs/junk",
	} {
		if _, ok := hashOfKey(bad); ok {
			t.Errorf("hashOfKey(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", h[:63], h + "0", strings.ToUpper(h), h[:63] + "g", h[:63] + "/"} {
		if err := CheckHash(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("CheckHash(%q) = %v, want Invalid", bad, err)
		}
	}
}
