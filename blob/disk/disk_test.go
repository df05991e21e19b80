package disk_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/blobtest"
	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/internal/errs"
)

func open(t *testing.T, opts disk.Options) *disk.Driver {
	t.Helper()
	d, err := disk.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("disk.Open: %v", err)
	}
	return d
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Driver { return open(t, disk.Options{}) })
}

// TestConformanceNamedTemp runs the suite on the fallback write path
// (named temporary files renamed into place), used where root's file
// system has no O_TMPFILE.
func TestConformanceNamedTemp(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Driver {
		d := open(t, disk.Options{})
		disk.SetTmpfile(d, false)
		return d
	})
}

// syncEvent is one call of the OnSync hook.
type syncEvent struct {
	path string
	dir  bool
}

type syncLog struct {
	mu     sync.Mutex
	events []syncEvent
}

func (l *syncLog) hook(path string, dir bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, syncEvent{path, dir})
}

func (l *syncLog) take() []syncEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

func TestPutSyncsFileThenDirectory(t *testing.T) {
	var log syncLog
	d := open(t, disk.Options{OnSync: log.hook})
	root := d.Root()
	log.take() // Open's own directory syncs

	ctx := context.Background()
	if err := d.Put(ctx, "x/y/z", strings.NewReader("hello"), 5); err != nil {
		t.Fatal(err)
	}
	ev := log.take()
	// File first, then the key's directory, then each new directory's
	// parent, deepest first.
	want := []syncEvent{
		{"", false},
		{filepath.Join(root, "x", "y"), true},
		{filepath.Join(root, "x"), true},
		{root, true},
	}
	if len(ev) != len(want) {
		t.Fatalf("sync events %v, want %d events like %v", ev, len(want), want)
	}
	if ev[0].dir || !strings.HasPrefix(ev[0].path, filepath.Join(root, ".tmp")+string(filepath.Separator)) &&
		!strings.HasPrefix(ev[0].path, "/proc/self/fd/") {
		t.Errorf("first sync = %+v, want the temporary file in root/.tmp (or its /proc/self/fd path)", ev[0])
	}
	for i := 1; i < len(want); i++ {
		if ev[i] != want[i] {
			t.Errorf("sync %d = %+v, want %+v", i, ev[i], want[i])
		}
	}

	// Into an existing directory: the file, then that directory only.
	if err := d.Put(ctx, "x/y/w", strings.NewReader("again"), -1); err != nil {
		t.Fatal(err)
	}
	ev = log.take()
	if len(ev) != 2 || ev[0].dir || ev[1] != (syncEvent{filepath.Join(root, "x", "y"), true}) {
		t.Errorf("sync events for a Put into an existing directory: %v", ev)
	}

	// Move: destination directory synced, then the parent of the one
	// created for it.
	if err := d.Move(ctx, "x/y/w", "m/n"); err != nil {
		t.Fatal(err)
	}
	ev = log.take()
	if want := []syncEvent{{filepath.Join(root, "m"), true}, {root, true}}; !slices.Equal(ev, want) {
		t.Errorf("sync events for Move: %v, want %v", ev, want)
	}

	// A failed Put syncs nothing and leaves no temporary file.
	if err := d.Put(ctx, "x/fail", io.MultiReader(strings.NewReader("abc"), errReader{}), -1); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if ev := log.take(); len(ev) != 0 {
		t.Errorf("failed Put synced %v", ev)
	}
	ents, err := os.ReadDir(filepath.Join(root, ".tmp"))
	if err != nil || len(ents) != 0 {
		t.Errorf("root/.tmp after a failed Put: %v, %v", ents, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestMinFree(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		minFree int64
		size    int64
		want    errs.Kind // 0: success
	}{
		{"no floor", 0, 5, 0},
		{"small floor", 1 << 20, 5, 0},
		{"huge floor", 1 << 62, 5, errs.NoSpace},
		{"huge floor unknown size", 1 << 62, -1, errs.NoSpace},
		{"write bigger than the disk", 1, 1 << 61, errs.NoSpace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t, disk.Options{MinFree: tc.minFree})
			r := io.LimitReader(zeros{}, max(tc.size, 5))
			err := d.Put(ctx, "k", r, tc.size)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				return
			}
			if !errs.Is(err, tc.want) {
				t.Fatalf("Put = %v, want kind %v", err, tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "free") || !strings.Contains(msg, "floor") {
				t.Errorf("NoSpace message %q should say what is free and the floor", msg)
			}
			if _, err := d.Stat(ctx, "k"); !errs.Is(err, errs.NotExist) {
				t.Errorf("key written despite NoSpace: %v", err)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestKeysStayUnderRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	d, err := disk.Open(root, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range append(blobtest.BadKeys, ".tmp", ".tmp/x") {
		if err := d.Put(ctx, key, strings.NewReader("x"), 1); !errs.Is(err, errs.Invalid) {
			t.Errorf("Put(%q) = %v, want Invalid", key, err)
		}
	}
	// Nothing was written beside root.
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "root" {
		t.Errorf("entries beside root: %v", ents)
	}
	if err := d.List(ctx, "", func(a blob.Attrs) error { t.Errorf("listed %q", a.Key); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestConflicts(t *testing.T) {
	d := open(t, disk.Options{})
	ctx := context.Background()
	if err := d.Put(ctx, "a/b", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	// "a" is a directory, "a/b" a file: neither can take the other's shape.
	if err := d.Put(ctx, "a", strings.NewReader("y"), 1); !errs.Is(err, errs.Conflict) {
		t.Errorf("Put over a directory = %v, want Conflict", err)
	}
	if err := d.Put(ctx, "a/b/c", strings.NewReader("y"), 1); !errs.Is(err, errs.Conflict) {
		t.Errorf("Put below a file = %v, want Conflict", err)
	}
	if err := d.Delete(ctx, "a"); err != nil {
		t.Errorf("Delete of a directory path = %v, want nil (no such key)", err)
	}
	if _, err := d.Stat(ctx, "a/b"); err != nil {
		t.Errorf("a/b damaged: %v", err)
	}
}

func TestOpenCleansStaleTemp(t *testing.T) {
	root := t.TempDir()
	if _, err := disk.Open(root, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, ".tmp", "put-stale")
	fresh := filepath.Join(root, ".tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.Open(root, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := disk.Open("", disk.Options{}); !errs.Is(err, errs.Invalid) {
		t.Errorf("Open(\"\") = %v, want Invalid", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.Open(f, disk.Options{}); !errs.Is(err, errs.Invalid) {
		t.Errorf("Open(file) = %v, want Invalid", err)
	}
}

func TestGetStreamsWithoutLoading(t *testing.T) {
	d := open(t, disk.Options{})
	ctx := context.Background()
	b := bytes.Repeat([]byte("0123456789"), 100_000)
	if err := d.Put(ctx, "big", bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	rc, err := d.Get(ctx, "big", 3, 25)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if n, err := io.Copy(&out, rc); err != nil || n != 25 || out.String() != string(b[3:28]) {
		t.Errorf("ranged copy = %d, %v, %q", n, err, out.String())
	}
}
