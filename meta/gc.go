package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tusk-data/tusk/meta/kv"
)

// GCStats reports a metadata collection.
type GCStats struct {
	CommitsKept    int
	CommitsDeleted int
	NodesKept      int
	NodesDeleted   int
}

// commitRef names a commit of a repo.
type commitRef struct{ repo, id string }

func (c commitRef) key() string { return c.repo + "/" + c.id }

// gcMarker marks commits and tree nodes as live, and the contents that
// views reach.
type gcMarker struct {
	s       *Store
	src     nodeSource
	reach   map[string]bool   // "repo/id" of live commits
	marked  map[Hash]bool     // live tree nodes
	cmarked map[repoNode]bool // tree nodes whose contents are counted live, per repo
	content map[string]bool
}

// mark marks the tree at h, skipping subtrees already marked.
func (m *gcMarker) mark(h Hash) error {
	if h.IsZero() || m.marked[h] {
		return nil
	}
	m.marked[h] = true
	n, err := m.src.getNode(h)
	if err != nil {
		return err
	}
	if n.leaf {
		return nil
	}
	for _, k := range n.kids {
		if err := m.mark(k); err != nil {
			return err
		}
	}
	return nil
}

// repoNode is a tree node as seen from one repo (purges are per repo).
type repoNode struct {
	repo string
	h    Hash
}

// markContent counts live the contents the leaves of the tree at h (of
// repo) name, skipping subtrees already counted. Purged versions are never
// live.
func (m *gcMarker) markContent(repo string, h Hash) error {
	if h.IsZero() || m.cmarked[repoNode{repo, h}] {
		return nil
	}
	m.cmarked[repoNode{repo, h}] = true
	n, err := m.src.getNode(h)
	if err != nil {
		return err
	}
	if n.leaf {
		for _, v := range n.vals {
			e, err := DecodeEntry(v)
			if err != nil {
				return err
			}
			if e.Content != "" && !m.s.purgedIn(repo, e) {
				m.content[e.Content] = true
			}
		}
		return nil
	}
	for _, k := range n.kids {
		if err := m.markContent(repo, k); err != nil {
			return err
		}
	}
	return nil
}

// markViews counts live the contents of what views show: the live and
// version trees of the view commits and the open commits' working trees
// (SPEC §3: bytes are freed once no branch view, tag, open commit or
// provenance record reaches the version; an ancestor commit alone does
// not keep a removed version's bytes).
func (m *gcMarker) markViews(txn kv.Reader, views []commitRef, openRoots []repoNode) error {
	for _, r := range views {
		c, err := m.s.commitTx(txn, r.repo, r.id)
		if err != nil {
			continue
		}
		if err := m.markContent(r.repo, c.Root); err != nil {
			return err
		}
		if err := m.markContent(r.repo, c.VRoot); err != nil {
			return err
		}
	}
	for _, o := range openRoots {
		if err := m.markContent(o.repo, o.h); err != nil {
			return err
		}
	}
	return nil
}

// walk marks every commit reachable from roots that is not marked yet, with
// its trees. revived, when non-nil, is told of each commit it marks.
func (m *gcMarker) walk(txn kv.Reader, roots []commitRef, revived func(commitRef)) error {
	stack := roots
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if m.reach[r.key()] {
			continue
		}
		m.reach[r.key()] = true
		c, err := m.s.commitTx(txn, r.repo, r.id)
		if err != nil {
			continue // a dangling parent of a deleted repo
		}
		if revived != nil {
			revived(r)
		}
		if err := m.mark(c.Root); err != nil {
			return err
		}
		if err := m.mark(c.VRoot); err != nil {
			return err
		}
		for _, p := range c.Parents {
			stack = append(stack, commitRef{r.repo, p})
		}
	}
	return nil
}

