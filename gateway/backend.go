package gateway

import (
	"context"
	"encoding/hex"
	"io"
	"strconv"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/s3api"
)

// Backend implements s3api.Backend over meta (versions) and blob (bytes).
type Backend struct {
	Meta  *meta.Store
	Blobs *blob.Store
	Auth  *auth.Auth
	pins  pins
}

var _ s3api.Backend = (*Backend)(nil)

// allow checks c's permission for act on repo (the Backend contract:
// every call checks its caller itself).
func (b *Backend) allow(ctx context.Context, c s3api.Caller, repo string, act s3api.Action) error {
	return b.Auth.Allow(ctx, c.User, repo, act)
}

// ListRepos implements s3api.Backend: repos c may read.
func (b *Backend) ListRepos(ctx context.Context, c s3api.Caller) ([]s3api.RepoInfo, error) {
	user := c.User
	repos, err := b.Meta.ListRepos(ctx)
	if err != nil {
		return nil, err
	}
	var out []s3api.RepoInfo
	for _, r := range repos {
		if b.Auth.Allow(ctx, user, r.Name, s3api.ActRead) == nil {
			out = append(out, s3api.RepoInfo{Name: r.Name, Created: r.Created, Location: r.Location})
		}
	}
	return out, nil
}

// CreateBucket implements s3api.Backend: a new repo is owned by c (who
// is granted admin on it unless an admin user) and records opts.
func (b *Backend) CreateBucket(ctx context.Context, c s3api.Caller, repo, ref string, opts s3api.BucketOptions) error {
	user := c.User
	if ref == "" {
		if err := b.allow(ctx, c, repo, s3api.ActCreateRepo); err != nil {
			return err
		}
		if _, err := b.Meta.CreateRepoWith(ctx, repo, user, meta.RepoOptions{Location: opts.Location, Public: opts.Public}); err != nil {
			return err
		}
		b.audit(ctx, user, "repo.create", repo)
		if opts.Public {
			b.auditWith(ctx, user, "repo.set-public", repo, "true (via S3)")
		}
		if u, err := b.Auth.GetUser(ctx, user); err == nil && !u.Admin {
			return b.Auth.Grant(ctx, user, repo, auth.PermAdmin)
		}
		return nil
	}
	if err := names.ValidRepo(repo); err != nil {
		return err
	}
	if err := b.allow(ctx, c, repo, s3api.ActAdmin); err != nil {
		return err
	}
	if _, err := b.Meta.CreateBranch(ctx, repo, ref, "main"); err != nil {
		return err
	}
	b.audit(ctx, user, "branch.create", repo+"@"+ref)
	return nil
}

// SetPublic implements s3api.Backend (PutBucketAcl, and CreateBucket of an
// existing repo in us-east-1).
func (b *Backend) SetPublic(ctx context.Context, c s3api.Caller, repo string, public bool) error {
	if err := b.allow(ctx, c, repo, s3api.ActAdmin); err != nil {
		if b.allow(ctx, c, repo, s3api.ActOwn) != nil {
			return err
		}
	}
	user := c.User
	if err := b.Meta.SetRepoPublic(ctx, repo, public); err != nil {
		return err
	}
	b.auditWith(ctx, user, "repo.set-public", repo, strconv.FormatBool(public)+" (via S3)")
	return nil
}

// audit records an admin action made through S3; a failure to record is
// logged by the caller's request log only (the action itself succeeded).
func (b *Backend) audit(ctx context.Context, user, action, target string) {
	b.auditWith(ctx, user, action, target, "via S3")
}

func (b *Backend) auditWith(ctx context.Context, user, action, target, detail string) {
	_ = b.Meta.Audit(ctx, meta.AuditEntry{User: user, Action: action, Repo: auditRepoOf(target), Target: target, Detail: detail}) // audit.go
}

