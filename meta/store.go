package meta

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/meta/kv/badgerkv"
	"github.com/tusk-data/tusk/meta/kv/memkv"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
)

// Options configure a Store. Zero values take the documented defaults.
type Options struct {
	// NodeCacheBytes bounds the decoded-node cache, in heap bytes (each
	// node is charged what it holds on the heap, not its encoded size;
	// default 32 MiB).
	NodeCacheBytes int
	// Badger memory (Open only): memtable size (default 16 MiB, 2
	// memtables), block cache (default 16 MiB), index cache (default
	// 8 MiB). With the node cache these bound the engine's memory; see
	// badgerkv.Options and docs/architecture.md ("Memory").
	MemTableSize   int64
	BlockCacheSize int64
	IndexCacheSize int64
	// MaxBatch bounds how many queued writes one group commit takes
	// (default 256).
	MaxBatch int
	// OnSync, when set, is called after every metadata fsync (tests use it
	// to prove that answers come after durability).
	OnSync func()
	// Now is the clock (default time.Now).
	Now func() time.Time
	// InMemory makes Open use an in-memory store (memkv; tests only).
	InMemory bool
	// WriteGate, when set, is asked with the write's context before each
	// write is queued; an error refuses the write (nothing is written)
	// and is returned as it is. The gateway refuses writes with it when
	// the disk holding the metadata is nearly full: Badger's log is a
	// memory-mapped file, and a page written on a full disk kills the
	// process (SIGBUS) instead of failing the write.
	WriteGate func(ctx context.Context) error
}

// DefaultNodeCacheBytes is Options.NodeCacheBytes's default.
const DefaultNodeCacheBytes = 32 << 20

// Store is the versioned metadata engine. It is safe for concurrent use.
type Store struct {
	db      kv.Store
	opts    Options
	nodes   *nodeCache
	commits *commitCache // "repo/id" -> *Commit (immutable), bounded
	queue   chan *op
	done    chan struct{}
	wg      sync.WaitGroup

	purgeMu sync.RWMutex
	purged  map[string][]purgeRec // content -> its purge records

	// lastTick is the time of the committer's previous op (tick).
	lastTick time.Time

	watchMu  sync.Mutex
	watchers []func(HeadEvent)

	guardMu sync.Mutex
	guards  []nsGuard // repoguard.go

	// gcAfterSnapshot, set by tests, runs right after GC took its marking
	// snapshot.
	gcAfterSnapshot func()
	// afterApply, set by tests before the first write, runs on the
	// committer goroutine after each op was applied (not yet committed).
	afterApply func()
}

// Record keys. meta owns every key that starts with an upper-case letter,
// and the pv/ (provenance) prefix; sibling packages get other namespaces
// through Records.
const (
	pRepo   = "R/"
	pBranch = "B/"
	pTag    = "T/"
	pCommit = "C/"
	pOpen   = "O/"
	// pOpenIdx + repo/id (no value) names each open commit under a key
	// written once: finding an open commit by prefix scans these instead
	// of pOpen, whose keys take a new version at every write into the
	// commit (a Badger scan steps over every version still in the LSM, so
	// a bucket lookup cost grew with the writes made into the commit).
	pOpenIdx = "OI/"
	pNode    = "N/"
	pPurge   = "P/"
	pAudit   = "L/"
)

