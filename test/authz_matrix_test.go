package test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/meta"
)

// The authorization matrix (issue 13): every S3 operation the gateway
// serves, for every kind of caller, on the caller's own repo, on another
// repo and on a public repo, through every bucket form, is answered as ONE
// table of rules says (azExpect), never by a hand-written expectation per
// cell. Denials are 403 AccessDenied whether the ref, key or version named
// exists or not; a denied write leaves the target repo exactly as it was
// (azState); a permitted request on a ref that does not exist is 404
// NoSuchBucket.

// azRole is a kind of caller.
type azRole int

const (
	roleAnon   azRole = iota // no signature
	roleNone                 // signed in, no permission on the target
	roleRead                 // read on its own repo
	roleWrite                // write on its own repo
	roleAdmin                // admin of its own repo
	roleGlobal               // an admin user (every permission everywhere)
)

var azRoles = []azRole{roleAnon, roleNone, roleRead, roleWrite, roleAdmin, roleGlobal}

func (r azRole) String() string {
	return [...]string{"anonymous", "none", "read", "write", "repoadmin", "globaladmin"}[r]
}

// grant is the permission each role holds on its own repo.
func (r azRole) grant() int {
	return [...]int{auth.PermNone, auth.PermNone, auth.PermRead, auth.PermWrite, auth.PermAdmin, auth.PermAdmin}[r]
}

// azTarget is whose repo a request names.
type azTarget int

const (
	tOwn    azTarget = iota // the repo the role's permission is on
	tOther                  // another user's repo: no grant
	tPublic                 // a public-read repo: no grant
)

var azTargets = []azTarget{tOwn, tOther, tPublic}

func (t azTarget) String() string { return [...]string{"own", "other", "public"}[t] }

// needGlobal is a requirement only an admin user meets.
const needGlobal = auth.PermAdmin + 1

// azLevel is the rule of access (SPEC §5): an admin user has admin
// everywhere; other users have their grant on their own repo and nothing
// elsewhere; everyone, anonymous included, reads a public repo.
func azLevel(r azRole, t azTarget) int {
	if r == roleGlobal {
		return needGlobal
	}
	lvl := auth.PermNone
	if t == tOwn {
		lvl = r.grant()
	}
	if t == tPublic && lvl < auth.PermRead {
		lvl = auth.PermRead
	}
	return lvl
}

// azForm is how a bucket names a repo's ref.
type azForm struct {
	name     string
	writable bool // S3 writes land there (a branch or an open commit)
	missing  bool // the ref does not exist
}

var (
	fRepo     = azForm{name: "REPO", writable: true}
	fBranch   = azForm{name: "BRANCH.REPO", writable: true}
	fTag      = azForm{name: "TAG.REPO"}
	fCommit   = azForm{name: "COMMIT.REPO"}
	fOpen     = azForm{name: "OPEN.REPO", writable: true}
	fNoBranch = azForm{name: "BRANCH.REPO(missing)", missing: true}
	fNoCommit = azForm{name: "COMMIT.REPO(missing)", missing: true}
	fNoOpen   = azForm{name: "OPEN.REPO(missing)", missing: true}
)

var azForms = []azForm{fRepo, fBranch, fTag, fCommit, fOpen, fNoBranch, fNoCommit, fNoOpen}

// azRepo is one repo of the fixture: key "k" on main (written by commit),
// branch dev, tag v1, an open commit on main.
type azRepo struct {
	name, commit, open string
}

func (r *azRepo) bucket(f azForm) string {
	switch f {
	case fRepo:
		return r.name
	case fBranch:
		return "dev." + r.name
	case fTag:
		return "v1." + r.name
	case fCommit:
		return r.commit + "." + r.name
	case fOpen:
		return r.open[:16] + "." + r.name
	case fNoBranch:
		return "nosuch." + r.name
	case fNoCommit:
		return strings.Repeat("0", 32) + "." + r.name
	case fNoOpen:
		return strings.Repeat("0", 16) + "." + r.name
	}
	panic(f.name)
}

