package s3code

import (
	"fmt"
	"testing"

	"github.com/tusk-data/tusk/internal/errs"
)

func TestCodes(t *testing.T) {
	base := New("sigv4.Verify", errs.Permission, "SignatureDoesNotMatch", "bad %s", "sig")
	for _, tc := range []struct {
		name string
		err  error
		code string
		kind errs.Kind
	}{
		{"direct", base, "SignatureDoesNotMatch", errs.Permission},
		{"wrapped", fmt.Errorf("ctx: %w", base), "SignatureDoesNotMatch", errs.Permission},
		{"wrap", Wrap("s3api.body", errs.Invalid, "IncompleteBody", "", fmt.Errorf("eof")), "IncompleteBody", errs.Invalid},
		{"none", errs.E("x", errs.NotExist, "gone").Because(errs.Key), "", errs.NotExist},
		{"nil", nil, "", errs.Other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.err); got != tc.code {
				t.Errorf("Of = %q, want %q", got, tc.code)
			}
			if got := errs.KindOf(tc.err); got != tc.kind {
				t.Errorf("KindOf = %v, want %v", got, tc.kind)
			}
		})
	}
	if got := base.Error(); got != "sigv4.Verify: bad sig" {
		t.Fatalf("message %q", got)
	}
}
