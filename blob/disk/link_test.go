package disk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/internal/errs"
)

// TestAddFile stores local files with blob.Store.AddFile over the disk
// driver: linked (same inode, no copy) when asked and possible, copied
// otherwise or across file systems; the content reads back at its
// SHA-256 address either way, and a second add of the same content stores
// nothing new.
func TestAddFile(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	d, err := disk.Open(filepath.Join(base, "blobs"), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st := blob.New(d)
	other := "" // a directory on another file system, if there is one
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		var a, b syscall.Stat_t
		if syscall.Stat("/dev/shm", &a) == nil && syscall.Stat(base, &b) == nil && a.Dev != b.Dev {
			other, err = os.MkdirTemp("/dev/shm", "tusk-addfile-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(other)
		}
	}
	for i, tc := range []struct {
		name       string
		dir        string
		link       bool
		wantLinked bool
	}{
		{"link", base, true, true},
		{"copy", base, false, false},
		{"link across file systems copies", other, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dir == "" {
				t.Skip("no directory on another file system than the test's temporary directory (/dev/shm)")
			}
			body := bytes.Repeat([]byte{byte('a' + i)}, 100000+i)
			src := filepath.Join(tc.dir, "src-"+tc.name)
			if err := os.WriteFile(src, body, 0o644); err != nil {
				t.Fatal(err)
			}
			verified := false
			info, linked, err := st.AddFile(ctx, src, tc.link, func(blob.Info) error { verified = true; return nil })
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(body)
			if info.Hash != hex.EncodeToString(sum[:]) || info.Size != int64(len(body)) || !verified {
				t.Fatalf("info %+v (verified %v), want sha256 %x", info, verified, sum)
			}
			if linked != tc.wantLinked {
				t.Fatalf("linked = %v, want %v", linked, tc.wantLinked)
			}
			rc, err := st.Open(ctx, info.Hash, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, body) {
				t.Fatal("content read back differs")
			}
			var a, b syscall.Stat_t
			if err := syscall.Stat(src, &a); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Stat(filepath.Join(d.Root(), filepath.FromSlash(blob.Key(info.Hash))), &b); err != nil {
				t.Fatal(err)
			}
			if sameFile := a.Ino == b.Ino && a.Dev == b.Dev; sameFile != tc.wantLinked {
				t.Fatalf("blob is the source file: %v, want %v", sameFile, tc.wantLinked)
			}
			// Again: already stored, nothing linked.
			if _, linked, err := st.AddFile(ctx, src, tc.link, nil); err != nil || linked {
				t.Fatalf("second add: linked %v, %v", linked, err)
			}
		})
	}
}

// TestAddFileRefusals: bad sources and a refusing verify store nothing.
func TestAddFileRefusals(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	d, err := disk.Open(filepath.Join(base, "blobs"), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st := blob.New(d)
	src := filepath.Join(base, "f")
	if err := os.WriteFile(src, []byte("refused"), 0o644); err != nil {
		t.Fatal(err)
	}
	no := errors.New("refused by verify")
	for _, tc := range []struct {
		name   string
		path   string
		verify func(blob.Info) error
		kind   errs.Kind
	}{
		{"relative path", "f", nil, errs.Invalid},
		{"absent", filepath.Join(base, "absent"), nil, errs.NotExist},
		{"directory", base, nil, errs.Invalid},
		{"verify refuses", src, func(blob.Info) error { return no }, errs.Internal},
	} {
		for _, link := range []bool{true, false} {
			_, _, err := st.AddFile(ctx, tc.path, link, tc.verify)
			if err == nil || (tc.verify == nil && errs.KindOf(err) != tc.kind) || (tc.verify != nil && !errors.Is(err, no)) {
				t.Fatalf("%s (link %v): %v, want kind %v", tc.name, link, err, tc.kind)
			}
		}
	}
	n := 0
	if err := st.List(ctx, func(string, int64) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("%d blobs stored after refusals (%v)", n, err)
	}
}
