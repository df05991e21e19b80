package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/kv"
	"github.com/tusk-data/tusk/s3api"
)

// Permission levels per repo, ordered.
const (
	PermNone  = 0
	PermRead  = 1
	PermWrite = 2
	PermAdmin = 3
)

// User is an account. Admin users may do anything; others have per-repo
// permissions, and create repos only when CreateRepos is set.
type User struct {
	Name  string         `json:"name"`
	Admin bool           `json:"admin,omitempty"`
	Perms map[string]int `json:"perms,omitempty"`
	// CreateRepos lets a non-admin user create repos (CreateBucket, the
	// admin API), as an S3 account creates buckets: the user owns and
	// administers what it creates. Off by default.
	CreateRepos bool      `json:"create_repos,omitempty"`
	Created     time.Time `json:"created"`
}

// Key is an access key; its secret is stored encrypted with the server key
// (AES-256-GCM, the access key id as additional data), never in plain text.
type Key struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Secret  string    `json:"secret_enc"` // base64(nonce | ciphertext)
	Created time.Time `json:"created"`
}

// Records in meta's store, in the namespace "gw/" (meta.Records): the
// prefixes below are relative to it.
const (
	authNamespace = "gw/"
	pUser         = "user/"
	pKey          = "key/"
)

// Auth stores users and keys in meta's store and answers s3api.Auth and
// sigv4.Credentials.
type Auth struct {
	db    *meta.Records
	meta  *meta.Store
	aead  cipher.AEAD
	mu    sync.RWMutex
	cache map[string][2]string // access key -> secret, user
}

var _ s3api.Auth = (*Auth)(nil)

