package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/mattn/go-isatty"
	"github.com/minio/minio-go/v7"
	"github.com/spf13/cobra"

	"github.com/tusk-data/tusk/adminapi/apiv1"
)

// ---- ls ----

func newLsCmd(o *rootOptions) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "ls REPO[@REF][:PATH] [-r]",
		Short: "List keys at a ref, one level at a time like a directory (all keys with -r)",
		Long: `List the keys of REPO at REF (default main) under PATH, rolled up at '/' like
directories unless -r. A PATH naming a key lists that key only; any other PATH
is listed as a directory.`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runLs(ctx, o, cl, cmd, args[0], recursive) })
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "list every key under PATH, not one level")
	return cmd
}

// resolveRef resolves a ref once, so that a multi-request read sees one
// commit.
func resolveRef(ctx context.Context, cl *client, repo, ref string) (*apiv1.RefInfo, error) {
	var ri apiv1.RefInfo
	if err := cl.do(ctx, "GET", "/repos/"+p(repo)+"/refs/"+p(ref), nil, nil, &ri); err != nil {
		return nil, err
	}
	return &ri, nil
}

// headObject returns the object at key, or nil when there is none.
func headObject(ctx context.Context, cl *client, repo, commit, key string) (*apiv1.ObjectInfo, error) {
	resp, err := cl.send(ctx, "HEAD", "/repos/"+p(repo)+"/object", url.Values{"ref": {commit}, "key": {key}}, nil)
	if err != nil {
		var ae *apiv1.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound && (ae.Code == "NoSuchKey" || ae.Code == "HTTP404") {
			return nil, nil
		}
		return nil, err
	}
	resp.Body.Close()
	return &apiv1.ObjectInfo{Key: key, Size: resp.ContentLength, ETag: strings.Trim(resp.Header.Get("ETag"), `"`),
		Version: resp.Header.Get("X-Tusk-Version"), ContentType: resp.Header.Get("Content-Type")}, nil
}

// keyOrPrefix tells what the path name stands for at commit: a key (its
// object, and name), or a folder when no object is there or name ends in
// '/' (nil, and name as a listing prefix: ending in '/' unless empty).
func keyOrPrefix(ctx context.Context, cl *client, repo, commit, name string) (*apiv1.ObjectInfo, string, error) {
	if name == "" || strings.HasSuffix(name, "/") {
		return nil, name, nil
	}
	obj, err := headObject(ctx, cl, repo, commit, name)
	if err != nil || obj != nil {
		return obj, name, err
	}
	return nil, name + "/", nil
}

