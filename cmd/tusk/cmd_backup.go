package main

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/blob/disk"
	blobs3 "github.com/tusk-data/tusk/blob/s3"
	"github.com/tusk-data/tusk/meta"
	"github.com/tusk-data/tusk/meta/backup"
	"github.com/tusk-data/tusk/meta/kv"
)

// ---- tusk backup ----

func newBackupCmd(o *rootOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent snapshot of a running gateway's metadata to FILE (global admin)",
		Long: `Write a consistent snapshot of the running gateway's metadata store to FILE:
every write acknowledged before the command started is in it, writes go on
meanwhile. FILE is written whole or not at all (a temp file, checked, synced
and renamed). Restore it with tusk restore FILE --data-dir DIR while the
gateway is stopped. Keep the server key (DATA_DIR/server.key) with it: the
users' secret keys in it are sealed with that key.`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runBackup(ctx, o, cl, cmd, args[0], force) })
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return cmd
}

// BackupResult is what tusk backup reports.
type BackupResult struct {
	File    string `json:"file"`
	Bytes   int64  `json:"bytes"`
	Records uint64 `json:"records"`
	Mark    string `json:"mark"`
}

func runBackup(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, file string, force bool) error {
	if _, err := os.Stat(file); err == nil && !force {
		return fmt.Errorf("%s exists; pass --force to replace it", file)
	}
	resp, err := cl.send(ctx, "GET", "/backup", nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("receiving the backup: %w (nothing written to %s)", err, file)
	}
	// Check it whole before it takes FILE's name.
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return err
	}
	r, err := kv.NewDumpReader(tmp)
	for err == nil {
		_, err = r.Next()
	}
	tmp.Close()
	if err != io.EOF {
		return fmt.Errorf("the backup received is incomplete: %w (nothing written to %s)", err, file)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		d.Sync()
		d.Close()
	}
	res := BackupResult{File: file, Bytes: n, Records: r.Count(), Mark: string(r.Mark())}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("Wrote %s: %s, %s", file, plural(int(res.Records), "record"), fsize(res.Bytes))
	})
}

// ---- tusk restore ----

type restoreOptions struct {
	dataDir       string
	backend       string
	s3            blobs3.Config
	serverKeyFile string
	fromBackend   bool
	noUsers       bool
	force         bool
}

func newRestoreCmd(o *rootOptions) *cobra.Command {
	ro := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore (FILE | --from-backend) --data-dir DIR",
		Short: "Rebuild a stopped gateway's metadata store from a backup FILE or from the backing store",
		Long: `Rebuild the metadata store (DATA_DIR/meta) of a stopped gateway.

tusk restore FILE loads a file written by tusk backup.

tusk restore --from-backend reads the metadata mirror that tusk serve keeps in
the backing store (meta/ beside the blobs): give the same --data-dir,
--backend and --s3-* flags as to tusk serve. Users and access keys are sealed
there with the server key: --server-key-file (default DATA_DIR/server.key)
must be the gateway's key, or --no-users restores without them (tusk serve
then creates its admin as at a first start).

DATA_DIR/meta must be absent or empty; --force moves an existing one aside to
DATA_DIR/meta.replaced-<unix time> (nothing is deleted). Run it while the
gateway is stopped.`,
		Args: nargs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ro.fromBackend == (len(args) == 1) {
				return usagef("give a backup FILE or --from-backend (one of them)")
			}
			if ro.s3.AccessKey == "" {
				ro.s3.AccessKey = os.Getenv("TUSK_S3_ACCESS_KEY")
			}
			if ro.s3.SecretKey == "" {
				ro.s3.SecretKey = os.Getenv("TUSK_S3_SECRET_KEY")
			}
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			return o.report(cmd, runRestore(cmd.Context(), o, cmd, ro, file))
		},
	}
	f := cmd.Flags()
	f.StringVar(&ro.dataDir, "data-dir", "./tusk-data", "the gateway's data directory (the store is rebuilt in DATA_DIR/meta)")
	f.BoolVar(&ro.fromBackend, "from-backend", false, "rebuild from the metadata mirror in the backing store")
	f.BoolVar(&ro.noUsers, "no-users", false, "--from-backend: leave out users and access keys (no server key needed)")
	f.BoolVar(&ro.force, "force", false, "move an existing DATA_DIR/meta aside instead of refusing")
	f.StringVar(&ro.serverKeyFile, "server-key-file", "", "the gateway's server key (default DATA_DIR/server.key)")
	f.StringVar(&ro.backend, "backend", "disk", "blob backing store: disk or s3 (as tusk serve)")
	f.StringVar(&ro.s3.Endpoint, "s3-endpoint", "", "s3 backend: endpoint (host:port or URL)")
	f.StringVar(&ro.s3.Bucket, "s3-bucket", "", "s3 backend: bucket")
	f.StringVar(&ro.s3.Prefix, "s3-prefix", "", "s3 backend: key prefix")
	f.StringVar(&ro.s3.Region, "s3-region", "", "s3 backend: region")
	f.BoolVar(&ro.s3.UseTLS, "s3-tls", false, "s3 backend: use https")
	f.BoolVar(&ro.s3.InsecureSkipVerify, "s3-insecure", false, "s3 backend: skip TLS verification")
	f.StringVar(&ro.s3.AccessKey, "s3-access-key", "", "s3 backend: access key (or TUSK_S3_ACCESS_KEY)")
	f.StringVar(&ro.s3.SecretKey, "s3-secret-key", "", "s3 backend: secret key (or TUSK_S3_SECRET_KEY)")
	f.DurationVar(&ro.s3.Timeout, "s3-timeout", blobs3.DefaultTimeout, "s3 backend: fail a call that makes no progress this long")
	return cmd
}

