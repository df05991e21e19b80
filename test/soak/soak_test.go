package soak

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// built is the tusk binary built once for the package's tests.
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// tuskBin returns $TUSK_BIN or cmd/tusk built once for these tests.
func tuskBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TUSK_BIN"); p != "" {
		return p
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "tusk-soak-bin-"); built.err == nil {
			built.path, built.err = BuildTusk(built.dir)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// seed returns $TUSK_SOAK_SEED or a fresh seed, logged to replay it.
func seed(t *testing.T) uint64 {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("TUSK_SOAK_SEED"); v != "" {
		s, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (set TUSK_SOAK_SEED to replay the schedule)", s)
	return s
}

// TestSoak runs the soak for 2 minutes ($TUSK_SOAK_DURATION to change)
// with 16 clients against a real `tusk serve`: mixed PUT / GET / LIST /
// DELETE / DeleteObjects / multipart / CopyObject on main and feature
// branches created and merged meanwhile, checked against the model every
// 30 s and at the end. No operation may fail and no violation may occur.
func TestSoak(t *testing.T) {
	d := 2 * time.Minute
	if v := os.Getenv("TUSK_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	bin := tuskBin(t)
	dir := t.TempDir()
	p, err := StartTusk(bin, filepath.Join(dir, "data"), filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{URL: p.URL, Duration: d, Clients: 16, Seed: seed(t), CheckEvery: 30 * time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak report:\n%s", rep)
	if n := rep.NViolations(); n > 0 {
		t.Errorf("%d violations (see the report); server log tail:\n%s", n, Tail(p.Log, 20))
	}
	if len(rep.Errors) > 0 {
		t.Errorf("operations failed: %s", formatCounts(rep.Errors, 0))
	}
	for _, k := range []string{"put", "get", "getversion", "list", "delete", "deleteobjects", "copy"} {
		if rep.Ops[k] == 0 {
			t.Errorf("no %s operation ran", k)
		}
	}
	if rep.Merges == 0 && d >= time.Minute {
		t.Errorf("no branch was merged")
	}
	if err := p.Stop(20 * time.Second); err != nil {
		t.Errorf("tusk serve did not stop cleanly: %v", err)
	}
}