// DeleteBucket implements s3api.Backend.
func (b *Backend) DeleteBucket(ctx context.Context, c s3api.Caller, repo, ref string) error {
	if err := b.allow(ctx, c, repo, s3api.ActAdmin); err != nil {
		return err
	}
	user := c.User
	if ref == "" {
		if err := b.Meta.DeleteRepo(ctx, repo, false); err != nil {
			return err
		}
		b.audit(ctx, user, "repo.delete", repo)
		// Grants on a deleted repo must not carry over to a new repo of the
		// same name.
		return b.Auth.DropRepoPerms(ctx, repo)
	}
	r, err := b.Meta.Resolve(ctx, repo, ref)
	if err != nil {
		return err
	}
	if r.Kind != meta.KindBranch {
		return errs.E("gateway.DeleteBucket", errs.Invalid, "bucket %s.%s is not a branch; only branches are deleted as buckets", ref, repo).Because(errs.RefKind)
	}
	if ref == "main" {
		return errs.E("gateway.DeleteBucket", errs.Invalid, "branch main cannot be deleted; delete bucket %s to delete the repo", repo).Because(errs.RefKind)
	}
	if err := b.Meta.DeleteBranch(ctx, repo, ref, false); err != nil {
		return err
	}
	b.audit(ctx, user, "branch.delete", repo+"@"+ref)
	return nil
}

// Resolve implements s3api.Backend.
func (b *Backend) Resolve(ctx context.Context, repo, ref string) (s3api.Bucket, error) {
	if err := names.ValidRepo(repo); err != nil {
		return s3api.Bucket{}, err
	}
	r, err := b.Meta.Resolve(ctx, repo, ref)
	if err != nil {
		return s3api.Bucket{}, err
	}
	bk := s3api.Bucket{Repo: repo, Ref: r.Name, Commit: r.CommitID(), Created: r.Repo.Created, Handle: r,
		Owner: r.Repo.OwnerName(), Location: r.Repo.Location, Public: r.Repo.Public}
	switch r.Kind {
	case meta.KindBranch:
		bk.Kind = s3api.RefBranch
		bk.Versioning = r.Branch.Versioning
		switch {
		case r.Branch.Output != "":
			bk.ReadOnly = "branch " + r.Name + " of repo " + repo + " is read-only: it is the output of pipeline " + r.Branch.Output
		case r.Branch.Protected:
			bk.ReadOnly = "branch " + r.Name + " of repo " + repo + " is protected: it takes only merges"
		default:
			bk.Writable = true
		}
	case meta.KindTag:
		bk.Kind = s3api.RefTag
		bk.ReadOnly = "tag " + r.Name + " of repo " + repo + " is read-only"
	case meta.KindCommit:
		bk.Kind = s3api.RefCommit
		bk.ReadOnly = "commit " + r.Name + " of repo " + repo + " is finished and read-only"
	case meta.KindOpen:
		bk.Kind = s3api.RefOpenCommit
		bk.ReadOnly = pipelineReadOnly(r) // a pipeline job's output commit
		bk.Writable = bk.ReadOnly == ""
	}
	return bk, nil
}

func refOf(bk s3api.Bucket) (*meta.Ref, error) {
	r, ok := bk.Handle.(*meta.Ref)
	if !ok || r == nil {
		return nil, errs.E("gateway", errs.Internal, "bucket %s was not resolved by this backend", bk.Name)
	}
	return r, nil
}

// liveRoot returns the current live tree of the bucket (an open commit's
// root moves with each write, so it is re-read).
func (b *Backend) liveRoot(ctx context.Context, r *meta.Ref) (meta.Hash, error) {
	if r.Open != nil {
		nr, err := b.Meta.Resolve(ctx, r.Repo.Name, r.Open.ID)
		if err != nil {
			return meta.Hash{}, err
		}
		return nr.Root(), nil
	}
	return r.Root(), nil
}

// vrootOf is the version tree reads fall back on when a key's current
// content was purged (none for open commits: their writes are not versions
// yet).
func vrootOf(r *meta.Ref) meta.Hash {
	if r.Commit != nil {
		return r.Commit.VRoot
	}
	return meta.Hash{}
}

// versionCommit is the commit whose version tree a listing reads.
func (b *Backend) versionCommit(ctx context.Context, r *meta.Ref) (*meta.Commit, error) {
	if r.Open != nil {
		return b.Meta.GetCommit(ctx, r.Repo.Name, r.Open.Base)
	}
	return r.Commit, nil
}

var contentHeaders = []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}

