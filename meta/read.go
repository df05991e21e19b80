package meta

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta/kv"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// RefKind says what a ref resolved to.
type RefKind int

const (
	KindBranch RefKind = iota + 1
	KindTag
	KindCommit
	KindOpen
)

// Ref is a resolved ref: exactly one of Commit (branches, tags, commits)
// and Open (open commits) is set.
type Ref struct {
	Repo   *Repo
	Kind   RefKind
	Name   string // branch or tag name, or the full commit id
	Branch *Branch
	Commit *Commit
	Open   *OpenCommit
}

// Root returns the live tree the ref reads.
func (r *Ref) Root() Hash {
	if r.Open != nil {
		return r.Open.Root
	}
	return r.Commit.Root
}

// CommitID is the commit the ref reads (the open commit's id for open
// commits).
func (r *Ref) CommitID() string {
	if r.Open != nil {
		return r.Open.ID
	}
	return r.Commit.ID
}

// Resolve resolves ref in repo: branch, then tag, then open commit or
// commit id (full, or a unique prefix of 12+ chars). NoSuchBucket when the
// repo or ref is unknown.
func (s *Store) Resolve(ctx context.Context, repo, ref string) (*Ref, error) {
	var r *Ref
	err := s.view(func(txn kv.Reader) error {
		var err error
		r, err = s.resolveTx(txn, repo, ref)
		return err
	})
	return r, err
}

func (s *Store) resolveTx(txn kv.Reader, repo, ref string) (*Ref, error) {
	rp, err := s.repoTx(txn, repo)
	if err != nil {
		return nil, err
	}
	if ref == "" {
		ref = "main"
	}
	if br, err := s.branchTx(txn, repo, ref); err == nil {
		c, err := s.commitTx(txn, repo, br.Head)
		if err != nil {
			return nil, err
		}
		return &Ref{Repo: rp, Kind: KindBranch, Name: ref, Branch: br, Commit: c}, nil
	} else if !errs.Is(err, errs.NotExist) {
		return nil, err
	}
	var t Tag
	if err := getJSON(txn, pTag+repo+"/"+ref, &t); err == nil {
		c, err := s.commitTx(txn, repo, t.Commit)
		if err != nil {
			return nil, err
		}
		return &Ref{Repo: rp, Kind: KindTag, Name: ref, Commit: c}, nil
	} else if !errs.Is(err, errs.NotExist) {
		return nil, err
	}
	if names.IsCommitPrefix(ref) {
		if oc, err := s.findOpenTx(txn, repo, ref); err == nil {
			return &Ref{Repo: rp, Kind: KindOpen, Name: oc.ID, Open: oc}, nil
		}
		if c, err := s.findCommitTx(txn, repo, ref); err == nil {
			return &Ref{Repo: rp, Kind: KindCommit, Name: c.ID, Commit: c}, nil
		} else if errs.Is(err, errs.Invalid) {
			return nil, err
		}
	}
	return nil, noSuchBucket(errs.Ref, "ref %q of repo %q does not exist", ref, repo)
}

// findOpenTx returns the open commit of repo whose id starts with prefix.
// Errors: NotExist when none does, Invalid when several do.
func (s *Store) findOpenTx(txn kv.Reader, repo, prefix string) (*OpenCommit, error) {
	// The index (pOpenIdx) first: its keys have one version each.
	var ids []string
	ix := txn.Iter(kv.IterOptions{Prefix: []byte(pOpenIdx + repo + "/" + prefix), KeysOnly: true})
	for ; ix.Valid() && len(ids) < 2; ix.Next() {
		ids = append(ids, string(ix.Key()[len(pOpenIdx)+len(repo)+1:]))
	}
	ix.Close()
	switch len(ids) {
	case 1:
		var oc OpenCommit
		if err := getJSON(txn, pOpen+repo+"/"+ids[0], &oc); err == nil {
			return &oc, nil
		} else if !errs.Is(err, errs.NotExist) {
			return nil, err
		}
	case 2:
		return nil, errs.E("meta.findOpen", errs.Invalid, "open commit prefix %q is ambiguous", prefix)
	}
	// An open commit started before the index existed: scan its records.
	it := txn.Iter(kv.IterOptions{Prefix: []byte(pOpen + repo + "/" + prefix)})
	defer it.Close()
	var oc *OpenCommit
	for ; it.Valid(); it.Next() {
		if oc != nil {
			return nil, errs.E("meta.findOpen", errs.Invalid, "open commit prefix %q is ambiguous", prefix)
		}
		oc = &OpenCommit{}
		if err := withValue(it, func(b []byte) error { return json.Unmarshal(b, oc) }); err != nil {
			return nil, err
		}
	}
	if oc == nil {
		return nil, errs.E("meta.findOpen", errs.NotExist, "no open commit %q", prefix)
	}
	return oc, nil
}