// Open opens (or creates) the store in dir on Badger (in memory when
// opts.InMemory).
func Open(dir string, opts Options) (*Store, error) {
	if opts.InMemory {
		return OpenStore(memkv.New(kv.Limits{}), opts)
	}
	db, err := badgerkv.Open(badgerkv.Options{Dir: dir, MemTableSize: opts.MemTableSize,
		BlockCacheSize: opts.BlockCacheSize, IndexCacheSize: opts.IndexCacheSize})
	if err != nil {
		return nil, errs.Wrap("meta.Open", errs.Internal, err)
	}
	s, err := OpenStore(db, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OpenStore runs the engine on db, which it then owns (Close closes it).
// On error, db is left open.
func OpenStore(db kv.Store, opts Options) (*Store, error) {
	if opts.NodeCacheBytes == 0 {
		opts.NodeCacheBytes = DefaultNodeCacheBytes
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 256
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{db: db, opts: opts, nodes: newNodeCache(opts.NodeCacheBytes),
		commits: newCommitCache(commitCacheSize),
		queue:   make(chan *op, 1024), done: make(chan struct{}), purged: map[string][]purgeRec{}}
	if err := s.loadPurged(); err != nil {
		return nil, err
	}
	if err := s.loadClock(); err != nil {
		return nil, errs.Wrap("meta.Open", errs.Internal, err)
	}
	s.wg.Add(1)
	go s.committer()
	return s, nil
}

// Close stops the committer (after draining queued writes) and closes the
// KV store.
func (s *Store) Close() error {
	close(s.done)
	s.wg.Wait()
	return s.db.Close()
}

// Repo is a repository record.
type Repo struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Public  bool      `json:"public,omitempty"`
	// Owner is the user who created the repo, as S3's bucket owner. Records
	// written before owners were kept have none: use OwnerName.
	Owner string `json:"owner,omitempty"`
	// Location is the LocationConstraint the repo was created with through
	// S3 ("" = none given).
	Location string `json:"location,omitempty"`
}

// DefaultOwner owns repos whose record names no owner (made before owners
// were recorded): the admin user made at first start.
const DefaultOwner = "admin"

// OwnerName is the repo's owner: Owner, or DefaultOwner when none is
// recorded.
func (r *Repo) OwnerName() string {
	if r.Owner == "" {
		return DefaultOwner
	}
	return r.Owner
}

// RepoOptions are the settings a repo is created with.
type RepoOptions struct {
	// Owner of the repo; "" = the author creating it.
	Owner string
	// Location is the LocationConstraint to record.
	Location string
	// Public makes the repo public-read from its creation.
	Public bool
}

// Branch is a branch record.
type Branch struct {
	Name      string `json:"name"`
	Head      string `json:"head"`
	Protected bool   `json:"protected,omitempty"`
	// RequiredPipelines (protected branches only) are the pipelines that
	// must have succeeded on a merge's source before it may land here (a
	// merge gate, enforced by the admin API with the pipelines service).
	RequiredPipelines []string `json:"required_pipelines,omitempty"`
	// Output names the pipeline writing this branch (read-only to users).
	Output string `json:"output,omitempty"`
	// Versioning is S3's versioning status of the branch's bucket:
	// "" (Enabled, the default) or "Suspended" (SPEC §3: writes still
	// commit; their versions are null versions).
	Versioning string `json:"versioning,omitempty"`
}

// Tag is a tag record.
type Tag struct {
	Name    string    `json:"name"`
	Commit  string    `json:"commit"`
	Created time.Time `json:"created"`
}

// Commit is an immutable snapshot.
type Commit struct {
	ID      string            `json:"id"`
	Repo    string            `json:"repo"`
	Parents []string          `json:"parents,omitempty"`
	Author  string            `json:"author,omitempty"`
	Message string            `json:"message,omitempty"`
	Time    time.Time         `json:"time"`
	Root    Hash              `json:"root"`
	VRoot   Hash              `json:"vroot"`
	Depth   int64             `json:"depth"` // first-parent depth; the repo's first commit is 0
	Gen     int64             `json:"gen"`   // 1 + max parent generation
	Meta    map[string]string `json:"meta,omitempty"`
}

// OpenCommit is a commit in progress on a branch.
type OpenCommit struct {
	ID      string            `json:"id"`
	Repo    string            `json:"repo"`
	Branch  string            `json:"branch"`
	Base    string            `json:"base"` // commit the working tree started from
	Root    Hash              `json:"root"` // working live tree
	Author  string            `json:"author,omitempty"`
	Message string            `json:"message,omitempty"`
	Started time.Time         `json:"started"`
	Meta    map[string]string `json:"meta,omitempty"`
	// System open commits (pipelines) may finish on protected branches.
	System bool `json:"system,omitempty"`
}

func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return errors.New("bad hash")
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// NewID returns a new commit id: 128 random bits as 32 lowercase hex chars.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// ---- low-level record access (inside a KV txn) ----

// getJSON decodes key's record into v; NotExist when it is absent.
func getJSON(txn kv.Reader, key string, v any) error {
	ok, err := kv.GetJSON(txn, key, v)
	if err == nil && !ok {
		return errs.E("meta.get", errs.NotExist, "%s not found", key)
	}
	return err
}

// withValue calls fn with the iterator's current value.
func withValue(it kv.Iterator, fn func(b []byte) error) error {
	b, err := it.Value()
	if err != nil {
		return err
	}
	return fn(b)
}

// valueCopy returns a copy of the iterator's current value.
func valueCopy(it kv.Iterator) ([]byte, error) {
	b, err := it.Value()
	return bytes.Clone(b), err
}

// noSuchBucket is NotExist for a repo or a ref (r: errs.Repo or errs.Ref).
func noSuchBucket(r errs.Reason, what string, args ...any) error {
	return errs.E("meta", errs.NotExist, what, args...).Because(r)
}

func (s *Store) repoTx(txn kv.Reader, name string) (*Repo, error) {
	var r Repo
	if err := getJSON(txn, pRepo+name, &r); err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, noSuchBucket(errs.Repo, "repo %q does not exist", name)
		}
		return nil, err
	}
	return &r, nil
}

