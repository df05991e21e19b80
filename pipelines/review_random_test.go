package pipelines_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

func datumFn(_ context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
	var parts []string
	for _, in := range d.Inputs {
		for _, f := range in.Files {
			parts = append(parts, in.Name+":"+f.Key+"="+f.Content[:6])
		}
	}
	sort.Strings(parts)
	return map[string]string{"o/" + d.ID: strings.Join(parts, ",")}, 0, ""
}

func TestReviewIncrementalEqualsFull(t *testing.T) {
	specs := map[string]string{
		"cross":      `input: {cross: [{pfs: {repo: ina, glob: "/*"}}, {pfs: {repo: inb, glob: "/*/*"}}]}`,
		"union":      `input: {union: [{pfs: {repo: ina, glob: "/**"}}, {pfs: {repo: inb, glob: "/*"}}]}`,
		"join":       `input: {join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1"}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1"}}]}`,
		"crossjoin":  `input: {cross: [{pfs: {repo: ina, glob: "/"}}, {join: [{pfs: {name: l, repo: inb, glob: "/(*)/(*)", join_on: "$2"}}, {pfs: {name: r, repo: inb, glob: "/(*)", join_on: "$1"}}]}]}`,
		"group":      `input: {group: [{pfs: {repo: ina, glob: "/(*)/*", group_by: "$1"}}, {pfs: {repo: inb, glob: "/(*)", group_by: "$1"}}]}`,
		"group1":     `input: {group: [{pfs: {repo: ina, glob: "/(*)/(*)", group_by: "$2"}}]}`,
		"leftjoin":   `input: {join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1", outer_join: true}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1"}}]}`,
		"fulljoin":   `input: {join: [{pfs: {repo: ina, glob: "/(*)", join_on: "$1", outer_join: true}}, {pfs: {repo: inb, glob: "/*/(*)", join_on: "$1", outer_join: true}}]}`,
		"outer3":     `input: {join: [{pfs: {repo: ina, glob: "/(*)", join_on: "$1"}}, {pfs: {name: l, repo: inb, glob: "/(*)/*", join_on: "$1", outer_join: true}}, {pfs: {name: r, repo: inb, glob: "/(*)", join_on: "$1"}}]}`,
		"crossgroup": `input: {cross: [{pfs: {repo: ina, glob: "/*"}}, {group: [{pfs: {repo: inb, glob: "/(*)/(*)", group_by: "$2"}}, {pfs: {name: g, repo: ina, glob: "/(*)", group_by: "$1"}}]}]}`,
		"unionouter": `input: {union: [{group: [{pfs: {repo: ina, glob: "/(*)/*", group_by: "$1"}}]}, {join: [{pfs: {name: l, repo: ina, glob: "/(*)", join_on: "$1"}}, {pfs: {repo: inb, glob: "/(*)/*", join_on: "$1", outer_join: true}}]}]}`,
	}
	keys := []string{"a", "b", "d1/x", "d1/y", "d2/x", "d2/z", "x", "y", "z", "d1/b", "a/x"}
	names := make([]string, 0)
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	seeds := int64(6)
	if raceOn {
		seeds = 3
	}
	// The group and outer-join specs run fewer seeds: together they
	// would triple the test's time; their bugs show within a few steps.
	fewer := map[string]bool{"group": true, "group1": true, "leftjoin": true, "fulljoin": true, "outer3": true, "crossgroup": true, "unionouter": true}
	for seed := int64(1); seed < seeds; seed++ {
		for _, name := range names {
			if fewer[name] && seed > 2 {
				continue
			}
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				h := newHarness(t, "")
				h.fr.setFn(datumFn)
				h.repo("ina", "inb")
				h.put("ina", "seed", "0")
				h.put("inb", "seed", "0")
				h.create("name: inc\n" + specs[name] + "\ntransform: {cmd: [x]}\n")
				h.wait()
				for step := 0; step < 40; step++ {
					for n := rng.Intn(3) + 1; n > 0; n-- {
						repo := []string{"ina", "inb"}[rng.Intn(2)]
						k := keys[rng.Intn(len(keys))]
						v := fmt.Sprint(rng.Intn(3))
						if rng.Intn(4) == 0 {
							v = "<delete>"
						}
						cur := h.keys(repo)
						if v == "<delete>" && cur[k] == nil {
							continue
						}
						// keep "a" and "a/x" from coexisting? no: allowed, staging is fake here
						h.put(repo, k, v)
					}
					j := h.wait()
					if j.State != pipelines.JobSuccess {
						t.Fatalf("step %d: job %s %s", step, j.State, j.Reason)
					}
					fresh := fmt.Sprintf("fresh%d", step)
					h.create("name: " + fresh + "\n" + specs[name] + "\ntransform: {cmd: [x]}\n")
					fj := h.wait()
					_ = fj
					a, b := h.keys("inc"), h.keys(fresh)
					for k, e := range b {
						if a[k] == nil || a[k].Content != e.Content {
							t.Fatalf("step %d: key %s: inc %v, fresh %v (%s)", step, k, a[k] != nil, true, fj.Reason)
						}
					}
					for k := range a {
						if b[k] == nil {
							t.Fatalf("step %d: inc has stale key %s", step, k)
						}
					}
					if err := h.svc.Delete(context.Background(), fresh, pipelines.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}
