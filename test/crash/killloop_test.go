package crash

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tusk-data/tusk/test/soak"
)

// TestKillLoop runs the model-checked kill -9 loop of test/soak: 10 cycles
// ($TUSK_KILL_CYCLES; `make killloop` runs 50) of 16 clients doing PUT,
// multipart, DeleteObjects, DeleteObject and CopyObject on main and on
// feature branches created during the cycle, with `kill -9` of `tusk serve`
// at a random moment of each; after every restart each branch is checked
// against the model: every acknowledged write listed and byte-exact at its
// version id, acknowledged deletes listed as delete markers, no visible
// version torn or unexplained, every key's state one the model allows.
func TestKillLoop(t *testing.T) {
	cycles := 10
	if v := os.Getenv("TUSK_KILL_CYCLES"); v != "" {
		cycles, _ = strconv.Atoi(v)
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TUSK_CRASH_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (set TUSK_CRASH_SEED to replay the schedule), %d cycles", seed, cycles)
	bin := tuskBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cycles)*time.Minute+5*time.Minute)
	defer cancel()
	rep, err := soak.KillLoop(ctx, soak.KillConfig{Bin: bin, Dir: t.TempDir(), Cycles: cycles, Clients: 16, Seed: seed, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kill loop report:\n%s", rep)
	if n := rep.NViolations(); n > 0 {
		t.Errorf("%d violations (see the report)", n)
	}
	if rep.Cycles != cycles || len(rep.Restarts) != cycles+1 {
		t.Errorf("%d cycles and %d restarts, want %d and %d", rep.Cycles, len(rep.Restarts), cycles, cycles+1)
	}
	for _, k := range []string{"put", "delete", "deleteobjects", "copy"} {
		if rep.Ops[k] == 0 {
			t.Errorf("no %s was acknowledged", k)
		}
	}
	if rep.Branches == 0 {
		t.Errorf("no feature branch was created")
	}
}
