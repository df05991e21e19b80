package pipelines

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
)

// Spec is a pipeline specification (SPEC §7).
type Spec struct {
	// Name is the pipeline's name and its output repo's.
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Input       Input     `json:"input"`
	Transform   Transform `json:"transform"`
	// Parallelism is how many datums run at once (default 1).
	Parallelism int `json:"parallelism,omitempty"`
	// Runner is "local" (default) or "kubernetes".
	Runner string `json:"runner,omitempty"`
	// DatumTries is how many times a datum runs before it fails the job
	// (default 3).
	DatumTries int `json:"datum_tries,omitempty"`
	// DatumTimeout bounds one try of a datum (0: no limit).
	DatumTimeout Duration `json:"datum_timeout,omitempty"`
	// OutputBranch is the output repo's branch (default: the inputs'
	// branch, which must then be the same for every input).
	OutputBranch string `json:"output_branch,omitempty"`

	// The kubernetes runner's pod settings (ignored by the local runner;
	// names as Pachyderm's). Server config supplies the defaults.
	ResourceRequests *Resources        `json:"resource_requests,omitempty"`
	ResourceLimits   *Resources        `json:"resource_limits,omitempty"`
	NodeSelector     map[string]string `json:"node_selector,omitempty"`
	Tolerations      []Toleration      `json:"tolerations,omitempty"`

	// OnFailure is what a job whose datums failed (after datum_tries)
	// does: "fail" (default) commits nothing; "commit_partial" commits the
	// other datums' outputs and ends "partial" (failure.go).
	OnFailure string `json:"on_failure,omitempty"`
	// JobRetries is how many times a failed or partial job is retried by
	// itself, with backoff (nil: DefaultJobRetries; 0: never).
	JobRetries *int `json:"job_retries,omitempty"`
}

// Resources are Kubernetes resource quantities of a worker pod ("500m",
// "1Gi"); "" leaves one unset.
type Resources struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	// Disk is the pod's ephemeral-storage.
	Disk string `json:"disk,omitempty"`
	// GPU is a count of nvidia.com/gpu.
	GPU string `json:"gpu,omitempty"`
}

// Toleration is a Kubernetes toleration of a worker pod.
type Toleration struct {
	Key      string `json:"key,omitempty"`
	Operator string `json:"operator,omitempty"` // Exists or Equal (default)
	Value    string `json:"value,omitempty"`
	Effect   string `json:"effect,omitempty"` // NoSchedule, PreferNoSchedule, NoExecute or "" (all)
	// TolerationSeconds bounds a NoExecute toleration.
	TolerationSeconds *int64 `json:"toleration_seconds,omitempty"`
}

// Input is one node of the input tree: exactly one field is set.
type Input struct {
	PFS   *PFSInput `json:"pfs,omitempty"`
	Cross []Input   `json:"cross,omitempty"`
	Union []Input   `json:"union,omitempty"`
	Join  []Input   `json:"join,omitempty"`
	// Group makes one datum of all the datums of its pfs inputs whose
	// group_by keys are equal (see group.go).
	Group []Input `json:"group,omitempty"`
}

// PFSInput subscribes to a branch of a repo.
type PFSInput struct {
	// Name is the directory under $TUSK_PFS (default: the repo's name).
	Name   string `json:"name,omitempty"`
	Repo   string `json:"repo"`
	Branch string `json:"branch,omitempty"` // default main
	// Glob splits a commit into datums: "/", "/*", "/*/*", "/**", with
	// ?, [...] and (capture groups) for join_on.
	Glob string `json:"glob"`
	// JoinOn ("$1", "$1-$2") is the join key of a join's input, made of
	// the glob's capture groups.
	JoinOn string `json:"join_on,omitempty"`
	// OuterJoin makes this join input's datums that match no datum of
	// some other input still datums (with the inputs that do match).
	OuterJoin bool `json:"outer_join,omitempty"`
	// GroupBy ("$1") is the group key of a group's input, made of the
	// glob's capture groups.
	GroupBy string `json:"group_by,omitempty"`
}

// Transform is what runs on a datum.
type Transform struct {
	// Image is used by the kubernetes runner (ignored by the local one).
	Image string   `json:"image,omitempty"`
	Cmd   []string `json:"cmd"`
	// Stdin lines are written to the command's standard input.
	Stdin []string          `json:"stdin,omitempty"`
	Env   map[string]string `json:"env,omitempty"`
}

// Duration is a time.Duration written as "30s" (or a number of seconds).
type Duration time.Duration

