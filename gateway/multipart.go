package gateway

import (
	"context"
	"encoding/hex"
	"io"
	"strconv"
	"time"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/s3api"
)

// Multipart uploads over meta (upload and part records, meta/uploads.go)
// and blob (each part is its own content-addressed blob; completion
// composes them into one blob, blob/compose.go).
//
// GC safety: every blob is pinned from before it can appear at its content
// address until the record that references it is durable: a part from its
// Verify callback until its part record is written; at completion the
// parts and the composed blob until the commit is. Parts of uploads in
// flight are live for GC (meta.GC); those of completed, aborted or
// expired uploads are garbage.

// DefaultUploadTTL is how long an upload may stay in flight before GC
// aborts it (Config.UploadTTL).
const DefaultUploadTTL = 7 * 24 * time.Hour

// CompletedUploadRetention is how long a completed upload's result is
// kept, so that a retried CompleteMultipartUpload gets the same answer.
const CompletedUploadRetention = 24 * time.Hour

// uploadTarget is the branch or open commit a bucket's uploads go to ("",
// "" for read-only refs).
func uploadTarget(r *meta.Ref) (branch, open string) {
	switch {
	case r.Kind == meta.KindBranch:
		return r.Name, ""
	case r.Kind == meta.KindOpen && r.Open != nil:
		return "", r.Open.ID
	}
	return "", ""
}

func noSuchUpload(id string) error {
	return errs.E("gateway.upload", errs.NotExist, "the multipart upload %s does not exist", id).Because(errs.Upload)
}

// upload returns upload id of bucket bk's ref and key; completed ones only
// when done is true. Its callers check the caller's permission.
func (b *Backend) upload(ctx context.Context, bk s3api.Bucket, key, id string, done bool) (*meta.Upload, error) {
	r, err := refOf(bk)
	if err != nil {
		return nil, err
	}
	u, err := b.Meta.GetUpload(ctx, bk.Repo, id)
	if err != nil {
		return nil, err
	}
	branch, open := uploadTarget(r)
	if u.Key != key || u.Branch != branch || u.Open != open || (u.Done != nil && !done) {
		return nil, noSuchUpload(id)
	}
	return u, nil
}

func toUpload(u *meta.Upload) s3api.Upload {
	h := u.Headers
	return s3api.Upload{ID: u.ID, Key: u.Key, Initiated: u.Initiated, User: u.User,
		ChecksumAlgorithm: u.ChecksumAlgorithm, ChecksumType: u.ChecksumType,
		Meta: s3api.ObjectMeta{ContentType: h["Content-Type"], ContentEncoding: h["Content-Encoding"],
			ContentDisposition: h["Content-Disposition"], ContentLanguage: h["Content-Language"],
			CacheControl: h["Cache-Control"], Expires: h["Expires"], User: u.Meta}}
}

func toPart(p *meta.Part) s3api.Part {
	return s3api.Part{Number: p.Number, Size: p.Size, ETag: p.ETag, LastModified: p.Time, Checksums: p.Checksums}
}

// CreateMultipartUpload implements s3api.Backend.
func (b *Backend) CreateMultipartUpload(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key string, opts s3api.UploadOptions) (s3api.Upload, error) {
	r, err := b.writeTarget(ctx, c, bk, false)
	if err != nil {
		return s3api.Upload{}, err
	}
	if err := names.ValidKey(key); err != nil {
		return s3api.Upload{}, err
	}
	branch, open := uploadTarget(r)
	u, err := b.Meta.CreateUpload(ctx, meta.Upload{Repo: bk.Repo, Branch: branch, Open: open, Key: key, User: c.User,
		Headers: metaHeaders(opts.Meta), Meta: opts.Meta.User,
		ChecksumAlgorithm: opts.ChecksumAlgorithm, ChecksumType: opts.ChecksumType})
	if err != nil {
		return s3api.Upload{}, err
	}
	return toUpload(u), nil
}

// GetMultipartUpload implements s3api.Backend.
func (b *Backend) GetMultipartUpload(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, id string) (s3api.Upload, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActRead); err != nil {
		return s3api.Upload{}, err
	}
	u, err := b.upload(ctx, bk, key, id, false)
	if err != nil {
		return s3api.Upload{}, err
	}
	return toUpload(u), nil
}

