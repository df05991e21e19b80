package meta

import (
	"bytes"
	"context"
	"sort"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// Removal names one version of one key to remove from a branch's view:
// S3's DeleteObject with a versionId (SPEC §3).
type Removal struct {
	Key string
	// Version is the version id: the id of the commit that wrote the
	// version (full, or a unique prefix of 12+ chars), or NullVersion.
	Version string
}

// RemovalResult says what one Removal found.
type RemovalResult struct {
	// Found: the version was in the branch's view and left it.
	Found bool
	// Marker: the removed version was a delete marker.
	Marker bool
	// Version is the removed version's id as clients see it ("null" for a
	// null version); the requested id when not found.
	Version string
}

// removalSet is the effect of a request's removals on one head.
type removalSet struct {
	// vdels are the version-tree keys to delete, sorted.
	vdels []Mut
	// live are the live-tree mutations: a key whose current version was
	// removed becomes its newest remaining version, or absent.
	live    []Mut
	results []RemovalResult
}

func (rs *removalSet) removes(vk []byte) bool {
	for _, m := range rs.vdels {
		if bytes.Equal(m.Key, vk) {
			return true
		}
	}
	return false
}

// removals computes what items remove from head's view: each found version
// leaves the version tree; a key whose newest version goes gets its newest
// remaining version (with that version's own id, time and metadata) in the
// live tree, or is absent when none remains or the newest remaining is a
// delete marker. Versions not in the view are reported not found, as S3
// answers a delete of an absent version with success. Cost per key:
// O(log V + versions of the key up to the newest remaining one).
func (w *wtx) removals(head *Commit, items []Removal) (*removalSet, error) {
	rs := &removalSet{results: make([]RemovalResult, len(items))}
	if len(items) == 0 {
		return rs, nil
	}
	gone := map[string]map[string]bool{} // key -> removed vkeys
	for i, it := range items {
		rs.results[i] = RemovalResult{Version: it.Version}
		vk, e, err := w.findVersion(head, it.Key, it.Version)
		if err != nil {
			return nil, err
		}
		if vk == nil {
			continue
		}
		rs.results[i] = RemovalResult{Found: true, Marker: e.Deleted, Version: e.VersionID()}
		if gone[it.Key] == nil {
			gone[it.Key] = map[string]bool{}
		}
		if !gone[it.Key][string(vk)] {
			gone[it.Key][string(vk)] = true
			rs.vdels = append(rs.vdels, Mut{Key: vk})
		}
	}
	sort.Slice(rs.vdels, func(i, j int) bool { return bytes.Compare(rs.vdels[i].Key, rs.vdels[j].Key) < 0 })
	keys := make([]string, 0, len(gone))
	for k := range gone {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		m, changed, err := w.afterRemoval(head, key, gone[key])
		if err != nil {
			return nil, err
		}
		if changed {
			rs.live = append(rs.live, m)
		}
	}
	return rs, nil
}

// findVersion returns the version-tree key and entry of key's version
// version in head's view, or a nil key when there is none.
func (w *wtx) findVersion(head *Commit, key, version string) ([]byte, *Entry, error) {
	if version == NullVersion {
		return w.nullVersion(head.VRoot, key)
	}
	c, err := w.s.findCommitTx(w.txn, head.Repo, version)
	if err != nil {
		if errs.Is(err, errs.NotExist) || errs.Is(err, errs.Invalid) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	vk := vkey(key, c.Depth)
	v, ok, err := treeGet(w.nodes(), head.VRoot, vk)
	if err != nil || !ok {
		return nil, nil, err
	}
	e, err := DecodeEntry(v)
	if err != nil {
		return nil, nil, err
	}
	if e.Version != c.ID || e.Null {
		// A null version is named "null", not by its commit.
		return nil, nil, nil
	}
	return vk, e, nil
}

// nullVersion returns key's null version in the version tree vroot (at
// most one exists), or a nil key. O(log V + versions of the key).
func (w *wtx) nullVersion(vroot Hash, key string) ([]byte, *Entry, error) {
	return nullVersionIn(w.nodes(), vroot, key)
}

func nullVersionIn(src nodeSource, vroot Hash, key string) ([]byte, *Entry, error) {
	var vk []byte
	var found *Entry
	err := keyVersions(src, vroot, key, func(k []byte, e func() (*Entry, error)) (bool, error) {
		en, err := e()
		if err != nil || !en.Null {
			return false, err
		}
		vk, found = append([]byte(nil), k...), en
		return true, nil
	})
	return vk, found, err
}

// keyVersions calls fn for key's versions in the version tree vroot,
// newest first, with the version-tree key and a decoder of the entry, until
// fn answers stop or returns an error. O(log V + versions visited).
func keyVersions(src nodeSource, vroot Hash, key string, fn func(vk []byte, entry func() (*Entry, error)) (stop bool, err error)) error {
	if vroot.IsZero() {
		return nil
	}
	c := seek(src, vroot, append([]byte(key), 0))
	for ; c.valid(); c.next() {
		if k, _ := splitVKey(c.key()); k != key {
			break
		}
		stop, err := fn(c.key(), func() (*Entry, error) { return DecodeEntry(c.val()) })
		if err != nil || stop {
			return err
		}
	}
	return c.err
}

// afterRemoval returns the live-tree mutation for key once the version-tree
// keys in gone are removed from head's view, and whether there is one.
func (w *wtx) afterRemoval(head *Commit, key string, gone map[string]bool) (Mut, bool, error) {
	newest, stays := true, false
	var next *Entry
	err := keyVersions(w.nodes(), head.VRoot, key, func(vk []byte, entry func() (*Entry, error)) (bool, error) {
		if gone[string(vk)] {
			newest = false
			return false, nil
		}
		if newest {
			stays = true // the current version stays
			return true, nil
		}
		e, err := entry()
		if err != nil || w.s.purgedIn(head.Repo, e) {
			return false, err
		}
		next = e
		return true, nil
	})
	if err != nil || stays {
		return Mut{}, false, err
	}
	if next != nil && !next.Deleted {
		return Mut{Key: []byte(key), Val: next.Encode()}, true, nil
	}
	if _, ok, err := treeGet(w.nodes(), head.Root, []byte(key)); err != nil || !ok {
		return Mut{}, false, err
	}
	return Mut{Key: []byte(key)}, true, nil
}

// mergeMuts merges two sorted mutation lists; on equal keys a wins.
func mergeMuts(a, b []Mut) []Mut {
	if len(b) == 0 {
		return a
	}
	out := make([]Mut, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b):
			out = append(out, a[i])
			i++
		case i == len(a):
			out = append(out, b[j])
			j++
		default:
			switch cmp := bytes.Compare(a[i].Key, b[j].Key); {
			case cmp < 0:
				out = append(out, a[i])
				i++
			case cmp > 0:
				out = append(out, b[j])
				j++
			default:
				out = append(out, a[i])
				i++
				j++
			}
		}
	}
	return out
}

