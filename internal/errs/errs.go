// Package errs is Tusk's one small error vocabulary.
//
// Every layer returns *Error values (or wraps them) carrying a Kind and the
// name of the operation that failed. Drivers classify their native errors
// once, at their edge (a missing file is NotExist, a refused connection is
// Transient); only the protocol layers (s3api, the admin API) turn kinds into
// wire codes. Code inside Tusk asks errs.Is(err, errs.NotExist), never string
// matching.
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
	// Permission: the caller may not do this (auth failure, read-only ref).
	Permission
	// Conflict: a precondition or concurrent change prevents the operation
	// (If-Match failed, merge conflict, non-empty bucket).
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
)

var kindNames = [...]string{"other", "not exist", "exist", "invalid", "permission",
	"conflict", "transient", "internal", "not implemented", "too large", "no space"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is a classified error. Op names the operation ("meta.Commit",
// "blob/disk.Put"); Code, when set, is a precise protocol code that the
// protocol layer should use instead of the kind's default (for example
// "NoSuchVersion" or "BucketNotEmpty"); Msg is for humans.
type Error struct {
	Op   string
	Kind Kind
	Code string
	Msg  string
	Err  error
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

// Wrap classifies err as kind k for op. It returns nil when err is nil.
func Wrap(op string, k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Kind: k, Err: err}
}

// WithCode returns e with a precise protocol code attached.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

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

// CodeOf returns the first precise protocol code in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	for err != nil {
		if !errors.As(err, &e) {
			return ""
		}
		if e.Code != "" {
			return e.Code
		}
		err = e.Err
	}
	return ""
}

// Is reports whether err is classified as kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
