package pipelines

import "sort"

// Group inputs and outer joins over the input tree (datum.go).
//
// A group's datum is, for one group key, every leaf datum of every one of
// its pfs inputs whose group_by key is that key: one datum per distinct
// key, holding all of them (several of one input as well as across
// inputs). A leaf datum that appears, changes or vanishes changes the
// group's datum of its key: its id (made of its leaf datums) changes too.
//
// An outer join's datums for one join key are the cross product of the
// matching leaf datums of the inputs that have that key, when either every
// input has it (an inner match) or one of the inputs that have it is an
// outer_join input. So with inputs A and B: A outer is a left join (A's
// unmatched datums alone), both outer a full outer join, none an inner
// join. A leaf datum that appears or vanishes may thus change other
// datums of its key (an unmatched A datum alone becomes A x B and back).
//
// Incremental planning re-enumerates the keys of every changed or removed
// leaf datum and touches the leaf datums that still have those keys, so
// that the committed datums holding them that the job no longer produces
// are removed (planner.plan).

// eachKey calls fn for every distinct key among the leaf datums of n's
// inputs, in order.
func (n *node) eachKey(v leafView, fn func(k string) error) error {
	seen := map[string]bool{}
	for _, kid := range n.kids {
		err := v.paths(kid.leaf, func(p string) error {
			k, ok, err := v.joinOf(kid.leaf, p)
			if err == nil && ok {
				seen[k] = true
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// keyPaths returns per input of n the paths of its leaf datums with key k,
// touching them when mark is set.
func (n *node) keyPaths(v leafView, k string, mark bool) ([][]string, error) {
	sets := make([][]string, len(n.kids))
	for i, kid := range n.kids {
		ps, err := v.byJoin(kid.leaf, k)
		if err != nil {
			return nil, err
		}
		sets[i] = ps
		if mark {
			for _, p := range ps {
				v.touch(LeafRef{Leaf: kid.leaf, Path: p})
			}
		}
	}
	return sets, nil
}

// groupKey reports the group's datum for key k, if any leaf datum has it.
func (n *node) groupKey(v leafView, k string, mark bool, fn func(combo) error) error {
	sets, err := n.keyPaths(v, k, mark)
	if err != nil {
		return err
	}
	var c combo
	for i, ps := range sets {
		for _, p := range ps {
			c = append(c, LeafRef{Leaf: n.kids[i].leaf, Path: p})
		}
	}
	if len(c) == 0 {
		return nil
	}
	sortCombo(c)
	return fn(c)
}

// outerJoinKey enumerates an outer join's datums with join key k.
func (n *node) outerJoinKey(v leafView, k string, mark bool, fn func(combo) error) error {
	sets, err := n.keyPaths(v, k, mark)
	if err != nil {
		return err
	}
	var kids []int
	outer := false
	for i, ps := range sets {
		if len(ps) > 0 {
			kids = append(kids, i)
			outer = outer || n.kids[i].outer
		}
	}
	if len(kids) == 0 || (len(kids) < len(n.kids) && !outer) {
		return nil
	}
	var rec func(j int, acc combo) error
	rec = func(j int, acc combo) error {
		if j == len(kids) {
			return fn(acc)
		}
		i := kids[j]
		for _, p := range sets[i] {
			if err := rec(j+1, mergeCombos(acc, combo{{Leaf: n.kids[i].leaf, Path: p}})); err != nil {
				return err
			}
		}
		return nil
	}
	return rec(0, nil)
}

// deltaKeys is the sorted union of the keys changed under n's inputs.
func (n *node) deltaKeys(v leafView) []string {
	seen := map[string]bool{}
	var keys []string
	for _, kid := range n.kids {
		for _, k := range v.deltaKeys(kid.leaf) {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// keyedInvolving enumerates the datums of a group or an outer join whose
// key changed, touching the leaf datums that have those keys.
func (n *node) keyedInvolving(v leafView, fn func(combo) error) error {
	for _, k := range n.deltaKeys(v) {
		var err error
		if n.kind == "group" {
			err = n.groupKey(v, k, true, fn)
		} else {
			err = n.outerJoinKey(v, k, true, fn)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