// RestoreResult is what tusk restore reports.
type RestoreResult struct {
	Dir      string `json:"dir"`
	Source   string `json:"source"`
	Segments int    `json:"segments,omitempty"`
	Bytes    int64  `json:"bytes"`
	Records  uint64 `json:"records"`
	// SkippedSealed counts sealed records (users, keys) left out.
	SkippedSealed uint64 `json:"skipped_sealed,omitempty"`
	// Through: every write acknowledged before it is restored (--from-backend).
	Through  string `json:"through,omitempty"`
	MovedOld string `json:"moved_old,omitempty"`
}

// checkMetaDir refuses a DATA_DIR/meta that holds a store unless force,
// and with force one that a running gateway holds open. It reports whether
// dir holds something to move aside.
func checkMetaDir(dir string, force bool) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(ents) == 0) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !force {
		return false, fmt.Errorf("%s holds a metadata store; restore refuses to replace it (pass --force to move it aside)", dir)
	}
	ms, err := meta.Open(dir, meta.Options{})
	if err != nil {
		return false, fmt.Errorf("%s cannot be opened (is the gateway still running? stop it first): %w", dir, err)
	}
	ms.Close()
	return true, nil
}

// restoreInto checks dir, rebuilds the store with build in a side
// directory and, only once that succeeded, moves the old store aside (when
// there is one) and the new one into place: a failed restore changes
// nothing.
func restoreInto(dir string, force bool, build func(tmp string) error) (movedOld string, err error) {
	occupied, err := checkMetaDir(dir, force)
	if err != nil {
		return "", err
	}
	tmp := dir + ".restoring"
	if err := os.RemoveAll(tmp); err != nil { // left by a restore that died
		return "", err
	}
	if err := build(tmp); err != nil {
		return "", err
	}
	if occupied {
		movedOld = dir + ".replaced-" + strconv.FormatInt(time.Now().Unix(), 10)
		if err := os.Rename(dir, movedOld); err != nil {
			return "", err
		}
	} else if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return movedOld, err
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		d.Sync()
		d.Close()
	}
	return movedOld, nil
}

