package soak

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// checker compares branches with the model at a quiescent point (no write
// in flight on the branches it checks).
type checker struct {
	m   *Model
	c   *s3.Client
	rng *rand.Rand
	// full re-reads versions already read back right at an earlier check.
	full bool
	// counters for the report
	versionsRead atomic.Int64
	checks       atomic.Int64
}

// obj is one key of a listing.
type obj struct {
	etag string
	size int64
}

// ver is one entry of ListObjectVersions.
type ver struct {
	key, version, etag string
	size               int64
	marker, latest     bool
}

// current is what a GET of a key's current version returned.
type current struct {
	version, sha string
	size         int64
}

// pageSize picks a page size for a listing: tiny pages exercise the
// continuation of every listing.
func (ck *checker) pageSize() int32 {
	return []int32{3, 7, 50, 1000}[ck.rng.IntN(4)]
}

// branch checks b: listings, current states, versions, acknowledged writes.
// It pins every key's observed state in the model.
func (ck *checker) branch(ctx context.Context, b *Branch) {
	ck.checks.Add(1)
	m := ck.m
	flat := map[string]obj{}
	var vers []ver
	for _, prefix := range b.prefixes {
		f, err := ck.listFlat(ctx, b, prefix)
		if err != nil {
			m.violation("ERROR", "check %s: ListObjectsV2 %s: %v", b.Name, prefix, err)
			return
		}
		tree := map[string]obj{}
		if err := ck.listTree(ctx, b, prefix, tree); err != nil {
			m.violation("ERROR", "check %s: ListObjectsV2 %s with delimiter: %v", b.Name, prefix, err)
			return
		}
		v1, err := ck.listV1(ctx, b, prefix)
		if err != nil {
			m.violation("ERROR", "check %s: ListObjects %s: %v", b.Name, prefix, err)
			return
		}
		sameListing(m, b, "ListObjectsV2 with delimiter (walked)", prefix, f, tree)
		sameListing(m, b, "ListObjects v1", prefix, f, v1)
		for k, o := range f {
			flat[k] = o
		}
		vs, err := ck.listVersions(ctx, b, prefix)
		if err != nil {
			m.violation("ERROR", "check %s: ListObjectVersions %s: %v", b.Name, prefix, err)
			return
		}
		vers = append(vers, vs...)
	}

	// Current versions of listed keys, read whole.
	keys := sortedKeys(flat)
	cur := make([]current, len(keys))
	parallel(len(keys), func(i int) {
		k := keys[i]
		body, v, err := ck.get(ctx, b, k, "")
		switch {
		case err != nil:
			m.violation("ERROR", "check %s: listed key %q does not read: %v", b.Name, k, err)
		case checkPayload(body) != "":
			m.violation("CORRUPT", "check %s: current version %s of %q: %s", b.Name, v, k, checkPayload(body))
		case int64(len(body)) != flat[k].size:
			m.violation("CORRUPT", "check %s: %q listed with %d bytes reads %d", b.Name, k, flat[k].size, len(body))
		default:
			cur[i] = current{version: v, sha: sha256hex(body), size: int64(len(body))}
		}
	})

	// Versions not yet read back right: read them at their version id.
	m.mu.Lock()
	var toRead []int
	for i, v := range vers {
		if !v.marker && (ck.full || !m.good[v.key+"\x00"+v.version]) {
			toRead = append(toRead, i)
		}
	}
	m.mu.Unlock()
	shas := make([]string, len(vers))
	parallel(len(toRead), func(j int) {
		v := vers[toRead[j]]
		body, got, err := ck.get(ctx, b, v.key, v.version)
		ck.versionsRead.Add(1)
		switch {
		case err != nil:
			m.violation("LOST", "check %s: listed version %s of %q does not read: %v", b.Name, v.version, v.key, err)
		case got != v.version:
			m.violation("PROTOCOL", "check %s: GET %q?versionId=%s answered version %s", b.Name, v.key, v.version, got)
		case checkPayload(body) != "":
			m.violation("CORRUPT", "check %s: version %s of %q: %s", b.Name, v.version, v.key, checkPayload(body))
		case int64(len(body)) != v.size:
			m.violation("CORRUPT", "check %s: version %s of %q listed with %d bytes reads %d", b.Name, v.version, v.key, v.size, len(body))
		default:
			shas[toRead[j]] = sha256hex(body)
		}
	})

	m.mu.Lock()
	defer m.mu.Unlock()
	// Listed keys are keys the model knows on this branch.
	obs := map[string]state{}
	for i, k := range keys {
		if b.model[k] == nil {
			m.violation("PHANTOM", "check %s: key %q is listed but no write on the branch (or merged into it) touched it", b.Name, k)
			continue
		}
		if cur[i].sha == "" {
			continue // reported above
		}
		if !m.shas[k][cur[i].sha] {
			m.violation("PHANTOM", "check %s: current version %s of %q holds bytes no write of the key sent", b.Name, cur[i].version, k)
		}
		obs[k] = state{present: true, version: cur[i].version, sha: cur[i].sha}
	}
	// Each key's state is one of its candidates; then it is pinned.
	for k, km := range b.model {
		if !under(k, b.prefixes) {
			continue
		}
		o := obs[k]
		if _, listed := flat[k]; listed && !o.present {
			continue // unreadable, reported above
		}
		cands := candidates(km)
		ok := false
		for _, c := range cands {
			if matches(o, c) {
				ok = true
				break
			}
		}
		if !ok {
			var cs []string
			for _, c := range cands {
				cs = append(cs, c.String())
			}
			var ws []string
			for _, w := range km.since {
				ws = append(ws, fmt.Sprintf("%s[%d..%d %s %s]", w.op, w.start, w.end, outcomeName(w.out), w.version))
			}
			m.violation("STATE", "check %s: %q is %s; the model allows only %s (writes since the last check: %s)",
				b.Name, k, o, strings.Join(cs, " | "), strings.Join(ws, " "))
		}
		km.pinned, km.since = o, nil
	}
	// Versions: each explained by a write, read back right; IsLatest
	// agrees with the current state.
	listed := map[string]bool{}
	for i, v := range vers {
		id := v.key + "\x00" + v.version
		listed[id] = true
		w := m.ackedAt[id]
		if b.model[v.key] == nil {
			m.violation("PHANTOM", "check %s: ListObjectVersions lists key %q no write on the branch touched", b.Name, v.key)
		}
		if v.marker {
			if !(w != nil && w.del) && !m.merges[v.version] {
				if m.cutDel[v.key] {
					m.landed[id] = true
				} else {
					m.violation("PHANTOM", "check %s: delete marker %s of %q that no acknowledged or cut delete explains", b.Name, v.version, v.key)
				}
			}
		} else {
			switch {
			case w != nil && w.del:
				m.violation("PROTOCOL", "check %s: acknowledged delete %s of %q is listed as a version, not a delete marker", b.Name, v.version, v.key)
			case w != nil:
				if shas[i] != "" && shas[i] != w.sha {
					m.violation("CORRUPT", "check %s: version %s of %q reads bytes other than the acknowledged %s sent", b.Name, v.version, v.key, w.op)
				}
			case m.merges[v.version] || m.cutPut[v.key]:
				if !m.merges[v.version] {
					m.landed[id] = true
				}
				if shas[i] != "" && !m.shas[v.key][shas[i]] {
					m.violation("PHANTOM", "check %s: version %s of %q holds bytes no write of the key sent", b.Name, v.version, v.key)
				}
			default:
				m.violation("PHANTOM", "check %s: version %s of %q was never acknowledged (and no write of it was cut)", b.Name, v.version, v.key)
			}
			if shas[i] != "" {
				m.good[id] = true
			}
		}
		if _, listed := flat[v.key]; v.latest && !(listed && !obs[v.key].present) {
			o := obs[v.key]
			if v.marker == o.present || (o.present && o.version != v.version) {
				m.violation("LIST", "check %s: ListObjectVersions marks %s of %q latest (marker %v) but the key is %s", b.Name, v.version, v.key, v.marker, o)
			}
		}
	}
	// Every acknowledged write on the branch is listed, as what it was.
	for _, w := range b.acks {
		if under(w.key, b.prefixes) && !listed[w.key+"\x00"+w.version] {
			m.violation("LOST", "check %s: acknowledged %s of %q (version %s) is missing from ListObjectVersions", b.Name, w.op, w.key, w.version)
		}
	}
}

