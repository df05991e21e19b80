package test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestIfNoneMatchRace: of 20 concurrent If-None-Match: * PUTs of one key,
// exactly one wins; the others are 412 PreconditionFailed and leave no
// version.
func TestIfNoneMatchRace(t *testing.T) {
	e := newEnv(t)
	repo := e.repo(t)
	const n = 20
	clients := []*s3.Client{e.sdk(pathHTTP), e.sdk(pathTLS), e.sdk(vhostHTTP), e.sdk(vhostTLS)}
	var wg sync.WaitGroup
	errs := make([]error, n)
	vers := make([]string, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out, err := clients[i%len(clients)].PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("race"),
				Body: bytes.NewReader([]byte(fmt.Sprintf("writer %02d", i))), IfNoneMatch: aws.String("*")})
			errs[i] = err
			if err == nil {
				vers[i] = aws.ToString(out.VersionId)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("two winners: writers %d and %d", winner, i)
			}
			winner = i
			continue
		}
		if httpStatus(err) != 412 || apiCode(err) != "PreconditionFailed" {
			t.Fatalf("writer %d: %v; want 412 PreconditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	b, g := get(t, e.sdk(pathHTTP), repo, "race", "")
	if string(b) != fmt.Sprintf("writer %02d", winner) || aws.ToString(g.VersionId) != vers[winner] {
		t.Fatalf("race reads %q version %q; winner was %d (%s)", b, aws.ToString(g.VersionId), winner, vers[winner])
	}
	vs := e.versions(t, repo)
	if len(vs) != 1 || vs[0].VersionID != vers[winner] {
		t.Fatalf("versions after the race: %v; want only the winner's", vs)
	}
}

// TestIfNoneMatchRaceManyKeys: 5 keys, 6 racing creators each, mixed
// with unconditional writes to other keys in the same group commits:
// exactly one creator per key wins.
func TestIfNoneMatchRaceManyKeys(t *testing.T) {
	e := newEnv(t)
	repo := e.repo(t)
	c := e.sdk(pathHTTP)
	const keys, per = 5, 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string][]string{}
	start := make(chan struct{})
	for i := 0; i < keys*per; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			<-start
			key := fmt.Sprintf("create-%d", i%keys)
			out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String(key),
				Body: bytes.NewReader([]byte(fmt.Sprintf("creator %d", i))), IfNoneMatch: aws.String("*")})
			if err != nil {
				if httpStatus(err) != 412 {
					t.Errorf("creator %d: %v", i, err)
				}
				return
			}
			mu.Lock()
			wins[key] = append(wins[key], aws.ToString(out.VersionId))
			mu.Unlock()
		}(i)
		go func(i int) {
			defer wg.Done()
			<-start
			if _, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String(fmt.Sprintf("plain-%d", i)),
				Body: bytes.NewReader([]byte("plain"))}); err != nil {
				t.Errorf("plain writer %d: %v", i, err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("create-%d", k)
		if len(wins[key]) != 1 {
			t.Fatalf("%s: %d winners %v, want exactly 1", key, len(wins[key]), wins[key])
		}
	}
	n := 0
	for _, v := range e.versions(t, repo) {
		if strings.HasPrefix(v.Key, "create-") {
			n++
			if v.VersionID != wins[v.Key][0] {
				t.Fatalf("%s has version %s, winner was %s", v.Key, v.VersionID, wins[v.Key][0])
			}
		}
	}
	if n != keys {
		t.Fatalf("%d versions of create-* keys, want %d", n, keys)
	}
	if got := len(keysOf(t, c, repo)); got != keys+keys*per {
		t.Fatalf("%d keys, want %d", got, keys+keys*per)
	}
}