// LoadServerKey reads the 32-byte server key from path, generating it (mode
// 0600) when absent.
func LoadServerKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("server key %s: want 32 bytes, found %d", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// NewAuth returns the auth store over ms's records, encrypting secrets with
// serverKey (32 bytes).
func NewAuth(ms *meta.Store, serverKey []byte) (*Auth, error) {
	block, err := aes.NewCipher(serverKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Auth{db: ms.Records(authNamespace), meta: ms, aead: aead, cache: map[string][2]string{}}, nil
}

func (a *Auth) seal(id, secret string) string {
	nonce := make([]byte, a.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(a.aead.Seal(nonce, nonce, []byte(secret), []byte(id)))
}

func (a *Auth) open(id, enc string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) < a.aead.NonceSize() {
		return "", errs.E("gateway.Auth", errs.Internal, "stored secret of key %s is corrupt", id)
	}
	ns := a.aead.NonceSize()
	p, err := a.aead.Open(nil, b[:ns], b[ns:], []byte(id))
	if err != nil {
		// The secret was sealed with another server key (the key file was
		// replaced or removed): the key cannot authenticate anything.
		return "", errs.E("gateway.Auth", errs.Permission, "access key %s cannot be used: its secret was encrypted with another server key; ask an admin for a new key (tusk key create)", id).Because(errs.UnknownKey)
	}
	return string(p), nil
}

// update runs fn in meta's committer transaction and syncs it.
func (a *Auth) update(fn func(txn kv.ReadWriter) error) error {
	return a.db.Update(context.Background(), fn)
}

// GetUser returns a user; NotExist if absent.
func (a *Auth) GetUser(ctx context.Context, name string) (*User, error) {
	var u User
	var ok bool
	err := a.db.View(ctx, func(txn kv.Reader) error {
		var err error
		ok, err = kv.GetJSON(txn, pUser+name, &u)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, noSuchUser(name)
	}
	return &u, nil
}

// PutUser creates or replaces a user record.
func (a *Auth) PutUser(ctx context.Context, u *User) error {
	return a.update(func(txn kv.ReadWriter) error { return kv.PutJSON(txn, pUser+u.Name, u) })
}

// AddKey stores an access key for user with the given secret (encrypted).
func (a *Auth) AddKey(ctx context.Context, user, id, secret string) error {
	k := &Key{ID: id, User: user, Secret: a.seal(id, secret), Created: time.Now().UTC()}
	if err := a.update(func(txn kv.ReadWriter) error { return kv.PutJSON(txn, pKey+id, k) }); err != nil {
		return err
	}
	a.mu.Lock()
	delete(a.cache, id)
	a.mu.Unlock()
	return nil
}

// Secret implements sigv4.Credentials.
func (a *Auth) Secret(ctx context.Context, accessKey string) (string, string, error) {
	a.mu.RLock()
	c, ok := a.cache[accessKey]
	a.mu.RUnlock()
	if ok {
		return c[0], c[1], nil
	}
	var k Key
	var found bool
	err := a.db.View(ctx, func(txn kv.Reader) error {
		var err error
		found, err = kv.GetJSON(txn, pKey+accessKey, &k)
		return err
	})
	if err != nil {
		return "", "", errs.Wrap("gateway.Secret", errs.Internal, err)
	}
	if !found {
		return "", "", errs.E("gateway.Secret", errs.NotExist, "the access key id you provided does not exist").Because(errs.UnknownKey)
	}
	secret, err := a.open(k.ID, k.Secret)
	if err != nil {
		return "", "", err
	}
	a.mu.Lock()
	a.cache[accessKey] = [2]string{secret, k.User}
	a.mu.Unlock()
	return secret, k.User, nil
}

// Allow implements s3api.Auth.
func (a *Auth) Allow(ctx context.Context, user, repo string, act s3api.Action) error {
	deny := func() error {
		who := user
		if who == "" {
			who = "anonymous"
		}
		return errs.E("gateway.Allow", errs.Permission, "access denied: %s may not do this on %q", who, repo)
	}
	if act == s3api.ActCreateRepo && repo == ReservedRepo {
		return errs.E("gateway.Allow", errs.Invalid, "repo name %q is reserved: path-style requests to /%s/v1/ are the admin API; choose another name", repo, repo).Because(errs.Name)
	}
	// Anyone, signed in or not, may read a public repo.
	publicRead := func() bool {
		if act != s3api.ActRead || repo == "" {
			return false
		}
		r, err := a.meta.GetRepo(ctx, repo)
		return err == nil && r.Public
	}
	if user == "" {
		if publicRead() {
			return nil
		}
		return deny()
	}
	u, err := a.GetUser(ctx, user)
	if err != nil {
		return deny()
	}
	if u.Admin {
		return nil
	}
	switch act {
	case s3api.ActCreateRepo:
		// A pipeline's key reads its inputs and writes its output, nothing
		// more; other users need the create-repos flag.
		if !u.CreateRepos || strings.HasPrefix(user, pipelineUserPrefix) {
			return errs.E("gateway.Allow", errs.Permission,
				"access denied: %s may not create repos; an admin user can allow it (tusk user set-create-repos %s true)", user, user)
		}
		return nil // the creator owns the repo and becomes its admin
	case s3api.ActOwn:
		if repo != "" {
			if r, err := a.meta.GetRepo(ctx, repo); err == nil && r.OwnerName() == user {
				return nil
			}
		}
		return deny()
	}
	if repo == "" {
		return nil // service-level calls (ListBuckets) are filtered per repo
	}
	need := map[s3api.Action]int{s3api.ActRead: PermRead, s3api.ActWrite: PermWrite, s3api.ActAdmin: PermAdmin}[act]
	if u.Perms[repo] >= need && need > 0 {
		return nil
	}
	if publicRead() {
		return nil
	}
	return deny()
}

// SetCreateRepos sets whether non-admin user may create repos.
func (a *Auth) SetCreateRepos(ctx context.Context, user string, on bool) (*User, error) {
	var u User
	err := a.update(func(txn kv.ReadWriter) error {
		ok, err := kv.GetJSON(txn, pUser+user, &u)
		if err != nil {
			return err
		}
		if !ok {
			return noSuchUser(user)
		}
		u.CreateRepos = on
		return kv.PutJSON(txn, pUser+user, &u)
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// Grant sets user's permission on repo (PermNone removes it).
func (a *Auth) Grant(ctx context.Context, user, repo string, level int) error {
	if level < PermNone || level > PermAdmin {
		return errs.E("gateway.Grant", errs.Invalid, "permission level %d is out of range", level)
	}
	return a.update(func(txn kv.ReadWriter) error {
		var u User
		ok, err := kv.GetJSON(txn, pUser+user, &u)
		if err != nil {
			return err
		}
		if !ok {
			return noSuchUser(user)
		}
		if level == PermNone {
			delete(u.Perms, repo)
		} else {
			if u.Perms == nil {
				u.Perms = map[string]int{}
			}
			u.Perms[repo] = level
		}
		if len(u.Perms) == 0 {
			u.Perms = nil
		}
		return kv.PutJSON(txn, pUser+user, &u)
	})
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// NewKeyPair generates an access key id (20 chars) and secret (40 chars).
func NewKeyPair() (string, string) {
	b := make([]byte, 20)
	rand.Read(b)
	id := make([]byte, 20)
	for i := range id {
		id[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	s := make([]byte, 30)
	rand.Read(s)
	return "TK" + string(id[2:]), base64.RawURLEncoding.EncodeToString(s)
}

// Bootstrap makes sure an admin user exists. When accessKey and secret are
// given (env or config) that key is made to belong to the admin. When no
// user existed and no key was given, a key pair is generated and returned
// (created true) so it can be printed once.
func (a *Auth) Bootstrap(ctx context.Context, accessKey, secret string) (id, sec string, created bool, err error) {
	if _, err := a.GetUser(ctx, "admin"); errs.Is(err, errs.NotExist) {
		if err := a.PutUser(ctx, &User{Name: "admin", Admin: true, Created: time.Now().UTC()}); err != nil {
			return "", "", false, err
		}
		created = true
	} else if err != nil {
		return "", "", false, err
	}
	if accessKey != "" {
		if s, u, err := a.Secret(ctx, accessKey); err == nil && s == secret && u == "admin" {
			return accessKey, secret, false, nil
		}
		return accessKey, secret, false, a.AddKey(ctx, "admin", accessKey, secret)
	}
	if !created {
		return "", "", false, nil
	}
	id, sec = NewKeyPair()
	return id, sec, true, a.AddKey(ctx, "admin", id, sec)
}

// ReservedRepo cannot be created: path-style requests to /api/v1/... are
// the admin API.
const ReservedRepo = "api"

func noSuchUser(name string) error {
	return errs.E("gateway.User", errs.NotExist, "user %q does not exist", name).Because(errs.User)
}

func noSuchKey(id string) error {
	return errs.E("gateway.Key", errs.NotExist, "access key %q does not exist", id).Because(errs.AccessKey)
}

// PermName names a permission level: none, read, write, admin.
func PermName(level int) string {
	switch level {
	case PermRead:
		return "read"
	case PermWrite:
		return "write"
	case PermAdmin:
		return "admin"
	}
	return "none"
}

// ParsePerm parses a permission level name (read, write, admin).
func ParsePerm(name string) (int, error) {
	switch name {
	case "read":
		return PermRead, nil
	case "write":
		return PermWrite, nil
	case "admin":
		return PermAdmin, nil
	}
	return 0, errs.E("gateway.ParsePerm", errs.Invalid, "unknown permission %q: use read, write or admin", name)
}

// CreateUser creates a user (Exist when the name is taken).
func (a *Auth) CreateUser(ctx context.Context, name string, admin bool) (*User, error) {
	return a.CreateUserWith(ctx, &User{Name: name, Admin: admin})
}

// CreateUserWith creates user u (its name, Admin and CreateRepos are used;
// Perms start empty). Exist when the name is taken.
func (a *Auth) CreateUserWith(ctx context.Context, u *User) (*User, error) {
	name := u.Name
	if err := names.ValidUser(name); err != nil {
		return nil, err
	}
	u = &User{Name: name, Admin: u.Admin, CreateRepos: u.CreateRepos, Created: time.Now().UTC()}
	err := a.update(func(txn kv.ReadWriter) error {
		var old User
		if ok, err := kv.GetJSON(txn, pUser+name, &old); err != nil {
			return err
		} else if ok {
			return errs.E("gateway.CreateUser", errs.Exist, "user %q already exists", name).Because(errs.User)
		}
		return kv.PutJSON(txn, pUser+name, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func listRecs[T any](ctx context.Context, db *meta.Records, prefix string) ([]T, error) {
	var out []T
	err := db.View(ctx, func(txn kv.Reader) error {
		var err error
		out, err = kv.ListJSON[T](txn, prefix)
		return err
	})
	return out, err
}

// ListUsers lists users by name.
func (a *Auth) ListUsers(ctx context.Context) ([]User, error) {
	return listRecs[User](ctx, a.db, pUser)
}

// DeleteUser deletes a user and every access key of theirs.
func (a *Auth) DeleteUser(ctx context.Context, name string) error {
	var ids []string
	err := a.update(func(txn kv.ReadWriter) error {
		ids = ids[:0]
		var u User
		if ok, err := kv.GetJSON(txn, pUser+name, &u); err != nil {
			return err
		} else if !ok {
			return noSuchUser(name)
		}
		err := kv.ScanJSON(txn, pKey, func(_ string, k *Key) error {
			if k.User == name {
				ids = append(ids, k.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := txn.Delete([]byte(pKey + id)); err != nil {
				return err
			}
		}
		return txn.Delete([]byte(pUser + name))
	})
	if err != nil {
		return err
	}
	a.forget(ids...)
	return nil
}

func (a *Auth) forget(ids ...string) {
	a.mu.Lock()
	for _, id := range ids {
		delete(a.cache, id)
	}
	a.mu.Unlock()
}

// CreateKey makes a new access key for user and returns its id and secret
// (the secret is stored only encrypted: this is the one time it is seen).
func (a *Auth) CreateKey(ctx context.Context, user string) (*Key, string, error) {
	id, secret := NewKeyPair()
	k := &Key{ID: id, User: user, Secret: a.seal(id, secret), Created: time.Now().UTC()}
	err := a.update(func(txn kv.ReadWriter) error {
		var u User
		if ok, err := kv.GetJSON(txn, pUser+user, &u); err != nil {
			return err
		} else if !ok {
			return noSuchUser(user)
		}
		return kv.PutJSON(txn, pKey+id, k)
	})
	if err != nil {
		return nil, "", err
	}
	a.forget(id)
	out := *k
	out.Secret = ""
	return &out, secret, nil
}

// ListKeys lists access keys (of user, or all when user is ""), by id,
// without their secrets.
func (a *Auth) ListKeys(ctx context.Context, user string) ([]Key, error) {
	all, err := listRecs[Key](ctx, a.db, pKey)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, k := range all {
		if user == "" || k.User == user {
			k.Secret = ""
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetKey returns an access key without its secret.
func (a *Auth) GetKey(ctx context.Context, id string) (*Key, error) {
	var k Key
	var ok bool
	err := a.db.View(ctx, func(txn kv.Reader) error {
		var err error
		ok, err = kv.GetJSON(txn, pKey+id, &k)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, noSuchKey(id)
	}
	k.Secret = ""
	return &k, nil
}

// DeleteKey revokes an access key: it stops authenticating at once.
func (a *Auth) DeleteKey(ctx context.Context, id string) error {
	err := a.update(func(txn kv.ReadWriter) error {
		var k Key
		if ok, err := kv.GetJSON(txn, pKey+id, &k); err != nil {
			return err
		} else if !ok {
			return noSuchKey(id)
		}
		return txn.Delete([]byte(pKey + id))
	})
	if err != nil {
		return err
	}
	a.forget(id)
	return nil
}

// DropRepoPerms removes every user's permission on repo (when the repo is
// deleted, so that a new repo of the same name starts with no grants).
func (a *Auth) DropRepoPerms(ctx context.Context, repo string) error {
	return a.update(func(txn kv.ReadWriter) error {
		var changed []User
		err := kv.ScanJSON(txn, pUser, func(_ string, u *User) error {
			if _, ok := u.Perms[repo]; ok {
				delete(u.Perms, repo)
				if len(u.Perms) == 0 {
					u.Perms = nil
				}
				changed = append(changed, *u)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range changed {
			if err := kv.PutJSON(txn, pUser+changed[i].Name, &changed[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Level returns user's permission level on repo (PermAdmin for admin
// users; PermRead on a public repo at least).
func (a *Auth) Level(ctx context.Context, user, repo string) int {
	lvl := PermNone
	if user != "" {
		if u, err := a.GetUser(ctx, user); err == nil {
			if u.Admin {
				return PermAdmin
			}
			lvl = u.Perms[repo]
		}
	}
	if lvl < PermRead {
		if r, err := a.meta.GetRepo(ctx, repo); err == nil && r.Public {
			lvl = PermRead
		}
	}
	return lvl
}

// pipelineUserPrefix names the users that pipelines' workers act as. ':'
// is not allowed in user names, so no person can take such a name.
const pipelineUserPrefix = "pipeline:"

// PipelineUser is the user a pipeline's workers authenticate as.
func PipelineUser(pipeline string) string { return pipelineUserPrefix + pipeline }

// IsPipelineUser reports whether user is a pipeline's worker user.
func IsPipelineUser(user string) bool { return strings.HasPrefix(user, pipelineUserPrefix) }
