package adminapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// TestToAPIError checks the one table: kinds give the status and default
// code, admin codes pass through, the stores' S3 codes are renamed.
func TestToAPIError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"unclassified", errors.New("boom"), 500, "InternalError", "boom; see the server log"},
		{"other kind", errs.Wrap("x", errs.Other, errors.New("boom")), 500, "InternalError", "boom; see the server log"},
		{"internal", errs.E("x", errs.Internal, "broken"), 500, "InternalError", "broken; see the server log"},
		{"not exist", errs.E("x", errs.NotExist, "gone"), 404, "NotFound", "gone"},
		{"admin code passes", fail(errs.NotExist, "NoSuchRepo", "no repo"), 404, "NoSuchRepo", "no repo"},
		{"store code renamed", errs.E("meta", errs.NotExist, "no ref").Because(errs.Repo), 404, "NoSuchRef", "no ref"},
		{"store code hidden", errs.E("meta", errs.NotExist, "no upload").Because(errs.Upload), 404, "NotFound", "no upload"},
		{"unknown key", errs.E("auth", errs.NotExist, "no key").Because(errs.UnknownKey), 403, "InvalidAccessKeyId", "no key"},
		{"exist", errs.E("meta", errs.Exist, "taken").Because(errs.Repo), 409, "AlreadyExists", "taken"},
		{"user exists", errs.E("auth", errs.Exist, "taken").Because(errs.User), 409, "UserAlreadyExists", "taken"},
		{"invalid", errs.E("x", errs.Invalid, "bad"), 400, "InvalidArgument", "bad"},
		{"bad name", errs.E("meta", errs.Invalid, "bad name").Because(errs.Name), 400, "InvalidName", "bad name"},
		{"bad spec", fail(errs.Invalid, "InvalidSpec", "bad spec"), 400, "InvalidSpec", "bad spec"},
		{"permission", errs.E("x", errs.Permission, "no"), 403, "AccessDenied", "no"},
		{"signature", s3code.New("sigv4", errs.Permission, "SignatureDoesNotMatch", "sig"), 403, "SignatureDoesNotMatch", "sig"},
		{"conflict", errs.E("x", errs.Conflict, "busy"), 409, "Conflict", "busy"},
		{"not empty", errs.E("meta", errs.Conflict, "full").Because(errs.NotEmpty), 409, "NotEmpty", "full"},
		{"merge conflict", fail(errs.Conflict, "MergeConflict", "conflicts"), 409, "MergeConflict", "conflicts"},
		{"merge gate", errs.E("pipelines", errs.Conflict, "gated").Because(errs.Gate), 409, "MergeGate", "gated"},
		{"read only", errs.E("meta", errs.ReadOnly, "tag v1 is read-only"), 403, "AccessDenied", "tag v1 is read-only"},
		{"purged", errs.E("meta", errs.Purged, "purged"), 404, "NoSuchVersion", "purged"},
		{"precondition", errs.E("meta", errs.Conflict, "moved").Because(errs.Precondition), 412, "PreconditionFailed", "moved"},
		{"transient", errs.E("blob", errs.Transient, "down"), 503, "ServiceUnavailable", "down; retry later"},
		{"not implemented", fail(errs.NotImplemented, "NotImplemented", "off"), 501, "NotImplemented", "off"},
		{"too large", errs.E("x", errs.TooLarge, "big"), 413, "TooLarge", "big"},
		{"no space", errs.E("blob", errs.NoSpace, "full"), 507, "InsufficientStorage", "full; free space on the server"},
		{"wrapped: innermost message", fmt.Errorf("ctx: %w", errs.Wrap("outer", errs.NotExist, errs.E("inner", errs.NotExist, "deep"))), 404, "NotFound", "deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, e := toAPIError(tc.err)
			if status != tc.status || e.Code != tc.code || e.Message != tc.msg {
				t.Errorf("toAPIError(%v) = %d %s %q; want %d %s %q", tc.err, status, e.Code, e.Message, tc.status, tc.code, tc.msg)
			}
		})
	}
}
