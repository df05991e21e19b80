package gateway

import (
	"context"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tusk-data/tusk/adminapi"
	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/blob"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/meta"
)

var _ adminapi.Importer = adminOps{}

// importWorkers is how many files an import hashes (and stores) at once.
const importWorkers = 16

// maxSkippedListed bounds ImportResult.Skipped.
const maxSkippedListed = 100

// Import implements adminapi.Importer (tusk import): every regular file
// under im.Source becomes key Prefix/ + its path relative to Source (a
// file Source: key Prefix, or Prefix + its name when Prefix is empty or
// ends in '/', as tusk put names keys), all in ONE commit on im.Branch. Each
// file is read once: hashed and copied into the blob store, or with Link
// hashed and hard-linked (blob.Store.AddFile). Blobs are pinned from
// before they reach their address until the chunk naming them is staged
// in the import's open commit, which keeps them from then on. Symbolic
// links and special files are skipped and reported. On any error the
// import's open commit is aborted: the branch does not change.
func (o adminOps) Import(ctx context.Context, im adminapi.Import, started func(), progress func(apiv1.ImportProgress)) (*apiv1.ImportResult, error) {
	s := o.s
	start := time.Now()
	src, err := s.importSource(im.Source)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, errs.E("gateway.Import", errs.NotExist, "import source %s: %v", im.Source, err)
	}
	mi, err := s.Meta.StartImport(ctx, meta.ImportRequest{Repo: im.Repo, Branch: im.Branch, Author: im.User, Message: im.Message})
	if err != nil {
		return nil, err
	}
	res := &apiv1.ImportResult{Repo: im.Repo, Branch: im.Branch}
	if started != nil {
		started()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct{ path, key string }
	type done struct {
		key    string
		info   blob.Info
		linked bool
		pinned string
		err    error
	}
	jobs := make(chan job, 64)
	dones := make(chan done, 64)
	var walkErr error
	var skipped atomic.Int64
	var skippedMu sync.Mutex
	go func() {
		defer close(jobs)
		send := func(p, key string) bool {
			select {
			case jobs <- job{p, key}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !fi.IsDir() {
			key := im.Prefix // as tusk put: the prefix names the key...
			if key == "" || strings.HasSuffix(key, "/") {
				key += filepath.Base(src) // ...unless it is empty or ends in '/'
			}
			send(src, key)
			return
		}
		prefix := im.Prefix
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/" // a directory's files go under PREFIX/
		}
		walkErr = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return errs.E("gateway.Import", errs.Invalid, "reading %s: %v", p, err)
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(src, p)
			if !d.Type().IsRegular() {
				if n := skipped.Add(1); n <= maxSkippedListed {
					skippedMu.Lock()
					res.Skipped = append(res.Skipped, filepath.ToSlash(rel))
					skippedMu.Unlock()
				}
				return nil
			}
			if !send(p, prefix+filepath.ToSlash(rel)) {
				return ctx.Err()
			}
			return nil
		})
	}()
	var wg sync.WaitGroup
	for range importWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				d := done{key: j.key}
				d.info, d.linked, d.err = s.Blobs.AddFile(ctx, j.path, im.Link, func(i blob.Info) error {
					s.Backend.pins.pin(i.Hash)
					d.pinned = i.Hash
					if s.Meta.Blocked(i.Hash) {
						return errPurgedContent("gateway.Import")
					}
					return nil
				})
				if d.err != nil {
					d.err = errs.E("gateway.Import", errs.KindOf(d.err), "importing %s: %v", j.path, d.err).Because(errs.ReasonOf(d.err))
				}
				select {
				case dones <- d:
				case <-ctx.Done():
					if d.pinned != "" {
						s.Backend.pins.unpin(d.pinned)
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); close(dones) }()

	var pending []string // pinned hashes of entries not staged yet
	unpin := func() {
		for _, h := range pending {
			s.Backend.pins.unpin(h)
		}
		pending = pending[:0]
	}
	defer unpin()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var firstErr error
loop:
	for {
		select {
		case d, ok := <-dones:
			if !ok {
				break loop
			}
			if d.pinned != "" {
				pending = append(pending, d.pinned)
			}
			if firstErr != nil {
				continue
			}
			if d.err != nil {
				firstErr = d.err
				cancel()
				continue
			}
			e := &meta.Entry{Content: d.info.Hash, Size: d.info.Size, ETag: hex.EncodeToString(d.info.MD5)}
			if err := mi.Add(ctx, d.key, e); err != nil {
				firstErr = errs.E("gateway.Import", errs.KindOf(err), "key %q: %v", d.key, err).Because(errs.ReasonOf(err))
				cancel()
				continue
			}
			if mi.Buffered() == 0 {
				unpin()
			}
			res.Files++
			res.Bytes += d.info.Size
			if d.linked {
				res.Linked++
			} else {
				res.Copied++
			}
		case <-tick.C:
			if progress != nil {
				progress(apiv1.ImportProgress{Files: res.Files, Bytes: res.Bytes, Seconds: time.Since(start).Seconds()})
			}
		}
	}
	if firstErr == nil && walkErr != nil {
		firstErr = walkErr
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		if aerr := mi.Abort(ctx); aerr != nil {
			s.cfg.Log.Warn().Err(aerr).Str("commit", mi.ID()).Msg("import: aborting its open commit failed")
		}
		return nil, firstErr
	}
	c, err := mi.Finish(ctx)
	if err != nil {
		_ = mi.Abort(ctx)
		return nil, err
	}
	res.Commit = c.ID
	res.SkippedCount = skipped.Load()
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// importSource checks source (an absolute path or a file:// URL) and
// returns it with symbolic links resolved: it must lie under one of the
// import roots and must not overlap the data directory.
func (s *Server) importSource(source string) (string, error) {
	const op = "gateway.Import"
	if strings.HasPrefix(source, "file://") {
		u, err := url.Parse(source)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return "", errs.E(op, errs.Invalid, "import source %q: want file:///absolute/path", source)
		}
		source = u.Path
	} else if strings.Contains(source, "://") {
		return "", errs.E(op, errs.NotImplemented, "import source %q: only directories of the server's host (an absolute path or file:///path) can be imported", source)
	}
	if !filepath.IsAbs(source) {
		return "", errs.E(op, errs.Invalid, "import source %q is not an absolute path (it is a path on the server's host)", source)
	}
	if len(s.cfg.ImportRoots) == 0 {
		return "", errs.E(op, errs.Permission, "this server allows no import: start tusk serve with --import-root DIR")
	}
	real, err := filepath.EvalSymlinks(source)
	if err != nil {
		return "", errs.E(op, errs.NotExist, "import source %s: %v", source, err)
	}
	under := func(p, dir string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if data, err := filepath.EvalSymlinks(s.cfg.DataDir); err == nil && (under(real, data) || under(data, real)) {
		return "", errs.E(op, errs.Permission, "import source %s overlaps the server's data directory %s", source, s.cfg.DataDir)
	}
	for _, root := range s.cfg.ImportRoots {
		r, err := filepath.EvalSymlinks(root)
		if err == nil && under(real, r) {
			return real, nil
		}
	}
	return "", errs.E(op, errs.Permission, "import source %s is not under an import root of this server (%s)", source, strings.Join(s.cfg.ImportRoots, ", "))
}
