package meta

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta/kv"
)

// Multipart uploads in flight (S3's CreateMultipartUpload ... Complete).
//
// Records, written through the committer (synced before any answer):
//
//	U/<repo>/<uploadId>          Upload: target (branch or open commit), key,
//	                             initiator, content headers, user metadata,
//	                             checksum algorithm and type; once completed,
//	                             the result (Done), kept for a while so that a
//	                             retried completion gets the same answer.
//	U/<repo>/<uploadId>/<%05d>   Part: size, ETag (MD5), content hash, checksums.
//	K/compose                    the secret keying composed blob addresses.
//
// Upload ids are 40 lowercase hex digits: the initiation time (big-endian
// nanoseconds) then 96 random bits, so that ids of one key sort in
// initiation order, as S3 lists them.
//
// Completion (CompleteUpload) makes the object's commit on the branch (or
// writes into the open commit) and turns the upload record into its
// completed form in ONE committer transaction: a failed completion leaves
// no commit and an upload that is still in flight. The part records of a
// completed or aborted upload are dead from that transaction on (nothing
// reads them, GC does not count their content as live); they are deleted
// right after in transactions of bounded size, and ExpireUploads removes
// what a crash left. Keeping up to 10000 deletions out of the completion's
// transaction keeps that transaction as small as a PutObject's.

const (
	pUpload = "U/"
	// composeKeyRecord holds the compose secret (32 random bytes).
	composeKeyRecord = "K/compose"
	// deleteChunk bounds the records one cleanup transaction deletes.
	deleteChunk = 2000
)

// MaxPartNumber is S3's highest part number.
const MaxPartNumber = 10000

// Upload is a multipart upload record.
type Upload struct {
	ID   string `json:"id"`
	Repo string `json:"repo"`
	// RepoCreated tells a repo deleted and created again from the one the
	// upload was started in: the upload then no longer exists.
	RepoCreated time.Time `json:"repo_created"`
	// Exactly one of Branch and Open names the target.
	Branch string `json:"branch,omitempty"`
	Open   string `json:"open,omitempty"`
	Key    string `json:"key"`
	// Initiated is set by CreateUpload.
	Initiated time.Time `json:"initiated"`
	User      string    `json:"user,omitempty"`
	// Headers and Meta are the object's content headers and user metadata,
	// kept byte for byte (ExactStrings).
	Headers           ExactStrings `json:"headers,omitempty"`
	Meta              ExactStrings `json:"meta,omitempty"`
	ChecksumAlgorithm string       `json:"checksum_algorithm,omitempty"`
	ChecksumType      string       `json:"checksum_type,omitempty"`
	// Done is set when the upload is completed.
	Done *UploadDone `json:"done,omitempty"`
}

// UploadDone is the result of a completed upload.
type UploadDone struct {
	Version      string            `json:"version"`
	Time         time.Time         `json:"time"`
	ETag         string            `json:"etag"`
	Size         int64             `json:"size"`
	Checksums    map[string]string `json:"checksums,omitempty"`
	ChecksumType string            `json:"checksum_type,omitempty"`
	// Completed is when the completion was made durable.
	Completed time.Time `json:"completed"`
	// Null: the object is a null version (versioning Suspended).
	Null bool `json:"null,omitempty"`
}

// Part is an uploaded part record.
type Part struct {
	Number    int               `json:"n"`
	Size      int64             `json:"size"`
	ETag      string            `json:"etag"`    // MD5 hex, unquoted
	Content   string            `json:"content"` // SHA-256 hex of the part's blob
	Checksums map[string]string `json:"checksums,omitempty"`
	Time      time.Time         `json:"time"`
}

// ExactStrings is a string map that a JSON record keeps byte for byte.
// encoding/json replaces bytes that are not UTF-8 with U+FFFD, but header
// values are bytes (a client may send latin-1 user metadata), and S3 answers
// them as they were sent. A map that is all UTF-8 is a plain JSON object, as
// records written before had it; one that is not is an array of
// [base64(name), base64(value)] pairs.
type ExactStrings map[string]string

