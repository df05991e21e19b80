package meta

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta/kv"
)

// The audit log: one record per admin action or purge under
// pAudit + <UTC time, ns>/<random id>, so that keys order by time and a
// time range or a cursor is a seek. Entries are appended and never
// changed; PruneAudit deletes those older than the retention.

// AuditEntry is one line of the audit log: who (User, Key), what (Action,
// Repo, Target, Detail: parameters, never secrets), when (Time), how it
// ended (Result, Code, Error) and the request (RequestID).
type AuditEntry struct {
	Time   time.Time `json:"time"`
	User   string    `json:"user"`
	Key    string    `json:"access_key,omitempty"`
	Action string    `json:"action"`
	// Repo is the repo the action concerns ("" for users, keys, gc and
	// every-repo purges): a repo admin reads the entries of its repos.
	Repo   string `json:"repo,omitempty"`
	Target string `json:"target"`
	Detail string `json:"detail,omitempty"`
	// Result is "ok" or "failed" ("" in entries written before results
	// were recorded: they were all successes). Code and Error say why a
	// failed action failed (the API's error code and message).
	Result    string `json:"result,omitempty"`
	Code      string `json:"code,omitempty"`
	Error     string `json:"error,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Audit results.
const (
	AuditOK     = "ok"
	AuditFailed = "failed"
)

// auditTimeFormat is the key's time: fixed width, so keys sort by time.
const auditTimeFormat = "20060102T150405.000000000Z"

// auditCursorRe is the form of a cursor (an entry's key without pAudit).
var auditCursorRe = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z/[0-9a-f]{8}$`)

func auditKey(t time.Time, id string) string {
	return pAudit + t.UTC().Format(auditTimeFormat) + "/" + id
}

// auditTimeKey is the first key at or after t.
func auditTimeKey(t time.Time) string { return pAudit + t.UTC().Format(auditTimeFormat) }

func (w *wtx) audit(e AuditEntry) error {
	if e.Result == "" {
		e.Result = AuditOK
	}
	return kv.PutJSON(w.txn, auditKey(e.Time, NewID()[:8]), e)
}

// auditCallerKey carries an AuditCaller in a context.
type auditCallerKey struct{}

// AuditCaller is who made a request, for audit entries written deeper in
// the call (a purge's): the access key and the request id.
type AuditCaller struct {
	Key, RequestID string
}

// WithAuditCaller returns ctx carrying c: Audit fills an entry's Key and
// RequestID from it when they are empty.
func WithAuditCaller(ctx context.Context, c AuditCaller) context.Context {
	return context.WithValue(ctx, auditCallerKey{}, c)
}

// Audit appends an entry to the audit log (Time: now when zero; Result:
// ok when empty; Key and RequestID from the context's AuditCaller when
// empty). Errors: the store's (Transient when it is closing).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if c, ok := ctx.Value(auditCallerKey{}).(AuditCaller); ok {
		if e.Key == "" {
			e.Key = c.Key
		}
		if e.RequestID == "" {
			e.RequestID = c.RequestID
		}
	}
	return s.update(ctx, func(w *wtx) error {
		if e.Time.IsZero() {
			e.Time = w.now
		}
		return w.audit(e)
	})
}

// AuditLog lists the whole audit log, oldest first (tests and small
// logs; AuditPage pages through it).
func (s *Store) AuditLog(ctx context.Context) ([]AuditEntry, error) {
	return listJSON[AuditEntry](s, pAudit)
}

// AuditQuery selects a page of the audit log.
type AuditQuery struct {
	// Since and Until bound the entries' times: Since <= time < Until
	// (zero: unbounded).
	Since, Until time.Time
	// User, Repo: only entries of that user, of that repo ("": any).
	User, Repo string
	// Action: only that action ("purge") or group ("branch" matches
	// "branch.create"; "purge" also matches "purge.report").
	Action string
	// Result: only entries with that result (AuditOK or AuditFailed; "":
	// any).
	Result string
	// Cursor continues a previous page: the page starts after the entry
	// it names (before it when Newest).
	Cursor string
	// Newest lists newest first (default: oldest first).
	Newest bool
	// Limit is the page size (> 0).
	Limit int
}

