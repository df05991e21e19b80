package s3api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/internal/names"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// maxListBuckets is the largest max-buckets AWS takes.
const maxListBuckets = 10000

// ListBuckets: the repos the requester may read, by name, with AWS's
// max-buckets / continuation-token / prefix / bucket-region parameters.
// Without max-buckets every repo is listed. Anonymous requests are refused,
// as on AWS.
func (s *server) listBuckets(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	if rc.anonymous() {
		return s3err("AccessDenied", "anonymous requests cannot list buckets")
	}
	if err := s.allow(ctx, rc, "", ActRead); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 0
	if v, ok := q["max-buckets"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxListBuckets {
			return s3err("InvalidArgument", "max-buckets must be an integer from 1 to %d, not %q", maxListBuckets, v[0])
		}
		limit = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || names.ValidRepo(string(b)) != nil {
			return s3err("InvalidArgument", "the continuation-token %q is not one this server answered", tok)
		}
		after = string(b)
	}
	prefix, region := q.Get("prefix"), q.Get("bucket-region")
	repos, err := s.cfg.Backend.ListRepos(ctx, rc.caller())
	if err != nil {
		return err
	}
	sort.Slice(repos, func(i, j int) bool { return repos[i].Name < repos[j].Name })
	res := listAllMyBucketsResult{NS: s3NS, Owner: rc.owner(), Buckets: []bucketXML{}, Prefix: prefix}
	for _, ri := range repos {
		if !strings.HasPrefix(ri.Name, prefix) || ri.Name <= after {
			continue
		}
		br := s.bucketRegion(ri.Location)
		if region != "" && br != region {
			continue
		}
		if limit > 0 && len(res.Buckets) == limit {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[limit-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketXML{Name: ri.Name, CreationDate: isoTime(ri.Created), BucketRegion: br})
	}
	return writeXML(w, http.StatusOK, res)
}

// bucketRegion is the region of a bucket created with LocationConstraint
// loc: the server's when none was given; "EU" is eu-west-1, as on AWS.
func (s *server) bucketRegion(loc string) string {
	switch loc {
	case "":
		return s.cfg.Region
	case "EU":
		return "eu-west-1"
	}
	return loc
}

// checkLocation answers a CreateBucketConfiguration's LocationConstraint
// as AWS's endpoint of the server's region does: us-east-1 takes none (and
// refuses "us-east-1" spelled out, which is not a valid constraint); every
// other region takes its own name only ("EU" too for eu-west-1). A bucket
// is never made in another region than the server's.
func (s *server) checkLocation(loc string) error {
	region := s.cfg.Region
	switch {
	case region == "us-east-1" && loc == "":
		return nil
	case region == "us-east-1" && loc == "us-east-1":
		return s3err("InvalidLocationConstraint", "the specified location-constraint is not valid: leave LocationConstraint out to create a bucket in us-east-1")
	case region != "us-east-1" && (loc == region || region == "eu-west-1" && loc == "EU"):
		return nil
	case loc == "":
		return s3err("IllegalLocationConstraintException", "the unspecified location constraint is incompatible for the region specific endpoint this request was sent to: this server is in %s; send LocationConstraint %s", region, region)
	}
	return s3err("IllegalLocationConstraintException", "the %s location constraint is incompatible for the region specific endpoint this request was sent to: this server is in %s", loc, region)
}

// CreateBucket: REPO creates a repo (with main) owned by the requester,
// REF.REPO a branch from main's head (SPEC §2). A CreateBucketConfiguration
// body must name the server's region (checkLocation), which GetBucketLocation
// answers afterwards; a body that does not parse is MalformedXML. x-amz-acl
// public-read makes the new repo public-read.
//
// An existing bucket is answered as AWS does: 409 BucketAlreadyExists when
// someone else owns it (a global admin or a repo admin who is not the
// repo's owner included: they may act on it, but it is not theirs); when
// the requester owns the repo, 200 in us-east-1 (AWS's legacy answer, which
// also resets the bucket's ACL to the one sent: private unless x-amz-acl
// says otherwise) and 409 BucketAlreadyOwnedByYou in other regions. Nothing
// else changes.
func (s *server) createBucket(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	ref, repo, err := splitBucket(rc.addr.Bucket, true)
	if err != nil {
		return err
	}
	public, aclGiven, err := bucketCannedACL(r.Header)
	if err != nil {
		return err
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled"), "true") {
		return s3err("NotImplemented", "object lock is not implemented by Tusk")
	}
	ownedOnly := false // the requester may not create repos but owns this one
	if ref == "" {
		if err := s.allow(ctx, rc, repo, ActCreateRepo); err != nil {
			if errs.KindOf(err) != errs.Permission || rc.anonymous() || s.allow(ctx, rc, repo, ActOwn) != nil {
				return err
			}
			ownedOnly = true
		}
	} else if err := s.allow(ctx, rc, repo, ActAdmin); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(rc.body, maxConfigBody+1))
	if err != nil {
		return bodyError(err)
	}
	if len(data) > maxConfigBody {
		return s3err("MaxMessageLengthExceeded", "the CreateBucketConfiguration is larger than %d bytes", maxConfigBody)
	}
	var cfg createBucketConfiguration
	if len(bytes.TrimSpace(data)) > 0 {
		if err := decodeBody(data, &cfg, "MalformedXML", "CreateBucketConfiguration"); err != nil {
			return err
		}
	}
	if err := s.checkLocation(cfg.LocationConstraint); err != nil {
		return err
	}
	if ref != "" && aclGiven {
		b, err := s.resolve(ctx, repo)
		if err != nil {
			return err
		}
		if err := refACL(rc.addr.Bucket, b, public); err != nil {
			return err
		}
	}
	if ownedOnly {
		err = errs.E("s3api.createBucket", errs.Exist, "bucket %s exists", rc.addr.Bucket)
	} else {
		err = s.cfg.Backend.CreateBucket(ctx, rc.caller(), repo, ref, BucketOptions{Location: cfg.LocationConstraint, Public: public})
	}
	if err != nil {
		if errs.KindOf(err) != errs.Exist {
			return noSuchBucket(rc.addr.Bucket, ref, err)
		}
		if err := s.bucketExists(ctx, rc, ref, repo, public); err != nil {
			return err
		}
	}
	w.Header().Set("Location", "/"+rc.addr.Bucket)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// bucketExists answers CreateBucket of an existing bucket: nil (200) when
// the requester is the repo's owner and the server is in us-east-1, after
// resetting a repo's ACL to public; an error otherwise. Ownership is the
// repo's recorded owner, not a permission: a global admin may do anything
// to another user's repo, but does not own it.
func (s *server) bucketExists(ctx context.Context, rc *reqCtx, ref, repo string, public bool) error {
	const op = "s3api.createBucket"
	name := rc.addr.Bucket
	b, err := s.resolve(ctx, repo)
	if err != nil {
		return err
	}
	if rc.anonymous() || b.Owner != rc.user {
		return s3code.New(op, errs.Exist, "BucketAlreadyExists", "bucket %s already exists and belongs to another user; choose another name", name)
	}
	if s.cfg.Region != "us-east-1" {
		return s3code.New(op, errs.Exist, "BucketAlreadyOwnedByYou", "you already own bucket %s", name)
	}
	if ref == "" {
		if b.Public == public {
			return nil
		}
		if err := s.cfg.Backend.SetPublic(ctx, rc.caller(), repo, public); err != nil {
			return noSuchBucket(name, "", err)
		}
	}
	return nil
}

// refACL checks an ACL sent for bucket REF.REPO: public-read is a property
// of the whole repo, so a REF.REPO bucket takes only the ACL the repo has.
func refACL(name string, b Bucket, public bool) error {
	if public == b.Public {
		return nil
	}
	return s3err("NotImplemented", "bucket %s is a ref of repo %s, and Tusk sets public-read per repo: set the ACL on bucket %s", name, b.Repo, b.Repo)
}

// HeadBucket: 200 when the bucket resolves and the requester may read it.
func (s *server) headBucket(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.bucket(r.Context(), rc, ActRead)
	if err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", s.bucketRegion(b.Location))
	if b.Commit != "" {
		w.Header().Set("X-Tusk-Commit", b.Commit)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// DeleteBucket: BRANCH.REPO deletes the branch, REPO the repo (SPEC §2);
// the backend refuses with BucketNotEmpty while keys remain.
func (s *server) deleteBucket(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	if _, err := s.authorize(ctx, rc, rc.addr.Bucket, ActAdmin); err != nil {
		return err
	}
	ref, repo, err := splitBucket(rc.addr.Bucket, false)
	if err != nil {
		return err
	}
	if err := s.cfg.Backend.DeleteBucket(ctx, rc.caller(), repo, ref); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GetBucketLocation answers the LocationConstraint the bucket's repo was
// created with ("" when none, as AWS answers for us-east-1); repos made
// without one on a server of another region answer that region.
func (s *server) getBucketLocation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.bucket(r.Context(), rc, ActRead)
	if err != nil {
		return err
	}
	loc := b.Location
	if loc == "" && s.cfg.Region != "us-east-1" {
		loc = s.cfg.Region
	}
	return writeXML(w, http.StatusOK, locationConstraint{NS: s3NS, Value: loc})
}

// GetBucketVersioning answers the status last set on the bucket's branch:
// Enabled for a new repo (every write is a version, SPEC §4).
func (s *server) getBucketVersioning(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.bucket(r.Context(), rc, ActRead)
	if err != nil {
		return err
	}
	status := b.Versioning
	if status == "" {
		status = "Enabled"
	}
	return writeXML(w, http.StatusOK, versioningConfiguration{NS: s3NS, Status: status})
}

// PutBucketVersioning sets the bucket's branch to Enabled or Suspended
// (SPEC §3: Suspended follows S3's null-version rules; writes still
// commit). MFA delete is NotImplemented.
func (s *server) putBucketVersioning(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	b, err := s.bucket(ctx, rc, ActWrite)
	if err != nil {
		return err
	}
	var cfg versioningConfiguration
	if _, err := readXML(rc.body, maxConfigBody, &cfg); err != nil {
		return err
	}
	if cfg.MfaDelete == "Enabled" {
		return s3err("NotImplemented", "MFA delete is not implemented by Tusk")
	}
	switch cfg.Status {
	case "Enabled", "Suspended":
	default:
		return s3err("MalformedXML", "versioning Status must be Enabled or Suspended, not %q", cfg.Status)
	}
	if b.Kind != RefBranch {
		return s3err("InvalidRequest", "bucket %s is not a branch: versioning is set on a branch's bucket", b.Name)
	}
	if err := s.cfg.Backend.SetVersioning(ctx, rc.caller(), b, cfg.Status); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// getBucketACL answers the repo's owner with FULL_CONTROL and, when the
// repo is public-read, the AllUsers group with READ: Tusk's other
// permissions come from its users (SPEC §5), not from ACLs.
func (s *server) getBucketACL(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.bucket(r.Context(), rc, ActRead)
	if err != nil {
		return err
	}
	acl := ownerACL(rc)
	if b.Owner != "" {
		o := ownerXML{ID: b.Owner, DisplayName: b.Owner}
		acl.Owner, acl.Grants[0].Grantee.ID, acl.Grants[0].Grantee.DisplayName = o, o.ID, o.DisplayName
	}
	if b.Public {
		acl.Grants = append(acl.Grants, grantXML{
			Grantee:    granteeXML{XMLNSXSI: xsiNS, Type: "Group", URI: allUsersURI},
			Permission: "READ",
		})
	}
	return writeXML(w, http.StatusOK, acl)
}

// ownerACL is the requester with FULL_CONTROL (GetObjectAcl's answer).
func ownerACL(rc *reqCtx) accessControlPolicy {
	o := rc.owner()
	return accessControlPolicy{NS: s3NS, Owner: o, Grants: []grantXML{{
		Grantee: granteeXML{
			XMLNSXSI: xsiNS, Type: "CanonicalUser",
			ID: o.ID, DisplayName: o.DisplayName,
		},
		Permission: "FULL_CONTROL",
	}}}
}

// putBucketACL sets the repo's public-read flag from a canned ACL
// (x-amz-acl private or public-read) or an AccessControlPolicy body that
// grants nothing but the owner's FULL_CONTROL and AllUsers READ. It needs
// admin permission on the repo. On a REF.REPO bucket only the repo's
// current setting is accepted (refACL).
func (s *server) putBucketACL(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	b, err := s.bucket(ctx, rc, ActAdmin)
	if err != nil {
		return err
	}
	public, given, err := bucketCannedACL(r.Header)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(rc.body, maxConfigBody+1))
	if err != nil {
		return bodyError(err)
	}
	if len(data) > maxConfigBody {
		return s3err("MaxMessageLengthExceeded", "the AccessControlPolicy is larger than %d bytes", maxConfigBody)
	}
	switch hasBody := len(bytes.TrimSpace(data)) > 0; {
	case hasBody && given:
		return s3err("UnexpectedContent", "send either x-amz-acl or an AccessControlPolicy body, not both")
	case hasBody:
		if public, err = policyPublic(data); err != nil {
			return err
		}
	case !given:
		return s3err("MissingSecurityHeader", "PutBucketAcl needs an x-amz-acl header (private or public-read) or an AccessControlPolicy body")
	}
	ref, repo, err := splitBucket(rc.addr.Bucket, false)
	if err != nil {
		return err
	}
	if ref != "" {
		if err := refACL(rc.addr.Bucket, b, public); err != nil {
			return err
		}
	} else if err := s.cfg.Backend.SetPublic(ctx, rc.caller(), repo, public); err != nil {
		return noSuchBucket(rc.addr.Bucket, "", err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// The AllUsers group of S3 ACLs, and the XML Schema instance namespace of
// xsi:type.
const (
	allUsersURI = "http://acs.amazonaws.com/groups/global/AllUsers"
	xsiNS       = "http://www.w3.org/2001/XMLSchema-instance"
)

// aclPolicyIn is an AccessControlPolicy as clients send it.
type aclPolicyIn struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Grants  []struct {
		Grantee struct {
			Type  string `xml:"type,attr"`
			ID    string `xml:"ID"`
			URI   string `xml:"URI"`
			Email string `xml:"EmailAddress"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// policyPublic reads an AccessControlPolicy body: it is public when it
// grants AllUsers READ. Grants of FULL_CONTROL to a canonical user (the
// owner, whose access Tusk keeps anyway) are accepted; any other grant is
// NotImplemented, a body that does not parse MalformedACLError.
func policyPublic(data []byte) (bool, error) {
	var p aclPolicyIn
	if err := decodeBody(data, &p, "MalformedACLError", "AccessControlPolicy"); err != nil {
		return false, err
	}
	public := false
	for _, g := range p.Grants {
		ge := g.Grantee
		switch {
		case ge.Type == "Group" && ge.URI == allUsersURI && g.Permission == "READ":
			public = true
		case ge.Type == "CanonicalUser" && g.Permission == "FULL_CONTROL":
		default:
			who := ge.ID + ge.URI + ge.Email
			return false, s3err("NotImplemented", "granting %s to %s %q is not implemented by Tusk: a bucket ACL may grant only the owner FULL_CONTROL and AllUsers READ (public-read); other access is granted per user and repo", g.Permission, ge.Type, who)
		}
	}
	return public, nil
}

// probeAnswer is AWS's answer to a configuration GET when nothing is
// configured: an error code, or a document.
type probeAnswer struct {
	code string
	doc  func() any
}

// notConfigured lists the bucket configuration probes and AWS's
// "nothing configured" answers (SPEC §4). Setting any of them is
// NotImplemented (the sub-resource catch-all).
var notConfigured = map[string]probeAnswer{
	"policy":            {code: "NoSuchBucketPolicy"},
	"policyStatus":      {code: "NoSuchBucketPolicy"},
	"cors":              {code: "NoSuchCORSConfiguration"},
	"lifecycle":         {code: "NoSuchLifecycleConfiguration"},
	"encryption":        {code: "ServerSideEncryptionConfigurationNotFoundError"},
	"tagging":           {code: "NoSuchTagSet"},
	"website":           {code: "NoSuchWebsiteConfiguration"},
	"replication":       {code: "ReplicationConfigurationNotFoundError"},
	"object-lock":       {code: "ObjectLockConfigurationNotFoundError"},
	"ownershipControls": {code: "OwnershipControlsNotFoundError"},
	"publicAccessBlock": {code: "NoSuchPublicAccessBlockConfiguration"},
	"logging": {doc: func() any {
		return struct {
			XMLName xml.Name `xml:"BucketLoggingStatus"`
			NS      string   `xml:"xmlns,attr"`
		}{NS: s3NS}
	}},
	"notification": {doc: func() any {
		return struct {
			XMLName xml.Name `xml:"NotificationConfiguration"`
			NS      string   `xml:"xmlns,attr"`
		}{NS: s3NS}
	}},
	"accelerate": {doc: func() any {
		return struct {
			XMLName xml.Name `xml:"AccelerateConfiguration"`
			NS      string   `xml:"xmlns,attr"`
		}{NS: s3NS}
	}},
	"requestPayment": {doc: func() any {
		return struct {
			XMLName xml.Name `xml:"RequestPaymentConfiguration"`
			NS      string   `xml:"xmlns,attr"`
			Payer   string   `xml:"Payer"`
		}{NS: s3NS, Payer: "BucketOwner"}
	}},
}

func (s *server) notConfiguredProbe(a probeAnswer) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		if _, err := s.bucket(r.Context(), rc, ActRead); err != nil {
			return err
		}
		if a.code != "" {
			return s3err(a.code, "%s", codeTable[a.code].Msg)
		}
		return writeXML(w, http.StatusOK, a.doc())
	}
}

// deletableConfigs are the configurations whose DELETE AWS answers 204
// when nothing is configured; with nothing ever configured in Tusk, the
// delete is a successful no-op (tools clean up this way).
var deletableConfigs = []string{"policy", "cors", "lifecycle", "encryption", "tagging", "website",
	"replication", "ownershipControls", "publicAccessBlock"}

// deleteNothingConfigured answers DELETE ?cors and its kind: 204, after the
// same permission a change would need.
func (s *server) deleteNothingConfigured(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, err := s.bucket(r.Context(), rc, ActAdmin); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkCannedACL checks an object write's ACL: x-amz-acl private and
// bucket-owner-full-control (what Tusk's permission model honours) are
// accepted; other canned ACLs and x-amz-grant-* are NotImplemented.
func checkCannedACL(h http.Header) error {
	switch acl := h.Get("X-Amz-Acl"); acl {
	case "", "private", "bucket-owner-full-control":
	default:
		return s3err("NotImplemented", "canned ACL %q on an object is not implemented by Tusk: objects take only private or bucket-owner-full-control; access is granted per user and repo, and a whole repo is made anonymously readable with the public-read ACL on its bucket", acl)
	}
	return noGrantHeaders(h)
}

// bucketCannedACL reads a bucket's x-amz-acl: public-read makes the repo
// public-read; private (and bucket-owner-full-control, which means the same
// for a bucket) makes it private. given is false without the header. Other
// canned ACLs and x-amz-grant-* are NotImplemented.
func bucketCannedACL(h http.Header) (public, given bool, err error) {
	switch acl := h.Get("X-Amz-Acl"); acl {
	case "":
	case "private", "bucket-owner-full-control":
		given = true
	case "public-read":
		public, given = true, true
	default:
		return false, false, s3err("NotImplemented", "canned ACL %q on a bucket is not implemented by Tusk: buckets take private or public-read (anonymous reads); writes are granted per user and repo", acl)
	}
	return public, given, noGrantHeaders(h)
}

func noGrantHeaders(h http.Header) error {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
			return s3err("NotImplemented", "%s is not implemented by Tusk: access is granted per user and repo", strings.ToLower(k))
		}
	}
	return nil
}