// MarshalJSON writes "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1m30s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("bad duration %q (want e.g. 30s, 5m, 1h)", s)
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("bad duration %s (want e.g. \"30s\")", b)
	}
	*d = Duration(time.Duration(n * float64(time.Second)))
	return nil
}

// Defaults.
const (
	DefaultDatumTries = 3
	MaxParallelism    = 256
	MaxDatumTries     = 100
)

// SpecError is a validation error naming the field at fault.
type SpecError struct {
	Field string // e.g. "input.cross[1].pfs.glob"
	Msg   string
}

func (e *SpecError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func specErr(field, format string, args ...any) error {
	return errs.Wrap("pipelines.spec", errs.Invalid, &SpecError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Parse reads a spec in YAML or JSON (JSON is YAML), refusing unknown
// fields, and validates it (Validate). Errors name the field at fault.
func Parse(data []byte) (*Spec, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, specErr("", "the spec is neither valid YAML nor JSON: %v", err)
	}
	if doc == nil {
		return nil, specErr("", "the spec is empty")
	}
	doc, err := jsonable(doc, "")
	if err != nil {
		return nil, err
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, specErr("", "the spec must be a mapping (name, input, transform, ...)")
	}
	if err := checkFields(doc, reflect.TypeOf(Spec{}), ""); err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, specErr("", "%v", err)
	}
	var s Spec
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&s); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, specErr(te.Field, "want %s, not %s", jsonKind(te.Type), te.Value)
		}
		return nil, specErr("", "%v", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a " + t.Kind().String()
}

// jsonable turns YAML's decoded values into JSON-encodable ones
// (map[any]any keys must be strings).
func jsonable(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			n, err := jsonable(e, join(path, k))
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, specErr(path, "keys must be strings, not %v", k)
			}
			n, err := jsonable(e, join(path, ks))
			if err != nil {
				return nil, err
			}
			m[ks] = n
		}
		return m, nil
	case []any:
		for i, e := range x {
			n, err := jsonable(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	}
	return v, nil
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// checkFields refuses keys that t (a struct, through its json tags) does
// not have, naming the full path of the first one found.
func checkFields(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(Duration(0)) {
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				return nil
			}
			return specErr(path, "want a mapping, not %s", describe(v))
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return specErr(join(path, k), "unknown field (known fields here: %s)", strings.Join(names, ", "))
			}
			if err := checkFields(m[k], ft, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			if v == nil {
				return nil
			}
			return specErr(path, "want a list, not %s", describe(v))
		}
		for i, e := range l {
			if err := checkFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				return nil
			}
			return specErr(path, "want a mapping, not %s", describe(v))
		}
		for k, e := range m {
			if t.Elem().Kind() == reflect.String {
				switch e.(type) {
				case string:
				case int, float64, bool:
					// env: {N: 3} is the string "3" (YAML's users expect it).
					m[k] = fmt.Sprint(e)
				default:
					return specErr(join(path, k), "want a string, not %s", describe(e))
				}
			}
		}
	}
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(v.(string))
	}
	return fmt.Sprint(v)
}

// Runner names (Spec.Runner).
const (
	RunnerLocal      = "local"
	RunnerKubernetes = "kubernetes"
)

// quantityRe matches the Kubernetes quantities a spec may use.
var quantityRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`)

var inputNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$`)

