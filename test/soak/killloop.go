package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// KillConfig is a kill -9 loop.
type KillConfig struct {
	Bin     string // the tusk binary
	Dir     string // data dir and logs go here
	Repo    string
	Cycles  int
	Clients int
	Seed    uint64
	// The kill lands at a random moment in [MinKill, MaxKill) after the
	// load starts (defaults 0.5 s and 3 s).
	MinKill, MaxKill time.Duration
	// MaxFeatures bounds the feature branches taking writes (default 3):
	// a cycle creates one while fewer take writes and merges the oldest
	// into main when that many do.
	MaxFeatures int
	Extra       []string // more `tusk serve` flags
	Logf        func(format string, args ...any)
}

// KillLoop runs c.Cycles cycles on one data directory: start `tusk serve`;
// check every branch against the model (every acknowledged write listed
// and read back byte-exact at its version id, acknowledged deletes listed
// as delete markers, every visible version whole and explained by an
// acknowledged or cut write, every key's state one of its candidates);
// then run concurrent PUT / multipart / DeleteObjects / DeleteObject /
// CopyObject / reads on main and feature branches while one goroutine
// creates a branch and another merges the oldest feature (frozen, so its
// state is known) into main, and SIGKILL the server at a random moment. A
// merge cut by the kill must have landed whole or not at all. A last
// restart checks everything again, re-reading every version. A server
// that does not restart is an error; violations are in the report.
func KillLoop(ctx context.Context, c KillConfig) (*Report, error) {
	if c.Repo == "" {
		c.Repo = "killloop"
	}
	if c.Clients == 0 {
		c.Clients = 16
	}
	if c.MinKill == 0 {
		c.MinKill = 500 * time.Millisecond
	}
	if c.MaxKill <= c.MinKill {
		c.MaxKill = c.MinKill + 2500*time.Millisecond
	}
	if c.MaxFeatures == 0 {
		c.MaxFeatures = 3
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	m := NewModel(c.Repo)
	st := newStats()
	rep := &Report{}
	rng := rand.New(rand.NewPCG(c.Seed, 2))
	ck := &checker{m: m, rng: rand.New(rand.NewPCG(c.Seed, 3))}
	var gate sync.RWMutex
	var pending []string    // branches whose creation was cut
	var cutMerges []*Branch // branches whose merge into main was cut
	features := 0
	data := filepath.Join(c.Dir, "data")
	var loadTime time.Duration
	for cycle := 0; cycle <= c.Cycles; cycle++ {
		last := cycle == c.Cycles
		logFile := filepath.Join(c.Dir, fmt.Sprintf("serve-%03d.log", cycle))
		t0 := time.Now()
		p, err := StartTusk(c.Bin, data, logFile, c.Extra...)
		if err != nil {
			return nil, fmt.Errorf("cycle %d: restart: %w", cycle, err)
		}
		cl := NewClient(p.URL)
		adm := newAdmin(p.URL)
		if err := firstAnswer(ctx, cl); err != nil {
			p.Kill()
			return nil, fmt.Errorf("cycle %d: no answer after restart: %w\n%s", cycle, err, Tail(logFile, 20))
		}
		rep.Restarts = append(rep.Restarts, p.Ready)
		rep.FirstReply = append(rep.FirstReply, time.Since(t0))
		ck.c = cl
		if cycle == 0 {
			if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(c.Repo)}); err != nil {
				p.Kill()
				return nil, fmt.Errorf("CreateBucket: %w", err)
			}
		} else {
			for _, name := range pending {
				ok, err := adm.branchExists(ctx, c.Repo, name)
				if err != nil {
					m.violation("ERROR", "cycle %d: branch %s after its cut creation: %v", cycle, name, err)
				}
				if ok {
					m.AddFeature(name)
				}
			}
			pending = nil
			ck.full = last
			t1 := time.Now()
			for _, b := range m.Branches() {
				ck.branch(ctx, b)
			}
			for _, f := range cutMerges {
				mergeAtomic(m, f)
			}
			cutMerges = nil
			_, kinds := m.Violations()
			c.Logf("cycle %d: restart %v to listening, %v to first answer; checked %d branches in %v; violations %v",
				cycle, p.Ready.Round(time.Millisecond), rep.FirstReply[len(rep.FirstReply)-1].Round(time.Millisecond),
				len(m.Branches()), time.Since(t1).Round(time.Millisecond), kinds)
		}
		if last {
			if err := p.Stop(30 * time.Second); err != nil {
				m.violation("ERROR", "tusk serve did not stop cleanly after the last check: %v", err)
			}
			break
		}

		// Load until the kill.
		mc, err := NewMinio(p.URL)
		if err != nil {
			p.Kill()
			return nil, err
		}
		l := &load{m: m, c: cl, mc: mc, st: st, mix: KillMix, gate: &gate, maxSize: 256 << 10,
			okErr: func(err error) bool { return !answered(err) }}
		killAfter := c.MinKill + time.Duration(rng.Int64N(int64(c.MaxKill-c.MinKill)))
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		loadStart := time.Now()
		// The oldest feature, frozen before the load (its state is pinned
		// by the check above), is merged into main at a random moment.
		if act := m.active(); cycle > 0 && len(act)-1 >= c.MaxFeatures {
			f := act[1]
			m.setFrozen(f, true)
			at := time.Duration(rng.Int64N(int64(killAfter)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(at) // a random moment of the cycle, perhaps cut by the kill
				mr, err := adm.merge(ctx, c.Repo, f.Name, "main")
				switch {
				case err == nil:
					mergedInto(m, f, mr.Commit, false)
					rep.Merges++
				case answered(err) || isAPIError(err):
					m.violation("ERROR", "merge %s into main: %v", f.Name, err)
				default:
					mergedInto(m, f, "", true)
					cutMerges = append(cutMerges, f)
					rep.MergesCut++
				}
			}()
		}
		go func() {
			defer wg.Done()
			l.run(ctx, c.Clients, rng.Uint64(), &stop)
		}()
		if len(m.active())-1 < c.MaxFeatures {
			features++
			name := fmt.Sprintf("br-%03d", features)
			at := time.Duration(rng.Int64N(int64(killAfter)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(at) // a random moment of the cycle, perhaps cut by the kill
				if _, err := adm.createBranch(ctx, c.Repo, name); err == nil {
					m.AddFeature(name)
				} else if answered(err) || isAPIError(err) {
					m.violation("ERROR", "create branch %s: %v", name, err)
				} else {
					pending = append(pending, name)
				}
			}()
		}
		// Not a wait for an event: the kill lands at a random moment.
		time.Sleep(killAfter)
		stop.Store(true)
		if !p.Alive() {
			m.violation("ERROR", "cycle %d: tusk serve exited on its own before the kill; log tail:\n%s", cycle, Tail(logFile, 20))
		}
		p.Kill()
		wg.Wait()
		loadTime += time.Since(loadStart)
		m.mu.Lock()
		c.Logf("cycle %d: killed after %v; %d writes acknowledged so far, %d cut", cycle, killAfter.Round(time.Millisecond), m.nacked, m.ncut)
		m.mu.Unlock()
	}
	fill(rep, m, st, ck)
	rep.Duration = loadTime
	rep.Cycles = c.Cycles
	rep.Branches = len(m.Branches()) - 1
	m.mu.Lock()
	rep.Cut, rep.CutLanded = m.ncut, len(m.landed)
	m.mu.Unlock()
	return rep, nil
}

// firstAnswer waits (bounded) until the server answers a ListBuckets.
func firstAnswer(ctx context.Context, cl *s3.Client) error {
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err = cl.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
			return nil
		}
	}
	return err
}