func outcomeName(o outcome) string {
	return [...]string{"in-flight", "acked", "failed", "cut"}[o]
}

// sameListing reports differences between two listings of one prefix.
func sameListing(m *Model, b *Branch, what, prefix string, want, got map[string]obj) {
	for k, o := range want {
		if g, ok := got[k]; !ok {
			m.violation("LIST", "check %s: %s %s misses %q", b.Name, what, prefix, k)
		} else if g != o {
			m.violation("LIST", "check %s: %s %s lists %q as %+v, ListObjectsV2 as %+v", b.Name, what, prefix, k, g, o)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			m.violation("LIST", "check %s: %s %s lists %q that ListObjectsV2 does not", b.Name, what, prefix, k)
		}
	}
}

// get reads key (at version, or the current one) whole.
func (ck *checker) get(ctx context.Context, b *Branch, key, version string) ([]byte, string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := ck.c.GetObject(ctx, in)
	if err != nil {
		return nil, "", err
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	return body, aws.ToString(out.VersionId), err
}

// listFlat lists prefix with ListObjectsV2 without delimiter: keys in
// order, each once.
func (ck *checker) listFlat(ctx context.Context, b *Branch, prefix string) (map[string]obj, error) {
	out := map[string]obj{}
	p := s3.NewListObjectsV2Paginator(ck.c, &s3.ListObjectsV2Input{Bucket: aws.String(b.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(ck.pageSize())})
	last := ""
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if k <= last {
				ck.m.violation("LIST", "check %s: ListObjectsV2 %s: %q after %q", b.Name, prefix, k, last)
			}
			last = k
			out[k] = obj{etag: strings.Trim(aws.ToString(o.ETag), `"`), size: aws.ToInt64(o.Size)}
		}
	}
	return out, nil
}

