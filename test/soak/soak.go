package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Config is a soak run against a running gateway.
type Config struct {
	URL      string        // the gateway
	Repo     string        // created by the run
	Duration time.Duration // of the load
	Clients  int
	Seed     uint64
	// CheckEvery is the interval of quiescent checks of every branch
	// (0: only at the end).
	CheckEvery time.Duration
	// BranchEvery is the interval of the brancher: it creates a feature
	// branch while fewer than two take writes, else freezes, checks and
	// merges the oldest into main.
	BranchEvery time.Duration
	Mix         Mix
	MaxSize     int // largest single PUT body (bytes)
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// Report is what a run measured and found.
type Report struct {
	Duration   time.Duration
	Ops        map[string]int64 // answered operations by kind
	Errors     map[string]int64 // errors by "kind code"
	Acked      int              // acknowledged writes
	Checks     int64            // branch checks
	VersionsRd int64            // versions read back at their version id by checks
	Branches   int              // feature branches created
	Merges     int              // acknowledged merges into main (FastFwd of them fast-forwards)
	FastFwd    int
	MergesCut  int            // merges cut by a kill (each checked to have landed whole or not at all)
	Violations []string       // the first 200
	ByKind     map[string]int // violations by kind
	// kill loop
	Cycles     int
	Cut        int             // writes whose connection was cut by a kill
	CutLanded  int             // of those, how many were found applied after the restart
	Restarts   []time.Duration // exec to listening, per restart
	FirstReply []time.Duration // exec to the first answered request, per restart
}

// NViolations is the number of violations.
func (r *Report) NViolations() int {
	n := 0
	for _, v := range r.ByKind {
		n += v
	}
	return n
}

// String is the report's text.
func (r *Report) String() string {
	var b strings.Builder
	total := int64(0)
	for _, n := range r.Ops {
		total += n
	}
	fmt.Fprintf(&b, "duration %v, %d operations (%.1f/s)\n", r.Duration.Round(time.Millisecond), total, float64(total)/r.Duration.Seconds())
	fmt.Fprintf(&b, "ops: %s\n", formatCounts(r.Ops, r.Duration))
	fmt.Fprintf(&b, "errors: %s\n", formatCounts(r.Errors, 0))
	fmt.Fprintf(&b, "acknowledged writes %d; branch checks %d; versions read back at their version id %d\n", r.Acked, r.Checks, r.VersionsRd)
	if r.Branches > 0 || r.Merges > 0 {
		fmt.Fprintf(&b, "feature branches %d, merged into main %d (%d fast-forward)", r.Branches, r.Merges, r.FastFwd)
		if r.Cycles > 0 {
			fmt.Fprintf(&b, ", merges cut by a kill %d", r.MergesCut)
		}
		b.WriteString("\n")
	}
	if r.Cycles > 0 {
		fmt.Fprintf(&b, "kill -9 cycles %d; writes cut by a kill %d, of which %d landed whole; restart to listening %s; to first answer %s\n",
			r.Cycles, r.Cut, r.CutLanded, durStats(r.Restarts), durStats(r.FirstReply))
	}
	var kinds []string
	for k, n := range r.ByKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "violations: %d %v\n", r.NViolations(), kinds)
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "  %s\n", v)
	}
	return b.String()
}

// durStats prints min / median / max of ds.
func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v / median %v / max %v", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}

func (c *Config) defaults() {
	if c.Repo == "" {
		c.Repo = "soak"
	}
	if c.Clients == 0 {
		c.Clients = 16
	}
	if c.Mix == (Mix{}) {
		c.Mix = SoakMix
	}
	if c.MaxSize == 0 {
		c.MaxSize = 1 << 20
	}
	if c.BranchEvery == 0 {
		c.BranchEvery = 4 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Run creates c.Repo and runs the soak against c.URL: c.Clients clients run
// the mix on main and the active feature branches while the brancher
// creates and merges branches; every c.CheckEvery all writes pause and
// every active branch is checked; at the end every branch is. Violations
// are in the report, not an error; an error is a run that could not go on.
func Run(ctx context.Context, c Config) (*Report, error) {
	c.defaults()
	cl := NewClient(c.URL)
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(c.Repo)}); err != nil {
		return nil, fmt.Errorf("CreateBucket %s: %w", c.Repo, err)
	}
	m := NewModel(c.Repo)
	st := newStats()
	var gate sync.RWMutex
	mc, err := NewMinio(c.URL)
	if err != nil {
		return nil, err
	}
	l := &load{m: m, c: cl, mc: mc, st: st, mix: c.Mix, gate: &gate, maxSize: c.MaxSize}
	ck := &checker{m: m, c: cl, rng: rand.New(rand.NewPCG(c.Seed, 1))}
	adm := newAdmin(c.URL)
	rep := &Report{}

	start := time.Now()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		l.run(ctx, c.Clients, c.Seed, &stop)
	}()
	go func() {
		defer wg.Done()
		brancher(ctx, m, adm, ck, &gate, c, rep, &stop)
	}()
	nextCheck := start.Add(c.CheckEvery)
	for time.Since(start) < c.Duration && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if c.CheckEvery > 0 && time.Now().After(nextCheck) {
			t0 := time.Now()
			gate.Lock()
			bs := m.active()
			for _, b := range bs {
				ck.branch(ctx, b)
			}
			gate.Unlock()
			ops, errs := st.Ops()
			_, kinds := m.Violations()
			c.Logf("%v: checked %d branches in %v; ops %s; errors %s; violations %v", time.Since(start).Round(time.Second), len(bs),
				time.Since(t0).Round(time.Millisecond), formatCounts(ops, 0), formatCounts(errs, 0), kinds)
			nextCheck = time.Now().Add(c.CheckEvery)
		}
	}
	stop.Store(true)
	wg.Wait()
	rep.Duration = time.Since(start)

	// Final: every branch, frozen ones included.
	t0 := time.Now()
	for _, b := range m.Branches() {
		ck.branch(ctx, b)
	}
	c.Logf("final check of %d branches in %v", len(m.Branches()), time.Since(t0).Round(time.Millisecond))
	fill(rep, m, st, ck)
	return rep, nil
}

