package errs

import (
	"fmt"
	"testing"
)

func TestKinds(t *testing.T) {
	base := E("blob/disk.Get", NotExist, "blob %s", "ab")
	wrapped := fmt.Errorf("reading: %w", base)
	if !Is(wrapped, NotExist) || Is(wrapped, Exist) {
		t.Fatalf("kind lost through wrapping: %v", KindOf(wrapped))
	}
	if KindOf(fmt.Errorf("plain")) != Other || Wrap("x", Internal, nil) != nil {
		t.Fatal("unclassified errors must be Other; Wrap(nil) must be nil")
	}
	if got := base.Error(); got != "blob/disk.Get: blob ab" {
		t.Fatalf("message %q", got)
	}
}

func TestReasons(t *testing.T) {
	inner := E("meta.Get", NotExist, "version %s", "v1").Because(Version)
	for _, tc := range []struct {
		name   string
		err    error
		kind   Kind
		reason Reason
		msg    string // Msg of Reasoned, "" = nil
	}{
		{"none", E("x", Invalid, "bad"), Invalid, NoReason, ""},
		{"plain", fmt.Errorf("plain"), Other, NoReason, ""},
		{"nil", nil, Other, NoReason, ""},
		{"direct", inner, NotExist, Version, "version v1"},
		{"fmt wrapped", fmt.Errorf("ctx: %w", inner), NotExist, Version, "version v1"},
		// An outer wrapper may re-classify the kind; the reason stays with
		// the error that carries it.
		{"rewrapped", Wrap("gateway.Head", Internal, inner), Internal, Version, "version v1"},
		{"outer wins", &Error{Op: "o", Kind: Conflict, Reason: Busy, Msg: "busy", Err: inner}, Conflict, Busy, "busy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if k := KindOf(tc.err); k != tc.kind {
				t.Errorf("KindOf = %v, want %v", k, tc.kind)
			}
			if r := ReasonOf(tc.err); r != tc.reason {
				t.Errorf("ReasonOf = %v, want %v", r, tc.reason)
			}
			e := Reasoned(tc.err)
			if (e == nil) != (tc.msg == "") || e != nil && e.Msg != tc.msg {
				t.Errorf("Reasoned = %v, want message %q", e, tc.msg)
			}
		})
	}
	if Protected.String() != "protected" || Kind(200).String() != "kind(200)" || ReadOnly.String() != "read only" {
		t.Fatal("names of kinds and reasons")
	}
}