func toObject(key, commit string, e *meta.Entry) s3api.Object {
	o := s3api.Object{Key: key, VersionID: e.VersionID(), Commit: commit, Size: e.Size, ETag: e.ETag,
		LastModified: e.Time, Checksums: e.Checksums, ChecksumType: e.ChecksumType, Parts: e.Parts,
		PartChecksums: e.PartChecksums, DeleteMarker: e.Deleted, Content: e.Content}
	h := e.Headers
	o.Meta = s3api.ObjectMeta{ContentType: h["Content-Type"], ContentEncoding: h["Content-Encoding"],
		ContentDisposition: h["Content-Disposition"], ContentLanguage: h["Content-Language"],
		CacheControl: h["Cache-Control"], Expires: h["Expires"], User: withoutTuskMeta(e.User)}
	return o
}

func metaHeaders(m s3api.ObjectMeta) map[string]string {
	h := map[string]string{}
	for k, v := range map[string]string{"Content-Type": m.ContentType, "Content-Encoding": m.ContentEncoding,
		"Content-Disposition": m.ContentDisposition, "Content-Language": m.ContentLanguage,
		"Cache-Control": m.CacheControl, "Expires": m.Expires} {
		if v != "" {
			h[k] = v
		}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

// Head implements s3api.Backend.
func (b *Backend) Head(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, versionID string) (s3api.Object, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActRead); err != nil {
		return s3api.Object{}, err
	}
	return b.head(ctx, c, bk, key, versionID)
}

// head is Head once c's permission is checked.
func (b *Backend) head(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, versionID string) (s3api.Object, error) {
	r, err := refOf(bk)
	if err != nil {
		return s3api.Object{}, err
	}
	if err := names.ValidKey(key); err != nil {
		return s3api.Object{}, err
	}
	if versionID != "" {
		if !validVersionID(versionID) {
			return s3api.Object{}, errs.E("gateway.Head", errs.Invalid, "Invalid version id specified: %q", versionID).Because(errs.Argument)
		}
		e, err := b.Meta.GetVersion(ctx, r, key, versionID)
		if err != nil {
			return s3api.Object{}, err
		}
		o := toObject(key, bk.Commit, e)
		if e.Deleted {
			return o, errs.E("gateway.Head", errs.Invalid, "version %s of %q is a delete marker", versionID, key).Because(errs.DeleteMarker)
		}
		return b.withProv(ctx, c, o, e), nil
	}
	root, err := b.liveRoot(ctx, r)
	if err != nil {
		return s3api.Object{}, err
	}
	e, err := b.Meta.GetLatest(ctx, r.Repo.Name, root, vrootOf(r), key)
	if err != nil {
		if errs.Is(err, errs.NotExist) && r.Open == nil {
			// Say so when the newest version is a delete marker.
			if pg, lerr := b.Meta.ListVersions(ctx, r.Commit, key, "", "", "", 1); lerr == nil &&
				len(pg.Versions) == 1 && pg.Versions[0].Key == key && pg.Versions[0].Entry.Deleted {
				return toObject(key, bk.Commit, pg.Versions[0].Entry), err
			}
		}
		return s3api.Object{}, err
	}
	return b.withProv(ctx, c, toObject(key, bk.Commit, e), e), nil
}

// Open implements s3api.Backend.
func (b *Backend) Open(ctx context.Context, c s3api.Caller, bk s3api.Bucket, o s3api.Object, off, length int64) (io.ReadCloser, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActRead); err != nil {
		return nil, err
	}
	rc, err := b.Blobs.Open(ctx, o.Content, off, length)
	if errs.Is(err, errs.NotExist) {
		// The bytes were purged, or collected after the version left every
		// view (a read of an old commit's tree).
		return nil, errs.E("gateway.Open", errs.Purged, "the content of version %s of %q is gone (purged or removed)", o.VersionID, o.Key).Because(errs.Version)
	}
	return rc, err
}

// writeTarget checks that c may write to bk and returns the ref the write
// goes to: Permission when c may not write to the repo or bk is
// read-only. A pipeline job's staging commit takes its pipeline's writes
// only (pipelines.go), and only through the calls that pass staging true
// (multipart uploads do not: they are refused there).
func (b *Backend) writeTarget(ctx context.Context, c s3api.Caller, bk s3api.Bucket, staging bool) (*meta.Ref, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActWrite); err != nil {
		return nil, err
	}
	user := ""
	if staging {
		user = c.User
	}
	r, err := refOf(bk)
	if err != nil {
		return nil, err
	}
	if !bk.Writable {
		return nil, errs.E("gateway.write", errs.ReadOnly, "%s", bk.ReadOnly)
	}
	if err := pipelineWriteCheck(r, user); err != nil {
		return nil, err
	}
	return r, nil
}

