package s3api

// This file holds TEST DOUBLES only: an in-memory Backend with linear
// branch histories, and an Auth with a fixed user table. They implement
// the contracts of backend.go closely enough to drive the S3 layer; the
// real implementation lives in gateway/.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
)

type fakeCommit struct {
	id      string
	time    time.Time
	changes map[string]*Object // key -> version written (DeleteMarker for a deletion)
}

type fakeRepo struct {
	created  time.Time
	owner    string
	location string
	branches map[string][]*fakeCommit // first-parent history, oldest first
	tags     map[string][]*fakeCommit
	// versioning holds each branch's status ("" = Enabled).
	versioning map[string]string
}

type fakeBackend struct {
	mu     sync.Mutex
	repos  map[string]*fakeRepo
	blobs  map[string][]byte // content handle -> bytes
	purged map[string]bool   // content handles purged
	seq    int
	clock  time.Time
	// auth answers the permission checks and holds the public-read flags
	// (SetPublic writes them); the S3 handler under test shares it.
	auth *fakeAuth
}

// newFakeBackend returns an empty fake with its own fakeAuth (replace it
// to share one with the handler).
func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		repos: map[string]*fakeRepo{}, blobs: map[string][]byte{}, purged: map[string]bool{},
		clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), auth: newFakeAuth(),
	}
}

// tick advances the fake clock one second per commit so Last-Modified
// values differ and compare predictably.
func (f *fakeBackend) tick() time.Time { f.clock = f.clock.Add(time.Second); return f.clock }

func (f *fakeBackend) newCommit(changes map[string]*Object) *fakeCommit {
	f.seq++
	h := md5.Sum([]byte(fmt.Sprint("commit", f.seq)))
	id := hex.EncodeToString(h[:]) // 32 lowercase hex, unique prefixes
	c := &fakeCommit{id: id, time: f.tick(), changes: changes}
	for k, o := range changes {
		o.Key, o.VersionID, o.LastModified = k, id, c.time
	}
	return c
}

// allow checks c's permission for act on repo with the fake's Auth (the
// Backend contract: every call checks its caller).
func (f *fakeBackend) allow(ctx context.Context, c Caller, repo string, act Action) error {
	return f.auth.Allow(ctx, c.User, repo, act)
}

