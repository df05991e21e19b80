package s3api

import (
	"context"
	"io"
	"time"
)

// Backend is the versioned store as the S3 layer sees it. The gateway
// implements it over meta (Badger) and blob; s3api never sees either.
// Every method returns errors classified with internal/errs; an error's
// Reason, when set, picks the exact S3 code (reasonTable in errors.go).
// s3api/backendtest is the conformance suite every implementation runs.
//
// The caller: every method that reads or writes for someone takes the
// Caller as its argument after ctx, and checks the caller's permission on
// the repo itself (Auth.Allow's rules: anonymous callers only read public
// repos) before it looks at anything else the call names: Permission (code
// AccessDenied) when it is missing. The action each method needs is named
// in its comment. s3api asks Auth.Allow the same question earlier (to
// refuse before a body is read); a Backend never relies on that. Only
// Resolve takes no caller: it tells whether a bucket exists (as S3's
// NoSuchBucket does) and a Bucket grants nothing by itself.
type Backend interface {
	// ListRepos lists the repos c may read (ActRead), by name; none for a
	// caller who may read nothing.
	ListRepos(ctx context.Context, c Caller) ([]RepoInfo, error)
	// CreateBucket creates repo REPO (ref == "") with branch main, owned by
	// c (ActCreateRepo), with opts' location and public flag, or branch ref
	// of an existing repo from main's head (ActAdmin on repo; opts unused).
	// Exist when it exists (nothing is changed then: s3api picks the S3
	// answer); Invalid (InvalidBucketName) for bad names; NotExist
	// (NoSuchBucket) for a branch of an unknown repo.
	CreateBucket(ctx context.Context, c Caller, repo, ref string, opts BucketOptions) error
	// SetPublic sets whether anonymous requests may read repo (the
	// public-read canned ACL); c needs ActAdmin on repo or to own it
	// (ActOwn). NotExist for an unknown repo.
	SetPublic(ctx context.Context, c Caller, repo string, public bool) error
	// DeleteBucket deletes a branch (ref != "") or the whole repo (ref == "");
	// ActAdmin. Conflict with reason for S3 BucketNotEmpty when keys remain (SPEC §2);
	// Invalid (InvalidRequest) for main or a ref that is not a branch.
	DeleteBucket(ctx context.Context, c Caller, repo, ref string) error
	// Resolve resolves REPO and REF ("" = main) to a bucket view.
	// NotExist with reason for S3 NoSuchBucket when the repo or ref is unknown. It
	// checks no permission: the calls given the Bucket do.
	Resolve(ctx context.Context, repo, ref string) (Bucket, error)

	// Head returns key's metadata at b, or at version versionID when not ""
	// (ActRead). NotExist with NoSuchKey / NoSuchVersion; a key whose newest
	// version is a delete marker returns the marker (DeleteMarker true)
	// with NotExist (NoSuchKey) when versionID is "", and with Invalid
	// (MethodNotAllowed) when asked by the marker's versionID.
	Head(ctx context.Context, c Caller, b Bucket, key, versionID string) (Object, error)
	// Open streams length bytes (-1: to the end) of o's content from off;
	// o is a version Head or a listing returned for bucket b (ActRead on b).
	Open(ctx context.Context, c Caller, b Bucket, o Object, off, length int64) (io.ReadCloser, error)
	// Put writes key on a writable bucket as one commit (or into the open
	// commit) authored by c (ActWrite). ReadOnly (AccessDenied) when b is
	// read-only; Conflict with reason for S3 PreconditionFailed when a condition
	// fails. Nothing is visible unless it returns nil. The returned Object
	// carries the new VersionID.
	Put(ctx context.Context, c Caller, b Bucket, key string, body io.Reader, opts PutOptions) (Object, error)
	// Copy writes dst as a copy of src (read with Head first, by the same
	// caller; no bytes move, content is shared); ActWrite on dst.
	// opts.Meta replaces src's metadata when opts.ReplaceMeta, else src's
	// metadata is kept.
	Copy(ctx context.Context, c Caller, dst Bucket, key string, src Object, opts PutOptions) (Object, error)
	// Delete applies deletes as ONE commit on b authored by c (ActWrite;
	// DeleteObjects is one commit; DeleteObject is a batch of one). Each
	// result says what happened to its item; the error is for the whole
	// request. Deleting a key (no VersionID) makes a delete marker even
	// when the key is absent, as S3 does; removing a version that does not
	// exist succeeds and changes nothing; a malformed version id is the
	// item's NotExist (NoSuchVersion); a read-only b refuses each item
	// with ReadOnly (AccessDenied). A failing IfMatch fails the request
	// (Conflict PreconditionFailed, or NotExist NoSuchKey for an absent
	// key) and nothing is written.
	Delete(ctx context.Context, c Caller, b Bucket, items []DeleteItem) ([]DeleteResult, error)
	// List lists the keys at b in S3 order (bytewise) with prefix, delimiter
	// and start-after (exclusive), at most max entries+prefixes (ActRead).
	List(ctx context.Context, c Caller, b Bucket, opts ListOptions) (ListResult, error)
	// ListVersions lists versions along b's first-parent history (SPEC §4),
	// newest first within a key (ActRead).
	ListVersions(ctx context.Context, c Caller, b Bucket, opts VersionListOptions) (VersionListResult, error)
	// SetVersioning sets the versioning status ("Enabled" or "Suspended")
	// of branch bucket b (ActWrite); ReadOnly when b is read-only.
	SetVersioning(ctx context.Context, c Caller, b Bucket, status string) error

	// Multipart uploads (multipart.go). An upload belongs to its bucket's
	// ref (a writable branch or open commit) and key: an upload id asked
	// for through another bucket or key is NotExist (NoSuchUpload), as is
	// an aborted, expired or (except for CompleteMultipartUpload)
	// completed upload. Calls that change an upload need ActWrite, the
	// others ActRead.

	// CreateMultipartUpload starts an upload of key into b, initiated by c
	// (ReadOnly when b is read-only). It survives restarts until
	// completed, aborted or expired.
	CreateMultipartUpload(ctx context.Context, c Caller, b Bucket, key string, opts UploadOptions) (Upload, error)
	// GetMultipartUpload returns an upload in flight.
	GetMultipartUpload(ctx context.Context, c Caller, b Bucket, key, uploadID string) (Upload, error)
	// UploadPart stores body as part number part (1-10000) of an upload,
	// replacing an earlier part of that number; it streams like Put (Size,
	// ContentMD5 and Finish as in PutOptions) and the part is durable when
	// it returns.
	UploadPart(ctx context.Context, c Caller, b Bucket, key, uploadID string, part int, body io.Reader, opts PartOptions) (Part, error)
	// CompleteMultipartUpload makes the object from the listed parts (part
	// numbers, ascending, as the client listed them) as ONE commit on b
	// authored by c (or one write into its open commit), atomically: on
	// error nothing is visible and the upload can still be completed.
	// Missing parts are Invalid (InvalidPart); opts.Check enforces S3's
	// other rules and returns the object's checksums. Completing a
	// completed upload again answers the same object when opts.ETag equals
	// its ETag.
	CompleteMultipartUpload(ctx context.Context, c Caller, b Bucket, key, uploadID string, parts []int, opts CompleteOptions) (Object, error)
	// AbortMultipartUpload discards an upload in flight and its parts.
	AbortMultipartUpload(ctx context.Context, c Caller, b Bucket, key, uploadID string) error
	// ListParts lists an upload's parts in order, after opts.Marker.
	ListParts(ctx context.Context, c Caller, b Bucket, key, uploadID string, opts PartListOptions) (PartListResult, error)
	// ListMultipartUploads lists b's uploads in flight by key, then by
	// initiation.
	ListMultipartUploads(ctx context.Context, c Caller, b Bucket, opts UploadListOptions) (UploadListResult, error)
}

