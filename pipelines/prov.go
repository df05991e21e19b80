package pipelines

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
)

// MaxUserMeta is S3's bound on an object's user metadata: the sum of the
// lengths of every x-amz-meta-* name (without the prefix) and value is at
// most 2 KiB. An output's generated tusk-* metadata, with what the object
// stored of its own, stays within it.
const MaxUserMeta = 2048

// ProvMeta returns the user metadata (names without "x-amz-meta-") that
// GetObject and HeadObject of an output answer with, generated from its
// provenance record: tusk-pipeline (name@version), tusk-job, tusk-prov
// (the record id) and tusk-inputs, one element per input object, comma
// separated (SPEC §8):
//
//	repo@commit:key?versionId=V&sha256=H
//
// commit is the input commit the job read, key is percent-encoded
// (PercentEncode: ",", "?", "&", "=" and ":" in a key are escaped), V is
// the S3 version id of the key's version read (GetObject with versionId V
// returns its bytes) and H their SHA-256 in hex. A record written before
// versions were kept lacks "versionId=V&"; one without a content hash
// lacks the "?..." part.
//
// other is the rest of the object's user metadata (stored, nil: none).
// When the list would take the whole user metadata past MaxUserMeta (a
// datum with many inputs, "/" over a commit), tusk-inputs is
// "count=N; prov=ID" instead: the admin API (GET /api/v1/prov/ID, tusk
// prov) lists every input.
func ProvMeta(rec *meta.ProvRecord, other map[string]string) map[string]string {
	m := map[string]string{
		"tusk-pipeline": rec.Pipeline + "@" + strconv.Itoa(rec.Version),
		"tusk-job":      rec.Job,
		"tusk-prov":     rec.ID,
	}
	budget := MaxUserMeta - len("tusk-inputs")
	for k, v := range m {
		budget -= len(k) + len(v)
	}
	for k, v := range other {
		if _, gen := m[k]; !gen && k != "tusk-inputs" {
			budget -= len(k) + len(v)
		}
	}
	var b strings.Builder
	for i, in := range rec.Inputs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(InputRef(in))
		if b.Len() > budget {
			break
		}
	}
	if b.Len() > budget {
		m["tusk-inputs"] = InputsSummary(rec)
	} else {
		m["tusk-inputs"] = b.String()
	}
	return m
}

// InputsSummary is tusk-inputs when the list is not shown: the count of
// inputs and the record id to ask the admin API with.
func InputsSummary(rec *meta.ProvRecord) string {
	return fmt.Sprintf("count=%d; prov=%s", len(rec.Inputs), rec.ID)
}

// InputRef is one element of tusk-inputs: repo@commit[:key[?versionId=V&sha256=H]]
// (see ProvMeta).
func InputRef(in meta.ProvInput) string {
	s := in.Repo + "@" + in.Commit
	if in.Key == "" {
		return s
	}
	s += ":" + PercentEncode(in.Key)
	switch {
	case in.Version != "" && in.Content != "":
		s += "?versionId=" + PercentEncode(in.Version) + "&sha256=" + in.Content
	case in.Version != "":
		s += "?versionId=" + PercentEncode(in.Version)
	case in.Content != "":
		s += "?sha256=" + in.Content
	}
	return s
}

// ParseInputRef parses one element of tusk-inputs (InputRef's form) into
// repo, commit, key (decoded), version and content; Invalid when it is
// not of that form.
func ParseInputRef(s string) (meta.ProvInput, error) {
	var in meta.ProvInput
	bad := func() (meta.ProvInput, error) {
		return meta.ProvInput{}, errs.E("pipelines.ParseInputRef", errs.Invalid, "%q is not repo@commit[:key[?versionId=V&sha256=H]]", s)
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return bad()
	}
	in.Repo, s = s[:at], s[at+1:]
	rest := ""
	if i := strings.IndexByte(s, ':'); i >= 0 {
		in.Commit, rest = s[:i], s[i+1:]
	} else {
		in.Commit = s
	}
	if in.Commit == "" {
		return bad()
	}
	if rest == "" {
		return in, nil
	}
	q := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, q = rest[:i], rest[i+1:]
	}
	key, err := url.PathUnescape(rest)
	if err != nil || key == "" {
		return bad()
	}
	in.Key = key
	if q != "" {
		for _, kv := range strings.Split(q, "&") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return bad()
			}
			switch k {
			case "versionId":
				if in.Version, err = url.PathUnescape(v); err != nil {
					return bad()
				}
			case "sha256":
				in.Content = v
			default:
				return bad()
			}
		}
	}
	return in, nil
}

