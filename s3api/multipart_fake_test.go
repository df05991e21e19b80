package s3api

// TEST DOUBLE: the multipart half of fakeBackend (fake_test.go), in memory,
// following the contract of backend.go: uploads belong to a bucket's ref
// and key, Check runs before anything is written, a completion is one
// commit, a completed upload answers again for the same ETag.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/tusk-data/tusk/internal/errs"
)

type fakeMPUpload struct {
	u         Upload
	repo, ref string
	parts     map[int]*fakeMPPart
	done      *Object
}

type fakeMPPart struct {
	Part
	data []byte
}

// fakeMP is the multipart state of one fakeBackend.
type fakeMP struct {
	uploads map[string]*fakeMPUpload
	seq     int
	// hold, when set, blocks completions (after Slow is called) until it
	// is closed (keepalive tests).
	hold chan struct{}
}

var fakeMPs sync.Map // *fakeBackend -> *fakeMP

// mp returns f's multipart state; f.mu must be held.
func (f *fakeBackend) mp() *fakeMP {
	v, _ := fakeMPs.LoadOrStore(f, &fakeMP{uploads: map[string]*fakeMPUpload{}})
	return v.(*fakeMP)
}

func fakeNoSuchUpload(id string) error {
	return errs.E("fake.upload", errs.NotExist, "no upload %s", id).Because(errs.Upload)
}

// upload finds id for b and key; f.mu must be held.
func (f *fakeBackend) upload(b Bucket, key, id string, inFlight bool) (*fakeMPUpload, error) {
	u := f.mp().uploads[id]
	if u == nil || u.repo != b.Repo || u.ref != b.Ref || u.u.Key != key || (inFlight && u.done != nil) {
		return nil, fakeNoSuchUpload(id)
	}
	return u, nil
}

