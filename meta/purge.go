package meta

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta/kv"
)

// Purge (SPEC §3) removes content on purpose, in a scope: one repo or every
// repo. It is never a side effect of an S3 call.
//
// A purge record P/<content>/<scope> (scope: a repo name, or "*" for every
// repo) holds a fence: the time of the purge. A version is purged when its
// content has a record whose scope covers its repo and the version was
// written at or before the fence (the committer gives every op a strictly
// later time), so the same bytes uploaded again after an unblocked purge
// read normally. Branch heads and open commits in the scope that showed a
// purged version are rewritten in the purge's op (a commit per branch
// without it); tags and finished commits keep their trees, and reads there
// skip purged versions. A record with Block refuses the bytes from then on.

// PurgeScopeAll is the scope of a purge of every repo.
const PurgeScopeAll = "*"

// purgeRec is one purge record.
type purgeRec struct {
	Scope string `json:"scope"`
	// Prov, when set, limits the purge to versions written by that
	// provenance record (a pipeline output derived from purged content).
	Prov  string    `json:"prov,omitempty"`
	Fence time.Time `json:"fence"`
	Block bool      `json:"block,omitempty"`
	User  string    `json:"user,omitempty"`
}

func purgeKey(content, scope, prov string) []byte {
	k := pPurge + content + "/" + scope
	if prov != "" {
		k += "/" + prov
	}
	return []byte(k)
}

func (s *Store) loadPurged() error {
	return s.view(func(txn kv.Reader) error {
		it := txn.Iter(kv.IterOptions{Prefix: []byte(pPurge)})
		defer it.Close()
		for ; it.Valid(); it.Next() {
			k := string(it.Key()[len(pPurge):])
			v, err := valueCopy(it)
			if err != nil {
				return err
			}
			content, scope, ok := strings.Cut(k, "/")
			var rec purgeRec
			if !ok {
				// A purge record of the first format: every repo, for good.
				t, _ := time.Parse(time.RFC3339Nano, string(v))
				if t.IsZero() {
					t = time.Unix(1<<40, 0)
				}
				rec = purgeRec{Scope: PurgeScopeAll, Fence: t, Block: true}
			} else if err := json.Unmarshal(v, &rec); err != nil {
				return errs.Wrap("meta.Open", errs.Internal, err)
			} else {
				rec.Scope, rec.Prov, _ = strings.Cut(scope, "/")
			}
			s.purged[content] = append(s.purged[content], rec)
			if rec.Fence.After(s.lastTick) {
				s.lastTick = rec.Fence
			}
		}
		return nil
	})
}

// purgedIn reports whether e, a version read in repo, is purged. Delete
// markers never are. repo "" is covered only by purges of every repo.
func (s *Store) purgedIn(repo string, e *Entry) bool {
	if e == nil || e.Content == "" {
		return false
	}
	s.purgeMu.RLock()
	defer s.purgeMu.RUnlock()
	for _, r := range s.purged[e.Content] {
		if (r.Scope == PurgeScopeAll || r.Scope == repo) && (r.Prov == "" || r.Prov == e.Prov) && !e.Time.After(r.Fence) {
			return true
		}
	}
	return false
}

// Purged reports whether version e of a key of repo was purged.
func (s *Store) Purged(repo string, e *Entry) bool { return s.purgedIn(repo, e) }

// Blocked reports whether content (SHA-256 hex) is refused for good.
func (s *Store) Blocked(content string) bool {
	if content == "" {
		return false
	}
	s.purgeMu.RLock()
	defer s.purgeMu.RUnlock()
	for _, r := range s.purged[content] {
		if r.Block {
			return true
		}
	}
	return false
}

