package meta

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sort"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta/kv"
)

// op is one queued write: fn runs inside the committer's shared
// transaction. fn must do all its checks before writing anything but tree
// nodes (content-addressed nodes written by a failed op are harmless
// garbage), so that a failing op leaves no visible change.
type op struct {
	ctx context.Context
	fn  func(w *wtx) error
	// deferOpen: fn only writes into open commits (Write with Open set), so
	// its tree changes may wait for the transaction's other writes into the
	// same open commit (see pendingOpen).
	deferOpen bool
	err       error
	done      chan struct{}
}

// wtx is the committer's view of one group-commit transaction.
type wtx struct {
	s      *Store
	txn    kv.Txn
	now    time.Time
	events []HeadEvent // branch moves made by the ops that succeeded
	// nodeBytes estimates the tree-node bytes written into txn.
	nodeBytes int
	// deferring is the op being applied when it may defer its writes into
	// open commits (op.deferOpen), nil otherwise.
	deferring *op
	// pending holds the open commits that deferred writes changed, by
	// "repo/id", in the order first written (pendingOrder).
	pending      map[string]*pendingOpen
	pendingOrder []string
}

// pendingOpen is an open commit changed by deferred writes of the current
// transaction. Every write into an open commit used to rewrite its tree's
// root-to-leaf path (about 4.5 KiB of nodes for a 100-byte object, most of
// it garbage once the next write rewrote the same path); the writes of one
// group commit into the same open commit are now applied to its tree as
// one update (applyPending): one path per leaf touched, not per write.
//
// A deferred write sees the writes before it (conditions, deletes of keys
// written earlier in the batch) through get; ops that are not deferrable
// see the open commit as written, because the committer applies pending
// writes before running them, and before sealing the transaction. Either
// way every op's view and outcome are those of applying the ops one by
// one, in queue order.
type pendingOpen struct {
	oc *OpenCommit // the record as read (its Root without the writes in muts)
	// muts holds the live-tree changes made since: key -> stamped entry
	// encoding, nil to delete the key.
	muts map[string][]byte
	ops  []*op // the ops whose writes muts holds: they fail if applying fails
}

// get reads key in the open commit's tree with the pending changes on top.
func (po *pendingOpen) get(src nodeSource, key []byte) ([]byte, bool, error) {
	if v, ok := po.muts[string(key)]; ok {
		return v, v != nil, nil
	}
	return treeGet(src, po.oc.Root, key)
}

// sorted returns the pending changes as sorted, unique mutations.
func (po *pendingOpen) sorted() []Mut {
	muts := make([]Mut, 0, len(po.muts))
	for k, v := range po.muts {
		muts = append(muts, Mut{Key: []byte(k), Val: v})
	}
	sort.Slice(muts, func(i, j int) bool { return bytes.Compare(muts[i].Key, muts[j].Key) < 0 })
	return muts
}

// openState returns open commit id of repo as this transaction sees it:
// its pending state when deferred writes changed it, else a fresh one read
// from the transaction (not registered as pending).
func (w *wtx) openState(repo, id string) (*pendingOpen, error) {
	if po := w.pending[repo+"/"+id]; po != nil {
		return po, nil
	}
	oc, err := w.openTx(repo, id)
	if err != nil {
		return nil, err
	}
	return &pendingOpen{oc: oc, muts: map[string][]byte{}}, nil
}

// applyOpen applies po's changes to its tree and writes its record with the
// new root. Nodes first, then the record (see roomForRecords).
func (w *wtx) applyOpen(po *pendingOpen) error {
	root, err := treeApply(w.nodes(), po.oc.Root, po.sorted())
	if err != nil {
		return err
	}
	if err := w.roomForRecords(); err != nil {
		return err
	}
	oc := *po.oc
	oc.Root = root
	return kv.PutJSON(w.txn, pOpen+oc.Repo+"/"+oc.ID, &oc)
}

// applyPending applies every pending open commit's changes (one tree
// update each). When one fails, the ops that wrote into it fail with its
// error (their writes are not recorded; nodes already written are
// unreachable garbage), and the other ops of the transaction are
// unaffected.
func (w *wtx) applyPending() {
	for _, k := range w.pendingOrder {
		po := w.pending[k]
		err := w.applyOpen(po)
		if errors.Is(err, kv.ErrTxnTooBig) {
			err = errs.E("meta.commit", errs.TooLarge, "change too large for one transaction")
		}
		if err != nil {
			for _, o := range po.ops {
				if o.err == nil {
					o.err = err
				}
			}
		}
	}
	w.pending, w.pendingOrder = nil, nil
}

// HeadEvent reports that a branch now points at a new commit.
type HeadEvent struct {
	Repo   string
	Branch string
	Commit string
	// Kind is "commit" (a new commit, incl. merges and finished open
	// commits), "fast-forward", "reset" or "create".
	Kind string
}

// Watch registers fn to be called, in commit order, for every branch move
// once it is durable. fn runs on the committer's syncer goroutine: it must
// not block or call back into the Store's write methods (queue the event
// instead).
func (s *Store) Watch(fn func(HeadEvent)) {
	s.watchMu.Lock()
	s.watchers = append(s.watchers, fn)
	s.watchMu.Unlock()
}

// moveBranch points br at head and records the event.
func (w *wtx) moveBranch(repo string, br *Branch, head, kind string) error {
	nb := *br
	nb.Head = head
	if err := kv.PutJSON(w.txn, pBranch+repo+"/"+br.Name, &nb); err != nil {
		return err
	}
	w.events = append(w.events, HeadEvent{Repo: repo, Branch: br.Name, Commit: head, Kind: kind})
	return nil
}