// listAll lists every key (and prefix, with delim) under prefix at commit.
func listAll(ctx context.Context, cl *client, repo, commit, prefix, delim string, fn func(*apiv1.ListResult) error) error {
	after := ""
	for {
		q := url.Values{"ref": {commit}, "prefix": {prefix}, "limit": {"1000"}}
		if delim != "" {
			q.Set("delimiter", delim)
		}
		if after != "" {
			q.Set("after", after)
		}
		var page apiv1.ListResult
		if err := cl.do(ctx, "GET", "/repos/"+p(repo)+"/objects", q, nil, &page); err != nil {
			return err
		}
		if err := fn(&page); err != nil {
			return err
		}
		if !page.Truncated || page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

func runLs(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string, recursive bool) error {
	t, err := optPath(arg, "REPO[@REF][:PATH]")
	if err != nil {
		return err
	}
	ri, err := resolveRef(ctx, cl, t.Repo, t.refOrMain())
	if err != nil {
		return err
	}
	res := apiv1.ListResult{Repo: t.Repo, Ref: t.refOrMain(), Commit: ri.Commit, Prefix: t.Path,
		Objects: []apiv1.ObjectInfo{}, Prefixes: []string{}}
	obj, prefix, err := keyOrPrefix(ctx, cl, t.Repo, ri.Commit, t.Path)
	if err != nil {
		return err
	}
	if obj != nil {
		// The listing gives the key's time; ask for it there.
		err := listAll(ctx, cl, t.Repo, ri.Commit, prefix, "/", func(pg *apiv1.ListResult) error {
			for _, ob := range pg.Objects {
				if ob.Key == prefix {
					res.Objects = append(res.Objects, ob)
				}
			}
			return errStopList
		})
		if err != nil && err != errStopList {
			return err
		}
		prefix = ""
	}
	if len(res.Objects) == 0 {
		delim := "/"
		if recursive {
			delim = ""
		}
		res.Prefix = prefix
		err = listAll(ctx, cl, t.Repo, ri.Commit, prefix, delim, func(pg *apiv1.ListResult) error {
			res.Objects = append(res.Objects, pg.Objects...)
			res.Prefixes = append(res.Prefixes, pg.Prefixes...)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		if len(res.Objects)+len(res.Prefixes) == 0 {
			if res.Prefix == "" {
				p.line("(no keys at %s@%s)", res.Repo, res.Ref)
			} else {
				p.line("(no keys under %q at %s@%s)", res.Prefix, res.Repo, res.Ref)
			}
			return
		}
		p.row("SIZE", "MODIFIED", "VERSION", "KEY")
		// Prefixes and keys in one S3 order.
		type row struct{ key, size, mod, ver string }
		var rows []row
		for _, pr := range res.Prefixes {
			rows = append(rows, row{pr, "-", "-", "-"})
		}
		for _, ob := range res.Objects {
			rows = append(rows, row{ob.Key, fsize(ob.Size), ftime(ob.LastModified), short(ob.Version)})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
		for _, r := range rows {
			p.row(r.size, r.mod, r.ver, r.key)
		}
	})
}

var errStopList = errors.New("stop listing")

// ---- cat ----

func newCatCmd(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cat REPO[@REF]:PATH",
		Short: "Write an object's bytes to stdout",
		Args:  nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runCat(ctx, o, cl, cmd, args[0]) })
		},
	}
}

func openObject(ctx context.Context, cl *client, repo, ref, key string) (*http.Response, error) {
	return cl.send(ctx, "GET", "/repos/"+p(repo)+"/object", url.Values{"ref": {ref}, "key": {key}}, nil)
}

func runCat(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, arg string) error {
	t, err := optPath(arg, "REPO[@REF]:PATH")
	if err != nil {
		return err
	}
	if !t.HasPath || t.Path == "" {
		return usagef("cat needs a key: REPO[@REF]:PATH, not %q", arg)
	}
	resp, err := openObject(ctx, cl, t.Repo, t.refOrMain(), t.Path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(stdout(cmd), resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", t, err)
	}
	return nil
}

// ---- put ----

type putOptions struct {
	message  string
	jobs     int
	partSize int64 // files larger than this go up as multipart uploads
}

// minPartSize is S3's (and Tusk's) smallest part but the last.
const minPartSize = 5 << 20

func newPutCmd(o *rootOptions) *cobra.Command {
	po := &putOptions{}
	cmd := &cobra.Command{
		Use:   "put LOCAL REPO[@BRANCH][:PATH] [-m MSG] [-j N]",
		Short: "Upload a file or a directory tree to a branch as one commit",
		Long: `Upload LOCAL to BRANCH (default main) as ONE commit, whatever the number of files.
A file goes to key PATH (PATH/NAME when PATH is empty or ends in '/'); a
directory's files go under PATH/, with '/' between path elements. The upload
goes through an open commit: files are sent in parallel with the S3 API to its
bucket, then the commit is finished; if anything fails, it is aborted and
nothing is committed. A progress bar is drawn on a terminal.`,
		Args: nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runPut(ctx, o, cl, cmd, args[0], args[1], po) })
		},
	}
	cmd.Flags().StringVarP(&po.message, "message", "m", "", "commit message")
	cmd.Flags().IntVarP(&po.jobs, "jobs", "j", 4, "parallel uploads")
	cmd.Flags().Int64Var(&po.partSize, "part-size", 64<<20, "files larger than this are sent as multipart uploads of parts this size (at least 5 MiB)")
	return cmd
}