// Validate checks the spec alone (the repos it names are checked when it
// is created: Service.Create). It fills defaults: input names, branches.
func (s *Spec) Validate() error {
	if s.Name == "" {
		return specErr("name", "required: the pipeline's name, also its output repo's")
	}
	if err := names.ValidRepo(s.Name); err != nil {
		return specErr("name", "%q is not a valid repo name (it names the output repo): 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit", s.Name)
	}
	inputNames := map[string]string{}
	var branches []string
	if err := s.Input.validate("input", "", inputNames, &branches, s.Name); err != nil {
		return err
	}
	if len(s.Transform.Cmd) == 0 {
		return specErr("transform.cmd", "required: the command to run, as a list (e.g. [\"python3\", \"/edges.py\"])")
	}
	for k := range s.Transform.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return specErr("transform.env."+k, "bad environment variable name")
		}
	}
	if s.Parallelism < 0 || s.Parallelism > MaxParallelism {
		return specErr("parallelism", "%d is out of range 0-%d", s.Parallelism, MaxParallelism)
	}
	if s.DatumTries < 0 || s.DatumTries > MaxDatumTries {
		return specErr("datum_tries", "%d is out of range 0-%d (0 means the default, %d)", s.DatumTries, MaxDatumTries, DefaultDatumTries)
	}
	if s.DatumTimeout < 0 {
		return specErr("datum_timeout", "must not be negative")
	}
	if err := s.validateFailure(); err != nil {
		return err
	}
	switch s.Runner {
	case "", RunnerLocal, RunnerKubernetes:
	default:
		return specErr("runner", "unknown runner %q: use local or kubernetes", s.Runner)
	}
	for _, r := range []struct {
		field string
		res   *Resources
	}{{"resource_requests", s.ResourceRequests}, {"resource_limits", s.ResourceLimits}} {
		if r.res == nil {
			continue
		}
		for name, q := range map[string]string{"cpu": r.res.CPU, "memory": r.res.Memory, "disk": r.res.Disk, "gpu": r.res.GPU} {
			if q != "" && !quantityRe.MatchString(q) {
				return specErr(r.field+"."+name, "%q is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 1Gi)", q)
			}
		}
	}
	for k, v := range s.NodeSelector {
		if k == "" || len(k) > 316 || len(v) > 63 {
			return specErr("node_selector."+k, "bad node label (a Kubernetes label key and a value of at most 63 characters)")
		}
	}
	for i, t := range s.Tolerations {
		f := fmt.Sprintf("tolerations[%d]", i)
		switch t.Operator {
		case "", "Equal":
		case "Exists":
			if t.Value != "" {
				return specErr(f+".value", "must be empty with operator Exists")
			}
		default:
			return specErr(f+".operator", "%q: use Equal or Exists", t.Operator)
		}
		switch t.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			return specErr(f+".effect", "%q: use NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
		}
		if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
			return specErr(f+".toleration_seconds", "only a NoExecute toleration has toleration_seconds")
		}
	}
	if s.OutputBranch != "" {
		if err := names.ValidRef(s.OutputBranch); err != nil {
			return specErr("output_branch", "%q is not a valid branch name", s.OutputBranch)
		}
	} else {
		sort.Strings(branches)
		if len(branches) > 1 && branches[0] != branches[len(branches)-1] {
			return specErr("output_branch", "the inputs are on different branches (%s and %s): set output_branch", branches[0], branches[len(branches)-1])
		}
	}
	return nil
}

func (in *Input) validate(path, parent string, inputNames map[string]string, branches *[]string, output string) error {
	set := 0
	if in.PFS != nil {
		set++
	}
	for _, l := range [][]Input{in.Cross, in.Union, in.Join, in.Group} {
		if l != nil {
			set++
		}
	}
	if set != 1 {
		return specErr(path, "set exactly one of pfs, cross, union, join, group")
	}
	if in.PFS != nil {
		return in.PFS.validate(path+".pfs", parent, inputNames, branches, output)
	}
	switch parent {
	case "join":
		return specErr(path, "the inputs of a join must be pfs inputs with join_on")
	case "group":
		return specErr(path, "the inputs of a group must be pfs inputs with group_by")
	}
	list, field, min := in.Cross, "cross", 1
	if in.Union != nil {
		list, field = in.Union, "union"
	}
	if in.Join != nil {
		list, field, min = in.Join, "join", 2
	}
	if in.Group != nil {
		list, field = in.Group, "group"
	}
	if len(list) < min {
		return specErr(path+"."+field, "needs at least %d input(s)", min)
	}
	for i := range list {
		kind := ""
		if field == "join" || field == "group" {
			kind = field
		}
		if err := list[i].validate(fmt.Sprintf("%s.%s[%d]", path, field, i), kind, inputNames, branches, output); err != nil {
			return err
		}
	}
	return nil
}

