// Command soak runs Tusk's soak test or kill -9 loop (package
// test/soak) against a `tusk` binary it starts, prints the report, and
// exits 1 if any violation was found.
//
//	go run ./test/soak/cmd/soak -mode soak -duration 30m -clients 16
//	go run ./test/soak/cmd/soak -mode kill -cycles 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tusk-data/tusk/test/soak"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run() error {
	mode := flag.String("mode", "soak", "soak | kill")
	duration := flag.Duration("duration", 2*time.Minute, "soak: how long the load runs")
	clients := flag.Int("clients", 16, "concurrent S3 clients")
	cycles := flag.Int("cycles", 50, "kill: kill -9 cycles")
	multipart := flag.Int("multipart", soak.SoakMix.Multipart, "soak: weight of multipart uploads (each stores about 10 MiB: its 5 MiB part and the object)")
	checkEvery := flag.Duration("check-every", 30*time.Second, "soak: quiescent check interval")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (printed; replays the schedule)")
	bin := flag.String("tusk", "", "tusk binary (default: build ./cmd/tusk)")
	dir := flag.String("dir", "", "work directory for data and logs (default: a temp dir, removed on success)")
	flag.Parse()

	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "tusk-soak-")
		if err != nil {
			return err
		}
		work = d
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	if *bin == "" {
		b, err := soak.BuildTusk(work)
		if err != nil {
			return err
		}
		*bin = b
	}
	logf := func(f string, a ...any) { fmt.Printf(time.Now().Format("15:04:05 ")+f+"\n", a...) }
	logf("seed %d, work dir %s", *seed, work)
	ctx := context.Background()
	var rep *soak.Report
	switch *mode {
	case "soak":
		p, err := soak.StartTusk(*bin, filepath.Join(work, "data"), filepath.Join(work, "serve.log"))
		if err != nil {
			return err
		}
		defer p.Kill()
		mix := soak.SoakMix
		mix.Multipart = *multipart
		rep, err = soak.Run(ctx, soak.Config{URL: p.URL, Duration: *duration, Clients: *clients, Seed: *seed, CheckEvery: *checkEvery, Mix: mix, Logf: logf})
		if err != nil {
			return err
		}
		if err := p.Stop(30 * time.Second); err != nil {
			logf("tusk serve did not stop cleanly: %v", err)
		}
	case "kill":
		var err error
		rep, err = soak.KillLoop(ctx, soak.KillConfig{Bin: *bin, Dir: work, Cycles: *cycles, Clients: *clients, Seed: *seed, Logf: logf})
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown -mode %q", *mode)
	}
	fmt.Print(rep)
	if n := rep.NViolations(); n > 0 {
		return fmt.Errorf("%d violations; data and logs kept in %s", n, work)
	}
	if *dir == "" {
		os.RemoveAll(work)
	}
	return nil
}