// azWant is an answer: status 0 is success.
type azWant struct {
	status int
	code   string
}

func (w azWant) String() string {
	if w.status == 0 {
		return "success"
	}
	return fmt.Sprintf("%d %s", w.status, w.code)
}

var (
	azOK     = azWant{}
	azDenied = azWant{403, "AccessDenied"}
)

// azCell is one request of the matrix.
type azCell struct {
	m      *azMatrix
	t      *testing.T
	role   azRole
	target azTarget
	form   azForm
	repo   *azRepo
	bucket string
	c      *s3.Client // the role's client
	key    string     // a key unique to the cell
	upload string     // an upload the cell prepared ("" none)
	// allowed: the table permits the request (preparations that the
	// request consumes are made fresh only then).
	allowed bool
}

// azOp is an S3 operation and its requirement.
type azOp struct {
	name string
	need int // permission on the named repo
	// write: the operation changes the ref it names, so it needs a
	// writable form (read-only refs answer AccessDenied) and its denial
	// must leave the repo unchanged.
	write bool
	// mutates: the operation may change the repo (write implies it): a
	// denial must leave the repo unchanged.
	mutates bool
	// multipart: a multipart call (its denial is checked on the uploads
	// and parts too).
	multipart bool
	// scratch: the operation also writes into the scratch repo (where
	// every signed-in role may write), so anonymous callers are refused.
	scratch bool
	// ok is the answer to a permitted request on an existing ref (nil:
	// success).
	ok func(f azForm) azWant
	// prep runs as the global admin before the request (nil: nothing).
	prep func(c *azCell)
	run  func(c *azCell) error
}

// azExpect is the table of rules every cell is checked against.
func azExpect(op azOp, r azRole, t azTarget, f azForm) azWant {
	if azLevel(r, t) < op.need || op.scratch && r == roleAnon {
		return azDenied
	}
	if f.missing {
		return azWant{404, "NoSuchBucket"}
	}
	if op.write && !f.writable {
		return azDenied // a read-only ref, named as such in the message
	}
	if op.ok != nil {
		return op.ok(f)
	}
	return azOK
}

// azMatrix is the fixture: one gateway, three repos, a scratch repo and a
// client per role.
type azMatrix struct {
	e       *env
	admin   *s3.Client // the bootstrap admin, owner of every repo
	global  *s3.Client // the roleGlobal user
	repos   map[azTarget]*azRepo
	scratch string
	clients map[azRole]*s3.Client
	keys    map[azRole][2]string
	n       int
	shared  map[string]string // bucket -> its upload for denied requests (prepUpload)
}

func newAZMatrix(t *testing.T) *azMatrix {
	e := newEnv(t)
	m := &azMatrix{e: e, admin: e.sdk(pathHTTP), repos: map[azTarget]*azRepo{}, clients: map[azRole]*s3.Client{}, keys: map[azRole][2]string{},
		shared: map[string]string{}}
	for _, tg := range azTargets {
		r := &azRepo{name: e.name("az" + tg.String())}
		createBucket(t, m.admin, r.name)
		r.commit = aws.ToString(put(t, m.admin, r.name, "k", []byte("data of "+r.name)).VersionId)
		createBucket(t, m.admin, "dev."+r.name)
		put(t, m.admin, "dev."+r.name, "d", []byte("dev data of "+r.name))
		e.tag(t, r.name, "v1", "main")
		oc, err := e.srv.Meta.StartCommit(ctx(t), r.name, "main", "admin", "matrix", nil, false)
		if err != nil {
			t.Fatal(err)
		}
		r.open = oc.ID
		if tg == tPublic {
			if err := e.srv.Meta.SetRepoPublic(ctx(t), r.name, true); err != nil {
				t.Fatal(err)
			}
		}
		m.repos[tg] = r
	}
	m.scratch = e.name("azscratch")
	createBucket(t, m.admin, m.scratch)
	put(t, m.admin, m.scratch, "src", []byte("scratch source"))
	for _, r := range azRoles {
		if r == roleAnon {
			m.clients[r] = s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(e.srv.URL), UsePathStyle: true,
				Credentials: aws.AnonymousCredentials{}, HTTPClient: &http.Client{Transport: e.transport(false)}, RetryMaxAttempts: 1})
			continue
		}
		u := auth.User{Name: "az" + r.String(), Admin: r == roleGlobal}
		if _, err := e.srv.Auth.CreateUserWith(ctx(t), &u); err != nil {
			t.Fatal(err)
		}
		if r != roleGlobal {
			if err := e.srv.Auth.Grant(ctx(t), u.Name, m.scratch, auth.PermWrite); err != nil {
				t.Fatal(err)
			}
			if g := r.grant(); g != auth.PermNone {
				if err := e.srv.Auth.Grant(ctx(t), u.Name, m.repos[tOwn].name, g); err != nil {
					t.Fatal(err)
				}
			}
		}
		k, secret, err := e.srv.Auth.CreateKey(ctx(t), u.Name)
		if err != nil {
			t.Fatal(err)
		}
		m.keys[r] = [2]string{k.ID, secret}
		m.clients[r] = e.sdkWith(pathHTTP, k.ID, secret)
	}
	m.global = m.clients[roleGlobal]
	return m
}