// PercentEncode escapes every byte of s but A-Z a-z 0-9 - . _ ~ and /.
func PercentEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// ProvNode is an object in a provenance graph.
type ProvNode struct {
	Repo    string `json:"repo"`
	Commit  string `json:"commit"` // the commit read (upstream) or that first held the output (downstream)
	Key     string `json:"key"`
	Content string `json:"content,omitempty"`
	Size    int64  `json:"size"`
	// Version is the S3 version id of this version of the key (the commit
	// that wrote it, or "null"): GetObject with versionId reads it. On an
	// input, the version the datum read (from its provenance record).
	Version string `json:"version,omitempty"`
	// Pipeline (name@version), Job, Datum and Prov are set on outputs.
	Pipeline string `json:"pipeline,omitempty"`
	Job      string `json:"job,omitempty"`
	Datum    string `json:"datum,omitempty"`
	Prov     string `json:"prov,omitempty"`
	// Missing says why the object could not be read (deleted, purged,
	// its commit collected, no permission).
	Missing string `json:"missing,omitempty"`
	// Repeat marks an object already shown elsewhere in this graph.
	Repeat bool `json:"repeat,omitempty"`
	// Inputs (upstream) or Outputs (downstream).
	Inputs  []*ProvNode `json:"inputs,omitempty"`
	Outputs []*ProvNode `json:"outputs,omitempty"`
}

// ProvLimits bound a provenance walk.
const (
	maxProvDepth = 64
	maxProvNodes = 20000
)

// ReadCheck says whether the caller may read repo (nil: everything).
type ReadCheck func(repo string) bool

// Upstream returns what made the object key of repo at ref, transitively
// to raw inputs (objects no pipeline wrote).
func Upstream(ctx context.Context, ms *meta.Store, repo, ref, key string, canRead ReadCheck) (*ProvNode, error) {
	w, n, e, err := startProv(ctx, ms, repo, ref, key, canRead)
	if err != nil {
		return nil, err
	}
	if err := w.up(n, e, 0); err != nil {
		return nil, err
	}
	return n, nil
}