// UploadPart implements s3api.Backend: the body streams into its own blob
// (blob.Store.Put), then the part record is written.
func (b *Backend) UploadPart(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, id string, n int, body io.Reader, opts s3api.PartOptions) (s3api.Part, error) {
	if _, err := b.writeTarget(ctx, c, bk, false); err != nil {
		return s3api.Part{}, err
	}
	if _, err := b.upload(ctx, bk, key, id, false); err != nil {
		return s3api.Part{}, err
	}
	info, sums, unpin, err := b.storeBlob(ctx, "gateway.UploadPart", body, opts.Size, opts.ContentMD5, opts.Finish)
	if err != nil {
		return s3api.Part{}, err
	}
	defer unpin()
	p, err := b.Meta.PutPart(ctx, bk.Repo, id, meta.Part{Number: n, Size: info.Size, ETag: hex.EncodeToString(info.MD5),
		Content: info.Hash, Checksums: sums})
	if err != nil {
		return s3api.Part{}, err
	}
	return toPart(p), nil
}

// completed is the object a completed upload made.
func completed(u *meta.Upload) s3api.Object {
	d := u.Done
	h := u.Headers
	vid := d.Version
	if d.Null {
		vid = meta.NullVersion
	}
	return s3api.Object{Key: u.Key, VersionID: vid, Commit: d.Version, Size: d.Size, ETag: d.ETag,
		LastModified: d.Time, Checksums: d.Checksums, ChecksumType: d.ChecksumType,
		Meta: s3api.ObjectMeta{ContentType: h["Content-Type"], ContentEncoding: h["Content-Encoding"],
			ContentDisposition: h["Content-Disposition"], ContentLanguage: h["Content-Language"],
			CacheControl: h["Cache-Control"], Expires: h["Expires"], User: u.Meta}}
}