func runRestore(ctx context.Context, o *rootOptions, cmd *cobra.Command, ro *restoreOptions, file string) error {
	dir := filepath.Join(ro.dataDir, "meta")
	var res RestoreResult
	res.Dir = dir
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := kv.NewDumpReader(f); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		var st kv.LoadStats
		res.MovedOld, err = restoreInto(dir, ro.force, func(tmp string) error {
			return meta.Restore(ctx, tmp, func(db kv.Store) error {
				var err error
				st, err = kv.Load(ctx, db, f, nil, false)
				return err
			})
		})
		if err != nil {
			return fmt.Errorf("restoring %s: %w (nothing was changed)", file, err)
		}
		fi, _ := f.Stat()
		res.Source, res.Records, res.Bytes = file, st.Sets+st.Deletes, fi.Size()
	} else {
		var aead cipher.AEAD
		if !ro.noUsers {
			keyFile := ro.serverKeyFile
			if keyFile == "" {
				keyFile = filepath.Join(ro.dataDir, "server.key")
			}
			key, err := os.ReadFile(keyFile)
			if err != nil || len(key) != 32 {
				return fmt.Errorf("users and access keys in the mirror are sealed with the gateway's server key, and %s does not hold it (%v): give --server-key-file, or --no-users to restore without them", keyFile, errOrLen(err, len(key)))
			}
			if aead, err = backup.SealKey(key); err != nil {
				return err
			}
		}
		drv, err := openDriver(ctx, ro)
		if err != nil {
			return err
		}
		defer drv.Close()
		if _, err := backup.ReadManifest(ctx, drv); err != nil {
			return fmt.Errorf("reading the mirror's manifest: %w", err)
		}
		var rep *backup.RestoreReport
		res.MovedOld, err = restoreInto(dir, ro.force, func(tmp string) error {
			var err error
			rep, err = backup.Restore(ctx, drv, tmp, backup.RestoreOptions{AEAD: aead, NoUsers: ro.noUsers})
			return err
		})
		if err != nil {
			return fmt.Errorf("restoring from the backing store: %w (nothing was changed)", err)
		}
		res.Source, res.Segments, res.Bytes, res.Records, res.SkippedSealed = "backend:"+ro.backend, rep.Segments, rep.Bytes, rep.Records, rep.Skipped
		res.Through = rep.Through.UTC().Format(time.RFC3339Nano)
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		if res.MovedOld != "" {
			p.line("Moved the old store to %s", res.MovedOld)
		}
		p.line("Restored %s from %s: %s, %s", dir, res.Source, plural(int(res.Records), "record"), fsize(res.Bytes))
		if res.Through != "" {
			p.line("Every write acknowledged before %s is in it", res.Through)
		}
		if res.SkippedSealed > 0 {
			p.line("Left out %s of users and access keys (--no-users): tusk serve creates a new admin", plural(int(res.SkippedSealed), "record"))
		}
	})
}

func errOrLen(err error, n int) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d bytes, want 32", n)
}

// openDriver opens the backing store as tusk serve does.
func openDriver(ctx context.Context, ro *restoreOptions) (blob.Driver, error) {
	switch ro.backend {
	case "disk":
		return disk.Open(filepath.Join(ro.dataDir, "blobs"), disk.Options{MinFree: -1})
	case "s3":
		return blobs3.Open(ctx, ro.s3)
	}
	return nil, usagef("unknown --backend %q: use disk or s3", ro.backend)
}

// ---- tusk mirror ----

func newMirrorCmd(o *rootOptions) *cobra.Command {
	status := &cobra.Command{
		Use:   "status",
		Short: "How far the metadata mirror in the backing store is behind (global admin)",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runMirror(ctx, o, cl, cmd, "GET", "/mirror") })
		},
	}
	sync := &cobra.Command{
		Use:   "sync",
		Short: "Mirror the metadata to the backing store now and wait for it (global admin)",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runMirror(ctx, o, cl, cmd, "POST", "/mirror/sync") })
		},
	}
	return newGroup("mirror", "The copy of the metadata in the backing store (tusk restore --from-backend reads it)", status, sync)
}

func runMirror(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, method, path string) error {
	var st apiv1.MirrorStatus
	if err := cl.do(ctx, method, path, nil, nil, &st); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(st, func(p *printer) {
		if !st.Enabled {
			p.line("The gateway runs no metadata mirror (--meta-mirror-interval is negative)")
			return
		}
		p.row("THROUGH", "LAG", "SEGMENTS", "SIZE", "LAST FULL", "LAST ERROR")
		p.row(orDash(st.Through), fmt.Sprintf("%.1fs", st.LagSeconds), strconv.Itoa(st.Segments), fsize(st.Bytes), orDash(st.LastFull), orDash(st.LastError))
	})
}