// Caller is who a Backend call acts for: the user behind the request's
// access key, or the anonymous caller of an unsigned request. It is the
// author of the writes the call makes and the subject of its permission
// checks.
type Caller struct {
	// User is the authenticated user's name; "" for an anonymous caller.
	User string
}

// Anonymous reports whether c is the caller of an unsigned request.
func (c Caller) Anonymous() bool { return c.User == "" }

// Auth looks up credentials and permissions. The gateway implements it.
type Auth interface {
	// Secret returns the secret key and the owning user of accessKey;
	// NotExist (InvalidAccessKeyId) when unknown.
	Secret(ctx context.Context, accessKey string) (secret, user string, err error)
	// Allow returns nil when user (""= anonymous) may perform act on repo
	// (repo "" = a service-level call such as ListBuckets), Permission
	// otherwise.
	Allow(ctx context.Context, user, repo string, act Action) error
}

// Action is a permission level needed by a call.
type Action int

const (
	ActRead Action = iota + 1
	ActWrite
	ActAdmin
	ActCreateRepo // CreateBucket of a new repo
	// ActOwn asks whether the requester owns the repo as an S3 account owns
	// its buckets (its creator, or a global admin): CreateBucket of an
	// existing bucket answers by it.
	ActOwn
)

// BucketOptions are the settings of a new repo made by CreateBucket.
type BucketOptions struct {
	// Location is the CreateBucketConfiguration's LocationConstraint ("" =
	// none), already checked against the server's region.
	Location string
	// Public is the public-read canned ACL.
	Public bool
}

