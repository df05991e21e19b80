package pipelines

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"
	"strconv"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
)

// leafHasher hashes a leaf datum's (key, content) pairs in key order.
type leafHasher struct {
	h hash.Hash
	n int
}

func newLeafHasher() *leafHasher { return &leafHasher{h: sha256.New()} }

func (l *leafHasher) add(key, content string) {
	var b [binary.MaxVarintLen64]byte
	l.h.Write(b[:binary.PutUvarint(b[:], uint64(len(key)))])
	l.h.Write([]byte(key))
	l.h.Write([]byte(content))
	l.n++
}

func (l *leafHasher) sum() string { return hex.EncodeToString(l.h.Sum(nil)) }

// datumID names a datum by its leaf datums (sorted by leaf).
func datumID(refs []LeafRef) string {
	h := sha256.New()
	for _, r := range refs {
		h.Write([]byte(strconv.Itoa(r.Leaf)))
		h.Write([]byte{0})
		h.Write([]byte(r.Path))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// datumHash is a datum's content hash for a pipeline version: equal hashes
// mean byte-identical inputs staged at the same paths.
func datumHash(version int, leaves []*PFSInput, refs []LeafRef, leafHash func(LeafRef) string) string {
	h := sha256.New()
	h.Write([]byte("v" + strconv.Itoa(version) + "\x00"))
	for _, r := range refs {
		h.Write([]byte(leaves[r.Leaf].Name))
		h.Write([]byte{0})
		h.Write([]byte(r.Path))
		h.Write([]byte{0})
		h.Write([]byte(leafHash(r)))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// listDatum returns the keys (with entries) of datum path of glob g at
// root, in key order.
func listDatum(ctx context.Context, ms *meta.Store, root meta.Hash, g *Glob, path string, fn func(key string, e *meta.Entry) error) error {
	if !g.Whole() {
		e, err := ms.Get(ctx, root, path)
		if err == nil {
			if err := fn(path, e); err != nil {
				return err
			}
		} else if !isNotExist(err) {
			return err
		}
		if g.files {
			return nil
		}
		return listPrefix(ctx, ms, root, path+"/", fn)
	}
	return listPrefix(ctx, ms, root, "", fn)
}

// listPrefix lists every key under prefix at root.
func listPrefix(ctx context.Context, ms *meta.Store, root meta.Hash, prefix string, fn func(key string, e *meta.Entry) error) error {
	after := ""
	for {
		pg, err := ms.List(ctx, root, prefix, "", after, 1000)
		if err != nil {
			return err
		}
		for _, ke := range pg.Entries {
			if err := fn(ke.Key, ke.Entry); err != nil {
				return err
			}
		}
		if !pg.Truncated || pg.Next == "" {
			return nil
		}
		after = pg.Next
	}
}

// node is the input tree with leaf indexes.
type node struct {
	leaf int // pfs: index into leaves; -1 otherwise
	kind string
	kids []*node
	// outer marks a join's pfs input with outer_join; outerJoin a join
	// with at least one such input (group.go).
	outer, outerJoin bool
}

func buildTree(in *Input, next *int) *node {
	if in.PFS != nil {
		n := &node{leaf: *next, kind: "pfs", outer: in.PFS.OuterJoin}
		*next++
		return n
	}
	n := &node{leaf: -1}
	list := in.Cross
	n.kind = "cross"
	if in.Union != nil {
		list, n.kind = in.Union, "union"
	}
	if in.Join != nil {
		list, n.kind = in.Join, "join"
	}
	if in.Group != nil {
		list, n.kind = in.Group, "group"
	}
	for i := range list {
		kid := buildTree(&list[i], next)
		n.outerJoin = n.outerJoin || kid.outer
		n.kids = append(n.kids, kid)
	}
	return n
}

// leafView is a set of leaf datums: the committed state overlaid with a
// job's changes.
type leafView interface {
	// paths calls fn for every datum path of leaf i.
	paths(i int, fn func(path string) error) error
	// byJoin returns the paths of leaf i whose join key is k.
	byJoin(i int, k string) ([]string, error)
	// changed returns the paths of leaf i changed by the job that still
	// exist (not removed).
	changed(i int) []string
	// joinOf returns the join key of an existing leaf datum.
	joinOf(i int, path string) (string, bool, error)
	// deltaKeys returns the sorted distinct join (or group) keys of the
	// leaf datums of leaf i changed by the job, removed ones included.
	deltaKeys(i int) []string
	// touch marks a leaf datum whose committed datums must be checked
	// again: any of them that the job does not produce is removed.
	touch(r LeafRef)
}

type combo []LeafRef

func mergeCombos(a, b combo) combo {
	out := make(combo, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	sortCombo(out)
	return out
}

// sortCombo orders a datum's leaf datums by leaf, then path (a group's
// datum holds several of one leaf).
func sortCombo(c combo) {
	sort.Slice(c, func(i, j int) bool {
		if c[i].Leaf != c[j].Leaf {
			return c[i].Leaf < c[j].Leaf
		}
		return c[i].Path < c[j].Path
	})
}

// all enumerates every datum of n.
func (n *node) all(v leafView, fn func(combo) error) error {
	switch n.kind {
	case "pfs":
		return v.paths(n.leaf, func(p string) error { return fn(combo{{Leaf: n.leaf, Path: p}}) })
	case "union":
		for _, k := range n.kids {
			if err := k.all(v, fn); err != nil {
				return err
			}
		}
		return nil
	case "cross":
		return n.crossFrom(v, -1, nil, fn)
	case "group":
		return n.eachKey(v, func(k string) error { return n.groupKey(v, k, false, fn) })
	case "join":
		if n.outerJoin {
			return n.eachKey(v, func(k string) error { return n.outerJoinKey(v, k, false, fn) })
		}
		// Every join key of the first input, then the matching datums of
		// the others.
		seen := map[string]bool{}
		return v.paths(n.kids[0].leaf, func(p string) error {
			k, ok, err := v.joinOf(n.kids[0].leaf, p)
			if err != nil || !ok || seen[k] {
				return err
			}
			seen[k] = true
			return n.joinKey(v, k, fn)
		})
	}
	return nil
}

// crossFrom enumerates the cross product of kids, with kid fixed (when
// >= 0) replaced by the given datums (fixedSet). Each kid's datums are
// read once.
func (n *node) crossFrom(v leafView, fixed int, fixedSet []combo, fn func(combo) error) error {
	sets := make([][]combo, len(n.kids))
	for i, kid := range n.kids {
		if i == fixed {
			sets[i] = fixedSet
			continue
		}
		if err := kid.all(v, func(c combo) error { sets[i] = append(sets[i], c); return nil }); err != nil {
			return err
		}
		if len(sets[i]) == 0 {
			return nil
		}
	}
	var rec func(i int, acc combo) error
	rec = func(i int, acc combo) error {
		if i == len(sets) {
			return fn(acc)
		}
		for _, c := range sets[i] {
			if err := rec(i+1, mergeCombos(acc, c)); err != nil {
				return err
			}
		}
		return nil
	}
	return rec(0, nil)
}

// joinKey enumerates the join's datums with join key k.
func (n *node) joinKey(v leafView, k string, fn func(combo) error) error {
	sets := make([][]string, len(n.kids))
	for i, kid := range n.kids {
		ps, err := v.byJoin(kid.leaf, k)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return nil
		}
		sets[i] = ps
	}
	var rec func(i int, acc combo) error
	rec = func(i int, acc combo) error {
		if i == len(sets) {
			return fn(acc)
		}
		for _, p := range sets[i] {
			if err := rec(i+1, mergeCombos(acc, combo{{Leaf: n.kids[i].leaf, Path: p}})); err != nil {
				return err
			}
		}
		return nil
	}
	return rec(0, nil)
}

// involving enumerates the datums of n that hold a changed (still
// existing) leaf datum. A datum may be reported more than once.
func (n *node) involving(v leafView, fn func(combo) error) error {
	switch n.kind {
	case "pfs":
		for _, p := range v.changed(n.leaf) {
			if err := fn(combo{{Leaf: n.leaf, Path: p}}); err != nil {
				return err
			}
		}
		return nil
	case "union":
		for _, k := range n.kids {
			if err := k.involving(v, fn); err != nil {
				return err
			}
		}
		return nil
	case "cross":
		for j, kid := range n.kids {
			var set []combo
			if err := kid.involving(v, func(c combo) error { set = append(set, c); return nil }); err != nil {
				return err
			}
			if len(set) == 0 {
				continue
			}
			if err := n.crossFrom(v, j, set, fn); err != nil {
				return err
			}
		}
		return nil
	case "group":
		return n.keyedInvolving(v, fn)
	case "join":
		if n.outerJoin {
			return n.keyedInvolving(v, fn)
		}
		keys := map[string]bool{}
		for _, kid := range n.kids {
			for _, p := range v.changed(kid.leaf) {
				k, ok, err := v.joinOf(kid.leaf, p)
				if err != nil {
					return err
				}
				if ok {
					keys[k] = true
				}
			}
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			if err := n.joinKey(v, k, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// describeDatum renders a datum's leaves as "name:path" ("name:/" for a
// whole-commit datum).
func describeDatum(leaves []*PFSInput, refs []LeafRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		name := "?"
		if r.Leaf < len(leaves) {
			name = leaves[r.Leaf].Name
		}
		p := r.Path
		if p == "" {
			p = "/"
		}
		out = append(out, name+":"+p)
	}
	return out
}

func isNotExist(err error) bool { return errs.Is(err, errs.NotExist) }