// VersioningSuspended is Branch.Versioning when S3 versioning is suspended.
const VersioningSuspended = "Suspended"

// SetVersioning sets the S3 versioning status of a branch's bucket:
// "Enabled" or "Suspended" (SPEC §3). Invalid for anything else.
func (s *Store) SetVersioning(ctx context.Context, repo, branch, status string) error {
	switch status {
	case "Enabled":
		status = ""
	case VersioningSuspended:
	default:
		return errs.E("meta.SetVersioning", errs.Invalid, "versioning status %q is neither Enabled nor Suspended", status)
	}
	return s.update(ctx, func(w *wtx) error {
		br, err := w.s.branchTx(w.txn, repo, branch)
		if err != nil {
			return err
		}
		if br.Versioning == status {
			return nil
		}
		nb := *br
		nb.Versioning = status
		return kv.PutJSON(w.txn, pBranch+repo+"/"+branch, &nb)
	})
}

// versionDepth returns the version-tree depth of key's version version in
// vroot (a commit id or prefix, or NullVersion), for paging.
func (s *Store) versionDepth(txn kv.Reader, repo string, vroot Hash, key, version string) (int64, bool, error) {
	if version == NullVersion {
		vk, _, err := nullVersionIn(txnNodes{s, txn}, vroot, key)
		if err != nil || vk == nil {
			return 0, false, err
		}
		_, d := splitVKey(vk)
		return d, true, nil
	}
	if version == "" {
		return 0, false, nil
	}
	c, err := s.findCommitTx(txn, repo, version)
	if err != nil {
		return 0, false, nil
	}
	return c.Depth, true, nil
}

// anyVersion returns the key of the first version (or delete marker) the
// version tree vroot lists, "" when it lists none (purged versions are not
// listed). O(log V + purged versions skipped).
func (s *Store) anyVersion(src nodeSource, repo string, vroot Hash) (string, error) {
	if vroot.IsZero() {
		return "", nil
	}
	c := seek(src, vroot, nil)
	for ; c.valid(); c.next() {
		e, err := DecodeEntry(c.val())
		if err != nil {
			return "", err
		}
		if !s.purgedIn(repo, e) {
			k, _ := splitVKey(c.key())
			return k, nil
		}
	}
	return "", c.err
}