// nodes returns the committer's node sink. It follows w.txn, which flush
// replaces, so trees larger than one KV transaction can be written.
func (w *wtx) nodes() wnodes { return wnodes{w} }

// wnodes reads and writes tree nodes in the committer's current txn.
type wnodes struct{ w *wtx }

func (n wnodes) getNode(h Hash) (*node, error) { return txnNodes{n.w.s, n.w.txn}.getNode(h) }

// putNode stores a node. When the transaction is full, the transaction so
// far is committed and the write goes on in a new one: nodes are
// content-addressed and invisible until a commit record points at them,
// and every op writes its records (commit, branch) after its nodes, so an
// op stays atomic. The batch is still answered only after its final sync.
func (n wnodes) putNode(nd *node) (Hash, error) {
	h, err := putNodeIn(n.w.s, n.w.txn, nd)
	if errors.Is(err, kv.ErrTxnTooBig) {
		if err := n.w.flush(); err != nil {
			return h, err
		}
		h, err = putNodeIn(n.w.s, n.w.txn, nd)
	}
	n.w.nodeBytes += nd.size + len(pNode) + len(h) + 32
	return h, err
}

// flush commits the transaction so far and starts a new one. Callers flush
// only between whole records: never after an op wrote some of its records
// and before it wrote the rest.
func (w *wtx) flush() error {
	// Records flushed early carry the clock too (a full txn leaves it to
	// the batch's last transaction, which always writes it).
	if err := w.stampClock(); err != nil && !errors.Is(err, kv.ErrTxnTooBig) {
		return err
	}
	if err := w.txn.Commit(); err != nil {
		return errs.Wrap("meta.flush", errs.Internal, err)
	}
	txn, err := w.s.db.Begin(true)
	if err != nil {
		return errs.Wrap("meta.flush", errs.Internal, err)
	}
	w.txn = txn
	w.nodeBytes = 0
	return nil
}

// roomForRecords flushes the transaction when the op's nodes filled it, so
// that the op's records (commit, branch, open commit, upload) then go into
// one transaction together. Call it after writing nodes and before writing
// any record.
func (w *wtx) roomForRecords() error {
	// Nodes may fill half of the store's transaction limit (with Badger,
	// 15% of the memtable: 2.4 MiB by default); the other half stays free
	// for the records of the ops of one batch, so records never overflow
	// after nodes.
	if int64(w.nodeBytes) > w.s.db.Limits().MaxTxnBytes/2 {
		return w.flush()
	}
	return nil
}

// update queues fn and waits until it is durable (its batch is committed
// and synced) or failed.
func (s *Store) update(ctx context.Context, fn func(w *wtx) error) error {
	return s.enqueue(&op{ctx: ctx, fn: fn, done: make(chan struct{})})
}

// enqueue queues o and waits until it is durable or failed. Every write
// passes the WriteGate first (the metadata disk's free-space reserve).
func (s *Store) enqueue(o *op) error {
	ctx := o.ctx
	if g := s.opts.WriteGate; g != nil {
		if err := g(ctx); err != nil {
			return err
		}
	}
	select {
	case s.queue <- o:
	case <-s.done:
		return errs.E("meta.update", errs.Transient, "store is closing")
	case <-ctx.Done():
		return errs.Wrap("meta.update", errs.Transient, ctx.Err())
	}
	// Once queued, the op runs to completion even if ctx ends: the client
	// may go away, but the write either happens whole or not at all.
	<-o.done
	return o.err
}

// The committer is a pipeline of two goroutines, so that the CPU work of
// a batch and the fsync of the one before it overlap:
//
//   - the committer applies queued ops, in order, each as its own commit,
//     into a KV transaction, and commits that transaction (Commit, not yet
//     durable). It keeps applying ops into the open transaction while the
//     syncer is busy, and seals it (commits it) when the syncer is free,
//     when it holds MaxBatch ops, or when it is full (ErrTxnTooBig). A
//     sealed transaction is visible to every later one, so batch N+1 is
//     applied on top of batch N's committed state.
//   - the syncer takes every transaction sealed since its last turn, calls
//     Sync once for them, calls OnSync, delivers their branch moves to the
//     watchers in commit order, and only then answers their ops.
//
// So an op is answered only after a Sync that started after its
// transaction was committed; a failed Sync fails the ops of the
// transactions it covered, never later ones (they wait for their own
// Sync). Ops are applied, made durable and answered in queue order.

// sealed is one committed KV transaction on its way to durability.
type sealed struct {
	ops    []*op
	events []HeadEvent
	// err: the transaction could not begin or commit; its ops fail with it
	// (no Sync is needed for them).
	err error
}

// pipe is the committer goroutine's state.
type pipe struct {
	s   *Store
	w   *wtx  // the open transaction (nil: none)
	ops []*op // the ops applied in w
	// done holds the transactions sealed since the syncer's last turn.
	done    []*sealed
	doneOps int
}

func (s *Store) committer() {
	defer s.wg.Done()
	syncq := make(chan []*sealed, 1)
	synced := make(chan struct{}, 1)
	s.wg.Add(1)
	go s.syncer(syncq, synced)
	defer close(syncq)
	p := &pipe{s: s}
	busy := false // the syncer is working on a turn
	for {
		if !busy && (p.w != nil || len(p.done) > 0) {
			// The syncer is free: take what is queued already (so that the
			// batch holds every op that waited), seal, hand over.
			p.drain(false)
			p.seal()
			syncq <- p.done
			p.done, p.doneOps = nil, 0
			busy = true
			continue
		}
		// While the syncer is busy, apply what arrives; stop taking ops
		// when a few batches wait for it (the queue then pushes back).
		queue := s.queue
		if p.doneOps >= 4*s.opts.MaxBatch {
			queue = nil
		}
		select {
		case o := <-queue:
			p.apply(o)
		case <-synced:
			busy = false
		case <-s.done:
			// Apply what was queued before closing, then hand the rest to
			// the syncer and let it finish.
			p.drain(true)
			p.seal()
			if busy {
				<-synced
			}
			if len(p.done) > 0 {
				syncq <- p.done
			}
			return
		}
	}
}