func (p *PFSInput) validate(path, parent string, inputNames map[string]string, branches *[]string, output string) error {
	if p.Repo == "" {
		return specErr(path+".repo", "required: the input repo")
	}
	if err := names.ValidRepo(p.Repo); err != nil {
		return specErr(path+".repo", "%q is not a valid repo name", p.Repo)
	}
	if p.Repo == output {
		return specErr(path+".repo", "repo %s is the pipeline's output repo; it cannot also be an input", p.Repo)
	}
	if p.Branch == "" {
		p.Branch = "main"
	}
	if err := names.ValidRef(p.Branch); err != nil {
		return specErr(path+".branch", "%q is not a valid branch name", p.Branch)
	}
	*branches = append(*branches, p.Branch)
	if p.Name == "" {
		p.Name = p.Repo
	}
	if !inputNameRe.MatchString(p.Name) || p.Name == "out" || p.Name == "." || p.Name == ".." {
		if p.Name == "out" {
			return specErr(path+".name", "the input name \"out\" is taken by the outputs ($TUSK_PFS/out): give this input another name (name: ...)")
		}
		return specErr(path+".name", "%q cannot name a directory under $TUSK_PFS (letters, digits, '_', '.', '-')", p.Name)
	}
	if prev, ok := inputNames[p.Name]; ok {
		return specErr(path+".name", "input name %q is already used by %s; give one of them another name", p.Name, prev)
	}
	inputNames[p.Name] = path
	if p.Glob == "" {
		return specErr(path+".glob", "required: how to split commits into datums, e.g. \"/*\" (each top-level file or directory) or \"/\" (everything)")
	}
	g, err := CompileGlob(p.Glob)
	if err != nil {
		return specErr(path+".glob", "%v", err)
	}
	if p.JoinOn != "" && parent != "join" {
		return specErr(path+".join_on", "only the inputs of a join take join_on%s", groupHint(parent, "group_by"))
	}
	if p.OuterJoin && parent != "join" {
		return specErr(path+".outer_join", "only the inputs of a join take outer_join")
	}
	if p.GroupBy != "" && parent != "group" {
		return specErr(path+".group_by", "only the inputs of a group take group_by%s", groupHint(parent, "join_on"))
	}
	switch parent {
	case "join":
		if p.JoinOn == "" {
			return specErr(path+".join_on", "required in a join: the join key, made of the glob's capture groups, e.g. \"$1\"")
		}
		if err := g.checkTemplate(p.JoinOn); err != nil {
			return specErr(path+".join_on", "%v", err)
		}
	case "group":
		if p.GroupBy == "" {
			return specErr(path+".group_by", "required in a group: the group key, made of the glob's capture groups, e.g. \"$1\"")
		}
		if err := g.checkTemplate(p.GroupBy); err != nil {
			return specErr(path+".group_by", "%v", err)
		}
	}
	return nil
}

// groupHint suggests the key field of the input's actual parent.
func groupHint(parent, field string) string {
	if parent == "join" || parent == "group" {
		return " (this input is in a " + parent + ": use " + field + ")"
	}
	return ""
}

// Leaves returns the spec's pfs inputs in order (their index is their
// identity inside datum ids).
func (s *Spec) Leaves() []*PFSInput {
	var out []*PFSInput
	var walk func(in *Input)
	walk = func(in *Input) {
		if in.PFS != nil {
			out = append(out, in.PFS)
		}
		for _, l := range [][]Input{in.Cross, in.Union, in.Join, in.Group} {
			for i := range l {
				walk(&l[i])
			}
		}
	}
	walk(&s.Input)
	return out
}

// Tries is DatumTries with its default.
func (s *Spec) Tries() int {
	if s.DatumTries <= 0 {
		return DefaultDatumTries
	}
	return s.DatumTries
}

// Workers is Parallelism with its default.
func (s *Spec) Workers() int {
	if s.Parallelism <= 0 {
		return 1
	}
	return s.Parallelism
}

// OutBranch is the output branch.
func (s *Spec) OutBranch() string {
	if s.OutputBranch != "" {
		return s.OutputBranch
	}
	if l := s.Leaves(); len(l) > 0 {
		return l[0].Branch
	}
	return "main"
}

// InputRepos lists the distinct input repos, sorted.
func (s *Spec) InputRepos() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range s.Leaves() {
		if !seen[l.Repo] {
			seen[l.Repo] = true
			out = append(out, l.Repo)
		}
	}
	sort.Strings(out)
	return out
}

// CheckCycles refuses a set of pipelines (name -> input repos) whose
// outputs feed their own inputs, naming the cycle.
func CheckCycles(inputs map[string][]string) error {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string) error
	visit = func(n string) error {
		color[n] = grey
		stack = append(stack, n)
		for _, in := range inputs[n] {
			if _, isPipe := inputs[in]; !isPipe {
				continue
			}
			switch color[in] {
			case grey:
				i := len(stack) - 1
				for stack[i] != in {
					i--
				}
				cyc := append(append([]string{}, stack[i:]...), in)
				// Show it in data-flow order: a -> b means b reads a.
				for l, r := 0, len(cyc)-1; l < r; l, r = l+1, r-1 {
					cyc[l], cyc[r] = cyc[r], cyc[l]
				}
				return specErr("input", "pipelines would form a cycle: %s", strings.Join(cyc, " -> "))
			case white:
				if err := visit(in); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return nil
	}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if color[n] == white {
			if err := visit(n); err != nil {
				return err
			}
		}
	}
	return nil
}