// MarshalJSON implements json.Marshaler.
func (m ExactStrings) MarshalJSON() ([]byte, error) {
	exact := true
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			exact = false
			break
		}
	}
	if exact {
		return json.Marshal(map[string]string(m))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([][2][]byte, len(keys))
	for i, k := range keys {
		pairs[i] = [2][]byte{[]byte(k), []byte(m[k])}
	}
	return json.Marshal(pairs)
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *ExactStrings) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var pairs [][2][]byte
		if err := json.Unmarshal(t, &pairs); err != nil {
			return err
		}
		out := make(ExactStrings, len(pairs))
		for _, p := range pairs {
			out[string(p[0])] = string(p[1])
		}
		*m = out
		return nil
	}
	var plain map[string]string
	if err := json.Unmarshal(b, &plain); err != nil {
		return err
	}
	*m = plain
	return nil
}

func uploadKey(repo, id string) string { return pUpload + repo + "/" + id }

func partKey(repo, id string, n int) string { return fmt.Sprintf("%s/%05d", uploadKey(repo, id), n) }

// newUploadID returns a fresh id that sorts after every id made earlier.
func newUploadID(now time.Time) string {
	var b [20]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// ValidUploadID reports whether id has the form of an upload id.
func ValidUploadID(id string) bool {
	return len(id) == 40 && names.IsHex(id)
}

func noSuchUpload(id string) error {
	return errs.E("meta.upload", errs.NotExist, "the multipart upload %s does not exist: it was never started, or it was aborted or completed", id).Because(errs.Upload)
}

// uploadTx reads an upload record; NoSuchUpload when absent or when its
// repo was deleted (or deleted and created again) since.
func (s *Store) uploadTx(txn kv.Reader, repo, id string) (*Upload, error) {
	if !ValidUploadID(id) {
		return nil, noSuchUpload(id)
	}
	var u Upload
	if err := getJSON(txn, uploadKey(repo, id), &u); err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, noSuchUpload(id)
		}
		return nil, err
	}
	r, err := s.repoTx(txn, repo)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, noSuchUpload(id)
		}
		return nil, err
	}
	if !r.Created.Equal(u.RepoCreated) {
		return nil, noSuchUpload(id)
	}
	return &u, nil
}

// inFlightTx is uploadTx refusing completed uploads.
func (s *Store) inFlightTx(txn kv.Reader, repo, id string) (*Upload, error) {
	u, err := s.uploadTx(txn, repo, id)
	if err != nil {
		return nil, err
	}
	if u.Done != nil {
		return nil, noSuchUpload(id)
	}
	return u, nil
}

// CreateUpload starts a multipart upload of u.Key into u.Branch or u.Open
// of u.Repo, assigning its ID and Initiated. NoSuchBucket when the repo,
// branch or open commit does not exist.
func (s *Store) CreateUpload(ctx context.Context, u Upload) (*Upload, error) {
	if err := names.ValidKey(u.Key); err != nil {
		return nil, err
	}
	if (u.Branch == "") == (u.Open == "") {
		return nil, errs.E("meta.CreateUpload", errs.Invalid, "an upload targets exactly one branch or open commit")
	}
	u.Done = nil
	var out *Upload
	err := s.update(ctx, func(w *wtx) error {
		r, err := w.s.repoTx(w.txn, u.Repo)
		if err != nil {
			return err
		}
		if u.Open != "" {
			if _, err := w.openTx(u.Repo, u.Open); err != nil {
				return err
			}
		} else if _, err := w.s.branchTx(w.txn, u.Repo, u.Branch); err != nil {
			return err
		}
		nu := u
		nu.ID = newUploadID(w.now)
		nu.Initiated = w.now
		nu.RepoCreated = r.Created
		if err := kv.PutJSON(w.txn, uploadKey(u.Repo, nu.ID), &nu); err != nil {
			return err
		}
		out = &nu
		return nil
	})
	return out, err
}

// GetUpload returns an upload, in flight or completed (Done set).
// NoSuchUpload when it does not exist.
func (s *Store) GetUpload(ctx context.Context, repo, id string) (*Upload, error) {
	var u *Upload
	err := s.view(func(txn kv.Reader) error {
		var err error
		u, err = s.uploadTx(txn, repo, id)
		return err
	})
	return u, err
}