// GetCommit returns a commit by id or unique 12+ char prefix.
func (s *Store) GetCommit(ctx context.Context, repo, id string) (*Commit, error) {
	var c *Commit
	err := s.view(func(txn kv.Reader) error {
		var err error
		c, err = s.findCommitTx(txn, repo, id)
		return err
	})
	return c, err
}

// GetRepo returns a repo record; NoSuchBucket if absent.
func (s *Store) GetRepo(ctx context.Context, name string) (*Repo, error) {
	var r *Repo
	err := s.view(func(txn kv.Reader) error {
		var err error
		r, err = s.repoTx(txn, name)
		return err
	})
	return r, err
}

// listJSON lists the records under prefix in a snapshot.
func listJSON[T any](s *Store, prefix string) ([]T, error) {
	var out []T
	err := s.view(func(txn kv.Reader) error {
		var err error
		out, err = kv.ListJSON[T](txn, prefix)
		return err
	})
	return out, err
}

// ListRepos lists repos by name.
func (s *Store) ListRepos(ctx context.Context) ([]Repo, error) { return listJSON[Repo](s, pRepo) }

// ListBranches lists a repo's branches by name.
func (s *Store) ListBranches(ctx context.Context, repo string) ([]Branch, error) {
	if _, err := s.GetRepo(ctx, repo); err != nil {
		return nil, err
	}
	return listJSON[Branch](s, pBranch+repo+"/")
}

// ListTags lists a repo's tags by name.
func (s *Store) ListTags(ctx context.Context, repo string) ([]Tag, error) {
	if _, err := s.GetRepo(ctx, repo); err != nil {
		return nil, err
	}
	return listJSON[Tag](s, pTag+repo+"/")
}

// readNodes is a nodeSource over short read transactions; nodes are
// immutable so reads need no snapshot.
type readNodes struct{ s *Store }

func (r readNodes) getNode(h Hash) (*node, error) {
	if n := r.s.nodes.get(h); n != nil {
		return n, nil
	}
	var n *node
	err := r.s.view(func(txn kv.Reader) error {
		var err error
		n, err = txnNodes{r.s, txn}.getNode(h)
		return err
	})
	return n, err
}

func noSuchKey(key string) error {
	return errs.E("meta.Get", errs.NotExist, "key %q does not exist", key).Because(errs.Key)
}

func noSuchVersion(key, v string) error {
	return errs.E("meta.Get", errs.NotExist, "version %q of key %q does not exist", v, key).Because(errs.Version)
}

// purgedVersion is the error of a read of a version whose content was
// purged: kind Purged; to clients it reads as a version that does not exist.
func purgedVersion(key, v string) error {
	return errs.E("meta.Get", errs.Purged, "version %q of key %q does not exist", v, key).Because(errs.Version)
}

// Get returns key's entry in the live tree at root. NoSuchKey if absent or
// purged (without history to fall back on; see GetLatest).
// Only purges of every repo apply (Get knows no repo).
func (s *Store) Get(ctx context.Context, root Hash, key string) (*Entry, error) {
	return s.GetLatest(ctx, "", root, Hash{}, key)
}

// GetLatest returns key's current entry in the live tree at root. When that
// version's content was purged, the key reads as its newest surviving
// version in the version tree vroot (absent if that is a delete marker or
// every version was purged). NoSuchKey when absent.
func (s *Store) GetLatest(ctx context.Context, repo string, root, vroot Hash, key string) (*Entry, error) {
	v, ok, err := treeGet(readNodes{s}, root, []byte(key))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, noSuchKey(key)
	}
	e, err := DecodeEntry(v)
	if err != nil {
		return nil, err
	}
	if s.purgedIn(repo, e) {
		if e, err = s.survivor(repo, vroot, key); err != nil || e == nil {
			if err == nil {
				err = noSuchKey(key)
			}
			return nil, err
		}
	}
	return e, nil
}

// survivor returns the newest version of key in vroot whose content is not
// purged, or nil when there is none or it is a delete marker. O(log V +
// purged versions of key).
func (s *Store) survivor(repo string, vroot Hash, key string) (*Entry, error) {
	return s.survivorIn(readNodes{s}, repo, vroot, key)
}

func (s *Store) survivorIn(src nodeSource, repo string, vroot Hash, key string) (*Entry, error) {
	var out *Entry
	err := keyVersions(src, vroot, key, func(_ []byte, entry func() (*Entry, error)) (bool, error) {
		e, err := entry()
		if err != nil {
			return false, err
		}
		if e.Deleted {
			return true, nil
		}
		if !s.purgedIn(repo, e) {
			out = e
			return true, nil
		}
		return false, nil
	})
	return out, err
}

