package pipelines

import (
	"context"
	"sort"
	"strings"

	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/kv"
)

// planner computes which datums of a job need work, from the diff of each
// input since the commit the last successful job processed: O(changed
// keys x log n) reads plus the size of the affected datums (and, for a
// cross, the datums of the other inputs that combine with them).
type planner struct {
	ctx     context.Context
	ms      *meta.Store
	rec     *meta.Records
	name    string // the state key: the pipeline, or a gate lane (gate.go)
	done    string // the pipeline, whose done datums (pDone) every lane shares
	version int
	leaves  []*PFSInput
	globs   []*Glob
	tree    *node
	state   *State
	full    bool
	newRoot []meta.Hash
	// delta holds per leaf the datums whose content changed: path -> new
	// LeafDatum (Hash "" when the datum vanished).
	delta []map[string]LeafDatum
	cache []map[string]*LeafDatum // committed leaf datums read so far
	// touched holds leaf datums whose committed datums plan re-examines
	// (groups and outer joins: group.go).
	touched map[LeafRef]bool
}

func newPlanner(ctx context.Context, ms *meta.Store, p *Pipeline, st *State, version int, newRoot []meta.Hash) (*planner, error) {
	spec := p.Spec
	pl := &planner{ctx: ctx, ms: ms, rec: ms.Records(namespace), name: spec.Name, done: spec.Name, version: version, leaves: spec.Leaves(),
		state: st, newRoot: newRoot}
	next := 0
	pl.tree = buildTree(&spec.Input, &next)
	for _, l := range pl.leaves {
		g, err := CompileGlob(l.Glob)
		if err != nil {
			return nil, err
		}
		pl.globs = append(pl.globs, g)
	}
	pl.full = st == nil || st.DatumVer() != version || len(st.Inputs) != len(pl.leaves)
	if !pl.full {
		for i, l := range pl.leaves {
			if st.Inputs[i].Repo != l.Repo || st.Inputs[i].Branch != l.Branch {
				pl.full = true
			}
		}
	}
	pl.delta = make([]map[string]LeafDatum, len(pl.leaves))
	pl.cache = make([]map[string]*LeafDatum, len(pl.leaves))
	for i := range pl.cache {
		pl.cache[i] = map[string]*LeafDatum{}
	}
	return pl, nil
}

// joinFor is the join key (or a group's input: the group key) of a leaf
// datum: a function of its path.
func (pl *planner) joinFor(i int, path string) string {
	t := pl.leaves[i].JoinOn
	if t == "" {
		t = pl.leaves[i].GroupBy
	}
	if t == "" {
		return ""
	}
	return Expand(t, pl.globs[i].Captures(path))
}

// computeLeaf hashes the datum at path of leaf i at its new root; false
// when it holds no keys.
func (pl *planner) computeLeaf(i int, path string) (LeafDatum, bool, error) {
	h := newLeafHasher()
	g := pl.globs[i]
	err := listDatum(pl.ctx, pl.ms, pl.newRoot[i], g, path, func(k string, e *meta.Entry) error {
		h.add(k, e.Content)
		return nil
	})
	if err != nil || h.n == 0 {
		return LeafDatum{}, false, err
	}
	return LeafDatum{Hash: h.sum(), Join: pl.joinFor(i, path), Files: h.n}, true, nil
}

