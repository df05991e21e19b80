// Package errs is Tusk's one small error vocabulary.
//
// Every layer returns *Error values (or wraps them) carrying a Kind, the
// name of the operation that failed and, when the kind alone does not say
// enough, a Reason: WHAT failed, in domain words (a Version does not exist,
// a Name is invalid, a bucket is NotEmpty). Kinds and reasons never name a
// wire code: drivers classify their native errors once, at their edge (a
// missing file is NotExist, a refused connection is Transient), and only the
// protocol layers (s3api, the admin API) turn (kind, reason) into wire codes,
// each in one table. Code inside Tusk asks errs.Is(err, errs.NotExist) or
// errs.ReasonOf(err) == errs.Version, never string matching.
package errs