type localFile struct {
	path, key string
	size      int64
}

// collectFiles lists the files to upload and their keys.
func collectFiles(local string, t target) ([]localFile, error) {
	st, err := os.Stat(local)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file or a directory", local)
		}
		key := t.Path
		if key == "" || strings.HasSuffix(key, "/") {
			key += filepath.Base(local)
		}
		return []localFile{{path: local, key: key, size: st.Size()}}, nil
	}
	prefix := t.Path
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var files []localFile
	err = filepath.WalkDir(local, func(pth string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		st, err := os.Stat(pth) // follows symlinks to files
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return nil // sockets, devices, symlinks to directories
		}
		rel, err := filepath.Rel(local, pth)
		if err != nil {
			return err
		}
		files = append(files, localFile{path: pth, key: prefix + filepath.ToSlash(rel), size: st.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].key < files[j].key })
	return files, nil
}

type putResult struct {
	Repo    string `json:"repo"`
	Branch  string `json:"branch"`
	Commit  string `json:"commit"`
	Files   int    `json:"files"`
	Bytes   int64  `json:"bytes"`
	Objects []struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	} `json:"objects"`
}

func runPut(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, local, dest string, po *putOptions) error {
	t, err := optPath(dest, "REPO[@BRANCH][:PATH]")
	if err != nil {
		return err
	}
	if po.jobs < 1 {
		return usagef("--jobs must be at least 1")
	}
	if po.partSize < minPartSize {
		return usagef("--part-size must be at least %d (5 MiB)", minPartSize)
	}
	files, err := collectFiles(local, t)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("nothing to put: %s holds no files", local)
	}
	var total int64
	for _, f := range files {
		if len(f.key) > 1024 {
			return fmt.Errorf("key %q is longer than 1024 bytes; choose a shorter PATH", f.key[:64]+"...")
		}
		total += f.size
	}
	msg := po.message
	if msg == "" {
		msg = fmt.Sprintf("put %s (%s)", filepath.Base(local), plural(len(files), "file"))
	}
	oc, err := startCommit(ctx, cl, t.Repo, t.refOrMain(), msg)
	if err != nil {
		return err
	}
	abort := func(cause error) error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30e9)
		defer cancel()
		if _, aerr := abortCommit(actx, cl, t.Repo, oc.ID); aerr != nil {
			return fmt.Errorf("%w (and aborting open commit %s failed: %v; abort it with tusk commit abort %s@%s)", cause, oc.ID, aerr, t.Repo, oc.ID)
		}
		return fmt.Errorf("%w; nothing was committed (open commit %s aborted)", cause, short(oc.ID))
	}
	prog := newProgress(cmd.ErrOrStderr(), "put", len(files), total)
	err = uploadAll(ctx, cl, oc.Bucket, files, po, prog)
	prog.finish()
	if err != nil {
		return abort(err)
	}
	c, err := finishCommit(ctx, cl, t.Repo, oc.ID, "")
	if err != nil {
		return abort(err)
	}
	res := putResult{Repo: t.Repo, Branch: oc.Branch, Commit: c.ID, Files: len(files), Bytes: total}
	for _, f := range files {
		res.Objects = append(res.Objects, struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
		}{f.key, f.size})
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("Put %s (%s) into %s@%s as commit %s", plural(res.Files, "file"), fsize(res.Bytes), res.Repo, res.Branch, res.Commit)
	})
}

