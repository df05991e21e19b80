package pipelines_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tusk-data/tusk/pipelines"
)

func TestParseSpec(t *testing.T) {
	yamlSpec := `
name: edges
input:
  pfs: {repo: images, branch: main, glob: "/*"}
transform:
  image: example/opencv:1
  cmd: ["python3", "/edges.py"]
  env: {THRESHOLD: "0.5", N: 3}
parallelism: 4
runner: local
datum_timeout: 90s
`
	jsonSpec := `{"name":"montage","input":{"cross":[{"pfs":{"repo":"images","glob":"/"}},{"pfs":{"repo":"edges","glob":"/"}}]},
"transform":{"cmd":["sh"],"stdin":["montage $(find /pfs -type f) /pfs/out/montage.png"]},"datum_tries":5,"datum_timeout":30}`
	for _, c := range []struct {
		name  string
		src   string
		check func(t *testing.T, s *pipelines.Spec)
	}{
		{"yaml", yamlSpec, func(t *testing.T, s *pipelines.Spec) {
			l := s.Leaves()
			if s.Name != "edges" || len(l) != 1 || l[0].Name != "images" || l[0].Glob != "/*" || s.Workers() != 4 ||
				s.Tries() != 3 || time.Duration(s.DatumTimeout) != 90*time.Second || s.Transform.Env["N"] != "3" || s.OutBranch() != "main" {
				t.Errorf("parsed %+v", s)
			}
		}},
		{"json", jsonSpec, func(t *testing.T, s *pipelines.Spec) {
			l := s.Leaves()
			if len(l) != 2 || l[0].Repo != "images" || l[1].Name != "edges" || l[1].Branch != "main" || s.Tries() != 5 ||
				time.Duration(s.DatumTimeout) != 30*time.Second || s.Workers() != 1 {
				t.Errorf("parsed %+v", s)
			}
		}},
		{"group and outer join", `{"name":"grp","input":{"cross":[{"group":[{"pfs":{"repo":"logs","glob":"/(*)/*","group_by":"$1"}},
{"pfs":{"repo":"meta","glob":"/(*).json","group_by":"$1"}}]},{"join":[{"pfs":{"repo":"aa1","glob":"/(*)","join_on":"$1","outer_join":true}},
{"pfs":{"repo":"bb1","glob":"/(*)","join_on":"$1"}}]}]},"transform":{"cmd":["sh"]}}`, func(t *testing.T, s *pipelines.Spec) {
			l := s.Leaves()
			if len(l) != 4 || l[0].Repo != "logs" || l[0].GroupBy != "$1" || l[1].Name != "meta" || !l[2].OuterJoin || l[3].OuterJoin || l[3].JoinOn != "$1" {
				t.Errorf("parsed %+v", s)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := pipelines.Parse([]byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, s)
		})
	}
}

func TestSpecErrorsNameTheField(t *testing.T) {
	const tr = "transform: {cmd: [cat]}\n"
	for _, c := range []struct {
		name, src, field, says string
	}{
		{"unknown top field", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr + "paralelism: 3\n", "paralelism", "unknown field"},
		{"unknown nested field", "name: e1x\ninput: {pfs: {repo: abc, glob: /*, globb: x}}\n" + tr, "input.pfs.globb", "unknown field"},
		{"unknown field in a cross", "name: e1x\ninput: {cross: [{pfs: {repo: abc, glob: /*}}, {pfs: {repo: abd, glob: /, brnch: x}}]}\n" + tr, "input.cross[1].pfs.brnch", "unknown field"},
		{"missing name", "input: {pfs: {repo: abc, glob: /*}}\n" + tr, "name", "required"},
		{"bad name", "name: Bad_Name\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr, "name", "not a valid repo name"},
		{"missing glob", "name: e1x\ninput: {pfs: {repo: abc}}\n" + tr, "input.pfs.glob", "required"},
		{"glob without slash", "name: e1x\ninput: {pfs: {repo: abc, glob: '*'}}\n" + tr, "input.pfs.glob", "must start with /"},
		{"bad glob", "name: e1x\ninput: {pfs: {repo: abc, glob: '/[a'}}\n" + tr, "input.pfs.glob", "unterminated"},
		{"bad glob double star", "name: e1x\ninput: {pfs: {repo: abc, glob: '/a**'}}\n" + tr, "input.pfs.glob", "whole path segment"},
		{"output is input", "name: abc\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr, "input.pfs.repo", "output repo"},
		{"two inputs set", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}, union: []}\n" + tr, "input", "exactly one"},
		{"missing cmd", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\ntransform: {}\n", "transform.cmd", "required"},
		{"duplicate names", "name: e1x\ninput: {cross: [{pfs: {repo: abc, glob: /*}}, {pfs: {repo: abc, glob: /}}]}\n" + tr, "input.cross[1].pfs.name", "already used"},
		{"join without join_on", "name: e1x\ninput: {join: [{pfs: {repo: abc, glob: '/(*)'}}, {pfs: {repo: abd, glob: '/(*)', join_on: $1}}]}\n" + tr, "input.join[0].pfs.join_on", "required"},
		{"join_on past groups", "name: e1x\ninput: {join: [{pfs: {repo: abc, glob: '/(*)', join_on: $2}}, {pfs: {repo: abd, glob: '/(*)', join_on: $1}}]}\n" + tr, "input.join[0].pfs.join_on", "capture group 2"},
		{"join_on outside join", "name: e1x\ninput: {pfs: {repo: abc, glob: '/(*)', join_on: $1}}\n" + tr, "input.pfs.join_on", "only the inputs of a join"},
		{"group_by outside group", "name: e1x\ninput: {pfs: {repo: abc, glob: '/(*)', group_by: $1}}\n" + tr, "input.pfs.group_by", "only the inputs of a group"},
		{"group_by in a join", "name: e1x\ninput: {join: [{pfs: {repo: abc, glob: '/(*)', join_on: $1, group_by: $1}}, {pfs: {repo: abd, glob: '/(*)', join_on: $1}}]}\n" + tr, "input.join[0].pfs.group_by", "use join_on"},
		{"join_on in a group", "name: e1x\ninput: {group: [{pfs: {repo: abc, glob: '/(*)', join_on: $1}}]}\n" + tr, "input.group[0].pfs.join_on", "use group_by"},
		{"group without group_by", "name: e1x\ninput: {group: [{pfs: {repo: abc, glob: '/(*)'}}]}\n" + tr, "input.group[0].pfs.group_by", "required in a group"},
		{"group_by past groups", "name: e1x\ninput: {group: [{pfs: {repo: abc, glob: '/*', group_by: $1}}]}\n" + tr, "input.group[0].pfs.group_by", "no capture groups"},
		{"empty group", "name: e1x\ninput: {group: []}\n" + tr, "input.group", "at least 1"},
		{"cross in a group", "name: e1x\ninput: {group: [{cross: [{pfs: {repo: abc, glob: /*}}]}]}\n" + tr, "input.group[0]", "pfs inputs with group_by"},
		{"group in a join", "name: e1x\ninput: {join: [{group: [{pfs: {repo: abc, glob: '/(*)', group_by: $1}}]}, {pfs: {repo: abd, glob: '/(*)', join_on: $1}}]}\n" + tr, "input.join[0]", "pfs inputs with join_on"},
		{"outer_join outside join", "name: e1x\ninput: {pfs: {repo: abc, glob: /*, outer_join: true}}\n" + tr, "input.pfs.outer_join", "only the inputs of a join"},
		{"outer_join in a group", "name: e1x\ninput: {group: [{pfs: {repo: abc, glob: '/(*)', group_by: $1, outer_join: true}}]}\n" + tr, "input.group[0].pfs.outer_join", "only the inputs of a join"},
		{"group and union both set", "name: e1x\ninput: {group: [{pfs: {repo: abc, glob: '/(*)', group_by: $1}}], union: []}\n" + tr, "input", "exactly one"},
		{"wrong type", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr + "parallelism: many\n", "parallelism", "want a number"},
		{"bad timeout", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr + "datum_timeout: soon\n", "", "bad duration"},
		{"unknown runner", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr + "runner: nomad\n", "runner", "unknown runner"},
		{"bad quantity", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr + "runner: kubernetes\nresource_requests: {cpu: lots}\n", "resource_requests.cpu", "not a Kubernetes quantity"},
		{"unknown resource", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr + "resource_limits: {cpus: 1}\n", "resource_limits.cpus", "unknown field"},
		{"bad toleration", "name: e1x\ninput: {pfs: {repo: abc, glob: /*}}\n" + tr + "tolerations: [{key: k, operator: Maybe}]\n", "tolerations[0].operator", "Equal or Exists"},
		{"branches differ", "name: e1x\ninput: {cross: [{pfs: {repo: abc, glob: /*}}, {pfs: {repo: abd, branch: dev, glob: /}}]}\n" + tr, "output_branch", "different branches"},
		{"not yaml", "name: [unclosed\n", "", "neither valid YAML nor JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := pipelines.Parse([]byte(c.src))
			var se *pipelines.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SpecError", err)
			}
			if c.field != "" && se.Field != c.field {
				t.Errorf("field %q, want %q (%v)", se.Field, c.field, se)
			}
			if !strings.Contains(se.Error(), c.says) {
				t.Errorf("%q does not say %q", se.Error(), c.says)
			}
		})
	}
}

func TestCheckCycles(t *testing.T) {
	for _, c := range []struct {
		name  string
		graph map[string][]string
		cycle string
	}{
		{"chain", map[string][]string{"b1x": {"a1x"}, "c1x": {"b1x"}}, ""},
		{"two", map[string][]string{"b1x": {"c1x"}, "c1x": {"b1x"}}, "b1x -> c1x -> b1x"},
		{"three", map[string][]string{"p1x": {"raw", "r1x"}, "q1x": {"p1x"}, "r1x": {"q1x"}}, "-> "},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := pipelines.CheckCycles(c.graph)
			if c.cycle == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "cycle") || !strings.Contains(err.Error(), c.cycle) {
				t.Fatalf("got %v, want a cycle %s", err, c.cycle)
			}
		})
	}
}
