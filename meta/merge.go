package meta

import (
	"container/heap"
	"context"
	"slices"
	"sort"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// Merge strategies for conflicting keys.
const (
	StrategyFail   = "fail"   // refuse, listing the conflicting keys
	StrategyOurs   = "ours"   // keep the destination's version
	StrategyTheirs = "theirs" // take the source's version
)

// MergeResult reports a merge.
type MergeResult struct {
	Commit      *Commit // the new head of the destination
	FastForward bool    // the destination moved to the source head, no new commit
	UpToDate    bool    // nothing to merge
	Conflicts   []string
	Changed     int // keys changed on the destination
}

type genItem struct {
	c     *Commit
	flags int
}

type genHeap []*genItem

func (h genHeap) Len() int           { return len(h) }
func (h genHeap) Less(i, j int) bool { return h[i].c.Gen > h[j].c.Gen }
func (h genHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *genHeap) Push(x any)        { *h = append(*h, x.(*genItem)) }
func (h *genHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeBaseTx finds a best common ancestor of a and b, walking both
// histories newest generation first and stopping at the first commit
// reached from both sides. Cost: the commits between the heads and the
// base.
func (s *Store) mergeBaseTx(txn kv.Reader, repo string, a, b *Commit) (*Commit, error) {
	if a.ID == b.ID {
		return a, nil
	}
	flags := map[string]int{a.ID: 1, b.ID: 2}
	h := &genHeap{{a, 1}, {b, 2}}
	for h.Len() > 0 {
		it := heap.Pop(h).(*genItem)
		f := flags[it.c.ID]
		if f == 3 {
			return it.c, nil
		}
		for _, p := range it.c.Parents {
			pf := flags[p]
			if pf|f == pf {
				continue
			}
			pc, err := s.commitTx(txn, repo, p)
			if err != nil {
				return nil, err
			}
			flags[p] = pf | f
			// (Re-)push: a commit reached again from the other side is
			// popped with its combined flags.
			heap.Push(h, &genItem{c: pc})
		}
	}
	return nil, nil
}

// Merge merges ref src of repo into branch dst: three-way on keys against
// their merge base. A key changed differently on both sides is a conflict,
// resolved by strategy (fail: nothing is written and the keys are listed
// with errs.Conflict). When dst is an ancestor of src the branch
// fast-forwards.
func (s *Store) Merge(ctx context.Context, repo, src, dst, strategy, author, msg string) (*MergeResult, error) {
	if strategy == "" {
		strategy = StrategyFail
	}
	if strategy != StrategyFail && strategy != StrategyOurs && strategy != StrategyTheirs {
		return nil, errs.E("meta.Merge", errs.Invalid, "unknown merge strategy %q: use fail, ours or theirs", strategy)
	}
	var res *MergeResult
	err := s.update(ctx, func(w *wtx) error {
		sref, err := w.s.resolveTx(w.txn, repo, src)
		if err != nil {
			return err
		}
		if sref.Commit == nil {
			return errs.E("meta.Merge", errs.Invalid, "cannot merge open commit %s; finish it first", src)
		}
		br, err := w.s.branchTx(w.txn, repo, dst)
		if err != nil {
			return err
		}
		if br.Output != "" {
			return errs.E("meta.Merge", errs.Permission, "branch %s of repo %s is read-only: it is the output of pipeline %s", dst, repo, br.Output)
		}
		head, err := w.s.commitTx(w.txn, repo, br.Head)
		if err != nil {
			return err
		}
		theirs := sref.Commit
		base, err := w.s.mergeBaseTx(w.txn, repo, theirs, head)
		if err != nil {
			return err
		}
		res = &MergeResult{}
		if base != nil && base.ID == theirs.ID {
			res.UpToDate, res.Commit = true, head
			return nil
		}
		if base != nil && base.ID == head.ID {
			res.FastForward, res.Commit = true, theirs
			return w.moveBranch(repo, br, theirs.ID, "fast-forward")
		}
		baseRoot := Hash{}
		if base != nil {
			baseRoot = base.Root
		}
		nodes := w.nodes()
		ours := map[string][]byte{}
		if err := treeDiff(nodes, baseRoot, head.Root, nil, nil, func(k, va, vb []byte) error {
			ours[string(k)] = append([]byte(nil), vb...)
			if vb == nil {
				ours[string(k)] = nil
			}
			return nil
		}); err != nil {
			return err
		}
		id := NewID()
		cs := &changeSet{id: id, now: w.now}
		err = treeDiff(nodes, baseRoot, theirs.Root, nil, nil, func(k, va, vb []byte) error {
			ov, changedOurs := ours[string(k)]
			if changedOurs {
				if sameContent(ov, vb) {
					return nil
				}
				switch strategy {
				case StrategyFail:
					res.Conflicts = append(res.Conflicts, string(k))
					return nil
				case StrategyOurs:
					return nil
				}
			}
			if vb == nil {
				if cur, ok, err := treeGet(nodes, head.Root, k); err != nil {
					return err
				} else if !ok || cur == nil {
					return nil
				}
			}
			return cs.add(k, vb)
		})
		if err != nil {
			return err
		}
		if len(res.Conflicts) > 0 {
			sort.Strings(res.Conflicts)
			return errs.E("meta.Merge", errs.Conflict, "merge of %s into %s has %d conflicting keys (first: %q); use strategy ours or theirs", src, dst, len(res.Conflicts), res.Conflicts[0]).Because(errs.Merge)
		}
		if msg == "" {
			msg = "merge " + src + " into " + dst
		}
		c, err := w.commit(head, br, id, commitSpec{muts: cs.muts, eff: cs.eff, author: author, msg: msg, extraParents: []string{theirs.ID}})
		if err != nil {
			return err
		}
		res.Commit, res.Changed = c, len(cs.muts)
		return nil
	})
	if err != nil {
		if res != nil && len(res.Conflicts) > 0 {
			return res, err
		}
		return nil, err
	}
	return res, nil
}

// changeSet accumulates the live-tree mutations and effective changes of a
// commit built from tree values (nil = delete), stamping entries with the
// new commit's id and time (the commit changed those keys relative to its
// first parent, so it is their version).
type changeSet struct {
	id   string
	now  time.Time
	muts []Mut
	eff  []Change
}

func (cs *changeSet) add(k, v []byte) error {
	key := append([]byte(nil), k...)
	if v == nil {
		cs.muts = append(cs.muts, Mut{Key: key})
		cs.eff = append(cs.eff, Change{Key: string(k)})
		return nil
	}
	e, err := DecodeEntry(v)
	if err != nil {
		return err
	}
	e.Version, e.Time, e.Null = cs.id, cs.now, false
	cs.muts = append(cs.muts, Mut{Key: key, Val: e.Encode()})
	cs.eff = append(cs.eff, Change{Key: string(k), Entry: e})
	return nil
}

// sameContent reports whether two encoded entries hold the same object
// (content and metadata), ignoring which commit wrote them.
func sameContent(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ea, err1 := DecodeEntry(a)
	eb, err2 := DecodeEntry(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ea.Version, eb.Version = "", ""
	ea.Time, eb.Time = time.Time{}, time.Time{}
	return string(ea.Encode()) == string(eb.Encode())
}

// Revert makes a commit on branch that undoes the changes commit id made
// relative to its first parent. A key changed again since is a conflict
// (nothing is written; the keys are listed).
func (s *Store) Revert(ctx context.Context, repo, branch, id, author string) (*Commit, []string, error) {
	var out *Commit
	var conflicts []string
	err := s.update(ctx, func(w *wtx) error {
		br, err := w.s.branchTx(w.txn, repo, branch)
		if err != nil {
			return err
		}
		if br.Output != "" || br.Protected {
			return errs.E("meta.Revert", errs.Permission, "branch %s of repo %s takes no direct writes", branch, repo)
		}
		head, err := w.s.commitTx(w.txn, repo, br.Head)
		if err != nil {
			return err
		}
		c, err := w.s.findCommitTx(w.txn, repo, id)
		if err != nil {
			return err
		}
		parentRoot := Hash{}
		if len(c.Parents) > 0 {
			p, err := w.s.commitTx(w.txn, repo, c.Parents[0])
			if err != nil {
				return err
			}
			parentRoot = p.Root
		}
		nid := NewID()
		nodes := w.nodes()
		cs := &changeSet{id: nid, now: w.now}
		err = treeDiff(nodes, c.Root, parentRoot, nil, nil, func(k, va, vb []byte) error {
			cur, ok, err := treeGet(nodes, head.Root, k)
			if err != nil {
				return err
			}
			if !ok {
				cur = nil
			}
			if !sameContent(cur, va) {
				conflicts = append(conflicts, string(k))
				return nil
			}
			return cs.add(k, vb)
		})
		if err != nil {
			return err
		}
		if len(conflicts) > 0 {
			return errs.E("meta.Revert", errs.Conflict, "cannot revert %s: %d keys changed since (first: %q)", c.ID, len(conflicts), conflicts[0]).Because(errs.Merge)
		}
		out, err = w.commit(head, br, nid, commitSpec{muts: cs.muts, eff: cs.eff, author: author, msg: "revert " + c.ID})
		return err
	})
	return out, conflicts, err
}

// Reset moves branch to the commit ref resolves to (O(1)); history after it
// is no longer on the branch.
func (s *Store) Reset(ctx context.Context, repo, branch, ref string) (*Commit, error) {
	var out *Commit
	err := s.update(ctx, func(w *wtx) error {
		br, err := w.s.branchTx(w.txn, repo, branch)
		if err != nil {
			return err
		}
		if br.Output != "" {
			return errs.E("meta.Reset", errs.Permission, "branch %s of repo %s is read-only: it is the output of pipeline %s", branch, repo, br.Output)
		}
		if br.Protected {
			return errs.E("meta.Reset", errs.Permission, "branch %s of repo %s is protected: it takes only merges; unprotect it to reset", branch, repo)
		}
		r, err := w.s.resolveTx(w.txn, repo, ref)
		if err != nil {
			return err
		}
		if r.Commit == nil {
			return errs.E("meta.Reset", errs.Invalid, "cannot reset to open commit %s", ref)
		}
		out = r.Commit
		return w.moveBranch(repo, br, r.Commit.ID, "reset")
	})
	return out, err
}

// SetBranchProtected protects or unprotects a branch; unprotecting clears
// its required pipelines.
func (s *Store) SetBranchProtected(ctx context.Context, repo, branch string, protected bool) error {
	return s.update(ctx, func(w *wtx) error {
		br, err := w.s.branchTx(w.txn, repo, branch)
		if err != nil {
			return err
		}
		br.Protected = protected
		if !protected {
			br.RequiredPipelines = nil
		}
		return kv.PutJSON(w.txn, pBranch+repo+"/"+branch, br)
	})
}

// SetBranchRequired sets the pipelines a merge into branch requires (a
// merge gate; nil or empty clears them), sorted and without duplicates.
// Invalid when pipelines is not empty and the branch is not protected;
// NotExist when the branch is unknown. meta stores the list only: whoever
// merges checks it (the admin API, with the pipelines service).
func (s *Store) SetBranchRequired(ctx context.Context, repo, branch string, pipelines []string) error {
	req := slices.Compact(slices.Sorted(slices.Values(pipelines)))
	if len(req) == 0 {
		req = nil
	}
	return s.update(ctx, func(w *wtx) error {
		br, err := w.s.branchTx(w.txn, repo, branch)
		if err != nil {
			return err
		}
		if !br.Protected && len(req) > 0 {
			return errs.E("meta.SetBranchRequired", errs.Invalid, "branch %s of repo %s is not protected: protect it to require pipelines", branch, repo)
		}
		br.RequiredPipelines = req
		return kv.PutJSON(w.txn, pBranch+repo+"/"+branch, br)
	})
}