// uploadAll uploads files with jobs workers; the first failure stops the rest.
func uploadAll(ctx context.Context, cl *client, bucket string, files []localFile, po *putOptions, prog *progress) error {
	s3c, err := cl.s3()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan localFile)
	var wg sync.WaitGroup
	for range min(po.jobs, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				up := uploadOne
				if f.size > po.partSize {
					up = func(ctx context.Context, s3c *minio.Core, bucket string, f localFile, prog *progress) error {
						return uploadMultipart(ctx, s3c, bucket, f, po.partSize, prog)
					}
				}
				if err := up(ctx, s3c, bucket, f, prog); err != nil {
					cancel(fmt.Errorf("uploading %s as %q: %w", f.path, f.key, err))
					return
				}
				prog.fileDone()
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// putOpts are the options of a file's upload: its content type, guessed
// from the key's extension ("" leaves it to the gateway).
func putOpts(key string) minio.PutObjectOptions {
	return minio.PutObjectOptions{ContentType: mime.TypeByExtension(path.Ext(key))}
}

// uploadOne sends a file with one PutObject.
func uploadOne(ctx context.Context, s3c *minio.Core, bucket string, f localFile, prog *progress) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = s3c.PutObject(ctx, bucket, f.key, &countingReadSeeker{rs: fh, p: prog}, f.size, "", "", putOpts(f.key))
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return s3Error(err)
	}
	return nil
}

// uploadMultipart sends a large file as a multipart upload of partSize
// parts (aborted on failure, so that no parts are left behind).
func uploadMultipart(ctx context.Context, s3c *minio.Core, bucket string, f localFile, partSize int64, prog *progress) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	id, err := s3c.NewMultipartUpload(ctx, bucket, f.key, putOpts(f.key))
	if err != nil {
		return s3Error(err)
	}
	abort := func(err error) error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30e9)
		defer cancel()
		s3c.AbortMultipartUpload(actx, bucket, f.key, id)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return s3Error(err)
	}
	var parts []minio.CompletePart
	for n, off := 1, int64(0); off < f.size; n, off = n+1, off+partSize {
		size := min(partSize, f.size-off)
		body := &countingReadSeeker{rs: io.NewSectionReader(fh, off, size), p: prog}
		pt, err := s3c.PutObjectPart(ctx, bucket, f.key, id, n, body, size, minio.PutObjectPartOptions{})
		if err != nil {
			return abort(err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: pt.ETag,
			ChecksumCRC32: pt.ChecksumCRC32, ChecksumCRC32C: pt.ChecksumCRC32C, ChecksumSHA1: pt.ChecksumSHA1,
			ChecksumSHA256: pt.ChecksumSHA256, ChecksumCRC64NVME: pt.ChecksumCRC64NVME})
	}
	if _, err := s3c.CompleteMultipartUpload(ctx, bucket, f.key, id, parts, minio.PutObjectOptions{}); err != nil {
		return abort(err)
	}
	return nil
}

// s3Error keeps the server's code and message of an S3 error.
func s3Error(err error) error {
	if er := minio.ToErrorResponse(err); er.Code != "" {
		return fmt.Errorf("%s: %s", er.Code, er.Message)
	}
	return err
}

// ---- get ----

type getOptions struct{ jobs int }

func newGetCmd(o *rootOptions) *cobra.Command {
	g := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get REPO[@REF][:PATH] LOCAL [-j N]",
		Short: "Download an object, or every key under a path, into LOCAL",
		Long: `Download from REPO at REF (default main), read at one commit. When PATH names a
key, it is written to LOCAL (LOCAL/NAME when LOCAL is a directory; '-' is
stdout). Otherwise every key under PATH/ (the whole ref when PATH is empty) is
written below directory LOCAL. Keys that cannot be files safely (with '..' or
empty path elements, or a trailing '/') are skipped with an error. Downloads
run in parallel; a progress bar is drawn on a terminal.`,
		Args: nargs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runGet(ctx, o, cl, cmd, args[0], args[1], g) })
		},
	}
	cmd.Flags().IntVarP(&g.jobs, "jobs", "j", 4, "parallel downloads")
	return cmd
}

