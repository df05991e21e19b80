package disk_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	"github.com/tusk-data/tusk/internal/errs"
)

// TestOpenProbesTmpfile: on Linux (ext4 or tmpfs here) the driver writes
// unnamed O_TMPFILE files; elsewhere named ones.
func TestOpenProbesTmpfile(t *testing.T) {
	d := open(t, disk.Options{})
	if got, want := disk.UsesTmpfile(d), runtime.GOOS == "linux"; got != want {
		t.Errorf("UsesTmpfile = %v, want %v on %s", got, want, runtime.GOOS)
	}
	if ents, err := os.ReadDir(filepath.Join(d.Root(), ".tmp")); err != nil || len(ents) != 0 {
		t.Errorf("root/.tmp after Open's probe: %v, %v", ents, err)
	}
}

func TestStage(t *testing.T) {
	ctx := context.Background()
	readKey := func(t *testing.T, d *disk.Driver, key string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(d.Root(), filepath.FromSlash(key)))
		if err != nil {
			t.Fatalf("reading %s: %v", key, err)
		}
		return string(b)
	}
	noTemp := func(t *testing.T, d *disk.Driver) {
		t.Helper()
		if ents, err := os.ReadDir(filepath.Join(d.Root(), ".tmp")); err != nil || len(ents) != 0 {
			t.Errorf("root/.tmp: %v, %v; want empty", ents, err)
		}
	}
	stage := func(t *testing.T, d *disk.Driver, body string) blob.Staged {
		t.Helper()
		s, err := d.Stage(ctx, strings.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("Stage: %v", err)
		}
		return s
	}
	for _, mode := range []struct {
		name    string
		tmpfile bool
	}{{"unnamed", true}, {"named", false}} {
		t.Run(mode.name, func(t *testing.T) {
			if mode.tmpfile && runtime.GOOS != "linux" {
				return // no O_TMPFILE off Linux: only the named path exists
			}
			for _, tc := range []struct {
				name string
				fn   func(t *testing.T, d *disk.Driver)
			}{
				{"publish into new directories", func(t *testing.T, d *disk.Driver) {
					s := stage(t, d, "hello")
					if err := s.Publish(ctx, "a/b/c"); err != nil {
						t.Fatal(err)
					}
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					if got := readKey(t, d, "a/b/c"); got != "hello" {
						t.Errorf("a/b/c = %q", got)
					}
					noTemp(t, d)
				}},
				{"publish replaces", func(t *testing.T, d *disk.Driver) {
					if err := d.Put(ctx, "k", strings.NewReader("old"), 3); err != nil {
						t.Fatal(err)
					}
					s := stage(t, d, "new!")
					defer s.Close()
					if err := s.Publish(ctx, "k"); err != nil {
						t.Fatal(err)
					}
					if got := readKey(t, d, "k"); got != "new!" {
						t.Errorf("k = %q, want the new value", got)
					}
					noTemp(t, d)
				}},
				{"publish over a directory is a conflict", func(t *testing.T, d *disk.Driver) {
					if err := d.Put(ctx, "dir/x", strings.NewReader("x"), 1); err != nil {
						t.Fatal(err)
					}
					s := stage(t, d, "y")
					err := s.Publish(ctx, "dir")
					if !errs.Is(err, errs.Conflict) {
						t.Errorf("Publish over a directory: %v, want Conflict", err)
					}
					s.Close()
					if got := readKey(t, d, "dir/x"); got != "x" {
						t.Errorf("dir/x = %q after the refused Publish", got)
					}
					noTemp(t, d)
				}},
				{"bad key", func(t *testing.T, d *disk.Driver) {
					s := stage(t, d, "y")
					defer s.Close()
					for _, key := range []string{"", "../x", ".tmp/x"} {
						if err := s.Publish(ctx, key); !errs.Is(err, errs.Invalid) {
							t.Errorf("Publish(%q): %v, want Invalid", key, err)
						}
					}
				}},
				{"close without publish leaves nothing", func(t *testing.T, d *disk.Driver) {
					s := stage(t, d, "gone")
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					if err := s.Close(); err != nil {
						t.Errorf("second Close: %v", err)
					}
					if err := s.Publish(ctx, "k"); err == nil {
						t.Error("Publish after Close succeeded")
					}
					noTemp(t, d)
					if _, err := d.Stat(ctx, "k"); !errs.Is(err, errs.NotExist) {
						t.Errorf("Stat(k) = %v, want NotExist", err)
					}
				}},
				{"publish twice", func(t *testing.T, d *disk.Driver) {
					s := stage(t, d, "once")
					defer s.Close()
					if err := s.Publish(ctx, "k1"); err != nil {
						t.Fatal(err)
					}
					if err := s.Publish(ctx, "k2"); err == nil {
						t.Error("second Publish succeeded")
					}
					if _, err := d.Stat(ctx, "k2"); !errs.Is(err, errs.NotExist) {
						t.Errorf("Stat(k2) = %v, want NotExist", err)
					}
				}},
				{"short body leaves nothing", func(t *testing.T, d *disk.Driver) {
					_, err := d.Stage(ctx, strings.NewReader("abc"), 5)
					if !errs.Is(err, errs.Invalid) {
						t.Errorf("Stage of a short body: %v, want Invalid", err)
					}
					_, err = d.Stage(ctx, io.MultiReader(strings.NewReader("abc"), errReader{}), -1)
					if err == nil {
						t.Error("Stage with a failing reader succeeded")
					}
					noTemp(t, d)
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					d := open(t, disk.Options{})
					disk.SetTmpfile(d, mode.tmpfile)
					tc.fn(t, d)
				})
			}
		})
	}
}

// TestFreshDirectoryOfAnotherWriter: a write into a directory that another
// writer made but whose entry it has not yet made durable fsyncs that
// directory's parent itself before returning; once done, later writes
// fsync only their own directory.
func TestFreshDirectoryOfAnotherWriter(t *testing.T) {
	ctx := context.Background()
	for _, tmpfile := range []bool{true, false} {
		t.Run(map[bool]string{true: "unnamed", false: "named"}[tmpfile], func(t *testing.T) {
			var log syncLog
			d := open(t, disk.Options{OnSync: log.hook})
			disk.SetTmpfile(d, tmpfile && runtime.GOOS == "linux")
			root := d.Root()
			dir := filepath.Join(root, "a", "b")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			disk.MarkFresh(d, dir)
			log.take()
			for i, want := range [][]syncEvent{
				{{dir, true}, {filepath.Join(root, "a"), true}},
				{{dir, true}},
			} {
				if err := d.Put(ctx, "a/b/k"+string(rune('0'+i)), strings.NewReader("x"), 1); err != nil {
					t.Fatal(err)
				}
				ev := log.take()
				if len(ev) == 0 || ev[0].dir {
					t.Fatalf("Put %d: sync events %v, want the file first", i, ev)
				}
				if !slices.Equal(ev[1:], want) {
					t.Errorf("Put %d: directory syncs %v, want %v", i, ev[1:], want)
				}
			}
		})
	}
}
