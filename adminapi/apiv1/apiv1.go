package apiv1

import "time"

// APIError is the body of every error answer of the admin API.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Conflicts lists the conflicting keys of a refused merge or revert.
	Conflicts []string `json:"conflicts,omitempty"`
	// Gate lists, for a merge refused by its destination's merge gate
	// (MergeGate), each required pipeline's state on the source.
	Gate      []GateInfo `json:"gate,omitempty"`
	RequestID string     `json:"request_id,omitempty"`
	// Status is the HTTP status (not sent; set by clients).
	Status int `json:"-"`
}

func (e *APIError) Error() string { return e.Message }

// VersionInfo answers GET /api/v1/version.
type VersionInfo struct {
	Version string `json:"version"`
}

// WhoAmI answers GET /api/v1/whoami.
type WhoAmI struct {
	User        string            `json:"user"`
	Admin       bool              `json:"admin"`
	CreateRepos bool              `json:"create_repos"`
	AccessKey   string            `json:"access_key,omitempty"`
	Perms       map[string]string `json:"perms,omitempty"`
}

// RepoInfo describes a repo.
type RepoInfo struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Public  bool      `json:"public"`
	// Owner is the user who created the repo (S3's bucket owner).
	Owner string `json:"owner"`
	// Permission is the caller's level on the repo: read, write or admin.
	Permission string `json:"permission"`
	// Objects and Size are the number of keys on main's head and the sum
	// of their sizes in bytes (GET /repos and GET /repos/{repo}; 0 in the
	// other answers). Cached per tree node: see docs/architecture.md.
	Objects int64 `json:"objects"`
	Size    int64 `json:"size"`
}

// RepoDeleted answers DELETE /repos/{repo}.
type RepoDeleted struct {
	Deleted string `json:"deleted"`
	// Stopped names the pipelines that read the repo and were stopped
	// (force); see docs/api.md.
	Stopped []string `json:"stopped,omitempty"`
}

// BranchInfo describes a branch.
type BranchInfo struct {
	Repo      string `json:"repo"`
	Name      string `json:"name"`
	Head      string `json:"head"`
	Protected bool   `json:"protected"`
	// Output names the pipeline writing the branch (read-only to users).
	Output string `json:"output,omitempty"`
	// RequiredPipelines (protected branches) must have succeeded on a
	// merge's source before it lands here (a merge gate).
	RequiredPipelines []string `json:"required_pipelines,omitempty"`
}

// GateInfo is a required pipeline's state on a merge's source: passed,
// running, failed, missing (no such pipeline) or none (not run on it).
type GateInfo struct {
	Pipeline string `json:"pipeline"`
	State    string `json:"state"`
	Job      string `json:"job,omitempty"`
	Commit   string `json:"commit,omitempty"` // the source commit the job read
	Reason   string `json:"reason,omitempty"`
}

// TagInfo describes a tag.
type TagInfo struct {
	Repo    string    `json:"repo"`
	Name    string    `json:"name"`
	Commit  string    `json:"commit"`
	Created time.Time `json:"created"`
}

// CommitInfo describes a commit.
type CommitInfo struct {
	ID      string            `json:"id"`
	Repo    string            `json:"repo"`
	Parents []string          `json:"parents"`
	Author  string            `json:"author"`
	Message string            `json:"message"`
	Time    time.Time         `json:"time"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// RefInfo is a resolved ref.
type RefInfo struct {
	Repo string `json:"repo"`
	Ref  string `json:"ref"`
	// Kind is branch, tag, commit or open-commit.
	Kind string `json:"kind"`
	// Commit is the commit the ref reads (an open commit's own id).
	Commit    string      `json:"commit"`
	Protected bool        `json:"protected,omitempty"`
	Info      *CommitInfo `json:"info,omitempty"` // nil for open commits
	// Bucket is the S3 bucket that addresses this ref.
	Bucket string `json:"bucket"`
}

// OpenCommitInfo describes an open commit.
type OpenCommitInfo struct {
	ID      string    `json:"id"`
	Repo    string    `json:"repo"`
	Branch  string    `json:"branch"`
	Base    string    `json:"base"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Started time.Time `json:"started"`
	// Bucket is the S3 bucket that writes into the open commit.
	Bucket string `json:"bucket"`
}

// LogResult answers GET /repos/{repo}/log.
type LogResult struct {
	Repo    string       `json:"repo"`
	Ref     string       `json:"ref"`
	Path    string       `json:"path,omitempty"`
	Commits []CommitInfo `json:"commits"`
}

