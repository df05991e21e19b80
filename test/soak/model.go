package soak

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/minio/minio-go/v7"
)

// outcome is what a write's client learnt of it.
type outcome uint8

const (
	inflight outcome = iota
	acked            // 2xx with a version id: must be durable and exact
	failed           // an HTTP error answer: must leave no trace
	unknown          // the connection was cut: may have landed, never torn
)

// write is one attempted change of one key (a DeleteObjects of N keys is N
// writes sharing a request).
type write struct {
	op         string // put, multipart, copy, delete, deletes
	branch     *Branch
	key        string
	del        bool
	sha        string // SHA-256 of the body (puts)
	size       int64
	version    string // acknowledged version id
	start, end uint64 // global sequence before the request and after its answer
	out        outcome
}

// state is a key's state on a branch as the checker saw it.
type state struct {
	present bool
	version string // "" when any version id is right (keys merged in)
	sha     string
}

func (s state) String() string {
	if !s.present {
		return "absent"
	}
	v := s.version
	if v == "" {
		v = "any"
	}
	return fmt.Sprintf("version %s sha %.12s", v, s.sha)
}

// keyModel is one key on one branch: its state pinned at the last check
// and every write since.
type keyModel struct {
	pinned state
	since  []*write
}

// Branch is one branch of the soak repo with its model.
type Branch struct {
	Name, Bucket string
	own          string   // the prefix its writers write under
	prefixes     []string // the prefixes the checker covers on it
	keys         []string // the keys its writers use
	// mu: each operation on the branch holds it for reading; freezing it
	// before a merge takes it for writing, so no write is in flight.
	mu     sync.RWMutex
	frozen bool
	model  map[string]*keyModel // under Model.mu
	acks   []*write             // acknowledged writes on it, under Model.mu
	puts   []*write             // acknowledged non-delete writes (sources for GETs and copies)
}

// Model is what the clients know: every branch, every write and its
// outcome, and the facts the checker needs across branches.
type Model struct {
	Repo string
	seq  atomic.Uint64

	mu       sync.Mutex
	branches []*Branch
	byName   map[string]*Branch
	ackedAt  map[string]*write          // key\x00version -> the acknowledged write
	shas     map[string]map[string]bool // key -> SHA-256 of every body ever sent for it
	cutPut   map[string]bool            // key -> a put of it had an unknown outcome
	cutDel   map[string]bool            // key -> a delete of it had an unknown outcome
	merges   map[string]bool            // commits made by merges
	good     map[string]bool            // key\x00version read back whole and right
	landed   map[string]bool            // key\x00version of cut writes found applied
	nacked   int                        // acknowledged writes
	ncut     int                        // writes with an unknown outcome

	vmu        sync.Mutex
	violations []string
	vkinds     map[string]int
}

// NewModel is the model of an empty repo with its main branch.
func NewModel(repo string) *Model {
	m := &Model{Repo: repo, byName: map[string]*Branch{}, ackedAt: map[string]*write{}, shas: map[string]map[string]bool{},
		cutPut: map[string]bool{}, cutDel: map[string]bool{}, merges: map[string]bool{}, good: map[string]bool{},
		landed: map[string]bool{}, vkinds: map[string]int{}}
	m.addBranch("main", "m/", []string{"m/", "f/"})
	return m
}

// keyNames is the key set of one branch under own: flat keys and nested
// ones, so that delimiter listings have common prefixes at two levels.
func keyNames(own string) []string {
	var ks []string
	for i := range 10 {
		ks = append(ks, fmt.Sprintf("%sk%02d", own, i))
	}
	for i := range 6 {
		ks = append(ks, fmt.Sprintf("%sd1/k%d", own, i))
	}
	for i := range 4 {
		ks = append(ks, fmt.Sprintf("%sd1/d2/k%d", own, i))
		ks = append(ks, fmt.Sprintf("%sd3/k%d", own, i))
	}
	return ks
}

func (m *Model) addBranch(name, own string, prefixes []string) *Branch {
	bucket := m.Repo
	if name != "main" {
		bucket = name + "." + m.Repo
	}
	b := &Branch{Name: name, Bucket: bucket, own: own, prefixes: prefixes, keys: keyNames(own), model: map[string]*keyModel{}}
	m.mu.Lock()
	m.branches = append(m.branches, b)
	m.byName[name] = b
	m.mu.Unlock()
	return b
}

// AddFeature adds feature branch name (made from main): its writers write
// under f/NAME/, which main never writes, so merging it into main never
// conflicts and main's f/NAME/ equals the branch's once merged.
func (m *Model) AddFeature(name string) *Branch {
	own := "f/" + name + "/"
	return m.addBranch(name, own, []string{own})
}

// Branches returns every branch, in creation order.
func (m *Model) Branches() []*Branch {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Branch(nil), m.branches...)
}

// Branch returns the branch called name, or nil.
func (m *Model) Branch(name string) *Branch {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byName[name]
}

// active returns the branches that take writes.
func (m *Model) active() []*Branch {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Branch
	for _, b := range m.branches {
		if !b.frozen {
			out = append(out, b)
		}
	}
	return out
}