// TestConcurrentWriters: concurrent unconditional writers on one branch all
// succeed, each with its own commit.
func TestConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	repo := e.repo(t)
	c := e.sdk(pathHTTP)
	const n = 16
	var wg sync.WaitGroup
	vers := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := fmt.Sprintf("k%02d", i%4) // 4 writers per key
			out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String(key),
				Body: bytes.NewReader([]byte(fmt.Sprintf("w%02d", i)))})
			errs[i] = err
			if err == nil {
				vers[i] = aws.ToString(out.VersionId)
			}
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		if seen[vers[i]] {
			t.Fatalf("two writes share commit %s", vers[i])
		}
		seen[vers[i]] = true
	}
	vs := e.versions(t, repo)
	if len(vs) != n {
		t.Fatalf("%d versions after %d writes: %v", len(vs), n, vs)
	}
	for _, v := range vs {
		if !seen[v.VersionID] {
			t.Fatalf("listed version %v was answered to no writer", v)
		}
	}
	// Each key reads as its latest version's content.
	for i := 0; i < 4; i++ {
		key := fmt.Sprintf("k%02d", i)
		_, g := get(t, c, repo, key, "")
		for _, v := range vs {
			if v.Key == key && v.IsLatest && v.VersionID != aws.ToString(g.VersionId) {
				t.Fatalf("%s reads version %s, listing says latest is %s", key, aws.ToString(g.VersionId), v.VersionID)
			}
		}
	}
}

// TestConditionalWrites: If-None-Match: * and If-Match on PutObject and
// CopyObject, checked against the branch head; a failed condition writes
// nothing.
func TestConditionalWrites(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	p := put(t, c, repo, "k", []byte("v1"))
	etag := aws.ToString(p.ETag)
	put(t, c, repo, "src", []byte("copy source"))
	pw := func(in *s3.PutObjectInput) error {
		in.Bucket = aws.String(repo)
		if in.Body == nil {
			in.Body = bytes.NewReader([]byte("conditional body"))
		}
		_, err := c.PutObject(ctx(t), in)
		return err
	}
	refused := []struct {
		name string
		call func() error
	}{
		{"If-None-Match * on existing", func() error { return pw(&s3.PutObjectInput{Key: aws.String("k"), IfNoneMatch: aws.String("*")}) }},
		{"If-Match wrong etag", func() error {
			return pw(&s3.PutObjectInput{Key: aws.String("k"), IfMatch: aws.String(`"` + md5hex([]byte("nope")) + `"`)})
		}},
		{"Copy If-None-Match * on existing", func() error {
			_, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(repo), Key: aws.String("k"),
				CopySource: aws.String(repo + "/src"), IfNoneMatch: aws.String("*")})
			return err
		}},
		{"Copy If-Match wrong etag", func() error {
			_, err := c.CopyObject(ctx(t), &s3.CopyObjectInput{Bucket: aws.String(repo), Key: aws.String("k"),
				CopySource: aws.String(repo + "/src"), IfMatch: aws.String(`"` + md5hex([]byte("nope")) + `"`)})
			return err
		}},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			before := e.versions(t, repo)
			wantErr(t, r.call(), 412, "PreconditionFailed")
			sameVersions(t, r.name, e.versions(t, repo), before)
			if b, _ := get(t, c, repo, "k", ""); string(b) != "v1" {
				t.Fatalf("k changed to %q", b)
			}
		})
	}
	t.Run("If-Match on a missing key", func(t *testing.T) {
		before := e.versions(t, repo)
		err := pw(&s3.PutObjectInput{Key: aws.String("missing"), IfMatch: aws.String(etag)})
		wantErr(t, err, 404, "NoSuchKey") // AWS: no current version
		sameVersions(t, "If-Match missing", e.versions(t, repo), before)
	})
	t.Run("If-Match right etag", func(t *testing.T) {
		out, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("k"),
			Body: bytes.NewReader([]byte("v2")), IfMatch: aws.String(etag)})
		if err != nil {
			t.Fatal(err)
		}
		b, g := get(t, c, repo, "k", "")
		if string(b) != "v2" || aws.ToString(g.VersionId) != aws.ToString(out.VersionId) {
			t.Fatalf("after If-Match write: %q", b)
		}
		// The old ETag no longer matches.
		wantErr(t, pw(&s3.PutObjectInput{Key: aws.String("k"), IfMatch: aws.String(etag)}), 412, "PreconditionFailed")
	})
	t.Run("If-None-Match * on a new key and after a delete", func(t *testing.T) {
		if err := pw(&s3.PutObjectInput{Key: aws.String("fresh"), IfNoneMatch: aws.String("*")}); err != nil {
			t.Fatal(err)
		}
		deleteKey(t, c, repo, "fresh")
		if err := pw(&s3.PutObjectInput{Key: aws.String("fresh"), IfNoneMatch: aws.String("*")}); err != nil {
			t.Fatalf("If-None-Match * on a deleted key: %v", err)
		}
	})
	t.Run("If-Match race: one compare-and-swap wins", func(t *testing.T) {
		p := put(t, c, repo, "cas", []byte("base"))
		const n = 10
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String("cas"),
					Body: bytes.NewReader([]byte(fmt.Sprintf("cas %d", i))), IfMatch: p.ETag})
			}(i)
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			if err == nil {
				wins++
			} else if httpStatus(err) != 412 {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d If-Match writers won, want exactly 1", wins)
		}
	})
}