// fill copies the counts into the report.
func fill(rep *Report, m *Model, st *stats, ck *checker) {
	rep.Ops, rep.Errors = st.Ops()
	m.mu.Lock()
	rep.Acked = m.nacked
	m.mu.Unlock()
	rep.Checks, rep.VersionsRd = ck.checks.Load(), ck.versionsRead.Load()
	rep.Violations, rep.ByKind = m.Violations()
}

// brancher creates a feature branch every c.BranchEvery while fewer than
// two take writes; otherwise it freezes the oldest (waiting for its
// writes in flight), checks it, and merges it into main, after which
// main's f/NAME/ must equal the branch's state. Every fourth branch is a
// fast-forward round: the other features are merged, main stops taking
// writes, the new branch takes writes for two intervals and is merged
// into the unchanged main (a fast-forward, which must keep main's history:
// the checker still finds every write acknowledged on main), then main
// takes writes again.
func brancher(ctx context.Context, m *Model, adm *admin, ck *checker, gate *sync.RWMutex, c Config, rep *Report, stop *atomic.Bool) {
	n := 0
	pause := func(d time.Duration) bool {
		// Not waiting for an event: branch operations are spaced in time.
		for t := time.Now(); time.Since(t) < d && !stop.Load(); {
			time.Sleep(50 * time.Millisecond)
		}
		return !stop.Load() && ctx.Err() == nil
	}
	create := func() *Branch {
		n++
		name := fmt.Sprintf("br-%03d", n)
		if _, err := adm.createBranch(ctx, m.Repo, name); err != nil {
			m.violation("ERROR", "create branch %s: %v", name, err)
			return nil
		}
		rep.Branches++
		c.Logf("created branch %s", name)
		return m.AddFeature(name)
	}
	main := m.Branch("main")
	for pause(c.BranchEvery) {
		act := m.active()
		switch {
		case n%4 == 3:
			for _, f := range act[1:] {
				mergeFeature(ctx, m, adm, ck, gate, c, rep, f)
			}
			m.setFrozen(main, true)
			if f := create(); f != nil && pause(2*c.BranchEvery) {
				mergeFeature(ctx, m, adm, ck, gate, c, rep, f)
			}
			m.setFrozen(main, false)
		case len(act) < 3:
			create()
		default:
			mergeFeature(ctx, m, adm, ck, gate, c, rep, act[1]) // the oldest feature
		}
	}
}

// mergeFeature freezes f, checks it (pinning its state), merges it into
// main and makes main's model of f's keys f's pinned state.
func mergeFeature(ctx context.Context, m *Model, adm *admin, ck *checker, gate *sync.RWMutex, c Config, rep *Report, f *Branch) {
	m.setFrozen(f, true)
	gate.RLock()
	defer gate.RUnlock()
	ck.branch(ctx, f)
	mr, err := adm.merge(ctx, m.Repo, f.Name, "main")
	if err != nil {
		m.violation("ERROR", "merge %s into main: %v", f.Name, err)
		return
	}
	m.mu.Lock()
	m.merges[mr.Commit] = true
	main := m.byName["main"]
	for k, km := range f.model {
		mk := main.model[k]
		if mk == nil {
			mk = &keyModel{}
			main.model[k] = mk
		}
		mk.pinned = state{present: km.pinned.present, sha: km.pinned.sha} // any version id: the merge's or the branch's
		mk.since = nil
	}
	m.mu.Unlock()
	rep.Merges++
	if mr.FastForward {
		rep.FastFwd++
	}
	c.Logf("merged %s into main: commit %s fast-forward %v", f.Name, mr.Commit, mr.FastForward)
}