// PurgeRequest is a purge of one content in a scope.
type PurgeRequest struct {
	// Content is the SHA-256 (hex) of the bytes.
	Content string
	// Repo is the scope: one repo, or "" for every repo.
	Repo string
	// Block refuses these bytes from now on (every-repo scope only).
	Block bool
	// Prov limits the purge to the versions that provenance record wrote
	// (pipeline outputs derived from purged content): identical bytes other
	// datums wrote stay.
	Prov string
	// User and Target are recorded in the audit log (Target: what the user
	// named, e.g. REPO@REF:KEY --version V).
	User, Target string
}

// PurgedVersion is one version a purge removed from a branch's view.
type PurgedVersion struct {
	Repo    string `json:"repo"`
	Branch  string `json:"branch"`
	Key     string `json:"key"`
	Version string `json:"version"`
}

// PurgeResult reports a purge.
type PurgeResult struct {
	Content string `json:"content"`
	Scope   string `json:"scope"`
	Block   bool   `json:"block,omitempty"`
	// Removed lists the versions removed from branch views (each branch
	// that showed one got one commit without it, listed in Commits).
	Removed []PurgedVersion `json:"removed"`
	Commits []PurgeCommit   `json:"commits,omitempty"`
	// OpenCommits counts the open commits whose writes of it were undone.
	OpenCommits int       `json:"open_commits,omitempty"`
	Time        time.Time `json:"time"`
}

// PurgeCommit is the commit a purge made on a branch.
type PurgeCommit struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Commit string `json:"commit"`
}

// Purge purges req.Content in req.Repo (or every repo) as one committer
// op: it writes the purge record (and an audit entry), then every branch in
// the scope whose view shows a version with that content gets one commit
// (a system write: protected and pipeline output branches included) in
// which those versions are removed as DeleteObject with their version ids
// removes them, and every open commit in the scope forgets its writes of
// it. The caller deletes the bytes. Cost: O(distinct tree nodes of the
// branch heads and open commits in the scope); writers wait meanwhile.
func (s *Store) Purge(ctx context.Context, req PurgeRequest) (*PurgeResult, error) {
	if len(req.Content) != 64 || !names.IsHex(req.Content) {
		return nil, errs.E("meta.Purge", errs.Invalid, "bad content hash %q: want 64 hex digits (SHA-256)", req.Content)
	}
	scope := req.Repo
	if scope == "" {
		scope = PurgeScopeAll
	} else if req.Block {
		return nil, errs.E("meta.Purge", errs.Invalid, "blocking content needs a purge of every repo, not of repo %s", req.Repo)
	}
	res := &PurgeResult{Content: req.Content, Scope: scope, Block: req.Block, Removed: []PurgedVersion{}}
	var added *purgeRec
	unadd := func() {
		if added == nil {
			return
		}
		s.purgeMu.Lock()
		rs := s.purged[req.Content]
		for i := range rs {
			if rs[i] == *added {
				s.purged[req.Content] = append(rs[:i:i], rs[i+1:]...)
				break
			}
		}
		s.purgeMu.Unlock()
		added = nil
	}
	err := s.update(ctx, func(w *wtx) error {
		// A run that overflowed its batch's transaction is run again in a
		// new one: the record of the first run goes.
		unadd()
		res.Removed, res.Commits, res.OpenCommits = []PurgedVersion{}, nil, 0
		var repos []string
		if scope == PurgeScopeAll {
			rs, err := kv.ListJSON[Repo](w.txn, pRepo)
			if err != nil {
				return err
			}
			for _, r := range rs {
				repos = append(repos, r.Name)
			}
		} else {
			if _, err := w.s.repoTx(w.txn, scope); err != nil {
				return err
			}
			repos = []string{scope}
		}
		rec := purgeRec{Scope: scope, Prov: req.Prov, Fence: w.now, Block: req.Block, User: req.User}
		// Reads and the removals below see the purge from now on; undone
		// if the op fails.
		s.purgeMu.Lock()
		s.purged[req.Content] = append(s.purged[req.Content], rec)
		s.purgeMu.Unlock()
		added = &rec
		res.Time = w.now
		for _, repo := range repos {
			if err := w.purgeRepo(repo, req, res); err != nil {
				return err
			}
		}
		if err := w.roomForRecords(); err != nil {
			return err
		}
		// A record of the same content and scope made before is replaced
		// by this one, whose fence is later; a block it set stays.
		durable := rec
		var prev purgeRec
		if err := getJSON(w.txn, string(purgeKey(req.Content, scope, req.Prov)), &prev); err == nil {
			durable.Block = durable.Block || prev.Block
		} else if !errs.Is(err, errs.NotExist) {
			return err
		}
		if err := kv.PutJSON(w.txn, string(purgeKey(req.Content, scope, req.Prov)), durable); err != nil {
			return err
		}
		detail := "content " + req.Content + " in " + scopeName(scope)
		if req.Prov != "" {
			detail += " written by provenance record " + req.Prov
		}
		if req.Block {
			detail += ", blocked"
		}
		detail += ": " + strconv.Itoa(len(res.Removed)) + " versions removed from " + strconv.Itoa(len(res.Commits)) + " branches"
		return w.audit(AuditEntry{Time: w.now, User: req.User, Action: "purge", Repo: req.Repo, Target: req.Target, Detail: detail})
	})
	if err != nil {
		unadd()
		return nil, err
	}
	return res, nil
}