// AuditPage returns the entries q selects, at most q.Limit, and the
// cursor of the next page: "" when the page ends the log; otherwise it
// is the last entry's, and the next page may be empty. Cost: the entries
// in the time range up to the page's last, filtered one by one.
// Invalid for a malformed cursor or a Limit below 1.
func (s *Store) AuditPage(ctx context.Context, q AuditQuery) ([]AuditEntry, string, error) {
	if q.Limit < 1 {
		return nil, "", errs.E("meta.AuditPage", errs.Invalid, "limit must be at least 1")
	}
	if q.Cursor != "" && !auditCursorRe.MatchString(q.Cursor) {
		return nil, "", errs.E("meta.AuditPage", errs.Invalid, "malformed audit cursor %q: pass the next value of the previous answer", q.Cursor)
	}
	// lo <= key < hi
	lo, hi := pAudit, string(kv.PrefixEnd([]byte(pAudit)))
	if !q.Since.IsZero() {
		lo = max(lo, auditTimeKey(q.Since))
	}
	if !q.Until.IsZero() {
		hi = min(hi, auditTimeKey(q.Until))
	}
	if q.Cursor != "" {
		c := pAudit + q.Cursor
		if q.Newest {
			hi = min(hi, c)
		} else {
			lo = max(lo, c+"\x00")
		}
	}
	out := []AuditEntry{}
	next := ""
	if lo >= hi {
		return out, "", nil
	}
	err := s.view(func(txn kv.Reader) error {
		o := kv.IterOptions{Prefix: []byte(pAudit), Start: []byte(lo), Reverse: q.Newest}
		if q.Newest {
			// The last key < hi: hi itself is excluded below.
			o.Start = []byte(hi)
		}
		it := txn.Iter(o)
		defer it.Close()
		for ; it.Valid(); it.Next() {
			k := string(it.Key())
			if k < lo || k >= hi {
				if q.Newest && k >= hi {
					continue // Seek landed on hi itself
				}
				break
			}
			if err := ctx.Err(); err != nil {
				return errs.Wrap("meta.AuditPage", errs.Transient, err)
			}
			var e AuditEntry
			v, err := it.Value()
			if err != nil {
				return err
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return errs.Wrap("meta.AuditPage", errs.Internal, err)
			}
			if !q.matches(&e) {
				continue
			}
			if e.Result == "" {
				e.Result = AuditOK
			}
			out = append(out, e)
			if len(out) == q.Limit {
				next = k[len(pAudit):]
				break
			}
		}
		return it.Err()
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func (q *AuditQuery) matches(e *AuditEntry) bool {
	if q.User != "" && e.User != q.User {
		return false
	}
	if q.Repo != "" && e.Repo != q.Repo {
		return false
	}
	if q.Result != "" && q.Result != e.Result && !(q.Result == AuditOK && e.Result == "") {
		return false
	}
	return q.Action == "" || e.Action == q.Action || strings.HasPrefix(e.Action, q.Action+".")
}

// pruneBatch bounds the deletions of one PruneAudit transaction.
const pruneBatch = 1000

// PruneAudit deletes the audit entries older than before, in
// transactions of at most pruneBatch deletions, and reports how many it
// deleted. Entries are deleted oldest first, so a pruning cut short
// leaves no gap. Cost: O(deleted entries).
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	hi := auditTimeKey(before)
	total := 0
	for {
		var keys [][]byte
		err := s.view(func(txn kv.Reader) error {
			it := txn.Iter(kv.IterOptions{Prefix: []byte(pAudit), KeysOnly: true})
			defer it.Close()
			for ; it.Valid() && len(keys) < pruneBatch; it.Next() {
				if string(it.Key()) >= hi {
					break
				}
				keys = append(keys, append([]byte(nil), it.Key()...))
			}
			return it.Err()
		})
		if err != nil || len(keys) == 0 {
			return total, err
		}
		err = s.update(ctx, func(w *wtx) error {
			for _, k := range keys {
				if err := w.txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(keys)
		if len(keys) < pruneBatch {
			return total, nil
		}
	}
}