// pick chooses a branch for an operation: main half the time (while it
// takes writes); nil when no branch takes writes.
func (m *Model) pick(rng *rand.Rand) *Branch {
	act := m.active()
	switch {
	case len(act) == 0:
		return nil
	case act[0].Name != "main":
		return act[rng.IntN(len(act))]
	case len(act) == 1 || rng.IntN(2) == 0:
		return act[0]
	}
	return act[1+rng.IntN(len(act)-1)]
}

// setFrozen stops (or resumes) writes to b: it waits for b's writes in
// flight.
func (m *Model) setFrozen(b *Branch, frozen bool) {
	b.mu.Lock()
	m.mu.Lock()
	b.frozen = frozen
	m.mu.Unlock()
	b.mu.Unlock()
}

// begin records an attempted write and takes its start sequence.
func (m *Model) begin(b *Branch, op, key string, del bool, sha string, size int64) *write {
	w := &write{op: op, branch: b, key: key, del: del, sha: sha, size: size}
	m.mu.Lock()
	if !del {
		s := m.shas[key]
		if s == nil {
			s = map[string]bool{}
			m.shas[key] = s
		}
		s[sha] = true
	}
	km := b.model[key]
	if km == nil {
		km = &keyModel{}
		b.model[key] = km
	}
	km.since = append(km.since, w)
	w.start = m.seq.Add(1)
	m.mu.Unlock()
	return w
}

// end records the answer of a write: its version id when acknowledged,
// else the error, which says whether the server answered (failed) or the
// connection was cut (unknown).
func (m *Model) end(w *write, version string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.end = m.seq.Add(1)
	switch {
	case err == nil && version != "":
		w.out, w.version = acked, version
		m.ackedAt[w.key+"\x00"+version] = w
		w.branch.acks = append(w.branch.acks, w)
		if !w.del {
			w.branch.puts = append(w.branch.puts, w)
		}
		m.nacked++
	case err == nil:
		w.out = failed
		m.violation("PROTOCOL", "%s %s on %s answered 2xx without a version id", w.op, w.key, w.branch.Name)
	case answered(err):
		w.out = failed
	default:
		w.out = unknown
		m.ncut++
		if w.del {
			m.cutDel[w.key] = true
		} else {
			m.cutPut[w.key] = true
		}
	}
}

// randomPut returns an acknowledged non-delete write on b, or nil.
func (m *Model) randomPut(b *Branch, rng *rand.Rand) *write {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(b.puts) == 0 {
		return nil
	}
	return b.puts[rng.IntN(len(b.puts))]
}

// knownSHA: some write of key sent a body with this SHA-256.
func (m *Model) knownSHA(key, sha string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shas[key][sha]
}

// candidates are the states a key may be in at a quiescent point: each
// acknowledged or cut write since the pin that no acknowledged write
// started after it ended, and the pinned state when no acknowledged write
// came since. A cut write is never overtaken (the server may have applied
// it after its client gave up).
func candidates(km *keyModel) []state {
	var lastAckStart uint64
	anyAck := false
	for _, w := range km.since {
		if w.out == acked {
			anyAck = true
			lastAckStart = max(lastAckStart, w.start)
		}
	}
	var out []state
	if !anyAck {
		out = append(out, km.pinned)
	}
	for _, w := range km.since {
		switch {
		case w.out == unknown:
		case w.out == acked && w.end > lastAckStart:
		default:
			continue
		}
		s := state{present: !w.del, sha: w.sha}
		if w.out == acked && !w.del {
			s.version = w.version
		}
		out = append(out, s)
	}
	return out
}

// matches: the observed state is the candidate.
func matches(obs, c state) bool {
	if obs.present != c.present {
		return false
	}
	if !obs.present {
		return true
	}
	return obs.sha == c.sha && (c.version == "" || obs.version == c.version)
}

// violation records a broken invariant: kind is LOST, CORRUPT, PHANTOM,
// STATE, LIST, PROTOCOL or ERROR.
func (m *Model) violation(kind, format string, args ...any) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	m.vkinds[kind]++
	if len(m.violations) < 200 {
		m.violations = append(m.violations, kind+": "+fmt.Sprintf(format, args...))
	}
}

// Violations returns the recorded violations (at most 200) and the count
// by kind.
func (m *Model) Violations() ([]string, map[string]int) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	k := map[string]int{}
	for a, b := range m.vkinds {
		k[a] = b
	}
	return append([]string(nil), m.violations...), k
}

// answered: err is an HTTP answer of the server (not a cut connection).
func answered(err error) bool {
	var re *smithyhttp.ResponseError
	var me minio.ErrorResponse
	return (errors.As(err, &re) && re.HTTPStatusCode() > 0) || (errors.As(err, &me) && me.StatusCode > 0)
}

// errCode names an error for the report: its S3 code (or HTTP status), or
// "cut" for a transport error.
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "" {
		return ae.ErrorCode()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		return fmt.Sprint(re.HTTPStatusCode())
	}
	var me minio.ErrorResponse
	if errors.As(err, &me) && me.Code != "" {
		return me.Code
	}
	var ae2 *apiError
	if errors.As(err, &ae2) {
		return ae2.Code
	}
	return "cut"
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// under: key is under one of the prefixes.
func under(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
