package backup_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/backup"
)

func repos(t *testing.T, dir string) string {
	t.Helper()
	ms, err := meta.Open(dir, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	rs, err := ms.ListRepos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

// TestMirrorChainCheckpointAndRestore: incremental steps carry deletions
// into a restore; a checkpoint replaces the chain and deletes its
// segments; a segment whose bytes changed fails the restore, which then
// leaves no directory.
func TestMirrorChainCheckpointAndRestore(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	ms, err := meta.Open(filepath.Join(root, "meta"), meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	drv, err := disk.Open(filepath.Join(root, "blobs"), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	aead, err := backup.SealKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	m := &backup.Mirror{Store: ms, Objects: drv, AEAD: aead, TempDir: t.TempDir(), FullEvery: 2}
	step := func(wantSegs int) *backup.Manifest {
		t.Helper()
		if err := m.Step(ctx); err != nil {
			t.Fatal(err)
		}
		man, err := backup.ReadManifest(ctx, drv)
		if err != nil {
			t.Fatal(err)
		}
		if len(man.Segments) != wantSegs || !man.Segments[0].Full || m.Status().Segments != wantSegs {
			t.Fatalf("after a step: %d segments (first full: %v), want %d", len(man.Segments), man.Segments[0].Full, wantSegs)
		}
		return man
	}
	for _, r := range []string{"one", "two"} {
		if _, err := ms.CreateRepo(ctx, r, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	step(1)
	if err := m.Step(ctx); err != nil { // nothing changed: no segment
		t.Fatal(err)
	}
	step(1)
	if _, err := ms.DeleteRepoReport(ctx, "one", true); err != nil {
		t.Fatal(err)
	}
	step(2)
	if _, err := ms.CreateRepo(ctx, "three", "admin"); err != nil {
		t.Fatal(err)
	}
	chain := step(3)
	a := filepath.Join(t.TempDir(), "a")
	if _, err := backup.Restore(ctx, drv, a, backup.RestoreOptions{AEAD: aead}); err != nil {
		t.Fatal(err)
	}
	if got := repos(t, a); got != "three,two" {
		t.Fatalf("restored from the chain: repos %q, want three,two", got)
	}

	if _, err := ms.CreateRepo(ctx, "four", "admin"); err != nil {
		t.Fatal(err)
	}
	man := step(1) // two incrementals: FullEvery makes this a checkpoint
	for _, s := range chain.Segments {
		if _, err := drv.Stat(ctx, s.Key); !errs.Is(err, errs.NotExist) {
			t.Errorf("segment %s of the replaced chain is still there (%v)", s.Key, err)
		}
	}
	b := filepath.Join(t.TempDir(), "b")
	if _, err := backup.Restore(ctx, drv, b, backup.RestoreOptions{AEAD: aead}); err != nil {
		t.Fatal(err)
	}
	if got := repos(t, b); got != "four,three,two" {
		t.Fatalf("restored from the checkpoint: repos %q", got)
	}

	// A segment whose bytes changed is refused, and nothing is left.
	seg := man.Segments[0]
	rc, err := drv.Get(ctx, seg.Key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(rc)
	rc.Close()
	bad := bytes.Replace(buf.Bytes(), []byte("four"), []byte("evil"), 1)
	if err := drv.Put(ctx, seg.Key, bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	c := filepath.Join(t.TempDir(), "c")
	if _, err := backup.Restore(ctx, drv, c, backup.RestoreOptions{AEAD: aead}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("restore of a changed segment: %v", err)
	}
	if _, err := os.Stat(c); !os.IsNotExist(err) {
		t.Fatalf("a failed restore left %s (%v)", c, err)
	}
}

// failing wraps a real driver and refuses Puts while down.
type failing struct {
	backup.Objects
	down bool
}

func (f *failing) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.down {
		return errs.E("test", errs.Transient, "backing store down")
	}
	return f.Objects.Put(ctx, key, r, size)
}

// TestMirrorRetriesAFailedUpload: a step whose upload fails keeps its
// segment; the next step uploads it first and the chain stays
// incremental (no new checkpoint), and a restore holds every change.
func TestMirrorRetriesAFailedUpload(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	ms, err := meta.Open(filepath.Join(root, "meta"), meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	drv, err := disk.Open(filepath.Join(root, "blobs"), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	obj := &failing{Objects: drv}
	stage := t.TempDir()
	m := &backup.Mirror{Store: ms, Objects: obj, TempDir: stage}
	if err := m.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.CreateRepo(ctx, "first", "admin"); err != nil {
		t.Fatal(err)
	}
	obj.down = true
	if err := m.Step(ctx); err == nil {
		t.Fatal("a step with the backing store down succeeded")
	}
	if st := m.Status(); st.LastError == "" || st.Segments != 1 {
		t.Fatalf("status after a failed step: %+v", st)
	}
	if _, err := ms.CreateRepo(ctx, "second", "admin"); err != nil {
		t.Fatal(err)
	}
	obj.down = false
	if err := m.Step(ctx); err != nil {
		t.Fatal(err)
	}
	man, err := backup.ReadManifest(ctx, drv)
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Segments) != 3 || man.Segments[1].Full || man.Segments[2].Full {
		t.Fatalf("after the retry the manifest has %d segments (want the checkpoint and two incrementals): %+v", len(man.Segments), man.Segments)
	}
	if left, _ := filepath.Glob(filepath.Join(stage, backup.StagePattern)); len(left) != 0 {
		t.Fatalf("staged files left: %v", left)
	}
	dir := filepath.Join(t.TempDir(), "r")
	if _, err := backup.Restore(ctx, drv, dir, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := repos(t, dir); got != "first,second" {
		t.Fatalf("restored repos %q", got)
	}
}