func (b *Backend) write(ctx context.Context, r *meta.Ref, user string, changes []meta.Change) (*meta.WriteResult, error) {
	req := meta.WriteRequest{Repo: r.Repo.Name, Author: user, Changes: changes}
	if r.Open != nil {
		req.Open = r.Open.ID
	} else {
		req.Branch = r.Name
	}
	if len(changes) == 1 {
		verb := "put "
		if changes[0].Entry == nil {
			verb = "delete "
		}
		req.Message = verb + changes[0].Key
	} else {
		req.Message = "delete " + strconv.Itoa(len(changes)) + " keys"
	}
	return b.Meta.Write(ctx, req)
}

// Put implements s3api.Backend.
func (b *Backend) Put(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key string, body io.Reader, opts s3api.PutOptions) (s3api.Object, error) {
	r, err := b.writeTarget(ctx, c, bk, true)
	if err != nil {
		return s3api.Object{}, err
	}
	if err := names.ValidKey(key); err != nil {
		return s3api.Object{}, err
	}
	info, sums, unpin, err := b.storeBlob(ctx, "gateway.Put", body, opts.Size, opts.ContentMD5, opts.Finish)
	if err != nil {
		return s3api.Object{}, err
	}
	defer unpin()
	e := &meta.Entry{Content: info.Hash, Size: info.Size, ETag: hex.EncodeToString(info.MD5),
		Headers: metaHeaders(opts.Meta), User: opts.Meta.User, Checksums: sums, ChecksumType: opts.ChecksumType}
	if len(sums) > 0 && e.ChecksumType == "" {
		e.ChecksumType = "FULL_OBJECT"
	}
	res, err := b.write(ctx, r, c.User, []meta.Change{{Key: key, Entry: e, IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch}})
	if err != nil {
		return s3api.Object{}, err
	}
	e.Version, e.Time, e.Null = res.Version, res.Time, res.Null
	return toObject(key, res.Version, e), nil
}

// storeBlob streams body into the blob store and returns its Info, the
// checksums finish computed, and unpin. The blob is pinned (GC never
// deletes it) from before it appears at its content address until unpin is
// called, which the caller does once the record naming it is durable.
// Blocked content and a Content-MD5 mismatch are refused before the bytes
// reach their address.
func (b *Backend) storeBlob(ctx context.Context, op string, body io.Reader, size int64, contentMD5 []byte, finish func() (map[string]string, error)) (blob.Info, map[string]string, func(), error) {
	var sums map[string]string
	pinned := ""
	unpin := func() {
		if pinned != "" {
			b.pins.unpin(pinned)
			pinned = ""
		}
	}
	info, err := b.Blobs.Put(ctx, body, blob.PutOptions{Size: size, Verify: func(i blob.Info) error {
		b.pins.pin(i.Hash)
		pinned = i.Hash
		if b.Meta.Blocked(i.Hash) {
			return errPurgedContent(op)
		}
		if contentMD5 != nil && string(contentMD5) != string(i.MD5) {
			return errs.E(op, errs.Invalid, "the Content-MD5 you specified did not match what we received").Because(errs.Digest)
		}
		if finish != nil {
			var err error
			sums, err = finish()
			return err
		}
		return nil
	}})
	if err != nil {
		unpin()
		return blob.Info{}, nil, func() {}, err
	}
	return info, sums, unpin, nil
}

func errPurgedContent(op string) error {
	return errs.E(op, errs.Permission, "this content was purged and blocked by an administrator: it cannot be stored again").Because(errs.Blocked)
}

