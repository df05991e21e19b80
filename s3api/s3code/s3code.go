package s3code

import (
	"errors"

	"github.com/tusk-data/tusk/internal/errs"
)

// Error is a classified error (Err, never nil) with the exact S3 code to
// answer. errs.KindOf and errs.Is see Err's kind through it.
type Error struct {
	Code string
	Err  *errs.Error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the classified error, so that errs.KindOf sees its kind.
func (e *Error) Unwrap() error { return e.Err }

// New builds an error of kind k for op, answered with S3 code code.
func New(op string, k errs.Kind, code, format string, args ...any) *Error {
	return &Error{Code: code, Err: errs.E(op, k, format, args...)}
}

// Wrap classifies err as kind k for op with S3 code code and message msg
// ("" keeps err's own message as the answer). err may be nil.
func Wrap(op string, k errs.Kind, code, msg string, err error) *Error {
	return &Error{Code: code, Err: &errs.Error{Op: op, Kind: k, Msg: msg, Err: err}}
}

// Of returns the code of the first *Error in err's chain, or "".
func Of(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
