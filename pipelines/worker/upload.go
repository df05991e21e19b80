package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
)

// uploadJobs is how many of a datum's output files are uploaded at once
// (`tusk put` sends 4; more PUTs in flight let the gateway sync more
// writes per durable transaction).
const uploadJobs = 8

// stageJobs is how many of a datum's input files are downloaded at once.
const stageJobs = 8

// outFile is an output file to upload: its path and its key relative to
// the datum's prefix.
type outFile struct {
	path, rel string
}

// upload puts every regular file under out into the staging commit at
// prefix + its path; symlinks and other special files are refused. It
// returns how many files were uploaded.
func (w *worker) upload(ctx context.Context, out, prefix string) (int, error) {
	return uploadTree(ctx, w.s3, bucketOf(w.t.StagingCommit, w.t.OutputRepo), out, prefix, uploadJobs)
}

// uploadTree uploads the regular files under dir to bucket at prefix +
// their slash-separated path, with at most jobs uploads in flight (files
// are handed to the uploaders as the walk finds them: the walk holds one
// file ahead, never the whole list). The first failure (an upload, a file that is not
// regular, ctx) stops the rest and is returned with the number of files
// uploaded before.
func uploadTree(ctx context.Context, s3c *minio.Core, bucket, dir, prefix string, jobs int) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	files := make(chan outFile)
	var n atomic.Int64
	var wg sync.WaitGroup
	for range max(1, jobs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range files {
				if ctx.Err() != nil {
					continue // drain: the walk stops at its next file
				}
				if err := uploadFile(ctx, s3c, bucket, prefix+f.rel, f.path); err != nil {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("uploading output %s: %v", f.rel, err))
					}
					continue
				}
				n.Add(1)
			}
		}()
	}
	werr := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !de.Type().IsRegular() {
			return fmt.Errorf("output %s is not a regular file (symlinks and special files are refused); write plain files under $TUSK_PFS/out", rel)
		}
		select {
		case files <- outFile{path: p, rel: rel}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	if werr != nil {
		cancel(werr)
	}
	close(files)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return int(n.Load()), err
	}
	return int(n.Load()), nil
}

// uploadFile uploads the file at p as key with one PUT of its known size:
// minio-go streams it (signed in chunks over http), nothing is buffered.
// (The gateway refuses multipart uploads into a staging commit; one PUT
// takes up to 5 GiB.)
func uploadFile(ctx context.Context, s3c *minio.Core, bucket, key, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	opts := minio.PutObjectOptions{ContentType: mime.TypeByExtension(path.Ext(key))}
	_, err = s3c.PutObject(ctx, bucket, key, f, st.Size(), "", "", opts)
	return err
}