// DiffEntry is one changed key: change is added, changed or removed; Size
// is the size at "to" (added, changed), OldSize the size at "from"
// (changed, removed).
type DiffEntry struct {
	Key     string `json:"key"`
	Change  string `json:"change"`
	Size    int64  `json:"size"`
	OldSize int64  `json:"old_size"`
}

// DiffResult answers GET /repos/{repo}/diff.
type DiffResult struct {
	Repo      string      `json:"repo"`
	From      string      `json:"from"`
	To        string      `json:"to"`
	FromID    string      `json:"from_commit"`
	ToID      string      `json:"to_commit"`
	Prefix    string      `json:"prefix,omitempty"`
	Entries   []DiffEntry `json:"entries"`
	Added     int         `json:"added"`
	Changed   int         `json:"changed"`
	Removed   int         `json:"removed"`
	Truncated bool        `json:"truncated"`
}

// MergeResult answers POST /repos/{repo}/merge.
type MergeResult struct {
	Repo        string `json:"repo"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Strategy    string `json:"strategy"`
	// Commit is the destination's new head (unchanged when up to date).
	Commit      string   `json:"commit"`
	FastForward bool     `json:"fast_forward"`
	UpToDate    bool     `json:"up_to_date"`
	Changed     int      `json:"changed"`
	Conflicts   []string `json:"conflicts,omitempty"`
	// Gate lists the destination's required pipelines, passed on the
	// merged commit.
	Gate []GateInfo `json:"gate,omitempty"`
}

// ObjectInfo is one object of a listing.
type ObjectInfo struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
	// Version is the commit that wrote this version of the key.
	Version     string `json:"version"`
	ContentType string `json:"content_type,omitempty"`
}

// ListResult answers GET /repos/{repo}/objects.
type ListResult struct {
	Repo      string       `json:"repo"`
	Ref       string       `json:"ref"`
	Commit    string       `json:"commit"`
	Prefix    string       `json:"prefix,omitempty"`
	Objects   []ObjectInfo `json:"objects"`
	Prefixes  []string     `json:"prefixes"`
	Truncated bool         `json:"truncated"`
	// Next is the "after" value of the next page.
	Next string `json:"next,omitempty"`
}

// UserInfo describes a user. Perms maps repo -> read, write or admin.
type UserInfo struct {
	Name  string            `json:"name"`
	Admin bool              `json:"admin"`
	Perms map[string]string `json:"perms"`
	// CreateRepos: the user may create repos (always true of admin users).
	CreateRepos bool      `json:"create_repos"`
	Created     time.Time `json:"created"`
	Keys        int       `json:"keys"`
}

// KeyInfo describes an access key (never its secret).
type KeyInfo struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Created time.Time `json:"created"`
}

// NewKey is a freshly made access key: the only time its secret is shown.
type NewKey struct {
	AccessKey string    `json:"access_key"`
	SecretKey string    `json:"secret_key"`
	User      string    `json:"user"`
	Created   time.Time `json:"created"`
}

// NewUser answers POST /users: the user and, unless asked not to, its first
// access key.
type NewUser struct {
	User UserInfo `json:"user"`
	Key  *NewKey  `json:"key,omitempty"`
}

// PermInfo answers perm grant and revoke.
type PermInfo struct {
	User       string `json:"user"`
	Repo       string `json:"repo"`
	Permission string `json:"permission"` // none, read, write, admin
}

// AuditResult answers GET /audit: a page of entries and, when the page
// is full, Next, the cursor of the next page (which may be empty).
type AuditResult struct {
	Entries []AuditEntry `json:"entries"`
	Next    string       `json:"next,omitempty"`
}

// AuditEntry is one entry of the audit log: who (user, access key), what
// (action, repo, target, detail), when, how it ended (result "ok" or
// "failed", with the error code and message) and the request id.
type AuditEntry struct {
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Key       string    `json:"access_key,omitempty"`
	Action    string    `json:"action"`
	Repo      string    `json:"repo,omitempty"`
	Target    string    `json:"target"`
	Detail    string    `json:"detail,omitempty"`
	Result    string    `json:"result,omitempty"`
	Code      string    `json:"code,omitempty"`
	Error     string    `json:"error,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
}

// GCResult answers POST /gc: what a garbage collection run did.
type GCResult struct {
	BlobsDeleted   int     `json:"blobs_deleted"`
	BlobsKept      int     `json:"blobs_kept"`
	BytesFreed     int64   `json:"bytes_freed"`
	CommitsDeleted int     `json:"commits_deleted"`
	CommitsKept    int     `json:"commits_kept"`
	NodesDeleted   int     `json:"nodes_deleted"`
	NodesKept      int     `json:"nodes_kept"`
	UploadsExpired int     `json:"uploads_expired"`
	AuditPruned    int     `json:"audit_pruned,omitempty"` // audit log entries older than the retention
	DryRun         bool    `json:"dry_run,omitempty"`
	TookSeconds    float64 `json:"took_seconds"`
}

