package meta

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta/kv"
)

// Provenance records (SPEC §8). A pipeline output entry names its record in
// Entry.Prov; the record says which datum of which job of which pipeline
// version wrote it, from exactly which input objects. A job's output commit
// also has a record (ID = the job id, no datum) naming its input commits.
//
// Records live under their own prefix, beside three indexes:
//
//	pv/r/<id>                                    the record (JSON)
//	pv/c/<repo>/<commit>/<id>                    a commit the record names: a GC root
//	pv/d/<repo> 0 <key> 0 <content> 0 <id>       downstream index: the record used this input object
//
// Records are immutable. GC keeps every commit a record names (see GC).
const (
	pProv     = "pv/r/"
	pProvRoot = "pv/c/"
	pProvDown = "pv/d/"
)

// ProvInput is one input object of a datum (Key "" in a job record: the
// whole input commit).
type ProvInput struct {
	// Name is the input's name in the pipeline spec.
	Name   string `json:"name,omitempty"`
	Repo   string `json:"repo"`
	Branch string `json:"branch,omitempty"`
	// Commit is the input commit the job read (the branch head it took):
	// Key's version there is Version.
	Commit string `json:"commit"`
	Key    string `json:"key,omitempty"`
	// Version is the S3 version id of the key's version read
	// (Entry.VersionID: the commit that wrote it, or "null"), as
	// ListObjectVersions shows it and GetObject with versionId reads it;
	// "" for a job record's whole-commit input and in records written
	// before it was kept.
	Version string `json:"version,omitempty"`
	// Content is the SHA-256 (hex) of the bytes: the blob's content
	// address.
	Content string `json:"content,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

// ProvOutput is one output object a datum wrote.
type ProvOutput struct {
	Key     string `json:"key"`
	Content string `json:"content"`
	Size    int64  `json:"size,omitempty"`
}

// ProvRecord is the provenance of a datum's outputs (or, with Datum "",
// of a job's output commit).
type ProvRecord struct {
	ID       string `json:"id"`
	Pipeline string `json:"pipeline"`
	Version  int    `json:"version"`
	Job      string `json:"job"`
	Datum    string `json:"datum,omitempty"`
	// Repo, Branch and Commit name the output commit that first held the
	// outputs (the job's commit).
	Repo    string       `json:"repo"`
	Branch  string       `json:"branch,omitempty"`
	Commit  string       `json:"commit"`
	Inputs  []ProvInput  `json:"inputs"`
	Outputs []ProvOutput `json:"outputs,omitempty"`
	Time    time.Time    `json:"time"`
}

func provDownKey(repo, key, content, id string) []byte {
	b := make([]byte, 0, len(pProvDown)+len(repo)+len(key)+len(content)+len(id)+3)
	b = append(b, pProvDown...)
	b = append(b, repo...)
	b = append(b, 0)
	b = append(b, key...)
	b = append(b, 0)
	b = append(b, content...)
	b = append(b, 0)
	return append(b, id...)
}

// maxProvIndexInTxn bounds the downstream index entries a record writes
// in the transaction that stores it; a record with more inputs (a "/"
// datum over a large commit) has them written first, in their own
// transactions (entries without their record are ignored by readers).
const maxProvIndexInTxn = 4096

// preIndex writes the downstream index entries of records too large for
// one transaction.
func (s *Store) preIndex(ctx context.Context, recs []*ProvRecord) error {
	for _, r := range recs {
		if len(r.Inputs) <= maxProvIndexInTxn {
			continue
		}
		ins := r.Inputs
		for len(ins) > 0 {
			n := min(len(ins), maxProvIndexInTxn)
			batch := ins[:n]
			ins = ins[n:]
			if err := s.update(ctx, func(w *wtx) error {
				for _, in := range batch {
					if in.Key != "" {
						if err := w.txn.Set(provDownKey(in.Repo, in.Key, in.Content, r.ID), nil); err != nil {
							return err
						}
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// putProvTx stores rec and its indexes.
func putProvTx(txn kv.ReadWriter, rec *ProvRecord) error {
	if rec.ID == "" || strings.ContainsAny(rec.ID, "/\x00") {
		return errs.E("meta.putProv", errs.Invalid, "bad provenance record id %q", rec.ID)
	}
	if err := kv.PutJSON(txn, pProv+rec.ID, rec); err != nil {
		return err
	}
	seen := map[string]bool{}
	root := func(repo, commit string) error {
		if repo == "" || commit == "" || seen[repo+"/"+commit] {
			return nil
		}
		seen[repo+"/"+commit] = true
		return txn.Set([]byte(pProvRoot+repo+"/"+commit+"/"+rec.ID), nil)
	}
	if err := root(rec.Repo, rec.Commit); err != nil {
		return err
	}
	for _, in := range rec.Inputs {
		if err := root(in.Repo, in.Commit); err != nil {
			return err
		}
		if in.Key != "" && len(rec.Inputs) <= maxProvIndexInTxn {
			if err := txn.Set(provDownKey(in.Repo, in.Key, in.Content, rec.ID), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// provKeys returns every key of a record: its own, its GC roots, its
// downstream index entries.
func provKeys(rec *ProvRecord) [][]byte {
	keys := [][]byte{[]byte(pProv + rec.ID), []byte(pProvRoot + rec.Repo + "/" + rec.Commit + "/" + rec.ID)}
	for _, in := range rec.Inputs {
		keys = append(keys, []byte(pProvRoot+in.Repo+"/"+in.Commit+"/"+rec.ID))
		if in.Key != "" {
			keys = append(keys, provDownKey(in.Repo, in.Key, in.Content, rec.ID))
		}
	}
	return keys
}

// WriteOutputs applies req (a write into an open commit, or a System write
// to a branch) and stores the provenance records recs, all in one durable
// transaction: either everything is written or nothing. The entries of
// req.Changes name their record in Entry.Prov. Records.WriteOutputs also
// writes the caller's own records in the same transaction.
func (s *Store) WriteOutputs(ctx context.Context, req WriteRequest, recs []*ProvRecord) (*WriteResult, error) {
	return s.writeOutputs(ctx, req, recs, nil)
}

func (s *Store) writeOutputs(ctx context.Context, req WriteRequest, recs []*ProvRecord, extra func(w *wtx) error) (*WriteResult, error) {
	for _, c := range req.Changes {
		if err := names.ValidKey(c.Key); err != nil {
			return nil, err
		}
	}
	if err := s.preIndex(ctx, recs); err != nil {
		return nil, err
	}
	var res *WriteResult
	err := s.update(ctx, func(w *wtx) error {
		var err error
		switch {
		case len(req.Changes) == 0:
			res = &WriteResult{}
		case req.Open != "":
			res, err = w.writeOpen(req)
		default:
			res, err = w.writeBranch(req)
		}
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Time.IsZero() {
				r.Time = w.now
			}
			if err := putProvTx(w.txn, r); err != nil {
				return err
			}
		}
		if extra != nil {
			return extra(w)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// PutProv stores provenance records (and their indexes) durably.
func (s *Store) PutProv(ctx context.Context, recs ...*ProvRecord) error {
	if err := s.preIndex(ctx, recs); err != nil {
		return err
	}
	return s.update(ctx, func(w *wtx) error {
		for _, r := range recs {
			if r.Time.IsZero() {
				r.Time = w.now
			}
			if err := putProvTx(w.txn, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteProv deletes provenance records (of a failed job, whose outputs
// were never committed) with their indexes, in bounded transactions (a
// record's own key goes last). Absent ids are ignored.
func (s *Store) DeleteProv(ctx context.Context, ids []string) error {
	var keys [][]byte
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		batch := keys
		keys = nil
		return s.update(ctx, func(w *wtx) error {
			for _, k := range batch {
				if err := w.txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, id := range ids {
		rec, err := s.GetProv(ctx, id)
		if errs.Is(err, errs.NotExist) {
			continue
		}
		if err != nil {
			return err
		}
		ks := provKeys(rec)
		// Indexes first, the record last: a crash midway leaves a record
		// whose deletion can be redone.
		ks = append(ks[1:], ks[0])
		for _, k := range ks {
			keys = append(keys, k)
			if len(keys) >= maxProvIndexInTxn {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// GetProv returns a provenance record; NotExist when absent.
func (s *Store) GetProv(ctx context.Context, id string) (*ProvRecord, error) {
	var rec ProvRecord
	err := s.view(func(txn kv.Reader) error { return getJSON(txn, pProv+id, &rec) })
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			return nil, errs.E("meta.GetProv", errs.NotExist, "provenance record %q does not exist", id)
		}
		return nil, err
	}
	return &rec, nil
}

// ProvDownstream returns the records that used input object (repo, key,
// content) — one per datum that read it — in id order. O(log n + answers).
func (s *Store) ProvDownstream(ctx context.Context, repo, key, content string) ([]*ProvRecord, error) {
	prefix := provDownKey(repo, key, content, "")
	var ids []string
	err := s.view(func(txn kv.Reader) error {
		it := txn.Iter(kv.IterOptions{Prefix: prefix})
		defer it.Close()
		for ; it.Valid(); it.Next() {
			ids = append(ids, string(it.Key()[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*ProvRecord, 0, len(ids))
	for _, id := range ids {
		if err := ctxErr(ctx, "meta.ProvDownstream"); err != nil {
			return nil, err
		}
		r, err := s.GetProv(ctx, id)
		if err != nil {
			if errs.Is(err, errs.NotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// provRoots calls add for every commit that a provenance record names:
// those commits are GC roots (SPEC §6). O(record-commit pairs), keys only.
func (s *Store) provRoots(ctx context.Context, txn kv.Reader, add func(repo, id string)) error {
	it := txn.Iter(kv.IterOptions{Prefix: []byte(pProvRoot)})
	defer it.Close()
	var last []byte
	for ; it.Valid(); it.Next() {
		if err := ctxErr(ctx, "meta.GC"); err != nil {
			return err
		}
		k := it.Key()[len(pProvRoot):]
		i := bytes.LastIndexByte(k, '/')
		if i < 0 {
			continue
		}
		rc := k[:i] // repo/commit
		if bytes.Equal(rc, last) {
			continue
		}
		last = append(last[:0], rc...)
		j := bytes.IndexByte(rc, '/')
		if j < 0 {
			continue
		}
		add(string(rc[:j]), string(rc[j+1:]))
	}
	return nil
}

// SetBranchOutput marks branch of repo as the output of pipeline (""
// clears the mark): users may then not write to it (SPEC §3). A missing
// branch is created from main's head.
func (s *Store) SetBranchOutput(ctx context.Context, repo, branch, pipeline string) error {
	return s.update(ctx, func(w *wtx) error {
		if _, err := w.s.repoTx(w.txn, repo); err != nil {
			return err
		}
		br, err := w.s.branchTx(w.txn, repo, branch)
		if err != nil {
			if !errs.Is(err, errs.NotExist) {
				return err
			}
			if pipeline == "" {
				return nil
			}
			if err := names.ValidRef(branch); err != nil {
				return err
			}
			main, err := w.s.branchTx(w.txn, repo, "main")
			if err != nil {
				return err
			}
			return w.moveBranch(repo, &Branch{Name: branch, Output: pipeline}, main.Head, "create")
		}
		if br.Output == pipeline {
			return nil
		}
		if br.Output != "" && pipeline != "" {
			return errs.E("meta.SetBranchOutput", errs.Conflict, "branch %s of repo %s is already the output of pipeline %s", branch, repo, br.Output)
		}
		nb := *br
		nb.Output = pipeline
		return kv.PutJSON(w.txn, pBranch+repo+"/"+branch, &nb)
	})
}
