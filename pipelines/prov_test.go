package pipelines

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/meta"
)

// TestInputRefRoundTrip: every tusk-inputs element parses back to the
// input it was made from, whatever the key holds.
func TestInputRefRoundTrip(t *testing.T) {
	for _, in := range []meta.ProvInput{
		{Repo: "images", Commit: "c1", Key: "cats/1.jpg", Version: "v1", Content: strings.Repeat("ab", 32)},
		{Repo: "images", Commit: "c1", Key: "odd key, with:chars?&=.txt", Version: "null", Content: "00"},
		{Repo: "images", Commit: "c1", Key: "old-record", Content: "00"},
		{Repo: "images", Commit: "c1", Key: "no-hash", Version: "v2"},
		{Repo: "images", Commit: "c1"},
	} {
		t.Run(in.Key, func(t *testing.T) {
			s := InputRef(in)
			got, err := ParseInputRef(s)
			if err != nil || got != in {
				t.Fatalf("ParseInputRef(%q) = %+v, %v; want %+v", s, got, err, in)
			}
		})
	}
	for _, bad := range []string{"", "@c", "r@", "r@c:k?versionId", "r@c:k?x=1", "r@c:%zz"} {
		if _, err := ParseInputRef(bad); err == nil {
			t.Errorf("ParseInputRef(%q) accepted", bad)
		}
	}
}

// TestProvMetaWithinUserMetaLimit: the generated metadata and the object's
// own stay within S3's 2 KiB; past it tusk-inputs is the count and the
// record id.
func TestProvMetaWithinUserMetaLimit(t *testing.T) {
	rec := func(n int) *meta.ProvRecord {
		r := &meta.ProvRecord{ID: strings.Repeat("r", 32), Pipeline: "p", Version: 1, Job: strings.Repeat("j", 32)}
		for i := 0; i < n; i++ {
			r.Inputs = append(r.Inputs, meta.ProvInput{Repo: "in", Commit: strings.Repeat("c", 32),
				Key: fmt.Sprintf("k%03d", i), Version: strings.Repeat("v", 32), Content: strings.Repeat("h", 64)})
		}
		return r
	}
	size := func(ms ...map[string]string) int {
		n := 0
		for _, m := range ms {
			for k, v := range m {
				n += len(k) + len(v)
			}
		}
		return n
	}
	own := map[string]string{"color": strings.Repeat("x", 500)}
	for _, tc := range []struct {
		name   string
		inputs int
		other  map[string]string
		list   bool
	}{
		{"one", 1, nil, true},
		{"ten", 10, nil, true},
		{"twelve", 12, nil, true},
		{"thirteen", 13, nil, false},
		{"ten with own metadata", 10, own, false},
		{"five with own metadata", 5, own, true},
		{"many", 5000, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rec(tc.inputs)
			m := ProvMeta(r, tc.other)
			if total := size(m, tc.other); total > MaxUserMeta {
				t.Errorf("user metadata %d bytes > %d", total, MaxUserMeta)
			}
			in := m["tusk-inputs"]
			if tc.list {
				if strings.Count(in, ",") != tc.inputs-1 {
					t.Errorf("tusk-inputs %q: want %d inputs", in, tc.inputs)
				}
			} else if in != fmt.Sprintf("count=%d; prov=%s", tc.inputs, r.ID) {
				t.Errorf("tusk-inputs %q: want the count and the record id", in)
			}
		})
	}
}