// PutPart records part p of an upload in flight, replacing an earlier part
// of the same number (whose content then becomes garbage). p.Time is set
// here. NoSuchUpload when the upload does not exist or is completed.
func (s *Store) PutPart(ctx context.Context, repo, id string, p Part) (*Part, error) {
	if p.Number < 1 || p.Number > MaxPartNumber {
		return nil, errs.E("meta.PutPart", errs.Invalid, "part number %d is not in 1-%d", p.Number, MaxPartNumber).Because(errs.Argument)
	}
	var out *Part
	err := s.update(ctx, func(w *wtx) error {
		if _, err := w.s.inFlightTx(w.txn, repo, id); err != nil {
			return err
		}
		np := p
		np.Time = w.now
		if err := kv.PutJSON(w.txn, partKey(repo, id, p.Number), &np); err != nil {
			return err
		}
		out = &np
		return nil
	})
	return out, err
}

// ListParts returns up to max parts (all when max <= 0) of an upload in
// flight with numbers above marker, in order, and whether more follow.
// NoSuchUpload when the upload does not exist or is completed.
func (s *Store) ListParts(ctx context.Context, repo, id string, marker, max int) ([]Part, bool, error) {
	var parts []Part
	more := false
	err := s.view(func(txn kv.Reader) error {
		if _, err := s.inFlightTx(txn, repo, id); err != nil {
			return err
		}
		prefix := []byte(uploadKey(repo, id) + "/")
		it := txn.Iter(kv.IterOptions{Prefix: prefix})
		defer it.Close()
		start := prefix
		if marker > 0 {
			start = []byte(partKey(repo, id, marker+1))
		}
		for it.Seek(start); it.Valid(); it.Next() {
			if max > 0 && len(parts) == max {
				more = true
				return nil
			}
			var p Part
			if err := withValue(it, func(b []byte) error { return json.Unmarshal(b, &p) }); err != nil {
				return errs.Wrap("meta.ListParts", errs.Internal, err)
			}
			parts = append(parts, p)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return parts, more, nil
}

// AbortUpload discards an upload in flight and its parts (their content
// becomes garbage). NoSuchUpload when it does not exist or is completed.
func (s *Store) AbortUpload(ctx context.Context, repo, id string) error {
	err := s.update(ctx, func(w *wtx) error {
		if _, err := w.s.inFlightTx(w.txn, repo, id); err != nil {
			return err
		}
		return w.txn.Delete([]byte(uploadKey(repo, id)))
	})
	if err != nil {
		return err
	}
	// The parts are dead now; delete their records (ExpireUploads retries
	// what fails here).
	_ = s.deletePrefix(ctx, uploadKey(repo, id)+"/")
	return nil
}

// CompleteRequest completes an upload.
type CompleteRequest struct {
	Repo, ID string
	// Parts are the parts the object is made of, as the caller validated
	// them: each must still be recorded with the same Content.
	Parts []Part
	// Entry is the object's version (Content: the composed blob).
	Entry *Entry
	// Conditions on the key, checked against the target's state just
	// before the write (as Change's).
	IfMatch, IfNoneMatch string
	Author, Message      string
}

// CompleteUpload completes an upload in ONE committer transaction: the
// object's commit on the upload's branch (or its write into the open
// commit) and the upload record's change to its completed form (with the
// result), or nothing at all. It returns the upload with Done set. When the
// upload is already completed it returns it unchanged and writes nothing
// (the caller compares Done with what was asked: a retried completion gets
// the same answer). Errors: NoSuchUpload; InvalidPart when a part is no
// longer recorded as validated (it was uploaded again meanwhile); and
// Write's errors (PreconditionFailed, NoSuchKey, NoSuchBucket, Permission).
// The part records are deleted after the transaction.
func (s *Store) CompleteUpload(ctx context.Context, req CompleteRequest) (*Upload, error) {
	if req.Entry == nil || len(req.Parts) == 0 {
		return nil, errs.E("meta.CompleteUpload", errs.Invalid, "a completion needs an entry and at least one part")
	}
	var out *Upload
	fresh := false
	err := s.update(ctx, func(w *wtx) error {
		u, err := w.s.uploadTx(w.txn, req.Repo, req.ID)
		if err != nil {
			return err
		}
		if u.Done != nil {
			out = u
			return nil
		}
		for _, p := range req.Parts {
			var cur Part
			if err := getJSON(w.txn, partKey(req.Repo, req.ID, p.Number), &cur); err != nil {
				if errs.Is(err, errs.NotExist) {
					return errs.E("meta.CompleteUpload", errs.Invalid, "part %d was not uploaded", p.Number).Because(errs.Part)
				}
				return err
			}
			if cur.Content != p.Content {
				return errs.E("meta.CompleteUpload", errs.Conflict, "part %d was uploaded again while the upload was being completed; complete it again", p.Number).Because(errs.Part)
			}
		}
		wr := WriteRequest{Repo: req.Repo, Branch: u.Branch, Open: u.Open, Author: req.Author, Message: req.Message,
			Changes: []Change{{Key: u.Key, Entry: req.Entry, IfMatch: req.IfMatch, IfNoneMatch: req.IfNoneMatch}}}
		var res *WriteResult
		if u.Open != "" {
			res, err = w.writeOpen(wr)
		} else {
			res, err = w.writeBranch(wr)
		}
		if err != nil {
			return err
		}
		e := req.Entry
		u.Done = &UploadDone{Version: res.Version, Time: res.Time, ETag: e.ETag, Size: e.Size,
			Checksums: e.Checksums, ChecksumType: e.ChecksumType, Completed: w.now, Null: res.Null}
		if err := kv.PutJSON(w.txn, uploadKey(req.Repo, req.ID), u); err != nil {
			return err
		}
		out, fresh = u, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if fresh {
		_ = s.deletePrefix(ctx, uploadKey(req.Repo, req.ID)+"/")
	}
	return out, nil
}

// UploadListOptions are ListMultipartUploads parameters. Uploads are
// listed for one target: Branch or Open.
type UploadListOptions struct {
	Branch, Open   string
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	Max            int // <= 0: 1000
}

// UploadPage is one page of uploads in flight, by key then initiation.
type UploadPage struct {
	Uploads   []*Upload
	Prefixes  []string
	Truncated bool
	// NextKey / NextUploadID resume the listing (as S3's markers).
	NextKey, NextUploadID string
}

// ListUploads lists the uploads in flight of repo into one target, as
// ListMultipartUploads does: sorted by key, then by initiation; keys past
// the prefix containing the delimiter rolled up into common prefixes;
// resuming after KeyMarker (or, with UploadIDMarker, after that upload of
// KeyMarker). Cost: O(uploads in the repo), never O(parts).
func (s *Store) ListUploads(ctx context.Context, repo string, opts UploadListOptions) (*UploadPage, error) {
	max := opts.Max
	if max <= 0 {
		max = 1000
	}
	var all []*Upload
	err := s.view(func(txn kv.Reader) error {
		r, err := s.repoTx(txn, repo)
		if err != nil {
			return err
		}
		return s.scanUploads(ctx, txn, pUpload+repo+"/", func(u *Upload) error {
			if u.Done != nil || !u.RepoCreated.Equal(r.Created) || u.Branch != opts.Branch || u.Open != opts.Open ||
				!strings.HasPrefix(u.Key, opts.Prefix) {
				return nil
			}
			all = append(all, u)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Key != all[j].Key {
			return all[i].Key < all[j].Key
		}
		return all[i].ID < all[j].ID
	})
	pg := &UploadPage{}
	n := 0
	lastPrefix := ""
	for _, u := range all {
		if opts.KeyMarker != "" {
			if u.Key < opts.KeyMarker || (u.Key == opts.KeyMarker && (opts.UploadIDMarker == "" || u.ID <= opts.UploadIDMarker)) {
				continue
			}
		}
		cp := ""
		if opts.Delimiter != "" {
			if i := strings.Index(u.Key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp = u.Key[:len(opts.Prefix)+i+len(opts.Delimiter)]
			}
		}
		// A common prefix is listed once, and not again after a page that
		// ended with it (its NextKeyMarker).
		if cp != "" && (cp == lastPrefix || cp == opts.KeyMarker) {
			continue
		}
		if n == max {
			pg.Truncated = true
			break
		}
		n++
		if cp != "" {
			pg.Prefixes = append(pg.Prefixes, cp)
			lastPrefix = cp
			pg.NextKey, pg.NextUploadID = cp, ""
			continue
		}
		pg.Uploads = append(pg.Uploads, u)
		pg.NextKey, pg.NextUploadID = u.Key, u.ID
	}
	if !pg.Truncated {
		pg.NextKey, pg.NextUploadID = "", ""
	}
	return pg, nil
}

// scanUploads calls fn for every upload record under prefix (a "U/" or
// "U/<repo>/" prefix), skipping part records with a seek past them.
func (s *Store) scanUploads(ctx context.Context, txn kv.Reader, prefix string, fn func(*Upload) error) error {
	it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix)})
	defer it.Close()
	n := 0
	for it.Valid() {
		if n++; n%256 == 0 {
			if err := ctxErr(ctx, "meta.scanUploads"); err != nil {
				return err
			}
		}
		k := it.Key()
		if !isUploadRecord(k) {
			it.Next()
			continue
		}
		var u Upload
		if err := withValue(it, func(b []byte) error { return json.Unmarshal(b, &u) }); err != nil {
			return errs.Wrap("meta.scanUploads", errs.Internal, err)
		}
		// Past this upload's part records ("<id>/00001"...): ':' sorts
		// after every digit.
		it.Seek(append(append([]byte(nil), k...), '/', ':'))
		if err := fn(&u); err != nil {
			return err
		}
	}
	return nil
}

// isUploadRecord tells "U/<repo>/<id>" from "U/<repo>/<id>/<n>".
func isUploadRecord(k []byte) bool {
	return bytes.HasPrefix(k, []byte(pUpload)) && bytes.Count(k[len(pUpload):], []byte("/")) == 1
}

// deletePrefix deletes every record under prefix, in transactions of at
// most deleteChunk deletions.
func (s *Store) deletePrefix(ctx context.Context, prefix string) error {
	for {
		var keys [][]byte
		err := s.view(func(txn kv.Reader) error {
			it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix)})
			defer it.Close()
			for ; it.Valid() && len(keys) < deleteChunk; it.Next() {
				keys = append(keys, bytes.Clone(it.Key()))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		if err := s.deleteKeys(ctx, keys); err != nil {
			return err
		}
	}
}

func (s *Store) deleteKeys(ctx context.Context, keys [][]byte) error {
	for len(keys) > 0 {
		n := min(len(keys), deleteChunk)
		batch := keys[:n]
		keys = keys[n:]
		if err := s.update(ctx, func(w *wtx) error {
			for _, k := range batch {
				if err := w.txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// ExpireStats reports an ExpireUploads run.
type ExpireStats struct {
	// Aborted uploads in flight initiated before the cutoff (or whose repo
	// is gone); Forgotten completed uploads whose result was kept long
	// enough; Parts records of dead uploads deleted.
	Aborted, Forgotten, Parts int
}

// ExpireUploads aborts the uploads in flight initiated before
// initiatedBefore (their parts become garbage for the next GC), forgets
// the results of uploads completed before doneBefore, and deletes the
// records of uploads whose repo is gone and the part records of uploads no
// longer in flight (leftovers of a crash between a completion or an abort
// and its cleanup).
func (s *Store) ExpireUploads(ctx context.Context, initiatedBefore, doneBefore time.Time) (*ExpireStats, error) {
	st := &ExpireStats{}
	var expired []*Upload
	var deadParts [][]byte
	err := s.view(func(txn kv.Reader) error {
		repos := map[string]*Repo{}
		repoOf := func(name string) *Repo {
			r, ok := repos[name]
			if !ok {
				r, _ = s.repoTx(txn, name)
				repos[name] = r
			}
			return r
		}
		live := map[string]bool{} // "repo/id" of uploads in flight that stay
		if err := s.scanUploads(ctx, txn, pUpload, func(u *Upload) error {
			r := repoOf(u.Repo)
			switch {
			case r == nil || !r.Created.Equal(u.RepoCreated),
				u.Done == nil && u.Initiated.Before(initiatedBefore),
				u.Done != nil && u.Done.Completed.Before(doneBefore):
				expired = append(expired, u)
			case u.Done == nil:
				live[u.Repo+"/"+u.ID] = true
			}
			return nil
		}); err != nil {
			return err
		}
		// Part records of uploads not (or no longer) in flight.
		it := txn.Iter(kv.IterOptions{Prefix: []byte(pUpload)})
		defer it.Close()
		for ; it.Valid(); it.Next() {
			k := it.Key()
			if isUploadRecord(k) {
				continue
			}
			owner := string(k[len(pUpload):bytes.LastIndexByte(k, '/')])
			if !live[owner] {
				deadParts = append(deadParts, bytes.Clone(it.Key()))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Delete the expired records, each checked again in the committer's
	// transaction (it may have been completed or aborted meanwhile).
	for len(expired) > 0 {
		n := min(len(expired), deleteChunk)
		batch := expired[:n]
		expired = expired[n:]
		var aborted, forgotten int
		err := s.update(ctx, func(w *wtx) error {
			aborted, forgotten = 0, 0
			for _, u := range batch {
				var cur Upload
				if err := getJSON(w.txn, uploadKey(u.Repo, u.ID), &cur); err != nil {
					if errs.Is(err, errs.NotExist) {
						continue
					}
					return err
				}
				if (cur.Done == nil) != (u.Done == nil) {
					continue // completed meanwhile: the next run decides
				}
				if err := w.txn.Delete([]byte(uploadKey(u.Repo, u.ID))); err != nil {
					return err
				}
				if cur.Done == nil {
					aborted++
				} else {
					forgotten++
				}
			}
			return nil
		})
		if err != nil {
			return st, err
		}
		st.Aborted += aborted
		st.Forgotten += forgotten
		for _, u := range batch {
			if u.Done == nil {
				if err := s.deletePrefix(ctx, uploadKey(u.Repo, u.ID)+"/"); err != nil {
					return st, err
				}
			}
		}
	}
	// Part records dead at the scan stay dead: an upload never comes back
	// into flight and ids are never reused.
	if err := s.deleteKeys(ctx, deadParts); err != nil {
		return st, err
	}
	st.Parts = len(deadParts)
	return st, nil
}

// liveUploadParts adds the content of every part of every upload in flight
// to live (GC's set of content hashes to keep).
func (s *Store) liveUploadParts(ctx context.Context, txn kv.Reader, live map[string]bool) error {
	var inFlight []string
	if err := s.scanUploads(ctx, txn, pUpload, func(u *Upload) error {
		if u.Done == nil {
			inFlight = append(inFlight, uploadKey(u.Repo, u.ID)+"/")
		}
		return nil
	}); err != nil {
		return err
	}
	for _, prefix := range inFlight {
		it := txn.Iter(kv.IterOptions{Prefix: []byte(prefix)})
		for ; it.Valid(); it.Next() {
			var p Part
			if err := withValue(it, func(b []byte) error { return json.Unmarshal(b, &p) }); err != nil {
				it.Close()
				return errs.Wrap("meta.GC", errs.Internal, err)
			}
			if p.Content != "" {
				live[p.Content] = true
			}
		}
		it.Close()
	}
	return nil
}

// ComposeKey returns the installation's secret for composed blob addresses
// (blob.Store.SetComposeKey), creating it (32 random bytes) at first use.
func (s *Store) ComposeKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.view(func(txn kv.Reader) error {
		var err error
		key, err = txn.Get([]byte(composeKeyRecord))
		return err
	})
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errs.Is(err, errs.NotExist) {
		return nil, errs.Wrap("meta.ComposeKey", errs.Internal, err)
	}
	err = s.update(ctx, func(w *wtx) error {
		if b, err := w.txn.Get([]byte(composeKeyRecord)); err == nil {
			key = b
			return nil
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return w.txn.Set([]byte(composeKeyRecord), key)
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}
