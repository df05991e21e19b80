package tusktest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	path string
	err  error
)

// Binary returns $TUSK_BIN when set, else a tusk binary built from
// cmd/tusk once for the whole test process (into a temporary directory
// that outlives the tests: several tests share it). A failed build fails
// t, with the compiler's output.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TUSK_BIN"); p != "" {
		return p
	}
	once.Do(func() {
		dir, e := os.MkdirTemp("", "tusk-bin-")
		if e != nil {
			err = e
			return
		}
		path = filepath.Join(dir, "tusk")
		if out, e := exec.Command("go", "build", "-o", path, "github.com/tusk-data/tusk/cmd/tusk").CombinedOutput(); e != nil {
			err = errors.New(string(out))
		}
	})
	if err != nil {
		t.Fatalf("go build: %v", err)
	}
	return path
}