func scopeName(scope string) string {
	if scope == PurgeScopeAll {
		return "every repo"
	}
	return "repo " + scope
}

// purgeRepo removes req.Content's purged versions from every branch view
// and open commit of repo.
func (w *wtx) purgeRepo(repo string, req PurgeRequest, res *PurgeResult) error {
	branches, err := kv.ListJSON[Branch](w.txn, pBranch+repo+"/")
	if err != nil {
		return err
	}
	memo := map[Hash]bool{}
	for _, br0 := range branches {
		br := br0
		head, err := w.s.commitTx(w.txn, repo, br.Head)
		if err != nil {
			return err
		}
		var rms []Removal
		err = findContent(w.nodes(), head.VRoot, req.Content, memo, func(k []byte, e *Entry) {
			if w.s.purgedIn(repo, e) {
				key, _ := splitVKey(k)
				rms = append(rms, Removal{Key: key, Version: e.VersionID()})
			}
		})
		if err != nil {
			return err
		}
		if len(rms) == 0 {
			continue
		}
		rm, err := w.removals(head, rms)
		if err != nil {
			return err
		}
		id := NewID()
		c, err := w.commit(head, &br, id, commitSpec{muts: rm.live, vdels: rm.vdels, author: req.User,
			msg: "purge content " + req.Content[:12] + " (" + req.Target + ")"})
		if err != nil {
			return err
		}
		res.Commits = append(res.Commits, PurgeCommit{Repo: repo, Branch: br.Name, Commit: c.ID})
		for i, r := range rms {
			if rm.results[i].Found {
				res.Removed = append(res.Removed, PurgedVersion{Repo: repo, Branch: br.Name, Key: r.Key, Version: r.Version})
			}
		}
	}
	opens, err := kv.ListJSON[OpenCommit](w.txn, pOpen+repo+"/")
	if err != nil {
		return err
	}
	for _, oc := range opens {
		base, err := w.s.commitTx(w.txn, repo, oc.Base)
		if err != nil {
			return err
		}
		var muts []Mut
		err = findContent(w.nodes(), oc.Root, req.Content, memo, func(k []byte, e *Entry) {
			if !w.s.purgedIn(repo, e) {
				return
			}
			// Forget the open commit's write: the key reads as at its base
			// (finishing then leaves the branch's version alone).
			m := Mut{Key: append([]byte(nil), k...)}
			if v, ok, err := treeGet(w.nodes(), base.Root, k); err == nil && ok {
				m.Val = v
			}
			muts = append(muts, m)
		})
		if err != nil {
			return err
		}
		if len(muts) == 0 {
			continue
		}
		root, err := treeApply(w.nodes(), oc.Root, muts)
		if err != nil {
			return err
		}
		if err := w.roomForRecords(); err != nil {
			return err
		}
		oc.Root = root
		if err := kv.PutJSON(w.txn, pOpen+repo+"/"+oc.ID, oc); err != nil {
			return err
		}
		res.OpenCommits++
	}
	return nil
}

