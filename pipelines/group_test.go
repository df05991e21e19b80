package pipelines_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tusk-data/tusk/pipelines"
)

// datumNameFn writes one output per datum named after its files
// ("name:key+name:key", sorted), so a pipeline's output keys are its datum set.
func datumNameFn(_ context.Context, d pipelines.DatumTask) (map[string]string, int, string) {
	return map[string]string{firstKey(d): "x"}, 0, ""
}

// TestGroupAndOuterJoinDatums checks the datums of group inputs and outer
// joins against hand-computed sets, for a first job and for an incremental
// one after a change (which must equal what a new pipeline computes).
func TestGroupAndOuterJoinDatums(t *testing.T) {
	// ina: two directories of files; inb: files named after them.
	ina := []string{"d1/x", "1", "d1/y", "1", "d2/x", "1", "d3/z", "1"}
	inb := []string{"d1", "1", "d2", "1", "d4", "1"}
	type step struct {
		repo string
		kv   []string
		want []string
	}
	for _, c := range []struct {
		name  string
		input string
		want  []string
		steps []step
	}{
		{"group one input", `{group: [{pfs: {repo: ina, glob: "/(*)/*", group_by: "$1"}}]}`,
			[]string{"ina:d1/x+ina:d1/y", "ina:d2/x", "ina:d3/z"},
			[]step{
				{"ina", []string{"d2/w", "2"}, []string{"ina:d1/x+ina:d1/y", "ina:d2/w+ina:d2/x", "ina:d3/z"}},
				{"ina", []string{"d1/x", "<delete>", "d3/z", "<delete>"}, []string{"ina:d1/y", "ina:d2/w+ina:d2/x"}},
			}},
		{"group across inputs", `{group: [{pfs: {repo: ina, glob: "/(*)/*", group_by: "$1"}}, {pfs: {repo: inb, glob: "/(*)", group_by: "$1"}}]}`,
			[]string{"ina:d1/x+ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z", "inb:d4"},
			[]step{
				{"inb", []string{"d3", "2", "d2", "<delete>"}, []string{"ina:d1/x+ina:d1/y+inb:d1", "ina:d2/x", "ina:d3/z+inb:d3", "inb:d4"}},
				{"ina", []string{"d4/q", "2"}, []string{"ina:d1/x+ina:d1/y+inb:d1", "ina:d2/x", "ina:d3/z+inb:d3", "ina:d4/q+inb:d4"}},
			}},
		{"group by a second capture", `{group: [{pfs: {repo: ina, glob: "/(*)/(*)", group_by: "$2"}}]}`,
			[]string{"ina:d1/x+ina:d2/x", "ina:d1/y", "ina:d3/z"},
			[]step{{"ina", []string{"d1/x", "2"}, []string{"ina:d1/x+ina:d2/x", "ina:d1/y", "ina:d3/z"}}}},
		{"inner join", `{join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1"}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1"}}]}`,
			[]string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2"},
			[]step{{"inb", []string{"d3", "1"}, []string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z+inb:d3"}}}},
		{"left outer join", `{join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1", outer_join: true}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1"}}]}`,
			[]string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z"},
			[]step{
				{"inb", []string{"d3", "1"}, []string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z+inb:d3"}},
				{"inb", []string{"d1", "<delete>"}, []string{"ina:d1/x", "ina:d1/y", "ina:d2/x+inb:d2", "ina:d3/z+inb:d3"}},
			}},
		{"right outer join", `{join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1"}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1", outer_join: true}}]}`,
			[]string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "inb:d4"},
			[]step{{"ina", []string{"d4/a", "1", "d2/x", "<delete>"}, []string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d4/a+inb:d4", "inb:d2"}}}},
		{"full outer join", `{join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1", outer_join: true}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1", outer_join: true}}]}`,
			[]string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z", "inb:d4"},
			[]step{{"inb", []string{"d3", "1", "d4", "<delete>"}, []string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z+inb:d3"}}}},
		{"outer join of three", `{join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1", outer_join: true}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1"}}, {pfs: {name: c, repo: inb, glob: "/(d[12])", join_on: "$1"}}]}`,
			// d1, d2: every input matches; d3: only the outer input; d4:
			// only inb (not outer): no datum.
			[]string{"c:d1+ina:d1/x+inb:d1", "c:d1+ina:d1/y+inb:d1", "c:d2+ina:d2/x+inb:d2", "ina:d3/z"},
			[]step{{"inb", []string{"d3", "1"}, []string{"c:d1+ina:d1/x+inb:d1", "c:d1+ina:d1/y+inb:d1", "c:d2+ina:d2/x+inb:d2", "ina:d3/z+inb:d3"}}}},
		{"group in a cross", `{cross: [{pfs: {repo: inb, glob: "/d[12]"}}, {group: [{pfs: {repo: ina, glob: "/(*)/*", group_by: "$1"}}]}]}`,
			[]string{"ina:d1/x+ina:d1/y+inb:d1", "ina:d1/x+ina:d1/y+inb:d2", "ina:d2/x+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z+inb:d1", "ina:d3/z+inb:d2"},
			[]step{{"ina", []string{"d2/x", "<delete>", "d1/w", "1"}, []string{"ina:d1/w+ina:d1/x+ina:d1/y+inb:d1", "ina:d1/w+ina:d1/x+ina:d1/y+inb:d2", "ina:d3/z+inb:d1", "ina:d3/z+inb:d2"}}}},
		{"outer join in a union", `{union: [{pfs: {name: u, repo: inb, glob: "/d4"}}, {join: [{pfs: {repo: ina, glob: "/(*)/*", join_on: "$1", outer_join: true}}, {pfs: {repo: inb, glob: "/(*)", join_on: "$1"}}]}]}`,
			[]string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x+inb:d2", "ina:d3/z", "u:d4"},
			[]step{{"inb", []string{"d2", "<delete>"}, []string{"ina:d1/x+inb:d1", "ina:d1/y+inb:d1", "ina:d2/x", "ina:d3/z", "u:d4"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.fr.setFn(datumNameFn)
			h.repo("ina", "inb")
			h.put("ina", ina...)
			h.put("inb", inb...)
			spec := "name: out\ninput: " + c.input + "\ntransform: {cmd: [x]}\n"
			h.create(spec)
			check := func(what, pipe string, want []string) {
				t.Helper()
				j := h.wait()
				if j.State != pipelines.JobSuccess {
					t.Fatalf("%s: job %s: %s", what, j.State, j.Reason)
				}
				got := outputNames(h.keys(pipe))
				sort.Strings(want)
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("%s: datums\n got %q\nwant %q", what, got, want)
				}
				if j.Stats.Total != len(want) {
					t.Errorf("%s: job counts %d datums, want %d", what, j.Stats.Total, len(want))
				}
			}
			check("first job", "out", c.want)
			for i, s := range c.steps {
				h.put(s.repo, s.kv...)
				check(fmt.Sprint("after step ", i), "out", s.want)
				// A new pipeline over the same commits: the full plan.
				h.create("name: fresh\ninput: " + c.input + "\ntransform: {cmd: [x]}\n")
				check(fmt.Sprint("fresh after step ", i), "fresh", s.want)
				if err := h.svc.Delete(context.Background(), "fresh", pipelines.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// outputNames returns a datumNameFn pipeline's datums: its output keys,
// sorted.
func outputNames[T any](keys map[string]T) []string {
	var out []string
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