// committed returns the committed leaf datum (nil if none).
func (pl *planner) committed(i int, path string) (*LeafDatum, error) {
	if pl.full {
		return nil, nil
	}
	if ld, ok := pl.cache[i][path]; ok {
		return ld, nil
	}
	var ld LeafDatum
	var found bool
	err := pl.rec.View(pl.ctx, func(txn kv.Reader) error {
		var err error
		found, err = kv.GetJSON(txn, leafKey(pl.name, i, path), &ld)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out *LeafDatum
	if found {
		out = &ld
	}
	pl.cache[i][path] = out
	return out, nil
}

// computeDelta fills delta from the diffs (or, for a full job, from every
// key of the new commits).
func (pl *planner) computeDelta() error {
	for i := range pl.leaves {
		d := map[string]LeafDatum{}
		g := pl.globs[i]
		if pl.full {
			hs := map[string]*leafHasher{}
			err := listPrefix(pl.ctx, pl.ms, pl.newRoot[i], "", func(k string, e *meta.Entry) error {
				p, ok := g.Datum(k)
				if !ok || !g.Contains(p, k) {
					return nil
				}
				h := hs[p]
				if h == nil {
					h = newLeafHasher()
					hs[p] = h
				}
				h.add(k, e.Content)
				return nil
			})
			if err != nil {
				return err
			}
			for p, h := range hs {
				d[p] = LeafDatum{Hash: h.sum(), Join: pl.joinFor(i, p), Files: h.n}
			}
			// Datums of the committed state that are gone.
			err = pl.rec.View(pl.ctx, func(txn kv.Reader) error {
				return kv.ScanKeys(txn, leafPrefix(pl.name, i), func(p string) error {
					if _, ok := d[p]; !ok {
						d[p] = LeafDatum{}
					}
					return nil
				})
			})
			if err != nil {
				return err
			}
			pl.delta[i] = d
			continue
		}
		old := pl.state.Inputs[i].Root
		if old == pl.newRoot[i] {
			pl.delta[i] = d
			continue
		}
		changed := map[string]bool{}
		err := pl.ms.Diff(pl.ctx, old, pl.newRoot[i], "", func(de meta.DiffEntry) error {
			if p, ok := g.Datum(de.Key); ok && g.Contains(p, de.Key) {
				changed[p] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		for p := range changed {
			ld, ok, err := pl.computeLeaf(i, p)
			if err != nil {
				return err
			}
			prev, err := pl.committed(i, p)
			if err != nil {
				return err
			}
			switch {
			case !ok && prev != nil:
				d[p] = LeafDatum{}
			case ok && (prev == nil || prev.Hash != ld.Hash || prev.Join != ld.Join):
				d[p] = ld
			}
		}
		pl.delta[i] = d
	}
	return nil
}

// ---- leafView over the committed state overlaid with delta ----

func (pl *planner) paths(i int, fn func(string) error) error {
	var ps []string
	if !pl.full {
		err := pl.rec.View(pl.ctx, func(txn kv.Reader) error {
			return kv.ScanKeys(txn, leafPrefix(pl.name, i), func(p string) error {
				if _, ch := pl.delta[i][p]; !ch {
					ps = append(ps, p)
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	ps = append(ps, pl.changed(i)...)
	for _, p := range ps {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func (pl *planner) changed(i int) []string {
	var ps []string
	for p, ld := range pl.delta[i] {
		if ld.Hash != "" {
			ps = append(ps, p)
		}
	}
	sort.Strings(ps)
	return ps
}

func (pl *planner) byJoin(i int, k string) ([]string, error) {
	var ps []string
	if !pl.full {
		err := pl.rec.View(pl.ctx, func(txn kv.Reader) error {
			return kv.ScanKeys(txn, joinPrefix(pl.name, i, k), func(p string) error {
				if _, ch := pl.delta[i][p]; !ch {
					ps = append(ps, p)
				}
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
	}
	for _, p := range pl.changed(i) {
		if pl.delta[i][p].Join == k {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

func (pl *planner) joinOf(i int, path string) (string, bool, error) {
	if ld, ok := pl.delta[i][path]; ok {
		return ld.Join, ld.Hash != "", nil
	}
	ld, err := pl.committed(i, path)
	if err != nil || ld == nil {
		return "", false, err
	}
	return ld.Join, true, nil
}

func (pl *planner) deltaKeys(i int) []string {
	seen := map[string]bool{}
	var ks []string
	for p, ld := range pl.delta[i] {
		k := ld.Join
		if ld.Hash == "" {
			// A removed leaf datum's key, from its path (an incremental
			// job runs the committed state's spec version).
			k = pl.joinFor(i, p)
		}
		if !seen[k] {
			seen[k] = true
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func (pl *planner) touch(r LeafRef) {
	if pl.touched == nil {
		pl.touched = map[LeafRef]bool{}
	}
	pl.touched[r] = true
}

func (pl *planner) leafHash(r LeafRef) string {
	if ld, ok := pl.delta[r.Leaf][r.Path]; ok {
		return ld.Hash
	}
	if ld, _ := pl.committed(r.Leaf, r.Path); ld != nil {
		return ld.Hash
	}
	return ""
}

// plan returns the job's datums that need work and the number of datums
// in the new input commits.
func (pl *planner) plan() ([]*JobDatum, int, error) {
	if err := pl.computeDelta(); err != nil {
		return nil, 0, err
	}
	if err := pl.touchFailed(); err != nil {
		return nil, 0, err
	}
	affected := map[string]combo{}
	add := func(c combo) error {
		affected[datumID(c)] = c
		return nil
	}
	var err error
	if pl.full {
		err = pl.tree.all(pl, add)
	} else {
		err = pl.tree.involving(pl, add)
	}
	if err != nil {
		return nil, 0, err
	}
	// Committed datums that held a changed leaf datum (all, for a full job).
	old := map[string]bool{}
	err = pl.rec.View(pl.ctx, func(txn kv.Reader) error {
		if pl.full {
			return kv.ScanKeys(txn, pTop+pl.name+"/", func(id string) error { old[id] = true; return nil })
		}
		for i := range pl.leaves {
			for p := range pl.delta[i] {
				err := kv.ScanKeys(txn, revPrefix(pl.name, LeafRef{Leaf: i, Path: p}), func(id string) error {
					old[id] = true
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		for r := range pl.touched {
			if _, ok := pl.delta[r.Leaf][r.Path]; ok {
				continue
			}
			err := kv.ScanKeys(txn, revPrefix(pl.name, r), func(id string) error {
				old[id] = true
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	total := 0
	if pl.state != nil && !pl.full {
		total = pl.state.Datums
	}
	var out []*JobDatum
	ids := make([]string, 0, len(affected))
	for id := range affected {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	err = pl.rec.View(pl.ctx, func(txn kv.Reader) error {
		for _, id := range ids {
			c := affected[id]
			h := datumHash(pl.version, pl.leaves, c, pl.leafHash)
			var td TopDatum
			had := false
			if old[id] {
				var err error
				if had, err = kv.GetJSON(txn, pTop+pl.name+"/"+id, &td); err != nil {
					return err
				}
			}
			if !had || pl.full {
				total++
			}
			if had && td.Hash == h {
				continue
			}
			jd := &JobDatum{ID: id, Hash: h, Leaves: c, Action: ActProcess, State: DatumPending}
			if had {
				jd.OldOutputs = td.Outputs
			}
			var dd DoneDatum
			if ok, err := kv.GetJSON(txn, pDone+pl.done+"/"+h, &dd); err != nil {
				return err
			} else if ok {
				jd.Action = ActCarry
			}
			out = append(out, jd)
		}
		rm := make([]string, 0)
		for id := range old {
			if _, ok := affected[id]; !ok {
				rm = append(rm, id)
			}
		}
		sort.Strings(rm)
		for _, id := range rm {
			var td TopDatum
			ok, err := kv.GetJSON(txn, pTop+pl.name+"/"+id, &td)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if !pl.full {
				total--
			}
			out = append(out, &JobDatum{ID: id, Leaves: td.Leaves, Action: ActRemove, State: DatumPending, OldOutputs: td.Outputs})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// leafDeltas returns the job's leaf datum changes as records to persist.
func (pl *planner) leafDeltas(job string) map[string]LeafDatum {
	out := map[string]LeafDatum{}
	for i, d := range pl.delta {
		for p, ld := range d {
			out[jobLeafKey(job, i, p)] = ld
		}
	}
	return out
}

// splitJobLeafKey parses "<leaf %02d>/<path>" (after the job prefix).
func splitJobLeafKey(k string) (int, string, bool) {
	i := strings.IndexByte(k, '/')
	if i < 0 {
		return 0, "", false
	}
	n := 0
	for _, c := range k[:i] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		n = n*10 + int(c-'0')
	}
	return n, k[i+1:], true
}