// findContent calls fn, in key order, for every leaf entry of the tree at
// root whose content is content. memo remembers subtrees (by hash) holding
// no such entry, so trees sharing nodes are searched once.
func findContent(src nodeSource, root Hash, content string, memo map[Hash]bool, fn func(k []byte, e *Entry)) error {
	_, err := findContentNode(src, root, content, memo, fn)
	return err
}

func findContentNode(src nodeSource, h Hash, content string, memo map[Hash]bool, fn func(k []byte, e *Entry)) (bool, error) {
	if h.IsZero() {
		return false, nil
	}
	if has, ok := memo[h]; ok && !has {
		return false, nil
	}
	n, err := src.getNode(h)
	if err != nil {
		return false, err
	}
	found := false
	if n.leaf {
		for i, v := range n.vals {
			e, err := DecodeEntry(v)
			if err != nil {
				return false, err
			}
			if e.Content == content {
				found = true
				fn(n.keys[i], e)
			}
		}
	} else {
		for _, k := range n.kids {
			f, err := findContentNode(src, k, content, memo, fn)
			if err != nil {
				return false, err
			}
			found = found || f
		}
	}
	memo[h] = found
	return found, nil
}

// ContentReferenced reports whether any view (a branch head, tag, open
// commit or its base, or a commit a provenance record names) still shows a
// version with content (SHA-256 hex) that no purge covers, or a multipart
// part in flight holds it: a scoped purge then keeps the bytes for it.
// Cost: O(distinct tree nodes of the views).
func (s *Store) ContentReferenced(ctx context.Context, content string) (bool, error) {
	found := false
	err := s.view(func(txn kv.Reader) error {
		parts := map[string]bool{}
		_, views, openRoots, err := s.gcRoots(ctx, txn, s.opts.Now(), 0, parts)
		if err != nil {
			return err
		}
		if parts[content] {
			found = true
			return nil
		}
		src := txnNodes{s, txn}
		memo := map[Hash]bool{}
		check := func(repo string, root Hash) error {
			if found {
				return nil
			}
			return findContent(src, root, content, memo, func(k []byte, e *Entry) {
				if !s.purgedIn(repo, e) {
					found = true
				}
			})
		}
		for _, r := range views {
			c, err := s.commitTx(txn, r.repo, r.id)
			if err != nil {
				continue
			}
			if err := check(r.repo, c.Root); err != nil {
				return err
			}
			if err := check(r.repo, c.VRoot); err != nil {
				return err
			}
		}
		for _, o := range openRoots {
			if err := check(o.repo, o.h); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}

// Purges lists the purge records of content (all when content is ""), in
// scope order.
func (s *Store) Purges(content string) []PurgeInfo {
	s.purgeMu.RLock()
	defer s.purgeMu.RUnlock()
	var out []PurgeInfo
	for c, rs := range s.purged {
		if content != "" && c != content {
			continue
		}
		for _, r := range rs {
			out = append(out, PurgeInfo{Content: c, Scope: r.Scope, Prov: r.Prov, Fence: r.Fence, Block: r.Block, User: r.User})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Content != out[j].Content {
			return out[i].Content < out[j].Content
		}
		return out[i].Fence.Before(out[j].Fence)
	})
	return out
}

// PurgeInfo describes one purge record.
type PurgeInfo struct {
	Content string    `json:"content"`
	Scope   string    `json:"scope"`
	Prov    string    `json:"prov,omitempty"`
	Fence   time.Time `json:"time"`
	Block   bool      `json:"block,omitempty"`
	User    string    `json:"user,omitempty"`
}
