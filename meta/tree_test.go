package meta

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"testing"
)

// memNodes is an in-memory nodeSink for tree tests.
type memNodes struct {
	m      map[Hash][]byte
	puts   int
	gets   int
	cached map[Hash]*node
}

func newMemNodes() *memNodes { return &memNodes{m: map[Hash][]byte{}, cached: map[Hash]*node{}} }

func (s *memNodes) getNode(h Hash) (*node, error) {
	s.gets++
	b, ok := s.m[h]
	if !ok {
		return nil, fmt.Errorf("no node %s", h)
	}
	return decodeNode(b)
}

func (s *memNodes) putNode(n *node) (Hash, error) {
	s.puts++
	h, b := hashNode(n)
	s.m[h] = b
	return h, nil
}

func applyMap(model map[string]string, muts []Mut) {
	for _, m := range muts {
		if m.Val == nil {
			delete(model, string(m.Key))
		} else {
			model[string(m.Key)] = string(m.Val)
		}
	}
}

func sortedMuts(m map[string][]byte) []Mut {
	var out []Mut
	for k, v := range m {
		out = append(out, Mut{Key: []byte(k), Val: v})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}

func checkTree(t *testing.T, s *memNodes, root Hash, model map[string]string) {
	t.Helper()
	n, err := verifyTree(s, root)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(model) {
		t.Fatalf("tree has %d keys, model %d", n, len(model))
	}
	var keys []string
	for k := range model {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := seek(s, root, nil)
	for _, k := range keys {
		if !c.valid() || string(c.key()) != k || string(c.val()) != model[k] {
			t.Fatalf("iteration mismatch at %q", k)
		}
		c.next()
	}
	if c.valid() || c.err != nil {
		t.Fatalf("iteration did not end cleanly: %v", c.err)
	}
	for _, k := range keys[:min(len(keys), 200)] {
		v, ok, err := treeGet(s, root, []byte(k))
		if err != nil || !ok || string(v) != model[k] {
			t.Fatalf("get %q: %q %v %v", k, v, ok, err)
		}
	}
}

func TestTreeRandomizedAgainstModel(t *testing.T) {
	for _, valSize := range []int{8, 300, 3000} {
		t.Run(fmt.Sprintf("val%d", valSize), func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(valSize)))
			s := newMemNodes()
			model := map[string]string{}
			var root Hash
			for round := 0; round < 60; round++ {
				batch := map[string][]byte{}
				nb := 1 + rng.Intn(200)
				if round%10 == 9 {
					nb = 2000
				}
				for i := 0; i < nb; i++ {
					k := fmt.Sprintf("k/%05d", rng.Intn(5000))
					if rng.Intn(3) == 0 {
						batch[k] = nil
					} else {
						batch[k] = bytes.Repeat([]byte{byte('a' + rng.Intn(26))}, 1+rng.Intn(valSize))
					}
				}
				muts := sortedMuts(batch)
				var err error
				root, err = treeApply(s, root, muts)
				if err != nil {
					t.Fatal(err)
				}
				applyMap(model, muts)
				checkTree(t, s, root, model)
			}
			// Delete everything: the tree becomes empty.
			all := map[string][]byte{}
			for k := range model {
				all[k] = nil
			}
			root, err := treeApply(s, root, sortedMuts(all))
			if err != nil || !root.IsZero() {
				t.Fatalf("expected empty tree, got %s %v", root, err)
			}
		})
	}
}

func TestTreeDiffSkipsSharedSubtrees(t *testing.T) {
	s := newMemNodes()
	base := map[string][]byte{}
	for i := 0; i < 100000; i++ {
		base[fmt.Sprintf("data/%07d", i)] = []byte(fmt.Sprintf("v%d", i))
	}
	a, err := treeApply(s, Hash{}, sortedMuts(base))
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string][]byte{
		"data/0000010": []byte("changed"),
		"data/0050000": nil,
		"data/0099999": []byte("x"),
		"new/1":        []byte("added"),
		"aaa":          []byte("first"),
	}
	b, err := treeApply(s, a, sortedMuts(changes))
	if err != nil {
		t.Fatal(err)
	}
	s.gets = 0
	got := map[string]string{}
	err = treeDiff(s, a, b, nil, nil, func(k, va, vb []byte) error {
		got[string(k)] = fmt.Sprintf("%s->%s", va, vb)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"data/0000010": "v10->changed",
		"data/0050000": "v50000->",
		"data/0099999": "v99999->x",
		"new/1":        "->added",
		"aaa":          "->first",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("diff\n got %v\nwant %v", got, want)
	}
	if s.gets > 200 {
		t.Fatalf("diff of 5 changes in 100k keys read %d nodes; shared subtrees are not skipped", s.gets)
	}
	t.Logf("diff of 5 changes over 100k keys read %d nodes", s.gets)
	// Bounded diff.
	n := 0
	_ = treeDiff(s, a, b, []byte("data/"), []byte("data0"), func(k, va, vb []byte) error { n++; return nil })
	if n != 3 {
		t.Fatalf("bounded diff saw %d changes, want 3", n)
	}
}

func TestTreeCommitCostIsLogarithmic(t *testing.T) {
	s := newMemNodes()
	base := map[string][]byte{}
	for i := 0; i < 100000; i++ {
		base[fmt.Sprintf("data/%07d", i)] = []byte("0123456789abcdef0123456789abcdef")
	}
	root, _ := treeApply(s, Hash{}, sortedMuts(base))
	s.puts = 0
	_, err := treeApply(s, root, []Mut{{Key: []byte("data/0031337"), Val: []byte("new")}})
	if err != nil {
		t.Fatal(err)
	}
	if s.puts > 6 {
		t.Fatalf("a one-key change on 100k keys wrote %d nodes", s.puts)
	}
}

// TestEncodeDecodedMatchesDecodeNode: the node the cache gets from
// encodeDecoded is the one decodeNode reads from the same encoding.
func TestEncodeDecodedMatchesDecodeNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    *node
	}{
		{"leaf", &node{leaf: true, keys: [][]byte{[]byte("a"), []byte("b\x00c")}, vals: [][]byte{{}, []byte("value")}}},
		{"internal", &node{keys: [][]byte{[]byte("a"), []byte("m")}, kids: []Hash{{1}, {2}}}},
		{"long key", &node{leaf: true, keys: [][]byte{bytes.Repeat([]byte("k"), 300)}, vals: [][]byte{bytes.Repeat([]byte("v"), 200)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, d := tc.n.encodeDecoded()
			if len(b) != cap(b) || len(b) != tc.n.encodedSize() {
				t.Fatalf("encoding: len %d cap %d, size %d", len(b), cap(b), tc.n.encodedSize())
			}
			want, err := decodeNode(b)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(d) != fmt.Sprint(want) {
				t.Fatalf("encodeDecoded gave %v, decodeNode %v", d, want)
			}
		})
	}
}