func (f *fakeBackend) CreateMultipartUpload(ctx context.Context, c Caller, b Bucket, key string, opts UploadOptions) (Upload, error) {
	if err := f.writable(ctx, c, b, "fake.Create"); err != nil {
		return Upload{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.mp()
	m.seq++
	u := Upload{ID: fmt.Sprintf("%040x", m.seq), Key: key, Initiated: f.tick(), User: c.User, Meta: opts.Meta,
		ChecksumAlgorithm: opts.ChecksumAlgorithm, ChecksumType: opts.ChecksumType}
	m.uploads[u.ID] = &fakeMPUpload{u: u, repo: b.Repo, ref: b.Ref, parts: map[int]*fakeMPPart{}}
	return u, nil
}

func (f *fakeBackend) GetMultipartUpload(ctx context.Context, c Caller, b Bucket, key, id string) (Upload, error) {
	if err := f.allow(ctx, c, b.Repo, ActRead); err != nil {
		return Upload{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, err := f.upload(b, key, id, true)
	if err != nil {
		return Upload{}, err
	}
	return u.u, nil
}

func (f *fakeBackend) UploadPart(ctx context.Context, c Caller, b Bucket, key, id string, n int, body io.Reader, opts PartOptions) (Part, error) {
	if err := f.writable(ctx, c, b, "fake.UploadPart"); err != nil {
		return Part{}, err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return Part{}, err
	}
	if opts.Size >= 0 && int64(len(data)) != opts.Size {
		return Part{}, errs.E("fake.UploadPart", errs.Invalid, "size").Because(errs.IncompleteBody)
	}
	sum := md5.Sum(data)
	if opts.ContentMD5 != nil && !bytes.Equal(opts.ContentMD5, sum[:]) {
		return Part{}, errs.E("fake.UploadPart", errs.Invalid, "Content-MD5 mismatch").Because(errs.Digest)
	}
	var sums map[string]string
	if opts.Finish != nil {
		if sums, err = opts.Finish(); err != nil {
			return Part{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, err := f.upload(b, key, id, true)
	if err != nil {
		return Part{}, err
	}
	p := &fakeMPPart{Part: Part{Number: n, Size: int64(len(data)), ETag: hex.EncodeToString(sum[:]), LastModified: f.tick(), Checksums: sums}, data: data}
	u.parts[n] = p
	return p.Part, nil
}

func (f *fakeBackend) CompleteMultipartUpload(ctx context.Context, c Caller, b Bucket, key, id string, numbers []int, opts CompleteOptions) (Object, error) {
	if err := f.writable(ctx, c, b, "fake.Complete"); err != nil {
		return Object{}, err
	}
	f.mu.Lock()
	u, err := f.upload(b, key, id, false)
	if err != nil {
		f.mu.Unlock()
		return Object{}, err
	}
	if u.done != nil {
		defer f.mu.Unlock()
		if u.done.ETag != opts.ETag {
			return Object{}, fakeNoSuchUpload(id)
		}
		return *u.done, nil
	}
	var parts []Part
	var datas [][]byte
	for _, n := range numbers {
		p := u.parts[n]
		if p == nil {
			f.mu.Unlock()
			return Object{}, errs.E("fake.Complete", errs.Invalid, "no part %d", n).Because(errs.Part)
		}
		parts = append(parts, p.Part)
		datas = append(datas, p.data)
	}
	uu := u.u
	f.mu.Unlock()
	var comp Completion
	if opts.Check != nil {
		if comp, err = opts.Check(uu, parts); err != nil {
			return Object{}, err
		}
	}
	if opts.Slow != nil {
		opts.Slow()
	}
	f.mu.Lock()
	hold := f.mp().hold
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[b.Repo]
	h := r.branches[b.Ref]
	if err := f.checkConds(h, key, PutOptions{IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch}); err != nil {
		return Object{}, err
	}
	whole := bytes.Join(datas, nil)
	content := fmt.Sprintf("mp-%s", id)
	f.blobs[content] = whole
	var sizes []int64
	for _, p := range parts {
		sizes = append(sizes, p.Size)
	}
	o := &Object{Size: int64(len(whole)), ETag: opts.ETag, Meta: uu.Meta, Checksums: comp.Checksums,
		ChecksumType: comp.ChecksumType, Content: content, Parts: sizes}
	cm := f.newCommit(map[string]*Object{key: o})
	r.branches[b.Ref] = append(h, cm)
	out := *o
	out.Commit = cm.id
	u.done = &out
	return out, nil
}

func (f *fakeBackend) AbortMultipartUpload(ctx context.Context, c Caller, b Bucket, key, id string) error {
	if err := f.writable(ctx, c, b, "fake.Abort"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.upload(b, key, id, true); err != nil {
		return err
	}
	delete(f.mp().uploads, id)
	return nil
}

func (f *fakeBackend) ListParts(ctx context.Context, c Caller, b Bucket, key, id string, opts PartListOptions) (PartListResult, error) {
	if err := f.allow(ctx, c, b.Repo, ActRead); err != nil {
		return PartListResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, err := f.upload(b, key, id, true)
	if err != nil {
		return PartListResult{}, err
	}
	res := PartListResult{Upload: u.u}
	var ns []int
	for n := range u.parts {
		if n > opts.Marker {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	for _, n := range ns {
		if len(res.Parts) == opts.Max {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, u.parts[n].Part)
		res.NextMarker = n
	}
	return res, nil
}

func (f *fakeBackend) ListMultipartUploads(ctx context.Context, c Caller, b Bucket, opts UploadListOptions) (UploadListResult, error) {
	if err := f.allow(ctx, c, b.Repo, ActRead); err != nil {
		return UploadListResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []Upload
	for _, u := range f.mp().uploads {
		if u.repo == b.Repo && u.ref == b.Ref && u.done == nil && strings.HasPrefix(u.u.Key, opts.Prefix) {
			all = append(all, u.u)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Key != all[j].Key {
			return all[i].Key < all[j].Key
		}
		return all[i].ID < all[j].ID
	})
	var res UploadListResult
	n := 0
	last := ""
	for _, u := range all {
		if opts.KeyMarker != "" && (u.Key < opts.KeyMarker || u.Key == opts.KeyMarker && (opts.UploadIDMarker == "" || u.ID <= opts.UploadIDMarker)) {
			continue
		}
		cp := ""
		if opts.Delimiter != "" {
			if i := strings.Index(u.Key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp = u.Key[:len(opts.Prefix)+i+len(opts.Delimiter)]
			}
		}
		if cp != "" && (cp == last || cp == opts.KeyMarker) {
			continue
		}
		if n == opts.MaxUploads {
			res.IsTruncated = true
			break
		}
		n++
		if cp != "" {
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			last = cp
			res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
			continue
		}
		res.Uploads = append(res.Uploads, u)
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.ID
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}