// TestBadInput: keys and names the server must refuse, with nothing
// written.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	c := e.sdk(pathHTTP)
	repo := e.repo(t)
	put(t, c, repo, "exists", []byte("x"))
	before := e.versions(t, repo)
	nothing := func(t *testing.T, what string) {
		t.Helper()
		sameVersions(t, what, e.versions(t, repo), before)
	}

	t.Run("keys", func(t *testing.T) {
		cases := []struct {
			name, key string
			code      string
		}{
			// AWS: a key that does not decode is 400 InvalidURI.
			{"NUL", "a\x00b", "InvalidURI"},
			{"trailing NUL", "ab\x00", "InvalidURI"},
			{"invalid UTF-8", "bad\xff\xfeutf8", "InvalidURI"},
			{"lone continuation byte", "x\x80y", "InvalidURI"},
			{"overlong encoding", "slash\xc0\xaf", "InvalidURI"},
			{"surrogate", "sur\xed\xa0\x80", "InvalidURI"},
			{"1025 bytes", strings.Repeat("k", 1025), "KeyTooLongError"},
			{"1025 bytes multibyte", strings.Repeat("é", 512) + "k", "KeyTooLongError"},
		}
		for _, cse := range cases {
			t.Run(cse.name, func(t *testing.T) {
				r := e.do(t, rawReq{method: "PUT", bucket: repo, key: cse.key, body: []byte("payload")})
				if r.status != 400 {
					t.Fatalf("PUT %q: %d %s; want 400", cse.key, r.status, r.body)
				}
				wantRawErr(t, r, 400, cse.code)
				nothing(t, cse.name)
				for _, m := range []string{"GET", "DELETE"} {
					r := e.do(t, rawReq{method: m, bucket: repo, key: cse.key})
					if r.status != 400 {
						t.Fatalf("%s %q: %d %s; want 400", m, cse.key, r.status, r.body)
					}
					wantRawErr(t, r, 400, cse.code)
				}
				if r := e.do(t, rawReq{method: "HEAD", bucket: repo, key: cse.key}); r.status != 400 || len(r.body) != 0 {
					t.Fatalf("HEAD %q: %d %q; want 400 without a body", cse.key, r.status, r.body)
				}
				// As copy destination and copy source.
				r = e.do(t, rawReq{method: "PUT", bucket: repo, key: cse.key,
					header: map[string]string{"X-Amz-Copy-Source": repo + "/exists"}})
				wantRawErr(t, r, 400, cse.code)
				r = e.do(t, rawReq{method: "PUT", bucket: repo, key: "copy-dst",
					header: map[string]string{"X-Amz-Copy-Source": repo + "/" + escapeKey(cse.key)}})
				if r.status != 400 {
					t.Fatalf("copy from %q: %d %s", cse.key, r.status, r.body)
				}
				nothing(t, cse.name+" (copy)")
			})
		}
		t.Run("1024 bytes is fine", func(t *testing.T) {
			k := strings.Repeat("é", 511) + "ab"
			if len(k) != 1024 {
				t.Fatal(len(k))
			}
			put(t, c, repo, k, []byte("longest"))
			if b, _ := get(t, c, repo, k, ""); string(b) != "longest" {
				t.Fatal(string(b))
			}
			_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(repo), Key: aws.String(k + "x"), Body: bytes.NewReader(nil)})
			wantErr(t, err, 400, "KeyTooLongError")
			deleteKey(t, c, repo, k)
			before = e.versions(t, repo)
		})
		t.Run("DeleteObjects with a bad key", func(t *testing.T) {
			long := strings.Repeat("d", 1100)
			body := `<Delete><Object><Key>` + long + `</Key></Object><Object><Key>exists</Key></Object></Delete>`
			r := e.do(t, rawReq{method: "POST", bucket: repo, query: "delete", body: []byte(body),
				header: map[string]string{"Content-MD5": md5b64([]byte(body))}})
			if r.status != 200 || !strings.Contains(string(r.body), "KeyTooLongError") || !strings.Contains(string(r.body), "<Key>exists</Key>") {
				t.Fatalf("DeleteObjects with one bad key: %d %s", r.status, r.body)
			}
			before = e.versions(t, repo)
			put(t, c, repo, "exists", []byte("x"))
			before = e.versions(t, repo)
		})
	})

	t.Run("bucket names", func(t *testing.T) {
		bad := []string{
			"UpperCase", "ab", "under_score", "-leading", "trailing-", strings.Repeat("r", 64), "has space",
			"dead-beef.UPPER",
			// branch names on REF.REPO
			"deadbeef." + repo, "0123456789abcdef." + repo, "12345678." + repo,
			"Dev." + repo, "under_score." + repo, "-dash." + repo, strings.Repeat("b", 51) + "." + repo,
		}
		buckets := listBuckets(t, c)
		for _, name := range bad {
			t.Run(name, func(t *testing.T) {
				r := e.do(t, rawReq{method: "PUT", bucket: bucketPath(name)})
				wantRawErr(t, r, 400, "InvalidBucketName")
				if got := listBuckets(t, c); strings.Join(got, ",") != strings.Join(buckets, ",") {
					t.Fatalf("ListBuckets changed: %q", got)
				}
				if strings.HasSuffix(name, "."+repo) {
					ref := strings.TrimSuffix(name, "."+repo)
					if _, err := e.srv.Meta.Resolve(ctx(t), repo, ref); err == nil {
						t.Fatalf("branch %q was created", ref)
					}
				}
			})
		}
		// Hex-looking but not all hex, or under 8 chars: valid branches.
		for _, ok := range []string{"deadbee", "deadbeefx", "cafe-babe1"} {
			createBucket(t, c, ok+"."+repo)
		}
		// The SDK path: InvalidBucketName too.
		_, err := c.CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String("aaaaaaaa." + repo)})
		wantErr(t, err, 400, "InvalidBucketName")
		nothing(t, "bucket names")
	})

	t.Run("malformed CreateBucket XML", func(t *testing.T) {
		for _, body := range []string{"<CreateBucketConfiguration><LocationConstraint>", "garbage", "<a></b>"} {
			name := e.name("mal")
			r := e.do(t, rawReq{method: "PUT", bucket: name, body: []byte(body)})
			wantRawErr(t, r, 400, "MalformedXML")
			if err := headBucket(t, c, name); httpStatus(err) != 404 {
				t.Fatalf("repo %s exists after a malformed CreateBucket: %v", name, err)
			}
		}
	})
}

// bucketPath escapes a bucket name for a raw path (spaces and the like).
func bucketPath(s string) string { return strings.ReplaceAll(s, " ", "%20") }
