package meta

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// GCStats reports a metadata collection.
type GCStats struct {
	CommitsKept    int
	CommitsDeleted int
	NodesKept      int
	NodesDeleted   int
}

// GC collects metadata: commits that no branch, tag, open commit or
// provenance record reaches and that are older than retention are deleted,
// then every tree node that
// no kept commit or open commit references. It returns the set of content
// hashes (SHA-256 hex) that kept versions and the parts of multipart
// uploads in flight reference: blobs outside it are
// garbage, except those a concurrent write is about to reference (the
// caller protects those).
//
// Concurrency: marking reads one snapshot at ts T, taken between two
// committer ops; only nodes last written at or before T are candidates, so
// nodes written by commits after T are never deleted. Cost: O(distinct nodes of kept history) reads.
func (s *Store) GC(ctx context.Context, retention time.Duration, dryRun bool) (map[string]bool, *GCStats, error) {
	now := s.opts.Now()
	st := &GCStats{}
	content := map[string]bool{}
	markedNodes := map[Hash]bool{}
	var deadCommits [][]byte
	var deadNodes [][]byte

	// The marking snapshot is taken on the committer between two ops, after
	// flushing: an op may write its tree nodes in earlier transactions than
	// its commit record (see wnodes.putNode), so a snapshot taken in the
	// middle of an op could see nodes that no commit references yet.
	var snap *badger.Txn
	if err := s.update(ctx, func(w *wtx) error {
		if err := w.flush(); err != nil {
			return err
		}
		snap = s.db.NewTransaction(false)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	defer snap.Discard()
	err := func(txn *badger.Txn) error {
		readTs := txn.ReadTs()
		// Roots: branch heads, tags, open commits (base and working tree).
		type root struct{ repo, id string }
		var roots []root
		var openRoots []Hash
		scan := func(prefix string, fn func(key string, val []byte) error) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := ctxErr(ctx, "meta.GC"); err != nil {
					return err
				}
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				if err := fn(string(it.Item().Key()), v); err != nil {
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
			roots = append(roots, root{repoOf(k, pBranch), b.Head})
			return nil
		}); err != nil {
			return err
		}
		if err := scan(pTag, func(k string, v []byte) error {
			var t Tag
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			roots = append(roots, root{repoOf(k, pTag), t.Commit})
			return nil
		}); err != nil {
			return err
		}
		if err := scan(pOpen, func(k string, v []byte) error {
			var o OpenCommit
			if err := json.Unmarshal(v, &o); err != nil {
				return err
			}
			roots = append(roots, root{o.Repo, o.Base})
			openRoots = append(openRoots, o.Root)
			return nil
		}); err != nil {
			return err
		}
		// Parts of multipart uploads in flight are live (uploads.go).
		if err := s.liveUploadParts(ctx, txn, content); err != nil {
			return err
		}
		// Commits named by provenance records are roots too (prov.go).
		if err := s.provRoots(ctx, txn, func(repo, id string) { roots = append(roots, root{repo, id}) }); err != nil {
			return err
		}
		// Reachable commits.
		reach := map[string]bool{}
		stack := roots
		for len(stack) > 0 {
			r := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			key := r.repo + "/" + r.id
			if reach[key] {
				continue
			}
			reach[key] = true
			c, err := s.commitTx(txn, r.repo, r.id)
			if err != nil {
				continue // a dangling parent of a deleted repo
			}
			for _, p := range c.Parents {
				stack = append(stack, root{r.repo, p})
			}
		}
		// Kept commits: reachable, or younger than retention.
		var keptRoots []Hash
		if err := scan(pCommit, func(k string, v []byte) error {
			var c Commit
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			if reach[k[len(pCommit):]] || now.Sub(c.Time) < retention {
				st.CommitsKept++
				keptRoots = append(keptRoots, c.Root, c.VRoot)
				return nil
			}
			st.CommitsDeleted++
			deadCommits = append(deadCommits, []byte(k))
			return nil
		}); err != nil {
			return err
		}
		// Mark nodes and collect content hashes from leaves.
		src := txnNodes{s, txn}
		var mark func(h Hash) error
		mark = func(h Hash) error {
			if h.IsZero() || markedNodes[h] {
				return nil
			}
			markedNodes[h] = true
			n, err := src.getNode(h)
			if err != nil {
				return err
			}
			if n.leaf {
				for _, v := range n.vals {
					e, err := DecodeEntry(v)
					if err != nil {
						return err
					}
					// Purged content is garbage wherever old leaves still
					// name it.
					if e.Content != "" && !s.IsPurged(e.Content) {
						content[e.Content] = true
					}
				}
				return nil
			}
			for _, k := range n.kids {
				if err := mark(k); err != nil {
					return err
				}
			}
			return nil
		}
		for _, h := range append(keptRoots, openRoots...) {
			if err := mark(h); err != nil {
				return err
			}
		}
		st.NodesKept = len(markedNodes)
		// Sweep candidates: unmarked nodes written at or before readTs.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pNode)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var h Hash
			copy(h[:], item.Key()[len(pNode):])
			if !markedNodes[h] && item.Version() <= readTs {
				deadNodes = append(deadNodes, item.KeyCopy(nil))
			}
		}
		return nil
	}(snap)
	if err != nil {
		return nil, nil, err
	}
	st.NodesDeleted = len(deadNodes)
	if dryRun {
		return content, st, nil
	}
	dead := append(deadCommits, deadNodes...)
	for len(dead) > 0 {
		n := min(len(dead), 5000)
		batch := dead[:n]
		dead = dead[n:]
		if err := s.Update(ctx, func(txn *badger.Txn) error {
			for _, k := range batch {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, nil, err
		}
	}
	for _, k := range deadCommits {
		s.commits.Delete(string(k[len(pCommit):]))
	}
	return content, st, nil
}

// ValueLogGC runs Badger's value-log garbage collection until it finds
// nothing worth rewriting.
func (s *Store) ValueLogGC() {
	for s.db.RunValueLogGC(0.5) == nil {
	}
}