// drain applies the ops queued now, without waiting for more: at most
// MaxBatch of them, or all when all.
func (p *pipe) drain(all bool) {
	for i := 0; all || i < p.s.opts.MaxBatch; i++ {
		select {
		case o := <-p.s.queue:
			p.apply(o)
		default:
			return
		}
	}
}

// apply runs o in the open transaction (beginning one if needed).
func (p *pipe) apply(o *op) {
	s := p.s
	if p.w == nil {
		txn, err := s.db.Begin(true)
		if err != nil {
			p.done = append(p.done, &sealed{ops: []*op{o}, err: err})
			p.doneOps++
			return
		}
		p.w = &wtx{s: s, txn: txn}
	}
	w := p.w
	if o.deferOpen {
		w.deferring = o
	} else {
		// o sees (and may change) open commits as written so far.
		w.applyPending()
	}
	w.now = s.tick()
	nev := len(w.events)
	err := o.fn(w)
	w.deferring = nil
	if err != nil {
		w.events = w.events[:nev]
	}
	if errors.Is(err, kv.ErrTxnTooBig) && len(p.ops) > 0 {
		// The transaction is full: seal the ops before o and run o again
		// in a new one.
		p.seal()
		p.apply(o)
		return
	}
	if errors.Is(err, kv.ErrTxnTooBig) {
		err = errs.E("meta.commit", errs.TooLarge, "change too large for one transaction")
	}
	o.err = err
	p.ops = append(p.ops, o)
	if s.afterApply != nil {
		s.afterApply()
	}
	if len(p.ops) >= s.opts.MaxBatch {
		p.seal()
	}
}

// seal stamps the clock into the open transaction and commits it (not yet
// durably): it joins the transactions the syncer takes next.
func (p *pipe) seal() {
	w := p.w
	if w == nil {
		return
	}
	w.applyPending()
	err := w.stampClock()
	if errors.Is(err, kv.ErrTxnTooBig) {
		if err = w.txn.Commit(); err == nil {
			var next kv.Txn
			if next, err = p.s.db.Begin(true); err == nil {
				w.txn = next
				err = w.stampClock()
			}
		}
	}
	if err == nil {
		err = w.txn.Commit()
	} else {
		w.txn.Discard()
	}
	p.done = append(p.done, &sealed{ops: p.ops, events: w.events, err: err})
	p.doneOps += len(p.ops)
	p.w, p.ops = nil, nil
}

// syncer makes each turn's sealed transactions durable with one Sync, then
// reports their branch moves and answers their ops, in order. It signals
// synced after every turn and ends when turns is closed.
func (s *Store) syncer(turns <-chan []*sealed, synced chan<- struct{}) {
	defer s.wg.Done()
	for turn := range turns {
		var err error
		need := false
		for _, t := range turn {
			need = need || t.err == nil
		}
		if need {
			err = s.db.Sync(context.Background())
			if err == nil && s.opts.OnSync != nil {
				s.opts.OnSync()
			}
		}
		s.watchMu.Lock()
		ws := s.watchers
		s.watchMu.Unlock()
		for _, t := range turn {
			terr := t.err
			if terr == nil {
				terr = err
			}
			if terr == nil {
				for _, ev := range t.events {
					for _, fn := range ws {
						fn(ev)
					}
				}
			}
			for _, o := range t.ops {
				if terr != nil && o.err == nil {
					o.err = errs.Wrap("meta.commit", errs.Internal, terr)
				}
				close(o.done)
			}
		}
		synced <- struct{}{}
	}
}

// clockRecord holds the committer's last op time (tick), so that op times
// stay ordered across a restart when the clock steps back: version times and
// purge fences are compared.
const clockRecord = "K/clock"

// stampClock records s.lastTick in the transaction (with the ops whose
// times it covers).
func (w *wtx) stampClock() error {
	return w.txn.Set([]byte(clockRecord), binary.BigEndian.AppendUint64(nil, uint64(w.s.lastTick.UnixNano())))
}