// RefKind is what a bucket's ref resolved to.
type RefKind int

const (
	RefBranch RefKind = iota + 1
	RefTag
	RefCommit
	RefOpenCommit
)

// Bucket is a resolved S3 bucket: a repo at a ref.
type Bucket struct {
	Name     string // the S3 bucket name as sent
	Repo     string
	Ref      string  // branch, tag or commit id as resolved ("main" for REPO)
	Kind     RefKind // what Ref is
	Commit   string  // commit id the ref points at now (x-tusk-commit); for an open commit its id
	Writable bool
	// ReadOnly explains why a write is refused ("tag v1 is read-only").
	ReadOnly string
	Created  time.Time
	// Versioning is the branch's S3 versioning status: "" (Enabled) or
	// "Suspended".
	Versioning string
	// Owner is the repo's owner (S3's bucket owner); Location the
	// LocationConstraint it was created with; Public its public-read flag.
	Owner    string
	Location string
	Public   bool
	// Handle is the backend's private state for this view (opaque to s3api).
	Handle any
}

// RepoInfo is one entry of ListBuckets.
type RepoInfo struct {
	Name    string
	Created time.Time
	// Location is the LocationConstraint the repo was created with.
	Location string
}

// ObjectMeta is the per-version metadata clients set.
type ObjectMeta struct {
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string
	// User holds x-amz-meta-* headers, keys lower-case without the prefix.
	User map[string]string
}

// Object is one version of a key.
type Object struct {
	Key          string
	VersionID    string // commit that wrote this version
	Commit       string // commit the bucket's ref resolved to
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
	Meta         ObjectMeta
	// Checksums maps an algorithm ("CRC32", "CRC32C", "CRC64NVME", "SHA1",
	// "SHA256") to its base64 value, as the client sent it.
	Checksums    map[string]string
	ChecksumType string // "FULL_OBJECT" or "COMPOSITE" ("" if none)
	// Parts lists part sizes for multipart objects (nil for single-part).
	Parts []int64
	// PartChecksums holds each part's checksums (algorithm -> base64), in
	// part order, for a multipart object uploaded with a checksum
	// algorithm; nil otherwise.
	PartChecksums []map[string]string
	DeleteMarker  bool
	// Content is the backend's opaque handle of the bytes (for Open).
	Content string
}

// PutOptions are a write's options.
type PutOptions struct {
	// Size is the body's exact length, -1 if unknown.
	Size int64
	Meta ObjectMeta
	// ReplaceMeta (Copy only): use Meta instead of the source's.
	ReplaceMeta bool
	// IfMatch is an ETag (unquoted) or "*"; IfNoneMatch is "*" or an ETag.
	// Checked atomically against the bucket's head by the committer.
	IfMatch     string
	IfNoneMatch string
	// ContentMD5 is the decoded Content-MD5 header, nil if absent: a mismatch
	// is Invalid with reason for S3 BadDigest and nothing is stored.
	ContentMD5 []byte
	// Finish is called once after body reached EOF and before anything is
	// made durable or visible. It verifies checksums the S3 layer computed
	// and returns the values to store (algorithm -> base64); an error aborts
	// the write and is returned as is.
	Finish func() (map[string]string, error)
	// ChecksumType to record with the checksums ("FULL_OBJECT" when set).
	ChecksumType string
}

