package meta

import (
	"context"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// Version is one entry of a version listing.
type Version struct {
	Key      string
	Entry    *Entry // Deleted for delete markers
	IsLatest bool
}

// VersionPage is one page of ListVersions.
type VersionPage struct {
	Versions    []Version
	Prefixes    []string
	Truncated   bool
	NextKey     string
	NextVersion string
}

// ListVersions lists the versions of keys along the first-parent history
// of c (SPEC §4): by key, newest first within a key; a commit is a version
// of a key when it changed the key relative to its first parent. Paging:
// keyMarker alone starts after every version of that key; with
// versionMarker it starts after that version. Cost: O(log V + page).
func (s *Store) ListVersions(ctx context.Context, c *Commit, prefix, delim, keyMarker, versionMarker string, max int) (*VersionPage, error) {
	page := &VersionPage{}
	if max <= 0 {
		return page, nil
	}
	src := readNodes{s}
	var start []byte
	midKey := "" // key whose first versions come before the page start
	switch {
	case keyMarker != "" && versionMarker != "":
		var depth int64
		var ok bool
		err := s.view(func(txn kv.Reader) error {
			var err error
			depth, ok, err = s.versionDepth(txn, c.Repo, c.VRoot, keyMarker, versionMarker)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errs.E("meta.ListVersions", errs.Invalid, "version-id-marker %q is not a version in this bucket", versionMarker).Because(errs.Argument)
		}
		start = append(vkey(keyMarker, depth), 0) // just after it
		midKey = keyMarker
	case keyMarker != "":
		start = append([]byte(keyMarker), 1)
	default:
		start = []byte(prefix)
	}
	if string(start) < prefix {
		start = []byte(prefix)
	}
	cur := seek(src, c.VRoot, start)
	prevKey := midKey
	for cur.valid() {
		if err := ctxErr(ctx, "meta.ListVersions"); err != nil {
			return nil, err
		}
		k, _ := splitVKey(cur.key())
		if !strings.HasPrefix(k, prefix) {
			break
		}
		e, err := DecodeEntry(cur.val())
		if err != nil {
			return nil, err
		}
		if s.purgedIn(c.Repo, e) {
			cur.next()
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if keyMarker == "" || cp > keyMarker {
					if len(page.Versions)+len(page.Prefixes) >= max {
						page.Truncated = true
						return page, nil
					}
					page.Prefixes = append(page.Prefixes, cp)
					page.NextKey, page.NextVersion = cp, ""
				}
				end := prefixEnd([]byte(cp))
				if end == nil {
					break
				}
				cur = seek(src, c.VRoot, end)
				prevKey = ""
				continue
			}
		}
		// The newest surviving (not purged) version of a key is its latest.
		latest := k != prevKey
		prevKey = k
		if len(page.Versions)+len(page.Prefixes) >= max {
			page.Truncated = true
			return page, nil
		}
		page.Versions = append(page.Versions, Version{Key: k, Entry: e, IsLatest: latest})
		page.NextKey, page.NextVersion = k, e.VersionID()
		cur.next()
	}
	if cur.err != nil {
		return nil, cur.err
	}
	return page, nil
}

// Log returns up to limit commits of c's first-parent history, newest
// first, starting at c.
func (s *Store) Log(ctx context.Context, c *Commit, limit int) ([]*Commit, error) {
	var out []*Commit
	err := s.view(func(txn kv.Reader) error {
		cur := c
		for cur != nil && (limit <= 0 || len(out) < limit) {
			if err := ctxErr(ctx, "meta.Log"); err != nil {
				return err
			}
			out = append(out, cur)
			if len(cur.Parents) == 0 {
				break
			}
			var err error
			cur, err = s.commitTx(txn, c.Repo, cur.Parents[0])
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// DiffEntry is one difference between two trees.
type DiffEntry struct {
	Key  string
	From *Entry // nil: added
	To   *Entry // nil: removed
}

// Diff calls fn for every key under prefix that differs between the live
// trees a and b, in key order. Cost: O(changes x log n).
func (s *Store) Diff(ctx context.Context, a, b Hash, prefix string, fn func(DiffEntry) error) error {
	var to []byte
	if prefix != "" {
		to = prefixEnd([]byte(prefix))
	}
	return treeDiff(readNodes{s}, a, b, []byte(prefix), to, func(k, va, vb []byte) error {
		if err := ctxErr(ctx, "meta.Diff"); err != nil {
			return err
		}
		d := DiffEntry{Key: string(k)}
		var err error
		if va != nil {
			if d.From, err = DecodeEntry(va); err != nil {
				return err
			}
		}
		if vb != nil {
			if d.To, err = DecodeEntry(vb); err != nil {
				return err
			}
		}
		return fn(d)
	})
}

// LogPath returns up to limit commits of c's first-parent history, newest
// first, that changed a key under prefix relative to their first parent.
// Cost: per commit walked, a diff bounded to the prefix (O(changes x log n)).
func (s *Store) LogPath(ctx context.Context, c *Commit, prefix string, limit int) ([]*Commit, error) {
	var out []*Commit
	var to []byte
	if prefix != "" {
		to = prefixEnd([]byte(prefix))
	}
	stop := errs.E("meta.LogPath", errs.Other, "found")
	err := s.view(func(txn kv.Reader) error {
		cur := c
		for cur != nil && (limit <= 0 || len(out) < limit) {
			if err := ctxErr(ctx, "meta.LogPath"); err != nil {
				return err
			}
			var parent *Commit
			parentRoot := Hash{}
			if len(cur.Parents) > 0 {
				var err error
				if parent, err = s.commitTx(txn, c.Repo, cur.Parents[0]); err != nil {
					return err
				}
				parentRoot = parent.Root
			}
			err := treeDiff(txnNodes{s, txn}, parentRoot, cur.Root, []byte(prefix), to, func(k, va, vb []byte) error { return stop })
			if err == stop {
				out = append(out, cur)
			} else if err != nil {
				return err
			}
			cur = parent
		}
		return nil
	})
	return out, err
}

// ListOpenCommits lists a repo's open commits.
func (s *Store) ListOpenCommits(ctx context.Context, repo string) ([]OpenCommit, error) {
	if _, err := s.GetRepo(ctx, repo); err != nil {
		return nil, err
	}
	return listJSON[OpenCommit](s, pOpen+repo+"/")
}