type getResult struct {
	Repo   string   `json:"repo"`
	Ref    string   `json:"ref"`
	Commit string   `json:"commit"`
	Local  string   `json:"local"`
	Files  int      `json:"files"`
	Bytes  int64    `json:"bytes"`
	Failed []string `json:"failed,omitempty"`
}

type remoteFile struct {
	key, local string
	size       int64
}

// safeLocal maps key (relative to the downloaded prefix) under root.
func safeLocal(root, rel string) (string, error) {
	if rel == "" || strings.HasSuffix(rel, "/") {
		return "", fmt.Errorf("it ends in '/' and would name a directory")
	}
	for _, part := range strings.Split(rel, "/") {
		switch part {
		case "", ".", "..":
			return "", fmt.Errorf("its path has an empty, '.' or '..' element and could leave %s", root)
		}
		if strings.ContainsRune(part, 0) || (filepath.Separator != '/' && strings.ContainsRune(part, filepath.Separator)) {
			return "", fmt.Errorf("its path holds a character that is not allowed in file names here")
		}
	}
	lp := filepath.FromSlash(rel)
	if !filepath.IsLocal(lp) {
		return "", fmt.Errorf("it is not a local path")
	}
	return filepath.Join(root, lp), nil
}

func runGet(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, src, local string, g *getOptions) error {
	t, err := optPath(src, "REPO[@REF][:PATH]")
	if err != nil {
		return err
	}
	if g.jobs < 1 {
		return usagef("--jobs must be at least 1")
	}
	ri, err := resolveRef(ctx, cl, t.Repo, t.refOrMain())
	if err != nil {
		return err
	}
	res := getResult{Repo: t.Repo, Ref: t.refOrMain(), Commit: ri.Commit, Local: local}
	var files []remoteFile
	obj, prefix, err := keyOrPrefix(ctx, cl, t.Repo, ri.Commit, t.Path)
	if err != nil {
		return err
	}
	if obj != nil {
		dest := local
		if local == "-" {
			return getToStdout(ctx, cl, cmd, t.Repo, ri.Commit, prefix)
		}
		if st, err := os.Stat(local); (err == nil && st.IsDir()) || strings.HasSuffix(local, string(filepath.Separator)) {
			dest = filepath.Join(local, path.Base(prefix))
		}
		files = append(files, remoteFile{key: prefix, local: dest, size: obj.Size})
	}
	var skipped []string
	if files == nil {
		if local == "-" {
			return usagef("'-' (stdout) takes one object; %s is not a key", t)
		}
		err := listAll(ctx, cl, t.Repo, ri.Commit, prefix, "", func(pg *apiv1.ListResult) error {
			for _, ob := range pg.Objects {
				lp, err := safeLocal(local, ob.Key[len(prefix):])
				if err != nil {
					skipped = append(skipped, fmt.Sprintf("key %q: %v", ob.Key, err))
					continue
				}
				files = append(files, remoteFile{key: ob.Key, local: lp, size: ob.Size})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(files) == 0 && len(skipped) == 0 {
			return &apiv1.APIError{Code: "NoSuchKey", Status: 404,
				Message: fmt.Sprintf("no key %q and no keys under %q at %s@%s; tusk ls %s@%s shows what is there", t.Path, prefix, t.Repo, res.Ref, t.Repo, res.Ref)}
		}
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	prog := newProgress(cmd.ErrOrStderr(), "get", len(files), total)
	failed, saved := downloadAll(ctx, cl, t.Repo, ri.Commit, files, g.jobs, prog)
	prog.finish()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	failed = append(skipped, failed...)
	res.Files = len(files) - (len(failed) - len(skipped))
	res.Bytes = saved // of the files saved, not of those that failed
	res.Failed = failed
	if err := o.printer(stdout(cmd)).print(res, func(p *printer) {
		p.line("Got %s (%s) from %s@%s (commit %s) into %s", plural(res.Files, "file"), fsize(res.Bytes), res.Repo, res.Ref, short(res.Commit), res.Local)
	}); err != nil {
		return err
	}
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintf(cmd.ErrOrStderr(), "tusk: not saved: %s\n", f)
		}
		return fmt.Errorf("%d of %d keys were not saved (listed above)", len(failed), len(files)+len(skipped))
	}
	return nil
}

func getToStdout(ctx context.Context, cl *client, cmd *cobra.Command, repo, commit, key string) error {
	resp, err := openObject(ctx, cl, repo, commit, key)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(stdout(cmd), resp.Body)
	return err
}

// downloadAll downloads files with jobs workers and returns one message per
// file that failed.
// downloadAll downloads files with jobs workers and returns the failures
// (sorted) and the bytes of the files saved.
func downloadAll(ctx context.Context, cl *client, repo, commit string, files []remoteFile, jobs int, prog *progress) ([]string, int64) {
	var mu sync.Mutex
	var failed []string
	var saved int64
	work := make(chan remoteFile)
	var wg sync.WaitGroup
	for range min(jobs, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := downloadOne(ctx, cl, repo, commit, f, prog); err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("key %q: %v", f.key, err))
					mu.Unlock()
					continue
				}
				mu.Lock()
				saved += f.size
				mu.Unlock()
				prog.fileDone()
			}
		}()
	}
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	sort.Strings(failed)
	return failed, saved
}

