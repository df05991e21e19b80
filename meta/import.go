package meta

import (
	"bytes"
	"context"
	"sort"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta/kv"
)

// DefaultImportChunk is how many entries an Import stages per committer op
// when ImportRequest.Chunk is 0.
const DefaultImportChunk = 4096

// ImportRequest starts a bulk import (Store.StartImport).
type ImportRequest struct {
	Repo    string
	Branch  string
	Author  string
	Message string
	Meta    map[string]string
	// Chunk is how many entries are staged per committer op (0:
	// DefaultImportChunk). It bounds the import's memory: the entries of one
	// chunk, never the whole import.
	Chunk int
}

// Import registers many keys on a branch as ONE commit without holding
// them all in memory and without one commit per key.
//
// How: StartImport opens a commit on the branch (an ordinary open commit,
// listed by ListOpen, so that GC keeps what is staged and a crash leaves
// nothing visible on the branch). Add buffers entries, in any order; every
// Chunk entries one committer op applies them, sorted, to the open commit's
// working tree, which is thereby the import's bounded-memory sort. Finish
// lands the working tree on the branch head in one committer op that walks
// the difference from the base in key order and applies it to the live
// and version trees Chunk keys at a time, then writes the commit record and
// moves the branch: one commit, whose id is the open commit's.
//
// Costs (N imported keys, n keys in the repo): staging O(N log N) node
// writes spread over N/Chunk committer ops, interleaved with other writes;
// Finish O(N log(n+N)) in one committer op, during which other writes
// wait (measured in BenchmarkImport). Memory: O(Chunk) entries.
//
// An Import is not safe for concurrent use. Abort (or a failed Finish)
// leaves the branch untouched.
type Import struct {
	s     *Store
	req   ImportRequest
	id    string
	buf   []Mut
	added int
}

// StartImport opens the import's commit on req.Branch. Errors as
// StartCommit (NoSuchBucket for an unknown repo or branch, Permission for a
// protected or pipeline output branch); Invalid on a branch whose
// versioning is Suspended (null versions are not imported).
func (s *Store) StartImport(ctx context.Context, req ImportRequest) (*Import, error) {
	if req.Chunk <= 0 {
		req.Chunk = DefaultImportChunk
	}
	br, err := s.branch(ctx, req.Repo, req.Branch)
	if err != nil {
		return nil, err
	}
	if br.Versioning == VersioningSuspended {
		return nil, errs.E("meta.StartImport", errs.Invalid, "branch %s of repo %s has versioning Suspended: import into a branch with versioning Enabled", req.Branch, req.Repo)
	}
	oc, err := s.StartCommit(ctx, req.Repo, req.Branch, req.Author, req.Message, req.Meta, false)
	if err != nil {
		return nil, err
	}
	return &Import{s: s, req: req, id: oc.ID}, nil
}

// branch reads a branch record.
func (s *Store) branch(ctx context.Context, repo, name string) (*Branch, error) {
	if err := ctxErr(ctx, "meta.branch"); err != nil {
		return nil, err
	}
	var br *Branch
	err := s.view(func(txn kv.Reader) error {
		var err error
		br, err = s.branchTx(txn, repo, name)
		return err
	})
	return br, err
}

// ID is the import's commit id: its open commit's now, the branch's
// commit once finished.
func (im *Import) ID() string { return im.id }

// Buffered is how many added entries are not staged yet (0 right after
// a Flush, including the one Add makes when the buffer fills).
func (im *Import) Buffered() int { return len(im.buf) }

// Added is how many entries Add took (a key added twice counts twice).
func (im *Import) Added() int { return im.added }

// Add buffers key with entry e (its Version and Time are stamped at
// Finish; Deleted and Null are ignored). When the buffer holds Chunk
// entries it is staged (Flush). A key added twice keeps the last entry.
// Invalid for a key that is not a valid S3 key.
func (im *Import) Add(ctx context.Context, key string, e *Entry) error {
	if err := names.ValidKey(key); err != nil {
		return err
	}
	if e == nil {
		return errs.E("meta.Import", errs.Invalid, "no entry for key %q", key)
	}
	x := *e
	x.Version, x.Time, x.Deleted, x.Null = im.id, im.s.opts.Now().UTC(), false, false
	im.buf = append(im.buf, Mut{Key: []byte(key), Val: x.Encode()})
	im.added++
	if len(im.buf) >= im.req.Chunk {
		return im.Flush(ctx)
	}
	return nil
}

