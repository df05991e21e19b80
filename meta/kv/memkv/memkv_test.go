package memkv_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/meta/kv/kvtest"
	"github.com/tusk-data/tusk/meta/kv/memkv"
)

func TestConformance(t *testing.T) {
	kvtest.Run(t, kvtest.Options{New: func(t *testing.T) kv.Store { return memkv.New(kv.Limits{}) }})
}

// Small limits make chunks split and merge across many commits.
func TestConformanceSmallLimits(t *testing.T) {
	kvtest.Run(t, kvtest.Options{New: func(t *testing.T) kv.Store {
		return memkv.New(kv.Limits{MaxTxnBytes: 64 << 10, MaxTxnEntries: 300})
	}})
}

// TestModel checks the chunked tree against a map over many commits that
// split and empty chunks.
func TestModel(t *testing.T) {
	s := memkv.New(kv.Limits{})
	model := map[string]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string { return fmt.Sprintf("%c%03d", 'a'+rng.IntN(3), rng.IntN(600)) }
	for round := 0; round < 200; round++ {
		tx, _ := s.Begin(true)
		for i := 0; i < 1+rng.IntN(60); i++ {
			k := key()
			if rng.IntN(3) == 0 {
				_ = tx.Delete([]byte(k))
				delete(model, k)
			} else {
				v := fmt.Sprint(round, i)
				_ = tx.Set([]byte(k), []byte(v))
				model[k] = v
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		sorted := slices.Sorted(maps.Keys(model))
		r, _ := s.Begin(false)
		prefix := []string{"", "a", "b0", "c1"}[rng.IntN(4)]
		start := key()
		var exp, expRev []string
		for _, k := range sorted {
			if strings.HasPrefix(k, prefix) && k >= start {
				exp = append(exp, k)
			}
		}
		for i := len(sorted) - 1; i >= 0; i-- {
			if k := sorted[i]; strings.HasPrefix(k, prefix) && k <= start {
				expRev = append(expRev, k)
			}
		}
		for _, rev := range []bool{false, true} {
			it := r.Iter(kv.IterOptions{Prefix: []byte(prefix), Start: []byte(start), Reverse: rev})
			var got []string
			for ; it.Valid(); it.Next() {
				v, _ := it.Value()
				if model[string(it.Key())] != string(v) {
					t.Fatalf("value of %q: %q want %q", it.Key(), v, model[string(it.Key())])
				}
				got = append(got, string(it.Key()))
			}
			it.Close()
			want := exp
			if rev {
				want = expRev
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d prefix %q start %q rev %v:\n got %q\nwant %q", round, prefix, start, rev, got, want)
			}
		}
		r.Discard()
	}
}
