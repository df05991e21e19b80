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
	coded := &Error{Op: "meta.Get", Kind: NotExist, Code: "NoSuchVersion", Err: base}
	if CodeOf(coded) != "NoSuchVersion" || KindOf(coded) != NotExist {
		t.Fatalf("code %q kind %v", CodeOf(coded), KindOf(coded))
	}
	if KindOf(fmt.Errorf("plain")) != Other || Wrap("x", Internal, nil) != nil {
		t.Fatal("unclassified errors must be Other; Wrap(nil) must be nil")
	}
	if got := base.Error(); got != "blob/disk.Get: blob ab" {
		t.Fatalf("message %q", got)
	}
}
