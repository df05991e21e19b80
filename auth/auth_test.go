package auth_test

import (
	"context"
	"testing"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/s3api"
)

func newAuth(t *testing.T, dir string, key []byte) (*auth.Auth, *meta.Store) {
	t.Helper()
	ms, err := meta.Open(dir, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	a, err := auth.NewAuth(ms, key)
	if err != nil {
		t.Fatal(err)
	}
	return a, ms
}

func serverKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b
	}
	return k
}

func TestPermNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level int
	}{{"read", auth.PermRead}, {"write", auth.PermWrite}, {"admin", auth.PermAdmin}} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := auth.ParsePerm(tc.name)
			if err != nil || l != tc.level || auth.PermName(l) != tc.name {
				t.Errorf("ParsePerm(%q) = %d, %v; PermName = %q", tc.name, l, err, auth.PermName(l))
			}
		})
	}
	if _, err := auth.ParsePerm("owner"); !errs.Is(err, errs.Invalid) {
		t.Errorf("ParsePerm(owner) = %v; want Invalid", err)
	}
	if auth.PermName(auth.PermNone) != "none" {
		t.Errorf("PermName(PermNone) = %q", auth.PermName(auth.PermNone))
	}
}

func TestValidUserName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"a.b_c-d9", true}, {"", false}, {"Alice", false}, {"-x", false},
		{"anonymous", false}, {auth.PipelineUser("p"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := names.ValidUser(tc.name)
			if (err == nil) != tc.ok || (err != nil && !errs.Is(err, errs.Invalid)) {
				t.Errorf("ValidUserName(%q) = %v; want ok %v", tc.name, err, tc.ok)
			}
		})
	}
	if !auth.IsPipelineUser(auth.PipelineUser("p")) || auth.IsPipelineUser("p") {
		t.Error("IsPipelineUser does not tell pipeline users")
	}
}

// TestUsersKeysPerms runs the account store's life cycle: users, keys
// (sealed secrets), grants, and what revoking and deleting do at once.
func TestUsersKeysPerms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, ms := newAuth(t, dir, serverKey(1))
	if _, err := ms.CreateRepo(ctx, "photos", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateUser(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateUser(ctx, "bob", false); !errs.Is(err, errs.Exist) {
		t.Fatalf("second CreateUser(bob) = %v; want Exist", err)
	}
	k, secret, err := a.CreateKey(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if k.Secret != "" {
		t.Error("CreateKey returned the sealed secret")
	}
	if s, u, err := a.Secret(ctx, k.ID); err != nil || s != secret || u != "bob" {
		t.Fatalf("Secret(%s) = %q, %q, %v; want the secret of bob", k.ID, s, u, err)
	}
	if err := a.Allow(ctx, "bob", "photos", s3api.ActRead); !errs.Is(err, errs.Permission) {
		t.Errorf("Allow(bob, read) before a grant = %v; want Permission", err)
	}
	if err := a.Grant(ctx, "bob", "photos", auth.PermWrite); err != nil {
		t.Fatal(err)
	}
	for _, act := range []s3api.Action{s3api.ActRead, s3api.ActWrite} {
		if err := a.Allow(ctx, "bob", "photos", act); err != nil {
			t.Errorf("Allow(bob, %v) after write grant = %v", act, err)
		}
	}
	if err := a.Allow(ctx, "bob", "photos", s3api.ActAdmin); !errs.Is(err, errs.Permission) {
		t.Errorf("Allow(bob, admin) with write = %v; want Permission", err)
	}
	if l := a.Level(ctx, "bob", "photos"); l != auth.PermWrite {
		t.Errorf("Level(bob) = %d; want write", l)
	}
	if err := a.Grant(ctx, "bob", "photos", 9); !errs.Is(err, errs.Invalid) {
		t.Errorf("Grant(level 9) = %v; want Invalid", err)
	}

	// Another server key cannot open the sealed secret.
	b, err := auth.NewAuth(ms, serverKey(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Secret(ctx, k.ID); !errs.Is(err, errs.Permission) {
		t.Errorf("Secret under another server key = %v; want Permission", err)
	}

	if err := a.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Secret(ctx, k.ID); !errs.Is(err, errs.NotExist) {
		t.Errorf("Secret of a revoked key = %v; want NotExist at once", err)
	}
	k2, _, err := a.CreateKey(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Secret(ctx, k2.ID); !errs.Is(err, errs.NotExist) {
		t.Errorf("Secret of a deleted user's key = %v; want NotExist", err)
	}
	if _, err := a.GetUser(ctx, "bob"); !errs.Is(err, errs.NotExist) {
		t.Errorf("GetUser after DeleteUser = %v; want NotExist", err)
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	a, _ := newAuth(t, t.TempDir(), serverKey(3))
	id, sec, created, err := a.Bootstrap(ctx, "", "")
	if err != nil || !created || id == "" || sec == "" {
		t.Fatalf("first Bootstrap = %q, %q, %v, %v; want a new admin key", id, sec, created, err)
	}
	if _, _, created, err := a.Bootstrap(ctx, "", ""); err != nil || created {
		t.Fatalf("second Bootstrap created %v, %v; want nothing new", created, err)
	}
	if s, u, err := a.Secret(ctx, id); err != nil || s != sec || u != "admin" {
		t.Fatalf("the bootstrap key answers %q, %q, %v", s, u, err)
	}
	if err := a.Allow(ctx, "admin", "anything", s3api.ActAdmin); err != nil {
		t.Errorf("admin is refused: %v", err)
	}
	if err := a.Allow(ctx, "admin", auth.ReservedRepo, s3api.ActCreateRepo); !errs.Is(err, errs.Invalid) {
		t.Errorf("creating the reserved repo = %v; want Invalid", err)
	}
}