// loadClock sets lastTick from the clock record.
func (s *Store) loadClock() error {
	return s.view(func(txn kv.Reader) error {
		b, err := txn.Get([]byte(clockRecord))
		if errs.Is(err, errs.NotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(b) == 8 {
			if t := time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC(); t.After(s.lastTick) {
				s.lastTick = t
			}
		}
		return nil
	})
}

// tick returns the time of the next op: the clock, but strictly after the
// previous op's time, so that every commit (and every purge fence, which
// compares version times) is ordered by time even within one batch or when
// the clock steps back. Called on the committer goroutine only.
func (s *Store) tick() time.Time {
	now := s.opts.Now().UTC()
	if !now.After(s.lastTick) {
		now = s.lastTick.Add(time.Microsecond)
	}
	s.lastTick = now
	return now
}

// ---- writes ----

// Change is one key change in a write.
type Change struct {
	Key   string
	Entry *Entry // nil deletes the key
	// Conditions (checked against the target's state just before this
	// write): IfNoneMatch "*" = key must be absent; IfMatch "*" = present,
	// else the current ETag must equal it.
	IfMatch     string
	IfNoneMatch string
}

// WriteRequest is a write to a branch or an open commit.
type WriteRequest struct {
	Repo    string
	Branch  string // target branch (when Open == "")
	Open    string // target open commit id
	Author  string
	Message string
	Meta    map[string]string
	Changes []Change
	// System writes may target pipeline output branches and protected ones.
	System bool
	// Removals remove versions from the branch's view in the same commit
	// (S3's DeleteObject with a versionId; branches only). They are applied
	// to the head as it was before Changes; a key both changed and removed
	// takes the change.
	Removals []Removal
}

// WriteResult reports a write.
type WriteResult struct {
	// Version is the commit id that now holds the changes ("" when nothing
	// changed, e.g. deleting absent keys).
	Version string
	Time    time.Time
	// Changed lists per change whether it changed anything.
	Changed []bool
	// Removed lists per removal what it found.
	Removed []RemovalResult
	// Null: the new versions are null versions (versioning Suspended).
	Null bool
}

func preconditionFailed(key string) error {
	return errs.E("meta.Write", errs.Conflict, "precondition failed for key %q", key).Because(errs.Precondition)
}

// checkCond checks a change's conditions against cur (nil = absent).
func checkCond(c *Change, cur *Entry) error {
	if c.IfNoneMatch != "" {
		if c.IfNoneMatch == "*" {
			if cur != nil {
				return preconditionFailed(c.Key)
			}
		} else if cur != nil && cur.ETag == c.IfNoneMatch {
			return preconditionFailed(c.Key)
		}
	}
	if c.IfMatch != "" {
		if cur == nil {
			return errs.E("meta.Write", errs.NotExist, "key %q does not exist", c.Key).Because(errs.Key)
		}
		if c.IfMatch != "*" && cur.ETag != c.IfMatch {
			return preconditionFailed(c.Key)
		}
	}
	return nil
}

// vkey is a version-tree key: key 0x00 ^depth (big-endian).
func vkey(key string, depth int64) []byte {
	b := make([]byte, 0, len(key)+9)
	b = append(b, key...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, ^uint64(depth))
}

func splitVKey(vk []byte) (string, int64) {
	n := len(vk) - 9
	if n < 0 {
		return "", 0
	}
	return string(vk[:n]), int64(^binary.BigEndian.Uint64(vk[n+1:]))
}

// Write applies req as one commit on its branch (or as changes to its open
// commit), atomically and durably. Errors: NoSuchBucket when the repo,
// branch or open commit is unknown; Permission when the branch is protected
// or a pipeline output (unless System); PreconditionFailed / NoSuchKey when
// a condition fails, in which case nothing is written.
func (s *Store) Write(ctx context.Context, req WriteRequest) (*WriteResult, error) {
	if len(req.Changes) == 0 && len(req.Removals) == 0 {
		return &WriteResult{}, nil
	}
	for _, c := range req.Changes {
		if err := names.ValidKey(c.Key); err != nil {
			return nil, err
		}
	}
	var res *WriteResult
	err := s.enqueue(&op{ctx: ctx, done: make(chan struct{}), deferOpen: req.Open != "", fn: func(w *wtx) error {
		var err error
		if req.Open != "" {
			res, err = w.writeOpen(req)
		} else {
			res, err = w.writeBranch(req)
		}
		return err
	}})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// dedupChanges keeps the last change per key, sorted by key, remembering
// each original index.
func dedupChanges(cs []Change) ([]Change, []int) {
	idx := make([]int, len(cs))
	last := map[string]int{}
	for i, c := range cs {
		last[c.Key] = i
	}
	var out []Change
	var orig []int
	for i, c := range cs {
		if last[c.Key] == i {
			out = append(out, c)
			orig = append(orig, i)
		}
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return out[order[a]].Key < out[order[b]].Key })
	so := make([]Change, len(out))
	si := make([]int, len(out))
	for i, o := range order {
		so[i], si[i] = out[o], orig[o]
	}
	_ = idx
	return so, si
}

// stage checks conditions and turns changes into live-tree mutations,
// stamping entries with version id and time. It reads the live tree
// through get (the tree at the target's root, with any pending changes).
// null stamps the new versions as null versions (versioning Suspended).
func (w *wtx) stage(repo string, get func(key []byte) ([]byte, bool, error), vroot Hash, changes []Change, version string, null bool) ([]Mut, []Change, []bool, error) {
	cs, orig := dedupChanges(changes)
	changed := make([]bool, len(changes))
	var muts []Mut
	var eff []Change
	for i := range cs {
		c := &cs[i]
		var cur *Entry
		if v, ok, err := get([]byte(c.Key)); err != nil {
			return nil, nil, nil, err
		} else if ok {
			if cur, err = DecodeEntry(v); err != nil {
				return nil, nil, nil, err
			}
			if w.s.purgedIn(repo, cur) {
				// The key reads as its newest surviving version (GetLatest);
				// conditions see the same.
				if cur, err = w.s.survivorIn(w.nodes(), repo, vroot, c.Key); err != nil {
					return nil, nil, nil, err
				}
			}
		}
		if err := checkCond(c, cur); err != nil {
			return nil, nil, nil, err
		}
		if c.Entry == nil {
			// Deleting a key is a version (a delete marker) even when the
			// key is absent, as on S3; the live tree changes only if the
			// key is there.
			if _, ok, err := get([]byte(c.Key)); err != nil {
				return nil, nil, nil, err
			} else if ok {
				muts = append(muts, Mut{Key: []byte(c.Key)})
			}
		} else {
			e := *c.Entry
			e.Version = version
			e.Time = w.now
			e.Deleted = false
			e.Null = null
			c.Entry = &e
			muts = append(muts, Mut{Key: []byte(c.Key), Val: e.Encode()})
		}
		eff = append(eff, *c)
		changed[orig[i]] = true
	}
	// Every change naming a key shares the fate of its last one.
	last := map[string]bool{}
	for i, c := range changes {
		if changed[i] {
			last[c.Key] = true
		}
	}
	for i, c := range changes {
		changed[i] = last[c.Key]
	}
	return muts, eff, changed, nil
}

func (w *wtx) writeBranch(req WriteRequest) (*WriteResult, error) {
	if _, err := w.s.repoTx(w.txn, req.Repo); err != nil {
		return nil, err
	}
	br, err := w.s.branchTx(w.txn, req.Repo, req.Branch)
	if err != nil {
		return nil, err
	}
	if !req.System {
		if br.Output != "" {
			return nil, errs.E("meta.Write", errs.Permission, "branch %s of repo %s is read-only: it is the output of pipeline %s", br.Name, req.Repo, br.Output)
		}
		if br.Protected {
			return nil, errs.E("meta.Write", errs.Permission, "branch %s of repo %s is protected: it takes only merges", br.Name, req.Repo)
		}
	}
	head, err := w.s.commitTx(w.txn, req.Repo, br.Head)
	if err != nil {
		return nil, err
	}
	id := NewID()
	null := br.Versioning == VersioningSuspended
	get := func(key []byte) ([]byte, bool, error) { return treeGet(w.nodes(), head.Root, key) }
	muts, eff, changed, err := w.stage(req.Repo, get, head.VRoot, req.Changes, id, null)
	if err != nil {
		return nil, err
	}
	rm, err := w.removals(head, req.Removals)
	if err != nil {
		return nil, err
	}
	if null {
		// Each new version is the key's null version: it replaces the
		// previous null version of the key (unless this very request
		// removes that one already).
		for i := range eff {
			vk, _, err := w.nullVersion(head.VRoot, eff[i].Key)
			if err != nil {
				return nil, err
			}
			if vk != nil && !rm.removes(vk) {
				rm.vdels = append(rm.vdels, Mut{Key: vk})
			}
		}
		sort.Slice(rm.vdels, func(i, j int) bool { return bytes.Compare(rm.vdels[i].Key, rm.vdels[j].Key) < 0 })
	}
	res := &WriteResult{Changed: changed, Removed: rm.results, Null: null}
	if len(eff) == 0 && len(rm.vdels) == 0 {
		return res, nil
	}
	muts = mergeMuts(muts, rm.live)
	c, err := w.commit(head, br, id, commitSpec{muts: muts, eff: eff, vdels: rm.vdels, null: null,
		author: req.Author, msg: req.Message, meta: req.Meta})
	if err != nil {
		return nil, err
	}
	res.Version, res.Time = c.ID, c.Time
	return res, nil
}

// commitSpec is what one commit changes.
type commitSpec struct {
	// muts are the live-tree mutations (already stamped), sorted.
	muts []Mut
	// eff are the effective changes: each is a new version (or delete
	// marker) of its key at the new commit's depth.
	eff []Change
	// vdels are version-tree keys to remove (S3 version removal, null
	// versions replaced), each at a depth below the new commit's.
	vdels []Mut
	// null stamps the new versions as null versions (versioning Suspended).
	null         bool
	author, msg  string
	meta         map[string]string
	extraParents []string
}

// commit makes commit id on branch br over parent head: the live tree
// takes sp.muts, the version tree gains sp.eff's versions and loses
// sp.vdels; then the branch moves.
func (w *wtx) commit(head *Commit, br *Branch, id string, sp commitSpec) (*Commit, error) {
	root, err := treeApply(w.nodes(), head.Root, sp.muts)
	if err != nil {
		return nil, err
	}
	depth := head.Depth + 1
	vmuts := make([]Mut, 0, len(sp.eff)+len(sp.vdels))
	for _, c := range sp.eff {
		e := c.Entry
		if e == nil {
			e = &Entry{Version: id, Time: w.now, Deleted: true, Null: sp.null}
		}
		vmuts = append(vmuts, Mut{Key: vkey(c.Key, depth), Val: e.Encode()})
	}
	vmuts = append(vmuts, sp.vdels...)
	sort.Slice(vmuts, func(i, j int) bool { return bytes.Compare(vmuts[i].Key, vmuts[j].Key) < 0 })
	vroot, err := treeApply(w.nodes(), head.VRoot, vmuts)
	if err != nil {
		return nil, err
	}
	if err := w.roomForRecords(); err != nil {
		return nil, err
	}
	gen := head.Gen + 1
	parents := append([]string{head.ID}, sp.extraParents...)
	for _, p := range sp.extraParents {
		if pc, err := w.s.commitTx(w.txn, head.Repo, p); err == nil && pc.Gen+1 > gen {
			gen = pc.Gen + 1
		}
	}
	c := &Commit{ID: id, Repo: head.Repo, Parents: parents, Author: sp.author, Message: sp.msg,
		Time: w.now, Root: root, VRoot: vroot, Depth: depth, Gen: gen, Meta: sp.meta}
	if err := kv.PutJSON(w.txn, pCommit+head.Repo+"/"+id, c); err != nil {
		return nil, err
	}
	if err := w.moveBranch(head.Repo, br, id, "commit"); err != nil {
		return nil, err
	}
	return c, nil
}

func (w *wtx) openTx(repo, id string) (*OpenCommit, error) {
	var oc OpenCommit
	if err := getJSON(w.txn, pOpen+repo+"/"+id, &oc); err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, noSuchBucket(errs.Ref, "open commit %s of repo %q does not exist", id, repo)
		}
		return nil, err
	}
	return &oc, nil
}