// Copy implements s3api.Backend: the new version shares src's content.
func (b *Backend) Copy(ctx context.Context, c s3api.Caller, dst s3api.Bucket, key string, src s3api.Object, opts s3api.PutOptions) (s3api.Object, error) {
	r, err := b.writeTarget(ctx, c, dst, true)
	if err != nil {
		return s3api.Object{}, err
	}
	if err := names.ValidKey(key); err != nil {
		return s3api.Object{}, err
	}
	if src.DeleteMarker {
		return s3api.Object{}, errs.E("gateway.Copy", errs.NotExist, "copy source %q does not exist", src.Key).Because(errs.Key)
	}
	b.pins.pin(src.Content)
	defer b.pins.unpin(src.Content)
	// Pinned, the bytes stay; but a version of an old commit that left
	// every view may have lost them to GC (or a purge) already: a copy
	// must not make a new version whose bytes are gone.
	if src.Content != "" {
		if _, err := b.Blobs.Stat(ctx, src.Content); errs.Is(err, errs.NotExist) {
			return s3api.Object{}, errs.E("gateway.Copy", errs.NotExist, "the content of copy source %q (version %s) is gone (purged, or collected after the version left every view)", src.Key, src.VersionID).Because(errs.Key)
		} else if err != nil {
			return s3api.Object{}, err
		}
	}
	m := src.Meta
	if opts.ReplaceMeta {
		m = opts.Meta
	}
	e := &meta.Entry{Content: src.Content, Size: src.Size, ETag: src.ETag, Parts: src.Parts, PartChecksums: src.PartChecksums,
		Headers: metaHeaders(m), User: withoutTuskMeta(m.User), Checksums: src.Checksums, ChecksumType: src.ChecksumType}
	res, err := b.write(ctx, r, c.User, []meta.Change{{Key: key, Entry: e, IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch}})
	if err != nil {
		return s3api.Object{}, err
	}
	e.Version, e.Time, e.Null = res.Version, res.Time, res.Null
	return toObject(key, res.Version, e), nil
}

// Delete implements s3api.Backend. The whole request is one commit on a
// branch: items without a version id are deletions (delete markers); items
// with one remove that version of that key from the branch's view, as S3
// does (SPEC §3): nothing else changes, no other key, branch, tag or repo.
func (b *Backend) Delete(ctx context.Context, c s3api.Caller, bk s3api.Bucket, items []s3api.DeleteItem) ([]s3api.DeleteResult, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActWrite); err != nil {
		return nil, err
	}
	user := c.User
	r, err := refOf(bk)
	if err != nil {
		return nil, err
	}
	results := make([]s3api.DeleteResult, len(items))
	var changes []meta.Change
	var removals []meta.Removal
	var cidx, ridx []int
	for i, it := range items {
		results[i] = s3api.DeleteResult{Key: it.Key, VersionID: it.VersionID}
		if err := names.ValidKey(it.Key); err != nil {
			results[i].Err = err
			continue
		}
		if !bk.Writable {
			results[i].Err = errs.E("gateway.Delete", errs.ReadOnly, "%s", bk.ReadOnly)
			continue
		}
		if err := pipelineWriteCheck(r, user); err != nil {
			results[i].Err = err
			continue
		}
		if it.VersionID == "" {
			changes = append(changes, meta.Change{Key: it.Key, IfMatch: it.IfMatch})
			cidx = append(cidx, i)
			continue
		}
		if !validVersionID(it.VersionID) {
			// S3 answers a malformed id in DeleteObjects as NoSuchVersion
			// (DeleteObject turns it into 400 InvalidArgument).
			results[i].Err = errs.E("gateway.Delete", errs.NotExist, "Invalid version id specified: %q", it.VersionID).Because(errs.Version)
			continue
		}
		if r.Open != nil {
			results[i].Err = errs.E("gateway.Delete", errs.Invalid, "bucket %s is open commit %s: remove versions through the branch's bucket (%s.%s)", bk.Name, r.Open.ID, r.Open.Branch, r.Repo.Name).Because(errs.RefKind)
			continue
		}
		removals = append(removals, meta.Removal{Key: it.Key, Version: it.VersionID})
		ridx = append(ridx, i)
	}
	if len(changes)+len(removals) == 0 {
		return results, nil
	}
	req := meta.WriteRequest{Repo: r.Repo.Name, Author: user, Changes: changes, Removals: removals,
		Message: deleteMessage(items, len(changes), len(removals))}
	if r.Open != nil {
		req.Open = r.Open.ID
	} else {
		req.Branch = r.Name
	}
	res, err := b.Meta.Write(ctx, req)
	if err != nil {
		return nil, err
	}
	for j, i := range cidx {
		if res.Changed[j] {
			results[i].DeleteMarker = true
			results[i].DeleteMarkerVersionID = res.Version
			if res.Null {
				results[i].DeleteMarkerVersionID = meta.NullVersion
			}
		}
	}
	for j, i := range ridx {
		if rr := res.Removed[j]; rr.Found && rr.Marker {
			results[i].DeleteMarker = true
			results[i].DeleteMarkerVersionID = rr.Version
		}
	}
	return results, nil
}

