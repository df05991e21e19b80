package adminapi

import (
	"errors"
	"net/http"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/internal/errs"
)

// The admin API has one error type, internal/errs.Error: handlers return
// classified errors (their own through fail, the stores' as they come),
// and toAPIError, the one table below, turns them into the HTTP status and
// the JSON body (apiv1.APIError).

// fail returns an error of kind k carrying the admin API code (one the
// table passes through, see toAPIError) and a message that says what to do.
func fail(k errs.Kind, code, format string, args ...any) error {
	return errs.E("adminapi", k, format, args...).WithCode(code)
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
			"NoSuchPipeline", "NoSuchJob", "NoSuchDatum"},
		rename: map[string]string{"NoSuchBucket": "NoSuchRef"}},
	errs.Exist: {status: http.StatusConflict, code: "AlreadyExists", pass: []string{"UserAlreadyExists"}},
	errs.Invalid: {status: http.StatusBadRequest, code: "InvalidArgument",
		pass:   []string{"AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "MissingSecurityHeader", "InvalidSpec"},
		rename: map[string]string{"InvalidBucketName": "InvalidName"}},
	errs.Permission: {status: http.StatusForbidden, code: "AccessDenied",
		pass: []string{"InvalidAccessKeyId", "SignatureDoesNotMatch", "RequestTimeTooSkewed"}},
	errs.Conflict: {status: http.StatusConflict, code: "Conflict",
		pass:   []string{"MergeConflict", "RevertConflict", "CommitFinished", "NotEmpty", "PreconditionFailed"},
		rename: map[string]string{"BucketNotEmpty": "NotEmpty"}},
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
	code, msg := errs.CodeOf(err), message(err)
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