// azState is everything of repo a write could change, as JSON: the repo
// record, branches (heads), tags, open commits (their trees' roots), and,
// with uploads (the multipart calls: listing uploads scans them all, the
// most of the matrix's time), the uploads in flight on each of them and
// the parts of upload.
func (m *azMatrix) azState(t *testing.T, repo string, uploads bool, upload string) string {
	t.Helper()
	ms := m.e.srv.Meta
	var st struct {
		Repo     *meta.Repo
		Branches []meta.Branch
		Tags     []meta.Tag
		Open     []meta.OpenCommit
		Uploads  [][]*meta.Upload
		Parts    []meta.Part
	}
	var err error
	must := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	st.Repo, err = ms.GetRepo(ctx(t), repo)
	var e error
	st.Branches, e = ms.ListBranches(ctx(t), repo)
	must(e)
	st.Tags, e = ms.ListTags(ctx(t), repo)
	must(e)
	st.Open, e = ms.ListOpenCommits(ctx(t), repo)
	must(e)
	var targets []meta.UploadListOptions
	for _, b := range st.Branches {
		if !uploads {
			break
		}
		targets = append(targets, meta.UploadListOptions{Branch: b.Name})
	}
	for _, o := range st.Open {
		if !uploads {
			break
		}
		targets = append(targets, meta.UploadListOptions{Open: o.ID})
	}
	for _, o := range targets {
		pg, e := ms.ListUploads(ctx(t), repo, o)
		must(e)
		if pg != nil {
			st.Uploads = append(st.Uploads, pg.Uploads)
		}
	}
	if uploads && upload != "" && upload != "nosuchupload" {
		st.Parts, _, e = ms.ListParts(ctx(t), repo, upload, 0, 10000)
		must(e)
	}
	if err != nil {
		t.Fatalf("state of %s: %v", repo, err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// azAnswer is the answer an SDK call got.
func azAnswer(err error) azWant {
	if err == nil {
		return azOK
	}
	return azWant{httpStatus(err), apiCode(err)}
}

func (c *azCell) ctx() context.Context { return ctx(c.t) }

// prepUpload gives the cell an upload at its bucket when the form takes
// writes (otherwise an upload id that does not exist): a fresh one of
// c.key, started by the global admin, for a permitted request (which may
// consume it); for a denied one, the bucket's shared upload of key
// "shared", which denied requests must leave as it is.
func (c *azCell) prepUpload(parts bool) {
	c.upload = "nosuchupload"
	if !c.form.writable || c.form.missing {
		return
	}
	if !c.allowed {
		if id, ok := c.m.shared[c.bucket]; ok {
			c.key, c.upload = "shared", id
			return
		}
		c.key, parts = "shared", true
		defer func() { c.m.shared[c.bucket] = c.upload }()
	}
	out, err := c.m.global.CreateMultipartUpload(c.ctx(), &s3.CreateMultipartUploadInput{Bucket: aws.String(c.bucket), Key: aws.String(c.key)})
	if err != nil {
		c.t.Fatalf("prep upload on %s: %v", c.bucket, err)
	}
	c.upload = aws.ToString(out.UploadId)
	if parts && c.upload != "nosuchupload" {
		if _, err := c.m.global.UploadPart(c.ctx(), &s3.UploadPartInput{Bucket: aws.String(c.bucket), Key: aws.String(c.key),
			UploadId: out.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part one")}); err != nil {
			c.t.Fatalf("prep part on %s: %v", c.bucket, err)
		}
	}
}

// presigned sends a presigned request (as a browser would) and returns its
// answer; anonymous cells send the same URL unsigned.
func (c *azCell) presigned(method string) azWant {
	var u string
	h := http.Header{}
	if c.role == roleAnon {
		u = c.m.e.srv.URL + "/" + c.bucket + "/" + c.key
	} else {
		p := s3.NewPresignClient(c.c)
		var err error
		if method == http.MethodGet {
			r, e := p.PresignGetObject(c.ctx(), &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String("k")})
			err = e
			if e == nil {
				u, h = r.URL, r.SignedHeader
			}
		} else {
			r, e := p.PresignPutObject(c.ctx(), &s3.PutObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(c.key)})
			err = e
			if e == nil {
				u, h = r.URL, r.SignedHeader
			}
		}
		if err != nil {
			c.t.Fatalf("presign: %v", err)
		}
	}
	if c.role == roleAnon && method == http.MethodGet {
		u = c.m.e.srv.URL + "/" + c.bucket + "/k"
	}
	var body io.Reader
	if method == http.MethodPut {
		body = strings.NewReader("presigned put")
	}
	req, err := http.NewRequestWithContext(c.ctx(), method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range h {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = v
		}
	}
	resp, err := (&http.Client{Transport: c.m.e.transport(false)}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 {
		return azOK
	}
	var doc errorDoc
	_ = xml.Unmarshal(b, &doc)
	return azWant{resp.StatusCode, doc.Code}
}

func azStatus(status int, code string) func(azForm) azWant {
	return func(azForm) azWant { return azWant{status, code} }
}

// azS3Ops is every S3 operation the gateway serves on a bucket or an
// object (s3api's router), with what it needs.
func azS3Ops() []azOp {
	k := aws.String("k")
	missingVersion := aws.String(strings.Repeat("0", 32))
	return []azOp{
		// ---- reads ----
		{name: "GetObject", need: auth.PermRead, run: func(c *azCell) error {
			out, err := c.c.GetObject(c.ctx(), &s3.GetObjectInput{Bucket: &c.bucket, Key: k})
			if err == nil {
				out.Body.Close()
			}
			return err
		}},
		{name: "GetObject(missing key)", need: auth.PermRead, ok: azStatus(404, "NoSuchKey"), run: func(c *azCell) error {
			_, err := c.c.GetObject(c.ctx(), &s3.GetObjectInput{Bucket: &c.bucket, Key: aws.String("nosuch/" + c.key)})
			return err
		}},
		{name: "GetObject(missing version)", need: auth.PermRead, ok: azStatus(404, "NoSuchVersion"), run: func(c *azCell) error {
			_, err := c.c.GetObject(c.ctx(), &s3.GetObjectInput{Bucket: &c.bucket, Key: k, VersionId: missingVersion})
			return err
		}},
		{name: "HeadObject", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.HeadObject(c.ctx(), &s3.HeadObjectInput{Bucket: &c.bucket, Key: k})
			return err
		}},
		{name: "GetObjectAcl", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.GetObjectAcl(c.ctx(), &s3.GetObjectAclInput{Bucket: &c.bucket, Key: k})
			return err
		}},
		{name: "GetObjectTagging", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.GetObjectTagging(c.ctx(), &s3.GetObjectTaggingInput{Bucket: &c.bucket, Key: k})
			return err
		}},
		{name: "GetObjectAttributes", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.GetObjectAttributes(c.ctx(), &s3.GetObjectAttributesInput{Bucket: &c.bucket, Key: k,
				ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}})
			return err
		}},
		{name: "ListObjects", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.ListObjects(c.ctx(), &s3.ListObjectsInput{Bucket: &c.bucket})
			return err
		}},
		{name: "ListObjectsV2", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.ListObjectsV2(c.ctx(), &s3.ListObjectsV2Input{Bucket: &c.bucket})
			return err
		}},
		{name: "ListObjectVersions", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.ListObjectVersions(c.ctx(), &s3.ListObjectVersionsInput{Bucket: &c.bucket})
			return err
		}},
		{name: "HeadBucket", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.HeadBucket(c.ctx(), &s3.HeadBucketInput{Bucket: &c.bucket})
			return err
		}},
		{name: "GetBucketLocation", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.GetBucketLocation(c.ctx(), &s3.GetBucketLocationInput{Bucket: &c.bucket})
			return err
		}},
		{name: "GetBucketVersioning", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.GetBucketVersioning(c.ctx(), &s3.GetBucketVersioningInput{Bucket: &c.bucket})
			return err
		}},
		{name: "GetBucketAcl", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.GetBucketAcl(c.ctx(), &s3.GetBucketAclInput{Bucket: &c.bucket})
			return err
		}},
		{name: "GetBucketPolicy", need: auth.PermRead, ok: azStatus(404, "NoSuchBucketPolicy"), run: func(c *azCell) error {
			_, err := c.c.GetBucketPolicy(c.ctx(), &s3.GetBucketPolicyInput{Bucket: &c.bucket})
			return err
		}},
		{name: "GetBucketLogging", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.GetBucketLogging(c.ctx(), &s3.GetBucketLoggingInput{Bucket: &c.bucket})
			return err
		}},
		{name: "ListMultipartUploads", need: auth.PermRead, run: func(c *azCell) error {
			_, err := c.c.ListMultipartUploads(c.ctx(), &s3.ListMultipartUploadsInput{Bucket: &c.bucket})
			return err
		}},
		{name: "ListParts", need: auth.PermRead, prep: func(c *azCell) { c.prepUpload(true) },
			ok: func(f azForm) azWant {
				if f.writable {
					return azOK
				}
				return azWant{404, "NoSuchUpload"} // no upload is ever made at a read-only ref
			},
			run: func(c *azCell) error {
				_, err := c.c.ListParts(c.ctx(), &s3.ListPartsInput{Bucket: &c.bucket, Key: &c.key, UploadId: &c.upload})
				return err
			}},
		{name: "PresignedGetObject", need: auth.PermRead, run: func(c *azCell) error { return azErr(c.presigned(http.MethodGet)) }},
		// Reading the cell's bucket as a copy source into the scratch repo.
		{name: "CopyObject(source)", need: auth.PermRead, scratch: true, run: func(c *azCell) error {
			_, err := c.c.CopyObject(c.ctx(), &s3.CopyObjectInput{Bucket: &c.m.scratch, Key: &c.key, CopySource: aws.String(c.bucket + "/k")})
			return err
		}},
		{name: "UploadPartCopy(source)", need: auth.PermRead, scratch: true, run: func(c *azCell) error {
			up, err := c.m.global.CreateMultipartUpload(c.ctx(), &s3.CreateMultipartUploadInput{Bucket: &c.m.scratch, Key: &c.key})
			if err != nil {
				c.t.Fatal(err)
			}
			_, err = c.c.UploadPartCopy(c.ctx(), &s3.UploadPartCopyInput{Bucket: &c.m.scratch, Key: &c.key, UploadId: up.UploadId,
				PartNumber: aws.Int32(1), CopySource: aws.String(c.bucket + "/k")})
			return err
		}},

		// ---- writes ----
		{name: "PutObject", need: auth.PermWrite, write: true, run: func(c *azCell) error {
			_, err := c.c.PutObject(c.ctx(), &s3.PutObjectInput{Bucket: &c.bucket, Key: &c.key, Body: strings.NewReader("written")})
			return err
		}},
		{name: "PresignedPutObject", need: auth.PermWrite, write: true, run: func(c *azCell) error { return azErr(c.presigned(http.MethodPut)) }},
		{name: "CopyObject", need: auth.PermWrite, write: true, run: func(c *azCell) error {
			_, err := c.c.CopyObject(c.ctx(), &s3.CopyObjectInput{Bucket: &c.bucket, Key: &c.key, CopySource: aws.String(c.m.scratch + "/src")})
			return err
		}},
		{name: "DeleteObject", need: auth.PermWrite, write: true, run: func(c *azCell) error {
			_, err := c.c.DeleteObject(c.ctx(), &s3.DeleteObjectInput{Bucket: &c.bucket, Key: k})
			if err == nil && c.form.writable {
				// Put k back where it was deleted, for the cells after.
				put(c.t, c.m.global, c.bucket, "k", []byte("data of "+c.repo.name))
			}
			return err
		}},
		{name: "DeleteObject(missing version)", need: auth.PermWrite, write: true,
			ok: func(f azForm) azWant {
				if f == fOpen {
					return azWant{400, "InvalidRequest"} // versions are removed through the branch's bucket
				}
				return azOK
			}, run: func(c *azCell) error {
				_, err := c.c.DeleteObject(c.ctx(), &s3.DeleteObjectInput{Bucket: &c.bucket, Key: k, VersionId: missingVersion})
				return err
			}},
		{name: "DeleteObjects", need: auth.PermWrite, write: true, prep: func(c *azCell) {
			if !c.allowed {
				c.key = "k" // what a denied delete must leave in place
				return
			}
			put(c.t, c.m.global, c.bucket, c.key, []byte("to delete"))
		}, run: func(c *azCell) error {
			out, err := c.c.DeleteObjects(c.ctx(), &s3.DeleteObjectsInput{Bucket: &c.bucket,
				Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: &c.key}}}})
			if err == nil && (len(out.Errors) != 0 || len(out.Deleted) != 1) {
				c.t.Fatalf("DeleteObjects answered %d errors, %d deleted", len(out.Errors), len(out.Deleted))
			}
			return err
		}},
		{name: "PutBucketVersioning", need: auth.PermWrite, write: true,
			ok: func(f azForm) azWant {
				if f == fOpen {
					return azWant{400, "InvalidRequest"} // versioning is a branch's
				}
				return azOK
			},
			run: func(c *azCell) error {
				_, err := c.c.PutBucketVersioning(c.ctx(), &s3.PutBucketVersioningInput{Bucket: &c.bucket,
					VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
				return err
			}},
		{name: "CreateMultipartUpload", need: auth.PermWrite, write: true, multipart: true, run: func(c *azCell) error {
			_, err := c.c.CreateMultipartUpload(c.ctx(), &s3.CreateMultipartUploadInput{Bucket: &c.bucket, Key: &c.key})
			return err
		}},
		{name: "UploadPart", need: auth.PermWrite, write: true, multipart: true, prep: func(c *azCell) { c.prepUpload(false) }, run: func(c *azCell) error {
			_, err := c.c.UploadPart(c.ctx(), &s3.UploadPartInput{Bucket: &c.bucket, Key: &c.key, UploadId: &c.upload,
				PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
			return err
		}},
		{name: "UploadPartCopy", need: auth.PermWrite, write: true, multipart: true, prep: func(c *azCell) { c.prepUpload(false) }, run: func(c *azCell) error {
			_, err := c.c.UploadPartCopy(c.ctx(), &s3.UploadPartCopyInput{Bucket: &c.bucket, Key: &c.key, UploadId: &c.upload,
				PartNumber: aws.Int32(1), CopySource: aws.String(c.m.scratch + "/src")})
			return err
		}},
		{name: "CompleteMultipartUpload", need: auth.PermWrite, write: true, multipart: true, prep: func(c *azCell) { c.prepUpload(true) }, run: func(c *azCell) error {
			etag := aws.String(`"` + md5hex([]byte("part one")) + `"`)
			_, err := c.c.CompleteMultipartUpload(c.ctx(), &s3.CompleteMultipartUploadInput{Bucket: &c.bucket, Key: &c.key, UploadId: &c.upload,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: etag}}}})
			return err
		}},
		{name: "AbortMultipartUpload", need: auth.PermWrite, write: true, multipart: true, prep: func(c *azCell) { c.prepUpload(true) }, run: func(c *azCell) error {
			_, err := c.c.AbortMultipartUpload(c.ctx(), &s3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: &c.key, UploadId: &c.upload})
			return err
		}},

		// ---- the repo admin's ----
		{name: "DeleteBucket", need: auth.PermAdmin, mutates: true,
			ok: func(f azForm) azWant {
				switch f {
				case fRepo, fBranch:
					return azWant{409, "BucketNotEmpty"} // both hold keys: refused, nothing deleted
				}
				return azWant{400, "InvalidRequest"} // only branches and repos are deleted as buckets
			},
			run: func(c *azCell) error {
				_, err := c.c.DeleteBucket(c.ctx(), &s3.DeleteBucketInput{Bucket: &c.bucket})
				return err
			}},
		{name: "PutBucketAcl", need: auth.PermAdmin, run: func(c *azCell) error {
			acl := types.BucketCannedACLPrivate
			if c.target == tPublic {
				acl = types.BucketCannedACLPublicRead // what the repo has: nothing changes
			}
			_, err := c.c.PutBucketAcl(c.ctx(), &s3.PutBucketAclInput{Bucket: &c.bucket, ACL: acl})
			return err
		}},
		{name: "DeleteBucketCors", need: auth.PermAdmin, run: func(c *azCell) error {
			_, err := c.c.DeleteBucketCors(c.ctx(), &s3.DeleteBucketCorsInput{Bucket: &c.bucket})
			return err
		}},
	}
}