func (s *Store) branchTx(txn kv.Reader, repo, name string) (*Branch, error) {
	var b Branch
	if err := getJSON(txn, pBranch+repo+"/"+name, &b); err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, noSuchBucket(errs.Ref, "branch %q of repo %q does not exist", name, repo)
		}
		return nil, err
	}
	return &b, nil
}

func (s *Store) commitTx(txn kv.Reader, repo, id string) (*Commit, error) {
	if c, ok := s.commits.Load(repo + "/" + id); ok {
		return c, nil
	}
	var c Commit
	if err := getJSON(txn, pCommit+repo+"/"+id, &c); err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, errs.E("meta.commit", errs.NotExist, "commit %s not found in repo %q", id, repo).Because(errs.Commit)
		}
		return nil, err
	}
	s.commits.Store(repo+"/"+id, &c)
	return &c, nil
}

// findCommitTx resolves a commit id or unique prefix of 12+ hex chars.
func (s *Store) findCommitTx(txn kv.Reader, repo, prefix string) (*Commit, error) {
	if len(prefix) == 32 {
		return s.commitTx(txn, repo, prefix)
	}
	if !names.IsCommitPrefix(prefix) {
		return nil, errs.E("meta.findCommit", errs.NotExist, "no commit %q in repo %q", prefix, repo).Because(errs.Commit)
	}
	it := txn.Iter(kv.IterOptions{Prefix: []byte(pCommit + repo + "/" + prefix)})
	defer it.Close()
	var found string
	for ; it.Valid(); it.Next() {
		k := string(it.Key())
		if found != "" {
			return nil, errs.E("meta.findCommit", errs.Invalid, "commit prefix %q is ambiguous in repo %q", prefix, repo)
		}
		found = k[strings.LastIndexByte(k, '/')+1:]
	}
	if found == "" {
		return nil, errs.E("meta.findCommit", errs.NotExist, "no commit %q in repo %q", prefix, repo).Because(errs.Commit)
	}
	return s.commitTx(txn, repo, found)
}

// ---- node access ----

type txnNodes struct {
	s   *Store
	txn kv.Reader
}

func (t txnNodes) getNode(h Hash) (*node, error) {
	if n := t.s.nodes.get(h); n != nil {
		return n, nil
	}
	b, err := t.txn.Get(append([]byte(pNode), h[:]...))
	if err != nil {
		return nil, errs.E("meta.getNode", errs.Internal, "tree node %s missing: %v", h, err)
	}
	n, err := decodeNode(b)
	if err != nil {
		return nil, err
	}
	t.s.nodes.add(h, n)
	return n, nil
}

// putNodeIn stores n in txn (and the node cache).
func putNodeIn(s *Store, txn kv.ReadWriter, n *node) (Hash, error) {
	// The cached node is built with the encoding, not re-parsed from it;
	// it aliases the encoding, never the caller's slices.
	h, b, dn := hashNodeDecoded(n)
	if err := txn.Set(append([]byte(pNode), h[:]...), b); err != nil {
		return h, err
	}
	s.nodes.add(h, dn)
	return h, nil
}

// view runs fn in a read transaction (a snapshot).
func (s *Store) view(fn func(txn kv.Reader) error) error {
	txn, err := s.db.Begin(false)
	if err != nil {
		return err
	}
	defer txn.Discard()
	return fn(txn)
}

// ctxErr maps a done context to a Transient error.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return errs.Wrap(op, errs.Transient, err)
	}
	return nil
}