// startProv starts a walk from the object key of repo at ref: the walk,
// its root node (filled from the object's entry) and that entry.
func startProv(ctx context.Context, ms *meta.Store, repo, ref, key string, canRead ReadCheck) (*provWalk, *ProvNode, *meta.Entry, error) {
	r, err := ms.Resolve(ctx, repo, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	e, err := ms.Get(ctx, r.Root(), key)
	if err != nil {
		return nil, nil, nil, err
	}
	w := &provWalk{ctx: ctx, ms: ms, seen: map[string]bool{}, canRead: canRead}
	n := &ProvNode{Repo: repo, Commit: r.CommitID(), Key: key}
	w.fill(n, e)
	return w, n, e, nil
}

type provWalk struct {
	ctx     context.Context
	ms      *meta.Store
	seen    map[string]bool
	nodes   int
	canRead ReadCheck
}

func (w *provWalk) fill(n *ProvNode, e *meta.Entry) {
	n.Content, n.Size, n.Version, n.Prov = e.Content, e.Size, e.VersionID(), e.Prov
}

func (w *provWalk) up(n *ProvNode, e *meta.Entry, depth int) error {
	if e.Prov == "" {
		return nil
	}
	rec, err := w.ms.GetProv(w.ctx, e.Prov)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			n.Missing = "its provenance record " + e.Prov + " is gone"
			return nil
		}
		return err
	}
	n.Pipeline, n.Job, n.Datum = rec.Pipeline+"@"+strconv.Itoa(rec.Version), rec.Job, rec.Datum
	if depth >= maxProvDepth {
		return nil
	}
	for _, in := range rec.Inputs {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		c := &ProvNode{Repo: in.Repo, Commit: in.Commit, Key: in.Key, Version: in.Version, Content: in.Content, Size: in.Size}
		n.Inputs = append(n.Inputs, c)
		w.nodes++
		if w.canRead != nil && !w.canRead(in.Repo) {
			c.Key, c.Version, c.Content, c.Missing = "", "", "", "no read permission on repo "+in.Repo
			continue
		}
		id := in.Repo + "@" + in.Commit + ":" + in.Key
		if w.seen[id] || w.nodes > maxProvNodes {
			c.Repeat = true
			continue
		}
		w.seen[id] = true
		r, err := w.ms.Resolve(w.ctx, in.Repo, in.Commit)
		if err != nil {
			c.Missing = "commit " + in.Commit + " of repo " + in.Repo + " is gone"
			continue
		}
		ie, err := w.ms.Get(w.ctx, r.Root(), in.Key)
		if err != nil {
			c.Missing = "the key is not at that commit any more (purged?)"
			continue
		}
		w.fill(c, ie)
		if err := w.up(c, ie, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Downstream returns every object, in every repo, derived from the object
// key of repo at ref: the outputs of every datum that read it, and theirs,
// transitively.
func Downstream(ctx context.Context, ms *meta.Store, repo, ref, key string, canRead ReadCheck) (*ProvNode, error) {
	w, n, e, err := startProv(ctx, ms, repo, ref, key, canRead)
	if err != nil {
		return nil, err
	}
	if e.Prov != "" {
		if rec, err := ms.GetProv(ctx, e.Prov); err == nil {
			n.Pipeline, n.Job, n.Datum = rec.Pipeline+"@"+strconv.Itoa(rec.Version), rec.Job, rec.Datum
		}
	}
	if err := w.down(n, 0); err != nil {
		return nil, err
	}
	return n, nil
}

func (w *provWalk) down(n *ProvNode, depth int) error {
	if depth >= maxProvDepth {
		return nil
	}
	recs, err := w.ms.ProvDownstream(w.ctx, n.Repo, n.Key, n.Content)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if w.canRead != nil && !w.canRead(rec.Repo) {
			continue
		}
		for _, o := range rec.Outputs {
			if err := w.ctx.Err(); err != nil {
				return err
			}
			c := &ProvNode{Repo: rec.Repo, Commit: rec.Commit, Key: o.Key, Content: o.Content, Size: o.Size,
				Pipeline: rec.Pipeline + "@" + strconv.Itoa(rec.Version), Job: rec.Job, Datum: rec.Datum, Prov: rec.ID}
			n.Outputs = append(n.Outputs, c)
			w.nodes++
			id := rec.Repo + ":" + o.Key + ":" + o.Content
			if w.seen[id] || w.nodes > maxProvNodes {
				c.Repeat = true
				continue
			}
			w.seen[id] = true
			if err := w.down(c, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flatten lists the nodes of a provenance graph below n, depth first,
// with their depth (1 = n's direct inputs or outputs).
func Flatten(n *ProvNode) []FlatNode {
	var out []FlatNode
	var walk func(n *ProvNode, d int)
	walk = func(n *ProvNode, d int) {
		for _, c := range append(append([]*ProvNode{}, n.Inputs...), n.Outputs...) {
			out = append(out, FlatNode{Depth: d, Node: c})
			walk(c, d+1)
		}
	}
	walk(n, 1)
	return out
}

// FlatNode is a node with its depth.
type FlatNode struct {
	Depth int
	Node  *ProvNode
}