// writeOpen writes req's changes into its open commit. In a deferring op
// (see pendingOpen) the changes join the open commit's pending changes,
// applied with the transaction's other writes into it; otherwise they are
// applied now, before the caller writes its own records.
func (w *wtx) writeOpen(req WriteRequest) (*WriteResult, error) {
	po, err := w.openState(req.Repo, req.Open)
	if err != nil {
		return nil, err
	}
	oc := po.oc
	base, err := w.s.commitTx(w.txn, req.Repo, oc.Base)
	if err != nil {
		return nil, err
	}
	if len(req.Removals) > 0 {
		return nil, errs.E("meta.Write", errs.Invalid, "versions are removed on a branch, not in open commit %s", oc.ID).Because(errs.RefKind)
	}
	get := func(key []byte) ([]byte, bool, error) { return po.get(w.nodes(), key) }
	muts, eff, changed, err := w.stage(req.Repo, get, base.VRoot, req.Changes, oc.ID, false)
	if err != nil {
		return nil, err
	}
	if len(muts) == 0 {
		if len(eff) > 0 { // deletes of absent keys: nothing to record yet
			return &WriteResult{Version: oc.ID, Time: w.now, Changed: changed}, nil
		}
		return &WriteResult{Changed: changed}, nil
	}
	res := &WriteResult{Version: oc.ID, Time: w.now, Changed: changed}
	if w.deferring == nil {
		// Not pending (the committer applied pending changes before this
		// op): po is this op's alone.
		for _, m := range muts {
			po.muts[string(m.Key)] = m.Val
		}
		if err := w.applyOpen(po); err != nil {
			return nil, err
		}
		return res, nil
	}
	k := req.Repo + "/" + oc.ID
	if w.pending[k] == nil {
		if w.pending == nil {
			w.pending = map[string]*pendingOpen{}
		}
		w.pending[k] = po
		w.pendingOrder = append(w.pendingOrder, k)
	}
	for _, m := range muts {
		po.muts[string(m.Key)] = m.Val
	}
	po.ops = append(po.ops, w.deferring)
	return res, nil
}

