package s3api

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
)

// ListBuckets: the repos the requester may read. Anonymous requests are
// refused, as on AWS.
func (s *server) listBuckets(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	if rc.anonymous() {
		return s3err("AccessDenied", "anonymous requests cannot list buckets")
	}
	if err := s.allow(ctx, rc, "", ActRead); err != nil {
		return err
	}
	repos, err := s.cfg.Backend.ListRepos(ctx, rc.user)
	if err != nil {
		return err
	}
	res := listAllMyBucketsResult{NS: s3NS, Owner: rc.owner(), Buckets: []bucketXML{}}
	for _, ri := range repos {
		res.Buckets = append(res.Buckets, bucketXML{Name: ri.Name, CreationDate: isoTime(ri.Created)})
	}
	return writeXML(w, http.StatusOK, res)
}

// CreateBucket: REPO creates a repo (with main), REF.REPO a branch from
// main's head (SPEC §2). A CreateBucketConfiguration body is accepted and
// its LocationConstraint ignored; a body that does not parse is
// MalformedXML.
func (s *server) createBucket(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	ref, repo, err := splitBucket(rc.addr.Bucket, true)
	if err != nil {
		return err
	}
	if err := checkCannedACL(r.Header); err != nil {
		return err
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled"), "true") {
		return s3err("NotImplemented", "object lock is not implemented by Tusk")
	}
	if ref == "" {
		err = s.allow(ctx, rc, repo, ActCreateRepo)
	} else {
		err = s.allow(ctx, rc, repo, ActAdmin)
	}
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(rc.body, maxConfigBody+1))
	if err != nil {
		return bodyError(err)
	}
	if len(data) > maxConfigBody {
		return s3err("MaxMessageLengthExceeded", "the CreateBucketConfiguration is larger than %d bytes", maxConfigBody)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(data, &cfg); err != nil {
			return s3err("MalformedXML", "the CreateBucketConfiguration is not well-formed: %v", err)
		}
	}
	if err := s.cfg.Backend.CreateBucket(ctx, rc.user, repo, ref); err != nil {
		if errs.KindOf(err) == errs.Exist && errs.CodeOf(err) == "" {
			return &errs.Error{Op: "s3api.createBucket", Kind: errs.Exist, Code: "BucketAlreadyOwnedByYou", Err: err}
		}
		return err
	}
	w.Header().Set("Location", "/"+rc.addr.Bucket)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// HeadBucket: 200 when the bucket resolves and the requester may read it.
func (s *server) headBucket(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.bucket(r.Context(), rc, ActRead)
	if err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", s.cfg.Region)
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
	b, err := s.resolve(ctx, rc.addr.Bucket)
	if err != nil {
		return err
	}
	if err := s.allow(ctx, rc, b.Repo, ActAdmin); err != nil {
		return err
	}
	ref, repo, err := splitBucket(rc.addr.Bucket, false)
	if err != nil {
		return err
	}
	if err := s.cfg.Backend.DeleteBucket(ctx, rc.user, repo, ref); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GetBucketLocation answers the configured region ("" for us-east-1, as
// AWS does).
func (s *server) getBucketLocation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, err := s.bucket(r.Context(), rc, ActRead); err != nil {
		return err
	}
	loc := s.cfg.Region
	if loc == "us-east-1" {
		loc = ""
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
	if err := s.cfg.Backend.SetVersioning(ctx, b, cfg.Status, rc.user); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// getBucketACL answers the owner with FULL_CONTROL: Tusk has no ACLs,
// permissions come from its users (SPEC §5).
func (s *server) getBucketACL(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, err := s.bucket(r.Context(), rc, ActRead); err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, ownerACL(rc))
}

func ownerACL(rc *reqCtx) accessControlPolicy {
	o := rc.owner()
	return accessControlPolicy{NS: s3NS, Owner: o, Grants: []grantXML{{
		Grantee: granteeXML{
			XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser",
			ID: o.ID, DisplayName: o.DisplayName,
		},
		Permission: "FULL_CONTROL",
	}}}
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

// checkCannedACL accepts x-amz-acl private and bucket-owner-full-control
// (the only ACLs Tusk's permission model can honour) and refuses other
// canned ACLs and x-amz-grant-* with NotImplemented.
func checkCannedACL(h http.Header) error {
	switch acl := h.Get("X-Amz-Acl"); acl {
	case "", "private", "bucket-owner-full-control":
	default:
		return s3err("NotImplemented", "canned ACL %q is not implemented by Tusk: access is granted per user and repo", acl)
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
			return s3err("NotImplemented", "%s is not implemented by Tusk: access is granted per user and repo", strings.ToLower(k))
		}
	}
	return nil
}