// validVersionID reports whether v can name a version: "null" or a commit
// id (32 lowercase hex chars, or a prefix of 12 or more).
func validVersionID(v string) bool {
	if v == meta.NullVersion {
		return true
	}
	// Up to 64 hex digits: a longer id than a commit's is no version
	// (NoSuchVersion), not a malformed one (InvalidArgument).
	return len(v) >= names.MinCommitPrefix && len(v) <= 64 && names.IsHex(v)
}

// deleteMessage is the commit message of a delete request.
func deleteMessage(items []s3api.DeleteItem, dels, removals int) string {
	if dels+removals == 1 {
		for _, it := range items {
			if it.VersionID != "" && removals == 1 {
				return "remove version " + it.VersionID + " of " + it.Key
			}
			if it.VersionID == "" && dels == 1 {
				return "delete " + it.Key
			}
		}
	}
	msg := "delete " + strconv.Itoa(dels) + " keys"
	if removals > 0 {
		msg += ", remove " + strconv.Itoa(removals) + " versions"
	}
	return msg
}

// List implements s3api.Backend.
func (b *Backend) List(ctx context.Context, c s3api.Caller, bk s3api.Bucket, opts s3api.ListOptions) (s3api.ListResult, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActRead); err != nil {
		return s3api.ListResult{}, err
	}
	r, err := refOf(bk)
	if err != nil {
		return s3api.ListResult{}, err
	}
	root, err := b.liveRoot(ctx, r)
	if err != nil {
		return s3api.ListResult{}, err
	}
	pg, err := b.Meta.ListLatest(ctx, r.Repo.Name, root, vrootOf(r), opts.Prefix, opts.Delimiter, opts.StartAfter, opts.MaxKeys)
	if err != nil {
		return s3api.ListResult{}, err
	}
	out := s3api.ListResult{CommonPrefixes: pg.Prefixes, IsTruncated: pg.Truncated, Next: pg.Next}
	for _, ke := range pg.Entries {
		out.Objects = append(out.Objects, toObject(ke.Key, bk.Commit, ke.Entry))
	}
	return out, nil
}

// ListVersions implements s3api.Backend.
func (b *Backend) ListVersions(ctx context.Context, c s3api.Caller, bk s3api.Bucket, opts s3api.VersionListOptions) (s3api.VersionListResult, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActRead); err != nil {
		return s3api.VersionListResult{}, err
	}
	r, err := refOf(bk)
	if err != nil {
		return s3api.VersionListResult{}, err
	}
	vc, err := b.versionCommit(ctx, r)
	if err != nil {
		return s3api.VersionListResult{}, err
	}
	pg, err := b.Meta.ListVersions(ctx, vc, opts.Prefix, opts.Delimiter, opts.KeyMarker, opts.VersionIDMarker, opts.MaxKeys)
	if err != nil {
		return s3api.VersionListResult{}, err
	}
	out := s3api.VersionListResult{CommonPrefixes: pg.Prefixes, IsTruncated: pg.Truncated,
		NextKeyMarker: pg.NextKey, NextVersionIDMarker: pg.NextVersion}
	for _, v := range pg.Versions {
		out.Versions = append(out.Versions, s3api.ObjectVersion{Object: toObject(v.Key, bk.Commit, v.Entry), IsLatest: v.IsLatest})
	}
	return out, nil
}

// SetVersioning implements s3api.Backend.
func (b *Backend) SetVersioning(ctx context.Context, c s3api.Caller, bk s3api.Bucket, status string) error {
	user := c.User
	r, err := b.writeTarget(ctx, c, bk, true)
	if err != nil {
		return err
	}
	if r.Branch == nil {
		return errs.E("gateway.SetVersioning", errs.Invalid, "bucket %s is not a branch", bk.Name).Because(errs.RefKind)
	}
	if err := b.Meta.SetVersioning(ctx, r.Repo.Name, r.Branch.Name, status); err != nil {
		return err
	}
	b.audit(ctx, user, "branch.versioning", r.Repo.Name+"@"+r.Branch.Name+" "+status)
	return nil
}