// ---- repos, branches, tags ----

// CreateRepo creates repo name with branch main at an empty first commit,
// owned by author. Exist (BucketAlreadyOwnedByYou) if it exists.
func (s *Store) CreateRepo(ctx context.Context, name, author string) (*Repo, error) {
	return s.CreateRepoWith(ctx, name, author, RepoOptions{})
}

// CreateRepoWith is CreateRepo with the repo's owner, location and public
// flag set in the same transaction. An existing repo is left as it is.
func (s *Store) CreateRepoWith(ctx context.Context, name, author string, opts RepoOptions) (*Repo, error) {
	if err := names.ValidRepo(name); err != nil {
		return nil, err
	}
	var r *Repo
	err := s.update(ctx, func(w *wtx) error {
		if _, err := w.s.repoTx(w.txn, name); err == nil {
			return errs.E("meta.CreateRepo", errs.Exist, "repo %q already exists", name).Because(errs.Repo)
		}
		owner := opts.Owner
		if owner == "" {
			owner = author
		}
		r = &Repo{Name: name, Created: w.now, Owner: owner, Location: opts.Location, Public: opts.Public}
		id := NewID()
		c := &Commit{ID: id, Repo: name, Author: author, Message: "create repo " + name, Time: w.now, Gen: 1}
		if err := kv.PutJSON(w.txn, pRepo+name, r); err != nil {
			return err
		}
		if err := kv.PutJSON(w.txn, pCommit+name+"/"+id, c); err != nil {
			return err
		}
		return w.moveBranch(name, &Branch{Name: "main"}, id, "create")
	})
	return r, err
}

// CreateBranch creates branch name of repo at ref from (a branch, tag or
// commit; "" = main). Exist when it exists.
func (s *Store) CreateBranch(ctx context.Context, repo, name, from string) (*Branch, error) {
	if err := names.ValidRef(name); err != nil {
		return nil, err
	}
	if from == "" {
		from = "main"
	}
	var b *Branch
	err := s.update(ctx, func(w *wtx) error {
		if _, err := w.s.repoTx(w.txn, repo); err != nil {
			return err
		}
		if _, err := w.s.branchTx(w.txn, repo, name); err == nil {
			return errs.E("meta.CreateBranch", errs.Exist, "branch %q of repo %q already exists", name, repo).Because(errs.Ref)
		}
		// Branches and tags share one namespace (REF.REPO names either):
		// a branch named as a tag would shadow it and make the tag's
		// bucket writable.
		var tag Tag
		if err := getJSON(w.txn, pTag+repo+"/"+name, &tag); err == nil {
			return errs.E("meta.CreateBranch", errs.Exist, "repo %q has a tag %q: branches and tags share names", repo, name).Because(errs.Ref)
		}
		ref, err := w.s.resolveTx(w.txn, repo, from)
		if err != nil {
			return err
		}
		if ref.Commit == nil {
			return errs.E("meta.CreateBranch", errs.Invalid, "cannot branch from open commit %s; finish it first", from)
		}
		b = &Branch{Name: name, Head: ref.Commit.ID}
		return w.moveBranch(repo, &Branch{Name: name}, ref.Commit.ID, "create")
	})
	return b, err
}

// refuseOutputBranches refuses (Conflict) when branch (or, for "", any
// branch) of repo is a pipeline's output.
func (w *wtx) refuseOutputBranches(repo, branch string) error {
	it := w.txn.Iter(kv.IterOptions{Prefix: []byte(pBranch + repo + "/" + branch)})
	defer it.Close()
	for ; it.Valid(); it.Next() {
		var br Branch
		if err := withValue(it, func(b []byte) error { return jsonUnmarshal(b, &br) }); err != nil {
			return err
		}
		if br.Output != "" && (branch == "" || br.Name == branch) {
			return errs.E("meta.Delete", errs.Conflict, "branch %s of repo %s is the output of pipeline %s: delete the pipeline first", br.Name, repo, br.Output).Because(errs.Busy)
		}
	}
	return nil
}

