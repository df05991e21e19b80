package meta

import (
	"context"
	"regexp"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// Records is a sibling package's namespace of records (users and keys,
// pipelines) in the Store's KV store. Its keys are relative to the
// namespace, so its users cannot touch meta's own records. Read and write
// them with the kv JSON helpers (kv.GetJSON, kv.PutJSON, kv.ScanJSON...).
type Records struct {
	s  *Store
	ns []byte
}

// nsRe is the form of a namespace. Upper-case initials and pv/ are meta's.
var nsRe = regexp.MustCompile(`^[a-z][a-z0-9]*/$`)

// Records returns the namespace ns ("gw/", "pl/": lower-case letters and
// digits, starting with a letter, ending with '/'). It panics on a
// malformed namespace or one of meta's own (a programming error).
func (s *Store) Records(ns string) *Records {
	if !nsRe.MatchString(ns) || ns == pProv[:3] {
		panic("meta.Records: bad or reserved namespace " + ns)
	}
	return &Records{s: s, ns: []byte(ns)}
}

// View runs fn on a snapshot of the namespace. Errors are fn's or the
// store's. ctx is for stores whose reads may block (today's do not, so a
// done ctx does not stop View: callers read state after cancellation).
func (r *Records) View(ctx context.Context, fn func(rd kv.Reader) error) error {
	return r.s.view(func(txn kv.Reader) error { return fn(r.scope(txn, nil)) })
}

// Update runs fn inside the committer's transaction, so that the records
// are written with the same atomicity and durability as commits: fn's
// writes are synced before Update returns, and fn's reads see every commit
// before it (Update is serialized with meta's writes). fn must check before
// it writes (a failing fn leaves its writes in the transaction): see op.
// Errors: fn's; Transient when ctx ends before fn was queued or the store
// is closing; TooLarge when fn's writes do not fit one transaction.
func (r *Records) Update(ctx context.Context, fn func(rw kv.ReadWriter) error) error {
	return r.s.update(ctx, func(w *wtx) error { return fn(r.scope(w.txn, w)) })
}

// WriteOutputs is Store.WriteOutputs that also runs fn on the namespace in
// the same transaction (after req and recs are written), so that a
// pipeline's own records commit with its outputs. fn must check before it
// writes.
func (r *Records) WriteOutputs(ctx context.Context, req WriteRequest, recs []*ProvRecord, fn func(rw kv.ReadWriter) error) (*WriteResult, error) {
	return r.s.writeOutputs(ctx, req, recs, func(w *wtx) error { return fn(r.scope(w.txn, w)) })
}

// ResolveIn is Resolve inside a transaction that Records.Update or View
// gave (so that a sibling's records and the refs it reads are one
// snapshot). Invalid when rd is not such a transaction.
func (s *Store) ResolveIn(rd kv.Reader, repo, ref string) (*Ref, error) {
	sc, ok := rd.(*scoped)
	if !ok || sc.s != s {
		return nil, errs.E("meta.ResolveIn", errs.Invalid, "not a transaction of this store's Records")
	}
	return s.resolveTx(sc.raw, repo, ref)
}

// scope wraps txn for the namespace; w is nil for a read-only snapshot.
func (r *Records) scope(txn kv.Reader, w *wtx) *scoped {
	sc := &scoped{s: r.s, raw: txn, ns: r.ns}
	if w != nil {
		sc.rw = w.txn
	}
	return sc
}

// scoped is a namespace's view of a transaction: keys are relative to ns.
// Writes through a read-only view fail (Invalid).
type scoped struct {
	s   *Store
	raw kv.Reader
	rw  kv.ReadWriter // nil when read-only
	ns  []byte
}

var _ kv.ReadWriter = (*scoped)(nil)

func (sc *scoped) key(k []byte) []byte {
	return append(append(make([]byte, 0, len(sc.ns)+len(k)), sc.ns...), k...)
}

func (sc *scoped) Get(key []byte) ([]byte, error) { return sc.raw.Get(sc.key(key)) }

func (sc *scoped) Set(key, value []byte) error {
	if sc.rw == nil {
		return errs.E("meta.Records", errs.Invalid, "write in a read-only view")
	}
	return sc.rw.Set(sc.key(key), value)
}

func (sc *scoped) Delete(key []byte) error {
	if sc.rw == nil {
		return errs.E("meta.Records", errs.Invalid, "write in a read-only view")
	}
	return sc.rw.Delete(sc.key(key))
}

func (sc *scoped) Iter(o kv.IterOptions) kv.Iterator {
	so := o
	so.Prefix = sc.key(o.Prefix)
	if o.Start != nil {
		so.Start = sc.key(o.Start)
	}
	return &scopedIter{Iterator: sc.raw.Iter(so), sc: sc}
}

// scopedIter strips the namespace from keys and puts it on seeks.
type scopedIter struct {
	kv.Iterator
	sc *scoped
}

func (it *scopedIter) Key() []byte     { return it.Iterator.Key()[len(it.sc.ns):] }
func (it *scopedIter) Seek(key []byte) { it.Iterator.Seek(it.sc.key(key)) }