// azErr turns a presigned answer back into an error for azAnswer.
func azErr(w azWant) error {
	if w.status == 0 {
		return nil
	}
	return azWantErr(w)
}

type azWantErr azWant

func (e azWantErr) Error() string { return azWant(e).String() }

// TestAuthzMatrixS3 runs every S3 operation for every role, target and
// bucket form, and checks each answer against azExpect.
func TestAuthzMatrixS3(t *testing.T) {
	m := newAZMatrix(t)
	for _, op := range azS3Ops() {
		t.Run(op.name, func(t *testing.T) {
			for _, role := range azRoles {
				t.Run(role.String(), func(t *testing.T) {
					for _, tg := range azTargets {
						t.Run(tg.String(), func(t *testing.T) {
							for _, f := range azForms {
								t.Run(f.name, func(t *testing.T) { m.runCell(t, op, role, tg, f) })
							}
						})
					}
				})
			}
		})
	}
}

func (m *azMatrix) runCell(t *testing.T, op azOp, role azRole, tg azTarget, f azForm) {
	m.n++
	r := m.repos[tg]
	c := &azCell{m: m, t: t, role: role, target: tg, form: f, repo: r, bucket: r.bucket(f), c: m.clients[role],
		key: fmt.Sprintf("cell/%04d", m.n)}
	want := azExpect(op, role, tg, f)
	c.allowed = want == azOK
	if op.prep != nil {
		op.prep(c)
	}
	var before string
	if (op.write || op.mutates) && want != azOK {
		before = m.azState(t, r.name, op.multipart, c.upload)
	}
	err := op.run(c)
	got := azAnswer(err)
	if w, ok := err.(azWantErr); ok {
		got = azWant(w)
	}
	if strings.HasPrefix(op.name, "Head") && want.status != 0 {
		got.code, want.code = "", "" // HEAD answers carry no error body
	}
	if got != want {
		t.Errorf("%s as %s on %s: got %v (%v), want %v", op.name, role, c.bucket, got, err, want)
	}
	if before != "" {
		if after := m.azState(t, r.name, op.multipart, c.upload); after != before {
			t.Errorf("%s as %s on %s answered %v and changed repo %s:\n before %s\n after  %s", op.name, role, c.bucket, got, r.name, before, after)
		}
	}
}