// gcRoots lists what keeps commits and trees alive in txn: branch heads,
// tags, open commits (their base, and their working trees as openRoots),
// provenance records, and (when retention > 0) commits younger than it.
// views are the roots whose contents are live: all but the young
// commits, except the young tips (see below).
// Contents of multipart parts in flight are added to content.
func (s *Store) gcRoots(ctx context.Context, txn kv.Reader, now time.Time, retention time.Duration, content map[string]bool) (roots, views []commitRef, openRoots []repoNode, err error) {
	scan := func(prefix string, fn func(key string, val []byte) error) error {
		it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for ; it.Valid(); it.Next() {
			if err := ctxErr(ctx, "meta.GC"); err != nil {
				return err
			}
			v, err := valueCopy(it)
			if err != nil {
				return err
			}
			if err := fn(string(it.Key()), v); err != nil {
				return err
			}
		}
		return nil
	}
	repoOf := func(key, prefix string) string {
		rest := key[len(prefix):]
		return rest[:strings.IndexByte(rest, '/')]
	}
	if err := scan(pBranch, func(k string, v []byte) error {
		var b Branch
		if err := json.Unmarshal(v, &b); err != nil {
			return err
		}
		roots = append(roots, commitRef{repoOf(k, pBranch), b.Head})
		return nil
	}); err != nil {
		return nil, nil, nil, err
	}
	if err := scan(pTag, func(k string, v []byte) error {
		var t Tag
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		roots = append(roots, commitRef{repoOf(k, pTag), t.Commit})
		return nil
	}); err != nil {
		return nil, nil, nil, err
	}
	if err := scan(pOpen, func(k string, v []byte) error {
		var o OpenCommit
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		roots = append(roots, commitRef{o.Repo, o.Base})
		openRoots = append(openRoots, repoNode{o.Repo, o.Root})
		return nil
	}); err != nil {
		return nil, nil, nil, err
	}
	if err := s.liveUploadParts(ctx, txn, content); err != nil {
		return nil, nil, nil, err
	}
	if err := s.provRoots(ctx, txn, func(repo, id string) { roots = append(roots, commitRef{repo, id}) }); err != nil {
		return nil, nil, nil, err
	}
	views = append([]commitRef(nil), roots...)
	if retention > 0 {
		// Young commits are kept with their whole ancestry, so a branch
		// restored within the retention period has its history. The young
		// tips (commits no commit names as a parent: a deleted branch's
		// former head, the head a reset moved away from) are views too, so
		// that such a restore finds its bytes; a version removed from a
		// branch is not kept by them (its commit has a child on the branch).
		var young []commitRef
		parents := map[string]bool{}
		if err := scan(pCommit, func(k string, v []byte) error {
			var c Commit
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			for _, p := range c.Parents {
				parents[commitRef{c.Repo, p}.key()] = true
			}
			if now.Sub(c.Time) < retention {
				roots = append(roots, commitRef{c.Repo, c.ID})
				young = append(young, commitRef{c.Repo, c.ID})
			}
			return nil
		}); err != nil {
			return nil, nil, nil, err
		}
		for _, r := range young {
			if !parents[r.key()] {
				views = append(views, r)
			}
		}
	}
	return roots, views, openRoots, nil
}

