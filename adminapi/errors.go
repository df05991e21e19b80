package adminapi

import (
	"errors"
	"net/http"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// The admin API has one error type, internal/errs.Error: handlers return
// classified errors (their own through fail, the stores' as they come),
// and toAPIError, the one table below, turns them into the HTTP status and
// the JSON body (apiv1.APIError).

// fail returns an error of kind k carrying the admin API code (one the
// table passes through, see toAPIError) and a message that says what to do.
// The code rides on a classified *errs.Error (callers still see its kind);
// only this package reads it back (codeOf).
func fail(k errs.Kind, code, format string, args ...any) error {
	return &coded{code: code, err: errs.E("adminapi", k, format, args...)}
}

// coded attaches an admin API wire code to a classified error. It is not
// a second error vocabulary: kind and message are the errs.Error's.
type coded struct {
	code string
	err  *errs.Error
}

func (e *coded) Error() string { return e.err.Error() }
func (e *coded) Unwrap() error { return e.err }

// codeOf returns the wire code err carries: the admin API's own (fail),
// an S3 protocol code of the SigV4 verifier (s3code), or the one the
// reason table gives for the first reasoned error in the chain.
func codeOf(err error) string {
	var c *coded
	if errors.As(err, &c) {
		return c.code
	}
	if code := s3code.Of(err); code != "" {
		return code
	}
	if r := errs.ReasonOf(err); r != errs.NoReason {
		return reasonCodes[kr{errs.KindOf(err), r}]
	}
	return ""
}

type kr struct {
	k errs.Kind
	r errs.Reason
}

// reasonCodes names, for the stores' (kind, reason), the admin API code.
var reasonCodes = map[kr]string{
	{errs.NotExist, errs.Repo}:         "NoSuchRef",
	{errs.NotExist, errs.Ref}:          "NoSuchRef",
	{errs.NotExist, errs.Key}:          "NoSuchKey",
	{errs.NotExist, errs.Version}:      "NoSuchVersion",
	{errs.NotExist, errs.Commit}:       "NoSuchVersion",
	{errs.NotExist, errs.User}:         "NoSuchUser",
	{errs.NotExist, errs.AccessKey}:    "NoSuchAccessKey",
	{errs.NotExist, errs.UnknownKey}:   "InvalidAccessKeyId",
	{errs.Permission, errs.UnknownKey}: "InvalidAccessKeyId",
	{errs.NotExist, errs.Pipeline}:     "NoSuchPipeline",
	{errs.NotExist, errs.Job}:          "NoSuchJob",
	{errs.NotExist, errs.Datum}:        "NoSuchDatum",
	{errs.Exist, errs.User}:            "UserAlreadyExists",
	{errs.Invalid, errs.Name}:          "InvalidName",
	{errs.Conflict, errs.Merge}:        "MergeConflict",
	{errs.Conflict, errs.NotEmpty}:     "NotEmpty",
	{errs.Conflict, errs.Precondition}: "PreconditionFailed",
	{errs.Conflict, errs.InputRepo}:    "RepoInUse",
	{errs.Conflict, errs.Gate}:         "MergeGate",
}

// message returns the human part of err: the innermost classified message.
func message(err error) string {
	var msg string
	for e := err; e != nil; e = errors.Unwrap(e) {
		var ee *errs.Error
		if errors.As(e, &ee) {
			if ee.Msg != "" {
				msg = ee.Msg
			}
			if ee.Err == nil {
				break
			}
			e = ee
			continue
		}
		if msg == "" {
			msg = e.Error()
		}
		break
	}
	if msg == "" {
		msg = err.Error()
	}
	return msg
}

// kindAnswers is, per kind, the HTTP status, the default code, the codes
// that pass through as they are, the codes renamed for the admin API (S3
// codes of the stores), and what to add to the message.
var kindAnswers = map[errs.Kind]struct {
	status int
	code   string
	pass   []string
	rename map[string]string
	hint   string
}{
	errs.NotExist: {status: http.StatusNotFound, code: "NotFound",
		pass: []string{"NoSuchKey", "NoSuchVersion", "NoSuchUser", "NoSuchAccessKey", "InvalidAccessKeyId",
			"NoSuchRepo", "NoSuchRef", "NoSuchBranch", "NoSuchTag", "NoSuchCommit", "NoSuchRoute",
			"NoSuchPipeline", "NoSuchJob", "NoSuchDatum"}},
	errs.Exist: {status: http.StatusConflict, code: "AlreadyExists", pass: []string{"UserAlreadyExists"}},
	errs.Invalid: {status: http.StatusBadRequest, code: "InvalidArgument",
		pass: []string{"AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "MissingSecurityHeader",
			"InvalidSpec", "InvalidName"}},
	errs.Permission: {status: http.StatusForbidden, code: "AccessDenied",
		pass: []string{"InvalidAccessKeyId", "SignatureDoesNotMatch", "RequestTimeTooSkewed"}},
	errs.Conflict: {status: http.StatusConflict, code: "Conflict",
		pass: []string{"MergeConflict", "RevertConflict", "CommitFinished", "NotEmpty", "PreconditionFailed", "RepoInUse", "MergeGate"}},
	errs.ReadOnly:       {status: http.StatusForbidden, code: "AccessDenied"},
	errs.Purged:         {status: http.StatusNotFound, code: "NoSuchVersion"},
	errs.Transient:      {status: http.StatusServiceUnavailable, code: "ServiceUnavailable", hint: "; retry later"},
	errs.NotImplemented: {status: http.StatusNotImplemented, code: "NotImplemented"},
	errs.TooLarge:       {status: http.StatusRequestEntityTooLarge, code: "TooLarge"},
	errs.NoSpace:        {status: http.StatusInsufficientStorage, code: "InsufficientStorage", hint: "; free space on the server"},
}

// codeStatus overrides the kind's status for a few codes.
var codeStatus = map[string]int{
	"InvalidAccessKeyId": http.StatusForbidden,          // a NotExist key: the request is refused
	"PreconditionFailed": http.StatusPreconditionFailed, // a Conflict of a condition the caller set
}

// toAPIError maps any error to its status and body: the one table of the
// admin API (unclassified errors are internal: 500, see the server log).
func toAPIError(err error) (int, *apiv1.APIError) {
	code, msg := codeOf(err), message(err)
	ans, ok := kindAnswers[errs.KindOf(err)]
	if !ok {
		return http.StatusInternalServerError, &apiv1.APIError{Code: "InternalError", Message: msg + "; see the server log"}
	}
	out := ans.code
	if r, ok := ans.rename[code]; ok {
		out = r
	}
	for _, p := range ans.pass {
		if code == p {
			out = code
		}
	}
	status := ans.status
	if s, ok := codeStatus[out]; ok {
		status = s
	}
	return status, &apiv1.APIError{Code: out, Message: msg + ans.hint}
}