type progressWriter struct {
	w io.Writer
	p *progress
}

func (w progressWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.p.add(int64(n))
	return n, err
}

// downloadOne writes key to f.local through a temporary file in the same
// directory, checking its size and (single-part uploads) its MD5 ETag.
func downloadOne(ctx context.Context, cl *client, repo, commit string, f remoteFile, prog *progress) error {
	if err := os.MkdirAll(filepath.Dir(f.local), 0o755); err != nil {
		return err
	}
	resp, err := openObject(ctx, cl, repo, commit, f.key)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(f.local), ".tusk-get-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h, progressWriter{io.Discard, prog}), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("short download: %d of %d bytes", n, resp.ContentLength)
	}
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	if len(etag) == 32 && !strings.Contains(etag, "-") && hex.EncodeToString(h.Sum(nil)) != etag {
		return fmt.Errorf("the downloaded bytes do not match the object's MD5 %s", etag)
	}
	return os.Rename(tmp.Name(), f.local)
}

// ---- purge ----

func newPurgeCmd(o *rootOptions) *cobra.Command {
	var f purgeFlags
	cmd := &cobra.Command{
		Use:   "purge (REPO[@REF]:KEY [--version V] | --content SHA256 [--repo REPO]) [--all [--block]] --yes",
		Short: "Remove content on purpose: its bytes, its versions in a repo or every repo, and what pipelines made from it",
		Long: `Purge content for good (SPEC §3). Name it by a version (REPO[@REF]:KEY, the
version REF reads, or --version V) or by its SHA-256 (--content). The scope is
one repo (the version's repo or --repo; needs admin permission on it) or, with
--all, every repo (global admin only).

In the scope, every version holding those bytes leaves the branch views (each
branch that showed one gets one commit without it; a key whose current version
goes reads as its previous remaining version), open commits forget their writes
of it, tags and old commits read it as NoSuchVersion, and pipeline outputs
derived from it are purged too (their datums are recomputed). The bytes are
deleted from the backing store at once, unless another repo still holds them
(a repo admin never affects another repo). --block (with --all) also refuses the
same bytes if anyone uploads them again. Every purge is in the audit log.

To remove one version of one key as S3 does, use DeleteObject with a
versionId (aws s3api delete-object --version-id): that is not a purge.
This cannot be undone: --yes confirms it (on a terminal you are asked
otherwise).`,
		Args: nargs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, cl *client) error { return runPurge(ctx, o, cl, cmd, args, f) })
		},
	}
	cmd.Flags().StringVar(&f.version, "version", "", "the version id of KEY to purge (default: the version REF reads)")
	cmd.Flags().StringVar(&f.content, "content", "", "purge these bytes by SHA-256 (hex) instead of naming a version")
	cmd.Flags().StringVar(&f.repo, "repo", "", "with --content: the repo to purge them in")
	cmd.Flags().BoolVar(&f.all, "all", false, "purge in every repo (global admin only)")
	cmd.Flags().BoolVar(&f.block, "block", false, "with --all: refuse these bytes if they are uploaded again")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "confirm: the content is deleted for good")
	return cmd
}