// PurgeReport answers POST /purge and /repos/{repo}/purge: what a purge
// did.
type PurgeReport struct {
	Content string `json:"content"`
	Scope   string `json:"scope"` // a repo name, or "*"
	Block   bool   `json:"block,omitempty"`
	// Named is the version the caller named, when one was.
	Named *PurgeNamed `json:"named,omitempty"`
	// Removed lists the versions removed from branch views; Commits the
	// commits that removed them (one per branch).
	Removed     []PurgedVersion `json:"removed"`
	Commits     []PurgeCommit   `json:"commits"`
	OpenCommits int             `json:"open_commits,omitempty"`
	// BytesDeleted: the blob was deleted from the backing store. A purge of
	// one repo keeps bytes another repo still holds (BytesKept says why).
	BytesDeleted bool   `json:"bytes_deleted"`
	BytesKept    string `json:"bytes_kept,omitempty"`
	// Derived lists the pipeline outputs purged with it (provenance
	// downstream), each a purge of its own in its output repo.
	Derived []PurgeReport `json:"derived,omitempty"`
}

// PurgeNamed is the version a purge was asked for by name.
type PurgeNamed struct {
	Repo    string `json:"repo"`
	Ref     string `json:"ref"`
	Key     string `json:"key"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
}

// PurgedVersion is a version a purge removed from a branch's view.
type PurgedVersion struct {
	Repo    string `json:"repo"`
	Branch  string `json:"branch"`
	Key     string `json:"key"`
	Version string `json:"version"`
}

// PurgeCommit is the commit a purge made on a branch.
type PurgeCommit struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Commit string `json:"commit"`
}

// Request bodies (JSON; unknown fields are refused).
type (
	CreateRepoRequest struct {
		Name string `json:"name"`
	}
	SetPublicRequest struct {
		Public *bool `json:"public"`
	}
	CreateRefRequest struct {
		Name string `json:"name"`
		From string `json:"from"`
	}
	SetProtectedRequest struct {
		Protected *bool `json:"protected"`
		// RequiredPipelines, when sent with protected true, replaces the
		// pipelines a merge into the branch requires ([] clears them);
		// omitted keeps them. Unprotecting clears them.
		RequiredPipelines *[]string `json:"required_pipelines,omitempty"`
	}
	StartCommitRequest struct {
		Branch  string `json:"branch"`
		Message string `json:"message"`
	}
	FinishCommitRequest struct {
		Message string `json:"message"`
	}
	MergeRequest struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
		Strategy    string `json:"strategy"`
		Message     string `json:"message"`
		// Wait, when the destination's merge gate has not passed, waits for
		// the gate jobs (up to Timeout, a duration: default 10m, at most
		// 1h) and then merges or refuses.
		Wait    bool   `json:"wait,omitempty"`
		Timeout string `json:"timeout,omitempty"`
	}
	// RunGateRequest asks for a gate job: the pipeline on Branch (a branch,
	// tag or commit) of its input Repo ("" when it reads one repo only).
	RunGateRequest struct {
		Repo   string `json:"repo,omitempty"`
		Branch string `json:"branch"`
		// Force runs it again even if it already succeeded or failed on
		// the branch's head.
		Force bool `json:"force,omitempty"`
	}
	RevertRequest struct {
		Commit string `json:"commit"`
	}
	ResetRequest struct {
		Ref string `json:"ref"`
	}
	// PurgeRequest names what to purge: Content (a SHA-256), or a version
	// (Repo for POST /purge, Ref, Key, Version; Version "" = the one Ref
	// reads). Block (POST /purge only) refuses the bytes from then on.
	PurgeRequest struct {
		Repo    string `json:"repo,omitempty"`
		Ref     string `json:"ref,omitempty"`
		Key     string `json:"key,omitempty"`
		Version string `json:"version,omitempty"`
		Content string `json:"content,omitempty"`
		Block   bool   `json:"block,omitempty"`
	}
	CreateUserRequest struct {
		Name  string `json:"name"`
		Admin bool   `json:"admin"`
		NoKey bool   `json:"no_key"`
		// CreateRepos lets the (non-admin) user create repos.
		CreateRepos bool `json:"create_repos"`
	}
	SetCreateReposRequest struct {
		CreateRepos *bool `json:"create_repos"`
	}
	CreateKeyRequest struct {
		User string `json:"user"`
	}
	PermRequest struct {
		Permission string `json:"permission"`
	}
	GCRequest struct {
		DryRun    bool   `json:"dry_run"`
		Retention string `json:"retention"`
	}
)