func (f *fakeBackend) ListRepos(ctx context.Context, c Caller) ([]RepoInfo, error) {
	f.mu.Lock()
	var names []string
	for n := range f.repos {
		names = append(names, n)
	}
	f.mu.Unlock()
	readable := map[string]bool{}
	for _, n := range names {
		readable[n] = f.allow(ctx, c, n, ActRead) == nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RepoInfo
	for n, r := range f.repos {
		if !readable[n] {
			continue
		}
		out = append(out, RepoInfo{Name: n, Created: r.created, Location: r.location})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeBackend) CreateBucket(ctx context.Context, c Caller, repo, ref string, opts BucketOptions) error {
	act := ActCreateRepo
	if ref != "" {
		act = ActAdmin
	}
	if err := f.allow(ctx, c, repo, act); err != nil {
		return err
	}
	user := c.User
	if err := names.ValidRepo(repo); err != nil {
		return err
	}
	if ref != "" {
		if err := names.ValidRef(ref); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[repo]
	if ref == "" {
		if r != nil {
			return errs.E("fake.CreateBucket", errs.Exist, "repo %s exists", repo)
		}
		f.repos[repo] = &fakeRepo{created: f.tick(), owner: user, location: opts.Location,
			branches: map[string][]*fakeCommit{"main": nil}, tags: map[string][]*fakeCommit{}, versioning: map[string]string{}}
		f.setPublic(repo, opts.Public)
		return nil
	}
	if r == nil {
		return errs.E("fake.CreateBucket", errs.NotExist, "no repo %s", repo).Because(errs.Repo)
	}
	if _, ok := r.branches[ref]; ok {
		return errs.E("fake.CreateBucket", errs.Exist, "branch %s exists", ref)
	}
	r.branches[ref] = append([]*fakeCommit(nil), r.branches["main"]...)
	return nil
}

func (f *fakeBackend) SetPublic(ctx context.Context, c Caller, repo string, public bool) error {
	if err := f.allow(ctx, c, repo, ActAdmin); err != nil && f.allow(ctx, c, repo, ActOwn) != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.repos[repo] == nil {
		return errs.E("fake.SetPublic", errs.NotExist, "no repo %s", repo)
	}
	f.setPublic(repo, public)
	return nil
}

// setPublic records repo's public flag in the auth (f.mu held).
func (f *fakeBackend) setPublic(repo string, public bool) {
	f.auth.mu.Lock()
	f.auth.public[repo] = public
	f.auth.mu.Unlock()
}

func (f *fakeBackend) isPublic(repo string) bool {
	f.auth.mu.Lock()
	defer f.auth.mu.Unlock()
	return f.auth.public[repo]
}

// tag makes tag name at branch's head (test setup).
func (f *fakeBackend) tag(repo, branch, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[repo]
	r.tags[name] = append([]*fakeCommit(nil), r.branches[branch]...)
}

func (f *fakeBackend) DeleteBucket(ctx context.Context, c Caller, repo, ref string) error {
	if err := f.allow(ctx, c, repo, ActAdmin); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[repo]
	if r == nil {
		return errs.E("fake.DeleteBucket", errs.NotExist, "no repo").Because(errs.Repo)
	}
	if ref == "main" {
		return errs.E("fake.DeleteBucket", errs.Invalid, "main cannot be deleted")
	}
	check := map[string][]*fakeCommit{}
	if ref == "" {
		for k, v := range r.branches {
			check[k] = v
		}
	} else {
		check[ref] = r.branches[ref]
	}
	for _, h := range check {
		if len(liveKeys(h)) > 0 {
			return errs.E("fake.DeleteBucket", errs.Conflict, "keys remain").Because(errs.NotEmpty)
		}
	}
	if ref == "" {
		delete(f.repos, repo)
	} else {
		delete(r.branches, ref)
		delete(r.versioning, ref)
	}
	return nil
}

// history returns the commits behind b (oldest first).
func (f *fakeBackend) history(b Bucket) []*fakeCommit {
	r := f.repos[b.Repo]
	if r == nil {
		return nil
	}
	switch b.Kind {
	case RefBranch:
		return r.branches[b.Ref]
	case RefTag:
		return r.tags[b.Ref]
	case RefCommit:
		for _, h := range r.branches {
			for i, c := range h {
				if c.id == b.Ref {
					return h[:i+1]
				}
			}
		}
	}
	return nil
}

func (f *fakeBackend) Resolve(ctx context.Context, repo, ref string) (Bucket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[repo]
	if r == nil {
		return Bucket{}, errs.E("fake.Resolve", errs.NotExist, "no repo %s", repo)
	}
	if ref == "" {
		ref = "main"
	}
	b := Bucket{Repo: repo, Ref: ref, Created: r.created, Owner: r.owner, Location: r.location, Public: f.isPublic(repo)}
	head := func(h []*fakeCommit) string {
		if len(h) == 0 {
			return ""
		}
		return h[len(h)-1].id
	}
	if h, ok := r.branches[ref]; ok {
		b.Kind, b.Writable, b.Commit, b.Versioning = RefBranch, true, head(h), r.versioning[ref]
		return b, nil
	}
	if h, ok := r.tags[ref]; ok {
		b.Kind, b.Commit, b.ReadOnly = RefTag, head(h), "tag "+ref+" is read-only"
		return b, nil
	}
	if len(ref) >= 12 {
		for _, h := range r.branches {
			for _, c := range h {
				if strings.HasPrefix(c.id, ref) {
					b.Kind, b.Ref, b.Commit, b.ReadOnly = RefCommit, c.id, c.id, "commit "+c.id+" is read-only"
					return b, nil
				}
			}
		}
	}
	return Bucket{}, errs.E("fake.Resolve", errs.NotExist, "no ref %s in %s", ref, repo)
}

// latest returns key's newest version along h (marker included), or nil.
func latest(h []*fakeCommit, key string) *Object {
	for i := len(h) - 1; i >= 0; i-- {
		if o, ok := h[i].changes[key]; ok {
			return o
		}
	}
	return nil
}

func liveKeys(h []*fakeCommit) []string {
	seen := map[string]bool{}
	var keys []string
	for i := len(h) - 1; i >= 0; i-- {
		for k, o := range h[i].changes {
			if seen[k] {
				continue
			}
			seen[k] = true
			if !o.DeleteMarker {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func (f *fakeBackend) Head(ctx context.Context, c Caller, b Bucket, key, versionID string) (Object, error) {
	if err := f.allow(ctx, c, b.Repo, ActRead); err != nil {
		return Object{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.history(b)
	if versionID == "" {
		o := latest(h, key)
		for o != nil && !o.DeleteMarker && f.purged[o.Content] {
			o = nil // all purged: absent (good enough for the fake)
		}
		if o == nil {
			return Object{}, errs.E("fake.Head", errs.NotExist, "no key %q", key).Because(errs.Key)
		}
		out := *o
		out.Commit = b.Commit
		if o.DeleteMarker {
			return out, errs.E("fake.Head", errs.NotExist, "key %q is deleted", key).Because(errs.Key)
		}
		return out, nil
	}
	for _, c := range h {
		if c.id != versionID {
			continue
		}
		o, ok := c.changes[key]
		if !ok || (!o.DeleteMarker && f.purged[o.Content]) {
			break
		}
		out := *o
		out.Commit = b.Commit
		if o.DeleteMarker {
			return out, errs.E("fake.Head", errs.Invalid, "version is a delete marker").Because(errs.DeleteMarker)
		}
		return out, nil
	}
	return Object{}, errs.E("fake.Head", errs.NotExist, "no version %s of %q", versionID, key).Because(errs.Version)
}

func (f *fakeBackend) Open(ctx context.Context, c Caller, b Bucket, o Object, off, length int64) (io.ReadCloser, error) {
	if err := f.allow(ctx, c, b.Repo, ActRead); err != nil {
		return nil, err
	}
	f.mu.Lock()
	data, ok := f.blobs[o.Content]
	f.mu.Unlock()
	if !ok {
		return nil, errs.E("fake.Open", errs.NotExist, "no content")
	}
	end := int64(len(data))
	if length >= 0 && off+length < end {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(data[off:end])), nil
}

func (f *fakeBackend) checkConds(h []*fakeCommit, key string, opts PutOptions) error {
	cur := latest(h, key)
	exists := cur != nil && !cur.DeleteMarker
	if opts.IfNoneMatch == "*" && exists {
		return errs.E("fake.Put", errs.Conflict, "key exists").Because(errs.Precondition)
	}
	if opts.IfMatch != "" {
		if !exists {
			return errs.E("fake.Put", errs.NotExist, "no key").Because(errs.Key)
		}
		if opts.IfMatch != "*" && opts.IfMatch != cur.ETag {
			return errs.E("fake.Put", errs.Conflict, "etag differs").Because(errs.Precondition)
		}
	}
	return nil
}

// writable checks c's write permission on b and that b takes writes.
func (f *fakeBackend) writable(ctx context.Context, c Caller, b Bucket, op string) error {
	if err := f.allow(ctx, c, b.Repo, ActWrite); err != nil {
		return err
	}
	if !b.Writable {
		return errs.E(op, errs.ReadOnly, "%s", b.ReadOnly)
	}
	return nil
}

func (f *fakeBackend) Put(ctx context.Context, c Caller, b Bucket, key string, body io.Reader, opts PutOptions) (Object, error) {
	if err := f.writable(ctx, c, b, "fake.Put"); err != nil {
		return Object{}, err
	}
	if err := ValidKey(key); err != nil {
		return Object{}, err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return Object{}, err
	}
	if opts.Size >= 0 && int64(len(data)) != opts.Size {
		return Object{}, errs.E("fake.Put", errs.Invalid, "size").Because(errs.IncompleteBody)
	}
	sum := md5.Sum(data)
	if opts.ContentMD5 != nil && !bytes.Equal(opts.ContentMD5, sum[:]) {
		return Object{}, errs.E("fake.Put", errs.Invalid, "the Content-MD5 you specified did not match what we received").Because(errs.Digest)
	}
	var sums map[string]string
	if opts.Finish != nil {
		if sums, err = opts.Finish(); err != nil {
			return Object{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[b.Repo]
	h := r.branches[b.Ref]
	if err := f.checkConds(h, key, opts); err != nil {
		return Object{}, err
	}
	content := "c" + hex.EncodeToString(sum[:])
	f.blobs[content] = data
	o := &Object{Size: int64(len(data)), ETag: hex.EncodeToString(sum[:]), Meta: opts.Meta,
		Checksums: sums, ChecksumType: opts.ChecksumType, Content: content}
	cm := f.newCommit(map[string]*Object{key: o})
	r.branches[b.Ref] = append(h, cm)
	out := *o
	out.Commit = cm.id
	return out, nil
}

func (f *fakeBackend) Copy(ctx context.Context, c Caller, dst Bucket, key string, src Object, opts PutOptions) (Object, error) {
	if err := f.writable(ctx, c, dst, "fake.Copy"); err != nil {
		return Object{}, err
	}
	if err := ValidKey(key); err != nil {
		return Object{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[dst.Repo]
	h := r.branches[dst.Ref]
	if err := f.checkConds(h, key, opts); err != nil {
		return Object{}, err
	}
	o := src
	o.DeleteMarker = false
	if opts.ReplaceMeta {
		o.Meta = opts.Meta
	}
	cm := f.newCommit(map[string]*Object{key: &o})
	r.branches[dst.Ref] = append(h, cm)
	out := o
	out.Commit = cm.id
	return out, nil
}

func (f *fakeBackend) Delete(ctx context.Context, c Caller, b Bucket, items []DeleteItem) ([]DeleteResult, error) {
	if err := f.allow(ctx, c, b.Repo, ActWrite); err != nil {
		return nil, err
	}
	res := make([]DeleteResult, len(items))
	if !b.Writable {
		for i, it := range items {
			res[i] = DeleteResult{Key: it.Key, VersionID: it.VersionID,
				Err: errs.E("fake.Delete", errs.ReadOnly, "%s", b.ReadOnly)}
		}
		return res, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[b.Repo]
	h := r.branches[b.Ref]
	// Conditions are checked first: a failing one fails the request.
	for _, it := range items {
		if it.IfMatch == "" || it.VersionID != "" {
			continue
		}
		if err := f.checkConds(h, it.Key, PutOptions{IfMatch: it.IfMatch}); err != nil {
			return nil, err
		}
	}
	changes := map[string]*Object{}
	var markers []int
	for i, it := range items {
		res[i] = DeleteResult{Key: it.Key, VersionID: it.VersionID}
		if err := ValidKey(it.Key); err != nil {
			res[i].Err = err
			continue
		}
		if it.VersionID == "" {
			// A delete marker even when the key is absent, as on S3.
			changes[it.Key] = &Object{DeleteMarker: true}
			markers = append(markers, i)
			continue
		}
		if !fakeVersionID(it.VersionID) {
			res[i].Err = errs.E("fake.Delete", errs.NotExist, "Invalid version id specified: %q", it.VersionID).Because(errs.Version)
			continue
		}
		// Removing a version takes it out of this branch's history (the
		// commit is copied: other refs keep it); a version that does not
		// exist is removed successfully.
		for j, cm := range h {
			o, ok := cm.changes[it.Key]
			if cm.id != it.VersionID || !ok {
				continue
			}
			nc := *cm
			nc.changes = map[string]*Object{}
			for k, v := range cm.changes {
				if k != it.Key {
					nc.changes[k] = v
				}
			}
			h[j] = &nc
			if o.DeleteMarker {
				res[i].DeleteMarker = true
				res[i].DeleteMarkerVersionID = it.VersionID
			}
		}
	}
	if len(changes) > 0 {
		cm := f.newCommit(changes)
		h = append(h, cm)
		for _, i := range markers {
			res[i].DeleteMarker = true
			res[i].DeleteMarkerVersionID = cm.id
		}
	}
	r.branches[b.Ref] = h
	return res, nil
}

// fakeVersionID reports whether v can name a version: "null" or 12-64
// lowercase hex digits (a commit id or a prefix of one).
func fakeVersionID(v string) bool {
	if v == "null" {
		return true
	}
	if len(v) < 12 || len(v) > 64 {
		return false
	}
	return strings.Trim(v, "0123456789abcdef") == ""
}

func (f *fakeBackend) List(ctx context.Context, c Caller, b Bucket, opts ListOptions) (ListResult, error) {
	if err := f.allow(ctx, c, b.Repo, ActRead); err != nil {
		return ListResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.history(b)
	var res ListResult
	n := 0
	lastPrefix := ""
	for _, k := range liveKeys(h) {
		if !strings.HasPrefix(k, opts.Prefix) || k <= opts.StartAfter {
			continue
		}
		if f.purged[latest(h, k).Content] {
			continue
		}
		if opts.Delimiter != "" {
			if i := strings.Index(k[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := k[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp == lastPrefix || cp <= opts.StartAfter {
					continue
				}
				if n == opts.MaxKeys {
					res.IsTruncated = true
					return res, nil
				}
				lastPrefix = cp
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.Next = cp
				n++
				continue
			}
		}
		if n == opts.MaxKeys {
			res.IsTruncated = true
			return res, nil
		}
		o := *latest(h, k)
		o.Commit = b.Commit
		res.Objects = append(res.Objects, o)
		res.Next = k
		n++
	}
	return res, nil
}

func (f *fakeBackend) ListVersions(ctx context.Context, c Caller, b Bucket, opts VersionListOptions) (VersionListResult, error) {
	if err := f.allow(ctx, c, b.Repo, ActRead); err != nil {
		return VersionListResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.history(b)
	// Every key ever written, with its versions newest first.
	versions := map[string][]ObjectVersion{}
	for i := len(h) - 1; i >= 0; i-- {
		for k, o := range h[i].changes {
			if !o.DeleteMarker && f.purged[o.Content] {
				continue
			}
			versions[k] = append(versions[k], ObjectVersion{Object: *o, IsLatest: len(versions[k]) == 0})
		}
	}
	keys := make([]string, 0, len(versions))
	for k := range versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var res VersionListResult
	n := 0
	lastPrefix := ""
	for _, k := range keys {
		if !strings.HasPrefix(k, opts.Prefix) {
			continue
		}
		if opts.Delimiter != "" {
			if i := strings.Index(k[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := k[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp == lastPrefix || cp <= opts.KeyMarker {
					continue
				}
				if n == opts.MaxKeys {
					res.IsTruncated = true
					return res, nil
				}
				lastPrefix = cp
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
				n++
				continue
			}
		}
		vs := versions[k]
		if k < opts.KeyMarker || (k == opts.KeyMarker && opts.VersionIDMarker == "") {
			continue
		}
		if k == opts.KeyMarker {
			j := 0
			for j < len(vs) && vs[j].VersionID != opts.VersionIDMarker {
				j++
			}
			if j == len(vs) {
				continue
			}
			vs = vs[j+1:]
		}
		for _, v := range vs {
			if n == opts.MaxKeys {
				res.IsTruncated = true
				return res, nil
			}
			res.Versions = append(res.Versions, v)
			res.NextKeyMarker, res.NextVersionIDMarker = v.Key, v.VersionID
			n++
		}
	}
	return res, nil
}

// fakeAuth is a fixed user table: access key -> (secret, user), per-user
// grants per repo, and public-read repos.
type fakeAuth struct {
	mu     sync.Mutex
	keys   map[string][2]string         // access key -> secret, user
	grants map[string]map[string]Action // user -> repo -> highest action ("*" = any repo)
	public map[string]bool
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{
		keys: map[string][2]string{
			"AKIDADMIN":  {"admin-secret", "admin"},
			"AKIDREADER": {"reader-secret", "reader"},
		},
		grants: map[string]map[string]Action{
			"admin":  {"*": ActOwn},
			"reader": {"*": ActRead},
		},
		public: map[string]bool{},
	}
}

func (a *fakeAuth) Secret(ctx context.Context, accessKey string) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.keys[accessKey]
	if !ok {
		return "", "", errs.E("fake.Secret", errs.NotExist, "unknown access key").Because(errs.UnknownKey)
	}
	return k[0], k[1], nil
}

func (a *fakeAuth) Allow(ctx context.Context, user, repo string, act Action) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if act == ActRead && a.public[repo] {
		return nil // anyone, signed in or not, reads a public repo
	}
	if user == "" {
		return errs.E("fake.Allow", errs.Permission, "anonymous access to %s denied", repo)
	}
	g := a.grants[user]
	lvl, ok := g[repo]
	if !ok {
		lvl = g["*"]
	}
	if lvl >= act {
		return nil
	}
	return errs.E("fake.Allow", errs.Permission, "%s may not do that on %s", user, repo)
}

// SetVersioning implements Backend: the fake records the status (it
// makes no null versions when Suspended).
func (f *fakeBackend) SetVersioning(ctx context.Context, c Caller, b Bucket, status string) error {
	if err := f.writable(ctx, c, b, "fake.SetVersioning"); err != nil {
		return err
	}
	if b.Kind != RefBranch {
		return errs.E("fake.SetVersioning", errs.Invalid, "bucket %s is not a branch", b.Name).Because(errs.RefKind)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[b.Repo]
	if r == nil {
		return errs.E("fake.SetVersioning", errs.NotExist, "no repo %s", b.Repo).Because(errs.Repo)
	}
	if status == "Enabled" {
		status = ""
	}
	r.versioning[b.Ref] = status
	return nil
}