// TestAuthzMatrixBuckets: ListBuckets lists exactly the repos a role may
// read; CreateBucket follows the creation rules (a repo: admin users and
// creators only, 409 BucketAlreadyExists for one someone else owns; a
// branch: the repo's admin).
func TestAuthzMatrixBuckets(t *testing.T) {
	m := newAZMatrix(t)
	for _, role := range azRoles {
		t.Run("ListBuckets/"+role.String(), func(t *testing.T) {
			out, err := m.clients[role].ListBuckets(ctx(t), &s3.ListBucketsInput{})
			if role == roleAnon {
				if got := azAnswer(err); got != azDenied {
					t.Fatalf("anonymous ListBuckets: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, b := range out.Buckets {
				got = append(got, aws.ToString(b.Name))
			}
			for _, tg := range azTargets {
				if azLevel(role, tg) >= auth.PermRead {
					want = append(want, m.repos[tg].name)
				}
			}
			if role == roleGlobal {
				want = nil
				repos, _ := m.e.srv.Meta.ListRepos(ctx(t))
				for _, r := range repos {
					want = append(want, r.Name)
				}
			} else {
				want = append(want, m.scratch)
			}
			sort.Strings(want)
			if !equalStrings(got, want) {
				t.Fatalf("lists %q, want %q", got, want)
			}
		})
	}
	// CreateBucket of an existing bucket in every form: only those who may
	// create it learn that it exists (409); the others are denied.
	for _, role := range azRoles {
		for _, tg := range azTargets {
			r := m.repos[tg]
			for _, f := range []azForm{fRepo, fBranch, fTag, fCommit, fOpen} {
				t.Run(fmt.Sprintf("CreateBucket/%s/%s/%s", role, tg, f.name), func(t *testing.T) {
					need := auth.PermAdmin // a branch: the repo's admin
					if f == fRepo {
						need = needGlobal // creating repos: admin users (no role has create_repos)
					}
					want := azDenied
					switch {
					case f == fCommit || f == fOpen:
						// Refused for its name alone, before anything is
						// looked up: a branch may not be named as a commit.
						want = azWant{400, "InvalidBucketName"}
					case azLevel(role, tg) >= need:
						want = azWant{409, "BucketAlreadyExists"} // the bootstrap admin owns it
					}
					before := m.azState(t, r.name, true, "")
					_, err := m.clients[role].CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(r.bucket(f))})
					if got := azAnswer(err); got != want {
						t.Errorf("got %v (%v), want %v", got, err, want)
					}
					if after := m.azState(t, r.name, true, ""); after != before {
						t.Errorf("repo %s changed:\n before %s\n after  %s", r.name, before, after)
					}
				})
			}
			t.Run(fmt.Sprintf("CreateBucket/%s/%s/NEWBRANCH.REPO", role, tg), func(t *testing.T) {
				m.n++
				b := fmt.Sprintf("nb%04d.%s", m.n, r.name)
				before := m.azState(t, r.name, true, "")
				_, err := m.clients[role].CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(b)})
				want := azDenied
				if azLevel(role, tg) >= auth.PermAdmin {
					want = azOK
				}
				if got := azAnswer(err); got != want {
					t.Errorf("got %v (%v), want %v", got, err, want)
				}
				if want != azOK {
					if after := m.azState(t, r.name, true, ""); after != before {
						t.Errorf("repo %s changed:\n before %s\n after  %s", r.name, before, after)
					}
				}
			})
		}
	}
	t.Run("CreateBucket/repo that does not exist", func(t *testing.T) {
		for _, role := range azRoles {
			name := m.e.name("aznew")
			_, err := m.clients[role].CreateBucket(ctx(t), &s3.CreateBucketInput{Bucket: aws.String(name)})
			want := azDenied
			if role == roleGlobal {
				want = azOK
			}
			if got := azAnswer(err); got != want {
				t.Errorf("%s creating repo %s: got %v (%v), want %v", role, name, got, err, want)
			}
		}
	})
}