type purgeFlags struct {
	version, content, repo string
	all, block, yes        bool
}

func runPurge(ctx context.Context, o *rootOptions, cl *client, cmd *cobra.Command, args []string, f purgeFlags) error {
	req := apiv1.PurgeRequest{Content: f.content, Version: f.version, Block: f.block}
	what := ""
	repo := f.repo
	switch {
	case len(args) == 1 && f.content != "":
		return usagef("name a version (REPO[@REF]:KEY) or --content SHA256, not both")
	case len(args) == 1:
		t, err := optPath(args[0], "REPO[@REF]:KEY")
		if err != nil {
			return err
		}
		if !t.HasPath || t.Path == "" {
			return usagef("purge needs a key: REPO[@REF]:KEY, not %q", args[0])
		}
		if f.repo != "" && f.repo != t.Repo {
			return usagef("--repo %s differs from the version's repo %s", f.repo, t.Repo)
		}
		repo, req.Ref, req.Key = t.Repo, t.refOrMain(), t.Path
		what = t.String()
		if f.version != "" {
			what += " version " + f.version
		}
	case f.content != "":
		if f.version != "" {
			return usagef("--version names a version of a key: give REPO[@REF]:KEY too")
		}
		if repo == "" && !f.all {
			return usagef("--content needs a scope: --repo REPO, or --all (global admin)")
		}
		what = "content " + f.content
	default:
		return usagef("name what to purge: REPO[@REF]:KEY [--version V], or --content SHA256")
	}
	if f.block && !f.all {
		return usagef("--block needs --all: only a global admin blocks bytes, for every repo")
	}
	scope := "repo " + repo
	if f.all {
		scope = "every repo"
	}
	if !f.yes {
		in, ok := cmd.InOrStdin().(*os.File)
		if !ok || !isatty.IsTerminal(in.Fd()) {
			return usagef("purge deletes %s in %s for good; pass --yes to confirm", what, scope)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Purge %s in %s, for good? [y/N] ", what, scope)
		var answer string
		fmt.Fscanln(in, &answer)
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return fmt.Errorf("purge cancelled")
		}
	}
	path := "/repos/" + p(repo) + "/purge"
	if f.all {
		path = "/purge"
		req.Repo = repo
	}
	var res apiv1.PurgeReport
	if err := cl.do(ctx, "POST", path, nil, req, &res); err != nil {
		return err
	}
	return o.printer(stdout(cmd)).print(res, func(p *printer) { printPurge(p, &res, "") })
}

func printPurge(p *printer, r *apiv1.PurgeReport, indent string) {
	scope := "repo " + r.Scope
	if r.Scope == "*" {
		scope = "every repo"
	}
	if n := r.Named; n != nil {
		p.line("%sPurged %s@%s:%s version %s (%s, sha256 %s) in %s", indent, n.Repo, n.Ref, n.Key, short(n.Version), fsize(n.Size), r.Content, scope)
	} else {
		p.line("%sPurged content sha256 %s in %s", indent, r.Content, scope)
	}
	p.line("%s  %d versions removed from %d branches", indent, len(r.Removed), len(r.Commits))
	if r.BytesDeleted {
		p.line("%s  bytes deleted from the backing store", indent)
	} else if r.BytesKept != "" {
		p.line("%s  bytes kept: %s", indent, r.BytesKept)
	}
	if r.Block {
		p.line("%s  blocked: the same bytes are refused from now on", indent)
	}
	for i := range r.Derived {
		printPurge(p, &r.Derived[i], indent+"  derived: ")
	}
}