// DeleteBranch deletes a branch (never main). Unless force, it is refused
// with BucketNotEmpty while the branch head holds keys.
func (s *Store) DeleteBranch(ctx context.Context, repo, name string, force bool) error {
	return s.update(ctx, func(w *wtx) error {
		br, err := w.s.branchTx(w.txn, repo, name)
		if err != nil {
			return err
		}
		if name == "main" {
			return errs.E("meta.DeleteBranch", errs.Invalid, "branch main of repo %q cannot be deleted; delete the repo instead", repo)
		}
		if err := w.refuseOutputBranches(repo, name); err != nil {
			return err
		}
		if !force {
			head, err := w.s.commitTx(w.txn, repo, br.Head)
			if err != nil {
				return err
			}
			if !head.Root.IsZero() {
				return errs.E("meta.DeleteBranch", errs.Conflict, "branch %q of repo %q is not empty", name, repo).Because(errs.NotEmpty)
			}
		}
		// Open commits on the branch go with it (they could never finish).
		it := w.txn.Iter(kv.IterOptions{Prefix: []byte(pOpen + repo + "/")})
		var opens [][]byte
		for ; it.Valid(); it.Next() {
			var oc OpenCommit
			if err := withValue(it, func(b []byte) error { return jsonUnmarshal(b, &oc) }); err != nil {
				it.Close()
				return err
			}
			if oc.Branch == name {
				opens = append(opens, bytes.Clone(it.Key()))
			}
		}
		it.Close()
		for _, k := range opens {
			if err := w.deleteOpen(repo, string(k[len(pOpen)+len(repo)+1:])); err != nil {
				return err
			}
		}
		return w.txn.Delete([]byte(pBranch + repo + "/" + name))
	})
}

// CreateTag tags the commit ref resolves to. Exist when the tag exists.
func (s *Store) CreateTag(ctx context.Context, repo, name, ref string) (*Tag, error) {
	if err := names.ValidRef(name); err != nil {
		return nil, err
	}
	var t *Tag
	err := s.update(ctx, func(w *wtx) error {
		if _, err := w.s.repoTx(w.txn, repo); err != nil {
			return err
		}
		var old Tag
		if err := getJSON(w.txn, pTag+repo+"/"+name, &old); err == nil {
			return errs.E("meta.CreateTag", errs.Exist, "tag %q of repo %q already exists", name, repo)
		}
		if _, err := w.s.branchTx(w.txn, repo, name); err == nil {
			return errs.E("meta.CreateTag", errs.Exist, "repo %q has a branch %q: branches and tags share names", repo, name)
		}
		r, err := w.s.resolveTx(w.txn, repo, ref)
		if err != nil {
			return err
		}
		if r.Commit == nil {
			return errs.E("meta.CreateTag", errs.Invalid, "cannot tag open commit %s; finish it first", ref)
		}
		t = &Tag{Name: name, Commit: r.Commit.ID, Created: w.now}
		return kv.PutJSON(w.txn, pTag+repo+"/"+name, t)
	})
	return t, err
}

// DeleteTag deletes a tag; NotExist if absent.
func (s *Store) DeleteTag(ctx context.Context, repo, name string) error {
	return s.update(ctx, func(w *wtx) error {
		var old Tag
		if err := getJSON(w.txn, pTag+repo+"/"+name, &old); err != nil {
			if errs.Is(err, errs.NotExist) {
				return errs.E("meta.DeleteTag", errs.NotExist, "tag %q of repo %q does not exist", name, repo)
			}
			return err
		}
		return w.txn.Delete([]byte(pTag + repo + "/" + name))
	})
}

// DeleteRepo deletes a repo with its history. Unless force, it is refused
// with BucketNotEmpty while any tag holds keys or any branch holds keys or
// lists a version or a delete marker (SPEC §2).
//
// Guards (Records.GuardRepoDelete) are consulted in the same transaction:
// without force a guard refuses the deletion of a repo that pipelines read
// (Conflict, reason InputRepo); with force it stops them, and
// DeleteRepoReport says which.
func (s *Store) DeleteRepo(ctx context.Context, name string, force bool) error {
	_, err := s.DeleteRepoReport(ctx, name, force)
	return err
}

// DeleteRepoReport is DeleteRepo that also returns what the guards did
// (never nil on success).
func (s *Store) DeleteRepoReport(ctx context.Context, name string, force bool) (*RepoDeletion, error) {
	rep := &RepoDeletion{}
	guards := s.repoGuards()
	err := s.update(ctx, func(w *wtx) error {
		rep.Stopped = nil
		if _, err := w.s.repoTx(w.txn, name); err != nil {
			return err
		}
		// A pipeline's output repo lives as long as the pipeline: deleting
		// it would let anyone create a repo of that name and receive the
		// pipeline's outputs.
		if err := w.refuseOutputBranches(name, ""); err != nil {
			return err
		}
		// Guards refuse before anything is written; with force they write
		// (stop their pipelines), and nothing after them refuses.
		if err := w.guardRepoDelete(guards, name, force, rep); err != nil {
			return err
		}
		var keys [][]byte
		for _, p := range []string{pBranch, pTag, pCommit, pOpen, pOpenIdx} {
			it := w.txn.Iter(kv.IterOptions{Prefix: []byte(p + name + "/")})
			for ; it.Valid(); it.Next() {
				if !force && (p == pBranch || p == pTag) {
					var c string
					err := withValue(it, func(b []byte) error {
						if p == pBranch {
							var br Branch
							err := jsonUnmarshal(b, &br)
							c = br.Head
							return err
						}
						var t Tag
						err := jsonUnmarshal(b, &t)
						c = t.Commit
						return err
					})
					if err != nil {
						it.Close()
						return err
					}
					cm, err := w.s.commitTx(w.txn, name, c)
					if err != nil {
						it.Close()
						return err
					}
					ref := string(it.Key()[len(p)+len(name)+1:])
					if !cm.Root.IsZero() {
						it.Close()
						return errs.E("meta.DeleteRepo", errs.Conflict, "repo %q is not empty (ref %s holds keys)", name, ref).Because(errs.NotEmpty)
					}
					if p == pBranch {
						// As on S3: a bucket whose version list still shows a
						// version or a delete marker is not empty.
						v, err := w.s.anyVersion(txnNodes{w.s, w.txn}, name, cm.VRoot)
						if err != nil {
							it.Close()
							return err
						}
						if v != "" {
							it.Close()
							return errs.E("meta.DeleteRepo", errs.Conflict, "repo %q is not empty: branch %s still lists versions of %q (remove them by version id, or tusk repo delete --force)", name, ref, v).Because(errs.NotEmpty)
						}
					}
				}
				keys = append(keys, bytes.Clone(it.Key()))
			}
			it.Close()
		}
		for _, k := range keys {
			if err := w.txn.Delete(k); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if bytes.HasPrefix(k, []byte(pCommit)) {
				w.s.commits.Delete(string(k[len(pCommit):]))
			}
		}
		return w.txn.Delete([]byte(pRepo + name))
	})
	if err != nil {
		return nil, err
	}
	for _, g := range guards {
		g.g.RepoDeleted(name, rep.Stopped)
	}
	return rep, nil
}