// DeleteItem is one key to delete, with an optional version.
type DeleteItem struct {
	Key       string
	VersionID string
	// IfMatch (DeleteObject's If-Match: "*" or an unquoted ETag) makes the
	// delete conditional on the key's current version: PreconditionFailed
	// when it differs, NoSuchKey when the key is absent.
	IfMatch string
}

// DeleteResult is what happened to one DeleteItem.
type DeleteResult struct {
	Key       string
	VersionID string // as requested
	// DeleteMarker and DeleteMarkerVersionID report a created delete marker
	// (DeleteMarkerVersionID is the commit id).
	DeleteMarker          bool
	DeleteMarkerVersionID string
	Err                   error // per-item error (S3 <Error> entry)
}

// ListOptions are ListObjects parameters, already decoded.
type ListOptions struct {
	Prefix     string
	Delimiter  string
	StartAfter string // exclusive; marker or continuation token decoded
	MaxKeys    int
}

// ListResult is one page.
type ListResult struct {
	Objects        []Object
	CommonPrefixes []string
	IsTruncated    bool
	// Next is the last key or common prefix returned (what V1 NextMarker and
	// the V2 continuation token encode).
	Next string
}

// VersionListOptions are ListObjectVersions parameters.
type VersionListOptions struct {
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int
}

// VersionListResult is one page of versions, newest first within a key.
type VersionListResult struct {
	Versions            []ObjectVersion
	CommonPrefixes      []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ObjectVersion is a version or a delete marker.
type ObjectVersion struct {
	Object
	IsLatest bool
}

// UploadOptions are CreateMultipartUpload's options.
type UploadOptions struct {
	Meta ObjectMeta
	// ChecksumAlgorithm ("CRC32", ... or "") and ChecksumType
	// ("COMPOSITE", "FULL_OBJECT" or "" when no algorithm) of the object.
	ChecksumAlgorithm string
	ChecksumType      string
}

// Upload is a multipart upload.
type Upload struct {
	ID                string
	Key               string
	Initiated         time.Time
	User              string // initiator
	Meta              ObjectMeta
	ChecksumAlgorithm string
	ChecksumType      string
}

// PartOptions are UploadPart's options (as PutOptions').
type PartOptions struct {
	Size       int64
	ContentMD5 []byte
	// Finish verifies the checksums computed while the body streamed and
	// returns the part's checksums (algorithm -> base64).
	Finish func() (map[string]string, error)
}

// Part is an uploaded part.
type Part struct {
	Number       int
	Size         int64
	ETag         string // MD5 hex, unquoted
	LastModified time.Time
	Checksums    map[string]string
}

// CompleteOptions are CompleteMultipartUpload's options.
type CompleteOptions struct {
	// IfMatch / IfNoneMatch are checked atomically as Put's.
	IfMatch, IfNoneMatch string
	// ETag is the object's ETag if the parts are those the client listed
	// ("md5-of-part-md5s-N"): a completed upload answers again only when
	// it equals the ETag it got.
	ETag string
	// Check is called with the upload and its stored parts, in the order
	// asked, before anything is made durable. It enforces S3's rules
	// (ETags, sizes, part checksums) and returns the object's checksums;
	// its error is returned as is and nothing is written.
	Check func(u Upload, parts []Part) (Completion, error)
	// Slow, when set, is called once right before work that may take long
	// (composing the parts), after every check that can refuse the
	// request early.
	Slow func()
}

// Completion is what Check decides for the object.
type Completion struct {
	Checksums    map[string]string
	ChecksumType string
}

// PartListOptions are ListParts parameters.
type PartListOptions struct {
	Marker int // list parts above this number
	Max    int
}

// PartListResult is one page of parts.
type PartListResult struct {
	Upload      Upload
	Parts       []Part
	IsTruncated bool
	NextMarker  int
}

// UploadListOptions are ListMultipartUploads parameters.
type UploadListOptions struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// UploadListResult is one page of uploads.
type UploadListResult struct {
	Uploads            []Upload
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}