// GC collects metadata: commits that no branch, tag, open commit or
// provenance record reaches and that are older than retention (with their
// ancestors younger ones are kept) are deleted, then every tree node that
// no kept commit or open commit references. It returns the set of content
// hashes (SHA-256 hex) that views reach (the live and version trees of
// branch heads, tags, open commits and their bases, commits that
// provenance records name) and the parts of multipart uploads in flight:
// blobs outside it are garbage, except those a concurrent write is about to
// reference (the caller protects those). A version removed from every view
// loses its bytes even while an ancestor commit still names it.
//
// Concurrency: marking reads a snapshot at ts T taken between two
// committer ops (an op may write its nodes in earlier transactions than its
// records). Deletion is one committer op that first re-marks from the refs
// of that moment whatever is not marked yet (commits made, branched, tagged
// or reset to since T, and their trees): a commit or node that became
// reachable again is never deleted, and only nodes written at or before T
// are candidates. Cost: O(distinct nodes of kept history) reads, plus the
// nodes written since T.
func (s *Store) GC(ctx context.Context, retention time.Duration, dryRun bool) (map[string]bool, *GCStats, error) {
	now := s.opts.Now()
	st := &GCStats{}
	m := &gcMarker{s: s, reach: map[string]bool{}, marked: map[Hash]bool{}, cmarked: map[repoNode]bool{}, content: map[string]bool{}}

	var snap kv.Txn
	if err := s.update(ctx, func(w *wtx) error {
		if err := w.flush(); err != nil {
			return err
		}
		var err error
		snap, err = s.db.Begin(false)
		return err
	}); err != nil {
		return nil, nil, err
	}
	defer snap.Discard()
	if s.gcAfterSnapshot != nil {
		s.gcAfterSnapshot()
	}
	m.src = txnNodes{s, snap}
	roots, views, openRoots, err := s.gcRoots(ctx, snap, now, retention, m.content)
	if err != nil {
		return nil, nil, err
	}
	if err := m.walk(snap, roots, nil); err != nil {
		return nil, nil, err
	}
	for _, o := range openRoots {
		if err := m.mark(o.h); err != nil {
			return nil, nil, err
		}
	}
	if err := m.markViews(snap, views, openRoots); err != nil {
		return nil, nil, err
	}
	// Candidates: commits not reached; nodes not marked, written by T (the
	// snapshot holds only those).
	deadCommits := map[string][]byte{}
	it := snap.Iter(kv.IterOptions{Prefix: []byte(pCommit)})
	for ; it.Valid(); it.Next() {
		k := bytes.Clone(it.Key())
		if !m.reach[string(k[len(pCommit):])] {
			deadCommits[string(k[len(pCommit):])] = k
		}
	}
	it.Close()
	var deadNodes []Hash
	it = snap.Iter(kv.IterOptions{Prefix: []byte(pNode)})
	for ; it.Valid(); it.Next() {
		var h Hash
		copy(h[:], it.Key()[len(pNode):])
		if !m.marked[h] {
			deadNodes = append(deadNodes, h)
		}
	}
	it.Close()
	if err := ctxErr(ctx, "meta.GC"); err != nil {
		return nil, nil, err
	}
	if dryRun {
		st.CommitsKept, st.CommitsDeleted = len(m.reach), len(deadCommits)
		st.NodesKept, st.NodesDeleted = len(m.marked), len(deadNodes)
		return m.content, st, nil
	}

	// Revalidate and delete, as one committer op.
	err = s.update(context.WithoutCancel(ctx), func(w *wtx) error {
		if err := w.flush(); err != nil {
			return err
		}
		m.src = w.nodes()
		roots, views, openRoots, err := s.gcRoots(ctx, w.txn, now, retention, m.content)
		if err != nil {
			return err
		}
		if err := m.walk(w.txn, roots, func(r commitRef) { delete(deadCommits, r.key()) }); err != nil {
			return err
		}
		for _, o := range openRoots {
			if err := m.mark(o.h); err != nil {
				return err
			}
		}
		if err := m.markViews(w.txn, views, openRoots); err != nil {
			return err
		}
		del := func(k []byte) error {
			err := w.txn.Delete(k)
			if errors.Is(err, kv.ErrTxnTooBig) {
				if err := w.flush(); err != nil {
					return err
				}
				err = w.txn.Delete(k)
			}
			return err
		}
		for ck, k := range deadCommits {
			if err := del(k); err != nil {
				return err
			}
			s.commits.Delete(ck)
			st.CommitsDeleted++
		}
		for _, h := range deadNodes {
			if m.marked[h] {
				continue
			}
			if err := del(append([]byte(pNode), h[:]...)); err != nil {
				return err
			}
			st.NodesDeleted++
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	st.CommitsKept, st.NodesKept = len(m.reach), len(m.marked)
	return m.content, st, nil
}

// ValueLogGC reclaims the space of deleted records when the KV store can
// (its kv.Compacter capability: Badger's value-log GC); otherwise it does
// nothing.
func (s *Store) ValueLogGC() {
	if c, ok := s.db.(kv.Compacter); ok {
		_ = c.Compact(context.Background())
	}
}