// GetVersion returns the version of key written by commit version (full id
// or 12+ char prefix) in ref's first-parent history; it may be a delete
// marker (Deleted). NotExist (reason Version) when that commit did not write key, is
// not in the history; Purged (reason Version) when its content was purged.
func (s *Store) GetVersion(ctx context.Context, ref *Ref, key, version string) (*Entry, error) {
	if ref.Open != nil {
		if strings.HasPrefix(ref.Open.ID, version) && len(version) >= 12 {
			e, err := s.Get(ctx, ref.Open.Root, key)
			if err == nil && e.Version == ref.Open.ID {
				return e, nil
			}
			return nil, noSuchVersion(key, version)
		}
		base, err := s.GetCommit(ctx, ref.Repo.Name, ref.Open.Base)
		if err != nil {
			return nil, err
		}
		ref = &Ref{Repo: ref.Repo, Kind: KindCommit, Commit: base}
	}
	if version == NullVersion {
		_, e, err := nullVersionIn(readNodes{s}, ref.Commit.VRoot, key)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, noSuchVersion(key, version)
		}
		if s.purgedIn(ref.Repo.Name, e) {
			return nil, purgedVersion(key, version)
		}
		return e, nil
	}
	c, err := s.GetCommit(ctx, ref.Repo.Name, version)
	if err != nil {
		if errs.Is(err, errs.NotExist) || errs.Is(err, errs.Invalid) {
			return nil, noSuchVersion(key, version)
		}
		return nil, err
	}
	v, ok, err := treeGet(readNodes{s}, ref.Commit.VRoot, vkey(key, c.Depth))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, noSuchVersion(key, version)
	}
	e, err := DecodeEntry(v)
	if err != nil {
		return nil, err
	}
	if e.Version != c.ID || e.Null {
		return nil, noSuchVersion(key, version)
	}
	if s.purgedIn(ref.Repo.Name, e) {
		return nil, purgedVersion(key, version)
	}
	return e, nil
}

// KeyEntry is a key with its entry.
type KeyEntry struct {
	Key   string
	Entry *Entry
}

// ListPage is one page of a listing.
type ListPage struct {
	Entries   []KeyEntry
	Prefixes  []string
	Truncated bool
	// Next is the last key or common prefix returned.
	Next string
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none.
func prefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] < 0xff {
			e[i]++
			return e[:i+1]
		}
	}
	return nil
}

// List lists the live tree at root: keys with prefix, rolled up at
// delimiter into common prefixes, strictly after startAfter, at most max
// keys and prefixes together. Cost: O(log n + page) node reads; a common
// prefix costs one seek. Keys whose current content was purged are left out
// (ListLatest falls back to their surviving versions).
func (s *Store) List(ctx context.Context, root Hash, prefix, delim, startAfter string, max int) (*ListPage, error) {
	return s.ListLatest(ctx, "", root, Hash{}, prefix, delim, startAfter, max)
}

// ListLatest is List where a key whose current content was purged shows
// its newest surviving version from the version tree vroot (see GetLatest).
// A common prefix is listed only when a key under it is.
func (s *Store) ListLatest(ctx context.Context, repo string, root, vroot Hash, prefix, delim, startAfter string, max int) (*ListPage, error) {
	page := &ListPage{}
	if max <= 0 {
		return page, nil
	}
	src := readNodes{s}
	start := prefix
	if startAfter > start {
		start = startAfter
	}
	c := seek(src, root, []byte(start))
	for c.valid() {
		if err := ctxErr(ctx, "meta.List"); err != nil {
			return nil, err
		}
		k := string(c.key())
		if !strings.HasPrefix(k, prefix) {
			break
		}
		if startAfter != "" && k <= startAfter {
			c.next()
			continue
		}
		e, err := DecodeEntry(c.val())
		if err != nil {
			return nil, err
		}
		if s.purgedIn(repo, e) {
			if e, err = s.survivor(repo, vroot, k); err != nil {
				return nil, err
			}
			if e == nil {
				c.next()
				continue
			}
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if startAfter == "" || cp > startAfter {
					if len(page.Entries)+len(page.Prefixes) >= max {
						page.Truncated = true
						return page, nil
					}
					page.Prefixes = append(page.Prefixes, cp)
					page.Next = cp
				}
				end := prefixEnd([]byte(cp))
				if end == nil {
					break
				}
				c = seek(src, root, end)
				continue
			}
		}
		if len(page.Entries)+len(page.Prefixes) >= max {
			page.Truncated = true
			return page, nil
		}
		page.Entries = append(page.Entries, KeyEntry{Key: k, Entry: e})
		page.Next = k
		c.next()
	}
	if c.err != nil {
		return nil, c.err
	}
	return page, nil
}