func isAPIError(err error) bool {
	_, ok := err.(*apiError)
	return ok
}

// mergedInto records the merge of frozen feature f into main: acknowledged
// (commit), main's f/NAME/ is f's pinned state; cut, each key may be f's
// state or main's before (and mergeAtomic checks it is all one or the
// other).
func mergedInto(m *Model, f *Branch, commit string, cut bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	main := m.byName["main"]
	if !cut {
		m.merges[commit] = true
	}
	for k, km := range f.model {
		mk := main.model[k]
		if mk == nil {
			mk = &keyModel{}
			main.model[k] = mk
		}
		if !cut {
			mk.pinned, mk.since = state{present: km.pinned.present, sha: km.pinned.sha}, nil
			continue
		}
		mk.since = append(mk.since, &write{op: "merge", branch: main, key: k, del: !km.pinned.present, sha: km.pinned.sha, out: unknown})
		if km.pinned.present {
			m.cutPut[k] = true
		}
	}
}

// mergeAtomic checks, after the check that pinned main's state, that a cut
// merge of f landed whole or not at all: f's keys on main are all f's
// state or all as before (absent: main never writes f/NAME/).
func mergeAtomic(m *Model, f *Branch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	main := m.byName["main"]
	landed, not := 0, 0
	for k, km := range f.model {
		if !km.pinned.present {
			continue
		}
		if mk := main.model[k]; mk != nil && mk.pinned.present && mk.pinned.sha == km.pinned.sha {
			landed++
		} else {
			not++
		}
	}
	if landed > 0 && not > 0 {
		m.violation("STATE", "the cut merge of %s into main landed in part: %d of its keys on main, %d not", f.Name, landed, landed+not)
	}
}