// SetRepoPublic sets whether anonymous users may read repo.
func (s *Store) SetRepoPublic(ctx context.Context, name string, public bool) error {
	return s.update(ctx, func(w *wtx) error {
		r, err := w.s.repoTx(w.txn, name)
		if err != nil {
			return err
		}
		r.Public = public
		return kv.PutJSON(w.txn, pRepo+name, r)
	})
}

// ---- open commits ----

// StartCommit opens a commit on branch; its id is assigned now.
func (s *Store) StartCommit(ctx context.Context, repo, branch, author, msg string, meta map[string]string, system bool) (*OpenCommit, error) {
	var oc *OpenCommit
	err := s.update(ctx, func(w *wtx) error {
		br, err := w.s.branchTx(w.txn, repo, branch)
		if err != nil {
			return err
		}
		if !system && br.Output != "" {
			return errs.E("meta.StartCommit", errs.Permission, "branch %s of repo %s is read-only: it is the output of pipeline %s", branch, repo, br.Output)
		}
		if !system && br.Protected {
			return errs.E("meta.StartCommit", errs.Permission, "branch %s of repo %s is protected: it takes only merges", branch, repo)
		}
		head, err := w.s.commitTx(w.txn, repo, br.Head)
		if err != nil {
			return err
		}
		oc = &OpenCommit{ID: NewID(), Repo: repo, Branch: branch, Base: head.ID, Root: head.Root,
			Author: author, Message: msg, Started: w.now, Meta: meta, System: system}
		if err := w.txn.Set([]byte(pOpenIdx+repo+"/"+oc.ID), nil); err != nil {
			return err
		}
		return kv.PutJSON(w.txn, pOpen+repo+"/"+oc.ID, oc)
	})
	return oc, err
}

// FinishCommit applies the open commit's changes on top of its branch's
// current head as one commit with the open commit's id (its keys win over
// changes made on the branch meanwhile). A finish with no changes still
// makes the commit (so that its id is stable).
func (s *Store) FinishCommit(ctx context.Context, repo, id, msg string) (*Commit, error) {
	var c *Commit
	err := s.update(ctx, func(w *wtx) error {
		oc, err := w.openTx(repo, id)
		if err != nil {
			return err
		}
		br, err := w.s.branchTx(w.txn, repo, oc.Branch)
		if err != nil {
			return err
		}
		if br.Protected && !oc.System {
			// Protected since the commit was opened: it takes only merges.
			return errs.E("meta.FinishCommit", errs.Permission, "branch %s of repo %s is protected: it takes only merges; abort this open commit, or merge a branch instead", oc.Branch, repo).Because(errs.Protected)
		}
		head, err := w.s.commitTx(w.txn, repo, br.Head)
		if err != nil {
			return err
		}
		base, err := w.s.commitTx(w.txn, repo, oc.Base)
		if err != nil {
			return err
		}
		// Apply the open commit's changes; deleting a key absent at head
		// changes nothing there.
		cs := &changeSet{id: oc.ID, now: w.now}
		err = treeDiff(w.nodes(), base.Root, oc.Root, nil, nil, func(k, va, vb []byte) error {
			if vb == nil {
				if _, ok, err := treeGet(w.nodes(), head.Root, k); err != nil || !ok {
					return err
				}
			}
			return cs.add(k, vb)
		})
		if err != nil {
			return err
		}
		if msg == "" {
			msg = oc.Message
		}
		c, err = w.commit(head, br, oc.ID, commitSpec{muts: cs.muts, eff: cs.eff, author: oc.Author, msg: msg, meta: oc.Meta})
		if err != nil {
			return err
		}
		return w.deleteOpen(repo, id)
	})
	return c, err
}

// deleteOpen deletes open commit id's record and index key.
func (w *wtx) deleteOpen(repo, id string) error {
	if err := w.txn.Delete([]byte(pOpenIdx + repo + "/" + id)); err != nil {
		return err
	}
	return w.txn.Delete([]byte(pOpen + repo + "/" + id))
}

// AbortCommit discards an open commit and every write made into it.
func (s *Store) AbortCommit(ctx context.Context, repo, id string) error {
	return s.update(ctx, func(w *wtx) error {
		if _, err := w.openTx(repo, id); err != nil {
			return err
		}
		return w.deleteOpen(repo, id)
	})
}
