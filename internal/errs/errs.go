package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind uint8

const (
	// Other is the zero Kind: unclassified; treated as Internal on the wire.
	Other Kind = iota
	// NotExist: the named thing (repo, ref, key, blob, upload) does not exist.
	NotExist
	// Exist: the thing being created already exists.
	Exist
	// Invalid: the request is malformed or breaks a rule (names, sizes, XML).
	Invalid
	// Permission: the caller may not do this (authentication failure, no
	// grant, purged content that may not be stored again).
	Permission
	// Conflict: a precondition or concurrent change prevents the operation
	// (If-Match failed, merge conflict, non-empty bucket, a job running).
	Conflict
	// Transient: a dependency is temporarily unavailable; retrying may work.
	Transient
	// Internal: a bug or a broken invariant inside Tusk.
	Internal
	// NotImplemented: a valid request Tusk does not support.
	NotImplemented
	// TooLarge: an entity exceeds a limit (key length, object size).
	TooLarge
	// NoSpace: the store is below its free-space floor.
	NoSpace
	// ReadOnly: the target takes no writes from this caller (a tag, a commit,
	// a pipeline's output, a protected branch outside merges).
	ReadOnly
	// Purged: the thing existed but an administrator purged its content; it
	// reads like NotExist to clients but is never resurrected by a retry.
	Purged
)

var kindNames = [...]string{"other", "not exist", "exist", "invalid", "permission",
	"conflict", "transient", "internal", "not implemented", "too large", "no space",
	"read only", "purged"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Reason says what, precisely, an error is about, in domain words. It
// refines a Kind: the same Reason can go with several kinds (NotExist+Key:
// no such key; Invalid+Key: a malformed key; TooLarge+Key: a key too long),
// and a protocol layer maps the (Kind, Reason) pair. NoReason leaves the
// kind to speak alone.
type Reason uint8

const (
	// NoReason is the zero Reason.
	NoReason Reason = iota

	// What a NotExist, Exist, Invalid or TooLarge error is about.

	Repo      // a repo
	Ref       // a branch, tag or other ref
	Commit    // a commit, by id or prefix
	Key       // an object key
	Version   // an object version (or a version id)
	Upload    // a multipart upload
	Part      // a part of a multipart upload
	User      // a user
	AccessKey // an access key, as an administered thing
	Pipeline  // a pipeline
	Job       // a pipeline job
	Datum     // a datum of a job

	// Invalid: which rule the request broke.

	Name           // a repo, branch, tag, user or bucket name breaks its rule
	Argument       // a parameter value is out of its domain
	Digest         // the content does not match the digest the caller sent
	Range          // a byte range or offset is past the end
	IncompleteBody // the body is shorter or longer than its declared size
	RefKind        // the operation does not apply to this kind of ref (not a branch, main, an open commit)
	DeleteMarker   // the version named is a delete marker, which has no content

	// Conflict: what is in the way.

	NotEmpty     // the repo or branch still holds keys
	Precondition // a conditional request's precondition (If-Match, If-None-Match) failed
	Merge        // a merge or revert met conflicting changes
	Busy         // the resource is in use (a GC running, a pipeline's output)
	InputRepo    // the repo is an input of pipelines (it may not go while they read it)

	// Permission: why the caller is refused.

	UnknownKey // the request is signed with an access key that cannot authenticate
	Blocked    // the content was purged and blocked: it may not be stored again
	Protected  // the branch is protected: it takes only merges

	// Conflict (appended here to keep the numbering of the others).

	Gate // a merge gate: a pipeline the destination requires has not succeeded on the source
)

var reasonNames = [...]string{"", "repo", "ref", "commit", "key", "version", "upload",
	"part", "user", "access key", "pipeline", "job", "datum",
	"name", "argument", "digest", "range", "incomplete body", "ref kind", "delete marker",
	"not empty", "precondition", "merge", "busy", "input repo",
	"unknown key", "blocked", "protected", "gate"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", r)
}

// Error is a classified error. Op names the operation ("meta.Commit",
// "blob/disk.Put"); Reason, when set, says what the error is about so that
// a protocol layer can answer precisely; Msg is for humans.
type Error struct {
	Op     string
	Kind   Kind
	Reason Reason
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := e.Op
	if s != "" {
		s += ": "
	}
	if e.Msg != "" {
		s += e.Msg
	} else {
		s += e.Kind.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error of kind k for operation op with a formatted message.
func E(op string, k Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Because sets e's reason and returns e.
func (e *Error) Because(r Reason) *Error { e.Reason = r; return e }

// Wrap classifies err as kind k for op. It returns nil when err is nil.
func Wrap(op string, k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Kind: k, Err: err}
}

// KindOf returns the kind of the outermost classified error in err's chain,
// or Other when none is classified.
func KindOf(err error) Kind {
	var e *Error
	for err != nil {
		if errors.As(err, &e) {
			if e.Kind != Other {
				return e.Kind
			}
			err = e.Err
			continue
		}
		return Other
	}
	return Other
}

// ReasonOf returns the reason of the first *Error in err's chain that
// carries one, or NoReason.
func ReasonOf(err error) Reason {
	if e := Reasoned(err); e != nil {
		return e.Reason
	}
	return NoReason
}

// Reasoned returns the first *Error in err's chain that carries a reason,
// or nil. Its Kind and Reason belong together: a protocol layer maps that
// pair (an outer wrapper may have re-classified the kind), and its Msg says
// what went wrong.
func Reasoned(err error) *Error {
	var e *Error
	for err != nil {
		if !errors.As(err, &e) {
			return nil
		}
		if e.Reason != NoReason {
			return e
		}
		err = e.Err
	}
	return nil
}

// Is reports whether err is classified as kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