// CompleteMultipartUpload implements s3api.Backend: the parts are checked
// (opts.Check), composed into one blob (blob.Store.Compose: server-side on
// the s3 backend, a file concatenation on disk; never through memory), and
// the object is committed with the upload's completion in one meta
// transaction (meta.CompleteUpload).
func (b *Backend) CompleteMultipartUpload(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, id string, numbers []int, opts s3api.CompleteOptions) (s3api.Object, error) {
	if _, err := b.writeTarget(ctx, c, bk, false); err != nil {
		return s3api.Object{}, err
	}
	u, err := b.upload(ctx, bk, key, id, true)
	if err != nil {
		return s3api.Object{}, err
	}
	if u.Done != nil {
		if u.Done.ETag != opts.ETag {
			return s3api.Object{}, noSuchUpload(id)
		}
		return completed(u), nil
	}
	stored, _, err := b.Meta.ListParts(ctx, bk.Repo, id, 0, 0)
	if err != nil {
		return s3api.Object{}, err
	}
	byNumber := make(map[int]*meta.Part, len(stored))
	for i := range stored {
		byNumber[stored[i].Number] = &stored[i]
	}
	parts := make([]meta.Part, len(numbers))
	asked := make([]s3api.Part, len(numbers))
	hashes := make([]string, len(numbers))
	sizes := make([]int64, len(numbers))
	for i, n := range numbers {
		p := byNumber[n]
		if p == nil {
			// A concurrent completion (a retry racing the first attempt)
			// may have finished the upload and deleted its part records
			// since it was read: answer as a retry.
			if obj, done, err := b.completedRetry(ctx, bk, key, id, opts.ETag); done || err != nil {
				return obj, err
			}
			return s3api.Object{}, errs.E("gateway.Complete", errs.Invalid, "one or more of the specified parts could not be found: part %d was not uploaded", n).Because(errs.Part)
		}
		parts[i], asked[i], hashes[i], sizes[i] = *p, toPart(p), p.Content, p.Size
	}
	var comp s3api.Completion
	if opts.Check != nil {
		if comp, err = opts.Check(toUpload(u), asked); err != nil {
			return s3api.Object{}, err
		}
	}
	// Refuse a failing condition before the long part; the committer
	// checks it again atomically.
	if err := b.precheck(ctx, c, bk, key, opts.IfMatch, opts.IfNoneMatch); err != nil {
		return s3api.Object{}, err
	}
	composeKey, err := b.Meta.ComposeKey(ctx)
	if err != nil {
		return s3api.Object{}, err
	}
	if !b.Blobs.HasComposeKey() {
		b.Blobs.SetComposeKey(composeKey)
	}
	addr, err := blob.ComposeAddress(composeKey, hashes)
	if err != nil {
		return s3api.Object{}, err
	}
	if b.Meta.Blocked(addr) {
		return s3api.Object{}, errs.E("gateway.Complete", errs.Permission, "this content was purged from the system and cannot be stored again").Because(errs.Blocked)
	}
	for _, h := range append(hashes, addr) {
		b.pins.pin(h)
	}
	defer func() {
		for _, h := range append(hashes, addr) {
			b.pins.unpin(h)
		}
	}()
	if opts.Slow != nil {
		opts.Slow()
	}
	info, err := b.Blobs.Compose(ctx, hashes, sizes)
	if errs.Is(err, errs.NotExist) {
		// A concurrent completion may have finished the upload and a GC
		// freed its parts before they were pinned here: answer as a retry.
		if obj, done, err := b.completedRetry(ctx, bk, key, id, opts.ETag); done || err != nil {
			return obj, err
		}
	}
	if err != nil {
		return s3api.Object{}, err
	}
	if info.Hash != addr {
		return s3api.Object{}, errs.E("gateway.Complete", errs.Internal, "composed blob %s, expected %s: the compose key changed", info.Hash, addr)
	}
	e := &meta.Entry{Content: info.Hash, Size: info.Size, ETag: opts.ETag, Parts: sizes,
		Headers: u.Headers, User: u.Meta, Checksums: comp.Checksums, ChecksumType: comp.ChecksumType}
	if u.ChecksumAlgorithm != "" {
		// Every part of such an upload carries its checksum
		// (GetObjectAttributes lists them).
		e.PartChecksums = make([]map[string]string, len(parts))
		for i := range parts {
			e.PartChecksums[i] = parts[i].Checksums
		}
	}
	done, err := b.Meta.CompleteUpload(ctx, meta.CompleteRequest{Repo: bk.Repo, ID: id, Parts: parts, Entry: e,
		IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch, Author: c.User,
		Message: "put " + key + " (multipart upload, " + strconv.Itoa(len(parts)) + " parts)"})
	if err != nil {
		return s3api.Object{}, err
	}
	if done.Done.ETag != opts.ETag {
		// A concurrent completion with other parts won.
		return s3api.Object{}, noSuchUpload(id)
	}
	return completed(done), nil
}

// completedRetry reads upload id again: when it is completed now (done
// true), the answer is that of a retried completion: its object when etag
// (of the parts asked) is the completed one's, else NoSuchUpload, as on
// AWS. An error reading it is returned; done is false while it is in
// flight.
func (b *Backend) completedRetry(ctx context.Context, bk s3api.Bucket, key, id, etag string) (s3api.Object, bool, error) {
	u, err := b.upload(ctx, bk, key, id, true)
	if err != nil {
		return s3api.Object{}, false, err
	}
	if u.Done == nil {
		return s3api.Object{}, false, nil
	}
	if u.Done.ETag != etag {
		return s3api.Object{}, true, noSuchUpload(id)
	}
	return completed(u), true, nil
}

// precheck evaluates write conditions against the bucket's current state.
func (b *Backend) precheck(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, ifMatch, ifNoneMatch string) error {
	if ifMatch == "" && ifNoneMatch == "" {
		return nil
	}
	cur, err := b.head(ctx, c, bk, key, "")
	exists := err == nil && !cur.DeleteMarker
	if err != nil && !errs.Is(err, errs.NotExist) {
		return err
	}
	failed := errs.E("gateway.Complete", errs.Conflict, "precondition failed for key %q", key).Because(errs.Precondition)
	if ifNoneMatch == "*" && exists || ifNoneMatch != "" && ifNoneMatch != "*" && exists && cur.ETag == ifNoneMatch {
		return failed
	}
	if ifMatch != "" {
		if !exists {
			return errs.E("gateway.Complete", errs.NotExist, "key %q does not exist", key).Because(errs.Key)
		}
		if ifMatch != "*" && cur.ETag != ifMatch {
			return failed
		}
	}
	return nil
}

