package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strings"

	"github.com/dustin/go-humanize"
)

// defaultMemoryLimit is serve's soft memory limit when neither
// --memory-limit nor GOMEMLIMIT is given. The gateway's bounded memory
// (meta's node cache, Badger's memtables, block and index caches:
// docs/architecture.md, "Memory") is about 90 MiB once warm, and a
// memtable flush adds some 40-60 MiB for a while (the next memtable and
// the table builder); without a limit Go lets the heap grow to twice what
// the last GC left live (GOGC 100), so transient garbage doubled RSS.
// Under the limit the GC runs earlier instead; it is soft: a heap that
// needs more gets it (at a GC CPU cost capped by Go at 50%).
//
// With a warm gateway's Go memory at 130-180 MiB, the limit is what sets
// the RSS rise while a job uploads: BenchmarkUpload (10,000 outputs of
// 100 B) measured anonymous RSS +86 MiB over idle at 256 MiB and +37-50
// MiB at 192 MiB (two runs), with the same job and put times (the
// file-backed rise, Badger's mmapped tables, is apart from it: +50-55 MiB).
const defaultMemoryLimit = 192 << 20

// setMemoryLimit applies serve's --memory-limit: "" (default) takes
// GOMEMLIMIT when set and defaultMemoryLimit otherwise; "off" (or "0")
// sets none; anything else is a size ("512MiB", "1GB"). It returns the
// limit now in force (math.MaxInt64: none) or an error for a bad size.
func setMemoryLimit(flag string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(flag)) {
	case "":
		if os.Getenv("GOMEMLIMIT") != "" {
			return debug.SetMemoryLimit(-1), nil // the runtime applied it at start
		}
		debug.SetMemoryLimit(defaultMemoryLimit)
		return defaultMemoryLimit, nil
	case "off", "0":
		debug.SetMemoryLimit(math.MaxInt64)
		return math.MaxInt64, nil
	}
	n, err := humanize.ParseBytes(flag)
	if err != nil || n == 0 || n > math.MaxInt64 {
		return 0, fmt.Errorf("--memory-limit: want a size such as 512MiB, or off: %q", flag)
	}
	debug.SetMemoryLimit(int64(n))
	return int64(n), nil
}