// listTree walks prefix with delimiter "/", level by level, into out; every
// common prefix must hold at least one key.
func (ck *checker) listTree(ctx context.Context, b *Branch, prefix string, out map[string]obj) error {
	p := s3.NewListObjectsV2Paginator(ck.c, &s3.ListObjectsV2Input{Bucket: aws.String(b.Bucket), Prefix: aws.String(prefix),
		Delimiter: aws.String("/"), MaxKeys: aws.Int32(ck.pageSize())})
	var subs []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if strings.Contains(k[len(prefix):], "/") {
				ck.m.violation("LIST", "check %s: ListObjectsV2 %s with delimiter lists %q", b.Name, prefix, k)
			}
			out[k] = obj{etag: strings.Trim(aws.ToString(o.ETag), `"`), size: aws.ToInt64(o.Size)}
		}
		for _, cp := range page.CommonPrefixes {
			subs = append(subs, aws.ToString(cp.Prefix))
		}
	}
	for _, s := range subs {
		n := len(out)
		if err := ck.listTree(ctx, b, s, out); err != nil {
			return err
		}
		if len(out) == n {
			ck.m.violation("LIST", "check %s: common prefix %q holds no key", b.Name, s)
		}
	}
	return nil
}

// listV1 lists prefix with ListObjects (v1), paging by marker.
func (ck *checker) listV1(ctx context.Context, b *Branch, prefix string) (map[string]obj, error) {
	out := map[string]obj{}
	marker := ""
	size := ck.pageSize()
	for {
		page, err := ck.c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b.Bucket), Prefix: aws.String(prefix),
			Marker: aws.String(marker), MaxKeys: aws.Int32(size)})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			marker = aws.ToString(o.Key)
			out[marker] = obj{etag: strings.Trim(aws.ToString(o.ETag), `"`), size: aws.ToInt64(o.Size)}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		if len(page.Contents) == 0 {
			return nil, fmt.Errorf("truncated page without keys after marker %q", marker)
		}
	}
}

// listVersions lists every version and delete marker under prefix, paging
// by key and version id marker.
func (ck *checker) listVersions(ctx context.Context, b *Branch, prefix string) ([]ver, error) {
	var out []ver
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(b.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32([]int32{50, 1000, 1000}[ck.rng.IntN(3)])}
	seen := map[string]bool{}
	for {
		page, err := ck.c.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			out = append(out, ver{key: aws.ToString(v.Key), version: aws.ToString(v.VersionId), etag: strings.Trim(aws.ToString(v.ETag), `"`),
				size: aws.ToInt64(v.Size), latest: aws.ToBool(v.IsLatest)})
		}
		for _, d := range page.DeleteMarkers {
			out = append(out, ver{key: aws.ToString(d.Key), version: aws.ToString(d.VersionId), marker: true, latest: aws.ToBool(d.IsLatest)})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
		if seen[aws.ToString(in.KeyMarker)+"\x00"+aws.ToString(in.VersionIdMarker)] {
			return nil, fmt.Errorf("ListObjectVersions pagination repeats marker %q/%q", aws.ToString(in.KeyMarker), aws.ToString(in.VersionIdMarker))
		}
		seen[aws.ToString(in.KeyMarker)+"\x00"+aws.ToString(in.VersionIdMarker)] = true
	}
	dup := map[string]bool{}
	for _, v := range out {
		id := v.key + "\x00" + v.version
		if dup[id] {
			ck.m.violation("LIST", "check %s: ListObjectVersions lists version %s of %q twice", b.Name, v.version, v.key)
		}
		dup[id] = true
	}
	return out, nil
}

// parallel runs fn(0..n-1) on 8 goroutines.
func parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(8, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
