package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
)

// AdminCredentialsName is the default name, in the data dir, of the file
// that receives generated admin keys.
const AdminCredentialsName = "admin-credentials"

// adminKeys returns the admin's keys to bootstrap with: the configured ones,
// or at first start (no admin user yet) a generated pair that is written to
// cfg.AdminCredentialsFile before it is registered, so a crash cannot leave
// an admin key that no one can read (generated true). With no keys and an
// existing admin it returns "", "" (Bootstrap keeps the stored keys).
func adminKeys(ctx context.Context, au *auth.Auth, cfg Config) (ak, sk string, generated bool, err error) {
	if cfg.AccessKey != "" {
		return cfg.AccessKey, cfg.SecretKey, false, nil
	}
	if _, err := au.GetUser(ctx, "admin"); !errs.Is(err, errs.NotExist) {
		return "", "", false, err // exists (nil) or a read error
	}
	ak, sk = auth.NewKeyPair()
	if err := writeCredentials(cfg.AdminCredentialsFile, ak, sk); err != nil {
		return "", "", false, fmt.Errorf("write the generated admin keys: %w", err)
	}
	return ak, sk, true, nil
}

// writeCredentials writes the keys to path with mode 0600, atomically
// (temp file, fsync, rename): the file is either absent or whole.
func writeCredentials(path, ak, sk string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".admin-credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	_, err = fmt.Fprintf(f, "# Tusk admin keys, generated at first start. Load them with: . %s\n"+
		"export TUSK_ACCESS_KEY=%s\nexport TUSK_SECRET_KEY=%s\n"+
		"export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n", path, ak, sk, ak, sk)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