// Flush stages the buffered entries into the open commit's working tree
// (one committer op, durable when Flush returns). Once staged, an entry's
// content is kept by GC as part of an open commit.
func (im *Import) Flush(ctx context.Context) error {
	if len(im.buf) == 0 {
		return nil
	}
	muts := sortMuts(im.buf)
	err := im.s.update(ctx, func(w *wtx) error {
		oc, err := w.openTx(im.req.Repo, im.id)
		if err != nil {
			return err
		}
		root, err := treeApply(w.nodes(), oc.Root, muts)
		if err != nil {
			return err
		}
		if err := w.roomForRecords(); err != nil {
			return err
		}
		oc.Root = root
		return kv.PutJSON(w.txn, pOpen+im.req.Repo+"/"+oc.ID, oc)
	})
	if err != nil {
		return err
	}
	im.buf = im.buf[:0]
	return nil
}

// sortMuts sorts muts by key in place, keeping the last of equal keys.
func sortMuts(muts []Mut) []Mut {
	sort.SliceStable(muts, func(i, j int) bool { return bytes.Compare(muts[i].Key, muts[j].Key) < 0 })
	out := muts[:0]
	for i, m := range muts {
		if i+1 < len(muts) && bytes.Equal(muts[i+1].Key, m.Key) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// Finish stages what is buffered and lands the import as one commit on the
// branch's current head (imported keys win over changes made on the branch
// meanwhile, as an open commit's do). Every imported key's new version is
// this commit. Errors: Permission when the branch became protected
// meanwhile; NoSuchBucket when the open commit was aborted.
func (im *Import) Finish(ctx context.Context) (*Commit, error) {
	if err := im.Flush(ctx); err != nil {
		return nil, err
	}
	var c *Commit
	err := im.s.update(ctx, func(w *wtx) error {
		var err error
		c, err = w.landImport(im.req.Repo, im.id, im.req.Chunk)
		return err
	})
	return c, err
}

// Abort discards the import: its open commit and everything staged.
func (im *Import) Abort(ctx context.Context) error {
	im.buf = nil
	return im.s.AbortCommit(context.WithoutCancel(ctx), im.req.Repo, im.id)
}

// landImport is FinishCommit for an import: the same checks and result,
// but the changes stream from the diff into the trees chunk keys at a time
// instead of being collected first.
func (w *wtx) landImport(repo, id string, chunk int) (*Commit, error) {
	oc, err := w.openTx(repo, id)
	if err != nil {
		return nil, err
	}
	br, err := w.s.branchTx(w.txn, repo, oc.Branch)
	if err != nil {
		return nil, err
	}
	if br.Protected && !oc.System {
		return nil, errs.E("meta.Import", errs.Permission, "branch %s of repo %s is protected: it takes only merges", oc.Branch, repo).Because(errs.Protected)
	}
	if br.Versioning == VersioningSuspended {
		return nil, errs.E("meta.Import", errs.Invalid, "branch %s of repo %s has versioning Suspended: import into a branch with versioning Enabled", oc.Branch, repo)
	}
	head, err := w.s.commitTx(w.txn, repo, br.Head)
	if err != nil {
		return nil, err
	}
	base, err := w.s.commitTx(w.txn, repo, oc.Base)
	if err != nil {
		return nil, err
	}
	depth := head.Depth + 1
	root, vroot := head.Root, head.VRoot
	var muts, vmuts []Mut
	apply := func() error {
		var err error
		if root, err = treeApply(w.nodes(), root, muts); err != nil {
			return err
		}
		if vroot, err = treeApply(w.nodes(), vroot, vmuts); err != nil {
			return err
		}
		muts, vmuts = muts[:0], vmuts[:0]
		return nil
	}
	err = treeDiff(w.nodes(), base.Root, oc.Root, nil, nil, func(k, va, vb []byte) error {
		key := bytes.Clone(k)
		e := &Entry{Deleted: true}
		if vb == nil {
			// A delete written into the open commit: it changes the head
			// only where the key is there.
			if _, ok, err := treeGet(w.nodes(), head.Root, k); err != nil || !ok {
				return err
			}
			muts = append(muts, Mut{Key: key})
		} else {
			if e, err = DecodeEntry(vb); err != nil {
				return err
			}
		}
		e.Version, e.Time, e.Null = id, w.now, false
		enc := e.Encode()
		if !e.Deleted {
			muts = append(muts, Mut{Key: key, Val: enc})
		}
		vmuts = append(vmuts, Mut{Key: vkey(string(k), depth), Val: enc})
		if len(vmuts) >= chunk {
			return apply()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := apply(); err != nil {
		return nil, err
	}
	if err := w.roomForRecords(); err != nil {
		return nil, err
	}
	c := &Commit{ID: id, Repo: repo, Parents: []string{head.ID}, Author: oc.Author, Message: oc.Message,
		Time: w.now, Root: root, VRoot: vroot, Depth: depth, Gen: head.Gen + 1, Meta: oc.Meta}
	if err := kv.PutJSON(w.txn, pCommit+repo+"/"+id, c); err != nil {
		return nil, err
	}
	if err := w.moveBranch(repo, br, id, "commit"); err != nil {
		return nil, err
	}
	if err := w.deleteOpen(repo, id); err != nil {
		return nil, err
	}
	return c, nil
}