// AbortMultipartUpload implements s3api.Backend.
func (b *Backend) AbortMultipartUpload(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, id string) error {
	if _, err := b.writeTarget(ctx, c, bk, false); err != nil {
		return err
	}
	if _, err := b.upload(ctx, bk, key, id, false); err != nil {
		return err
	}
	return b.Meta.AbortUpload(ctx, bk.Repo, id)
}

// ListParts implements s3api.Backend.
func (b *Backend) ListParts(ctx context.Context, c s3api.Caller, bk s3api.Bucket, key, id string, opts s3api.PartListOptions) (s3api.PartListResult, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActRead); err != nil {
		return s3api.PartListResult{}, err
	}
	u, err := b.upload(ctx, bk, key, id, false)
	if err != nil {
		return s3api.PartListResult{}, err
	}
	max := opts.Max
	if max <= 0 {
		max = 1000
	}
	ps, more, err := b.Meta.ListParts(ctx, bk.Repo, id, opts.Marker, max)
	if err != nil {
		return s3api.PartListResult{}, err
	}
	res := s3api.PartListResult{Upload: toUpload(u), IsTruncated: more}
	for i := range ps {
		res.Parts = append(res.Parts, toPart(&ps[i]))
		res.NextMarker = ps[i].Number
	}
	return res, nil
}

// ListMultipartUploads implements s3api.Backend.
func (b *Backend) ListMultipartUploads(ctx context.Context, c s3api.Caller, bk s3api.Bucket, opts s3api.UploadListOptions) (s3api.UploadListResult, error) {
	if err := b.allow(ctx, c, bk.Repo, s3api.ActRead); err != nil {
		return s3api.UploadListResult{}, err
	}
	r, err := refOf(bk)
	if err != nil {
		return s3api.UploadListResult{}, err
	}
	branch, open := uploadTarget(r)
	if branch == "" && open == "" {
		return s3api.UploadListResult{}, nil // read-only refs take no uploads
	}
	pg, err := b.Meta.ListUploads(ctx, bk.Repo, meta.UploadListOptions{Branch: branch, Open: open, Prefix: opts.Prefix,
		Delimiter: opts.Delimiter, KeyMarker: opts.KeyMarker, UploadIDMarker: opts.UploadIDMarker, Max: opts.MaxUploads})
	if err != nil {
		return s3api.UploadListResult{}, err
	}
	res := s3api.UploadListResult{CommonPrefixes: pg.Prefixes, IsTruncated: pg.Truncated,
		NextKeyMarker: pg.NextKey, NextUploadIDMarker: pg.NextUploadID}
	for _, u := range pg.Uploads {
		res.Uploads = append(res.Uploads, toUpload(u))
	}
	return res, nil
}

// expireUploads aborts uploads in flight for longer than the configured
// TTL and forgets completed results older than CompletedUploadRetention;
// GC then frees their parts.
func (s *Server) expireUploads(ctx context.Context) (int, error) {
	ttl := s.cfg.UploadTTL
	if ttl == 0 {
		ttl = DefaultUploadTTL
	}
	now := time.Now()
	var before time.Time // negative TTL: never abort
	if ttl > 0 {
		before = now.Add(-ttl)
	}
	st, err := s.Meta.ExpireUploads(ctx, before, now.Add(-CompletedUploadRetention))
	if err != nil {
		return 0, err
	}
	if st.Aborted+st.Forgotten+st.Parts > 0 {
		s.cfg.Log.Info().Int("uploads_aborted", st.Aborted).Int("completions_forgotten", st.Forgotten).
			Int("part_records", st.Parts).Msg("multipart uploads expired")
	}
	return st.Aborted, nil
}
