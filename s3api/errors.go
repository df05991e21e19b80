package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// This file is THE error table of the S3 layer: every error a handler
// returns goes through wireError, which maps it to one S3 code and HTTP
// status, and writeError is the one encoder of S3 error XML.
//
// The rule: the first explicit answer in the error's chain wins: an
// *s3code.Error (a protocol-level error born in s3api or s3api/sigv4, which
// names its S3 code) or an *errs.Error with a Reason, whose (Kind, Reason)
// pair reasonTable maps. The code's status comes from codeTable, or from the
// error's Kind when the code is not listed there. Without an explicit answer
// the Kind picks the code (kindTable).
//
// Choices where S3 has no answer:
//   - errs.NoSpace (the store is below its free-space floor) answers 507
//     InsufficientStorage, as MinIO does for a full drive. 507 is in no SDK's
//     retry list, so clients fail at once with the message instead of
//     retrying a write that cannot succeed.
//   - errs.Conflict without a reason answers 409 OperationAborted.
//   - errs.NotExist without a reason answers NoSuchKey on object requests and
//     NoSuchBucket otherwise.
//   - errs.ReadOnly (a write to a tag, a commit or a pipeline's output)
//     answers 403 AccessDenied; errs.Purged answers 404 NoSuchVersion.

// codeInfo is the status and default message of one S3 error code.
type codeInfo struct {
	Status int
	Msg    string
}

// codeTable lists the S3 codes Tusk answers, with AWS's statuses and
// messages. Messages are used when the error carries none of its own.
var codeTable = map[string]codeInfo{
	// 304 / 4xx: the request
	"NotModified":                             {http.StatusNotModified, "Not Modified"},
	"InvalidArgument":                         {400, "Invalid Argument"},
	"InvalidRequest":                          {400, "Invalid Request"},
	"InvalidURI":                              {400, "Couldn't parse the specified URI."},
	"MalformedXML":                            {400, "The XML you provided was not well-formed or did not validate against our published schema."},
	"MaxMessageLengthExceeded":                {400, "Your request was too big."},
	"InvalidBucketName":                       {400, "The specified bucket is not valid."},
	"InvalidLocationConstraint":               {400, "The specified location-constraint is not valid."},
	"IllegalLocationConstraintException":      {400, "The location constraint is incompatible for the region specific endpoint this request was sent to."},
	"MalformedACLError":                       {400, "The XML you provided was not well-formed or did not validate against our published schema."},
	"MissingSecurityHeader":                   {400, "Your request was missing a required header."},
	"UnexpectedContent":                       {400, "This request does not support content."},
	"KeyTooLongError":                         {400, "Your key is too long."},
	"BadDigest":                               {400, "The Content-MD5 or checksum you specified did not match what we received."},
	"InvalidDigest":                           {400, "The Content-MD5 you specified was invalid."},
	"IncompleteBody":                          {400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	"EntityTooLarge":                          {400, "Your proposed upload exceeds the maximum allowed object size."},
	"EntityTooSmall":                          {400, "Your proposed upload is smaller than the minimum allowed object size."},
	"MetadataTooLarge":                        {400, "Your metadata headers exceed the maximum allowed metadata size."},
	"RequestHeaderSectionTooLarge":            {400, "Your request header section exceeds the maximum allowed size."},
	"XAmzContentSHA256Mismatch":               {400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	"AuthorizationHeaderMalformed":            {400, "The authorization header is malformed."},
	"AuthorizationQueryParametersError":       {400, "Error parsing the X-Amz-Credential parameter."},
	"InvalidStorageClass":                     {400, "The storage class you specified is not valid."},
	"InvalidPart":                             {400, "One or more of the specified parts could not be found."},
	"InvalidPartOrder":                        {400, "The list of parts was not in ascending order."},
	"InvalidPartNumber":                       {400, "The requested partnumber is not satisfiable"},
	"InvalidChunkSizeError":                   {400, "Only the last chunk is allowed to have a size less than 8192 bytes."},
	"ExpiredToken":                            {400, "The provided token has expired."},
	"RequestTimeout":                          {400, "Your socket connection to the server was not read from or written to within the timeout period."},
	"IllegalVersioningConfigurationException": {400, "The versioning configuration specified in the request is invalid."},
	"AccessDenied":                            {403, "Access Denied"},
	"SignatureDoesNotMatch":                   {403, "The request signature we calculated does not match the signature you provided."},
	"InvalidAccessKeyId":                      {403, "The AWS access key Id you provided does not exist in our records."},
	"RequestTimeTooSkewed":                    {403, "The difference between the request time and the server's time is too large."},
	"InvalidObjectState":                      {403, "The operation is not valid for the current state of the object."},
	"NoSuchKey":                               {404, "The specified key does not exist."},
	"NoSuchBucket":                            {404, "The specified bucket does not exist."},
	"NoSuchVersion":                           {404, "The specified version does not exist."},
	"NoSuchUpload":                            {404, "The specified multipart upload does not exist."},
	"NoSuchBucketPolicy":                      {404, "The bucket policy does not exist"},
	"NoSuchCORSConfiguration":                 {404, "The CORS configuration does not exist"},
	"NoSuchLifecycleConfiguration":            {404, "The lifecycle configuration does not exist"},
	"ServerSideEncryptionConfigurationNotFoundError": {404, "The server side encryption configuration was not found"},
	"NoSuchTagSet":                          {404, "The TagSet does not exist"},
	"NoSuchWebsiteConfiguration":            {404, "The specified bucket does not have a website configuration"},
	"ReplicationConfigurationNotFoundError": {404, "The replication configuration was not found"},
	"ObjectLockConfigurationNotFoundError":  {404, "Object Lock configuration does not exist for this bucket"},
	"OwnershipControlsNotFoundError":        {404, "The bucket ownership controls were not found"},
	"NoSuchPublicAccessBlockConfiguration":  {404, "The public access block configuration was not found"},
	"MethodNotAllowed":                      {405, "The specified method is not allowed against this resource."},
	"BucketAlreadyOwnedByYou":               {409, "Your previous request to create the named bucket succeeded and you already own it."},
	"BucketAlreadyExists":                   {409, "The requested bucket name is not available."},
	"BucketNotEmpty":                        {409, "The bucket you tried to delete is not empty."},
	"OperationAborted":                      {409, "A conflicting conditional operation is currently in progress against this resource. Please try again."},
	"ConditionalRequestConflict":            {409, "A conflicting operation occurred. Please retry."},
	"InvalidBucketState":                    {409, "The request is not valid with the current state of the bucket."},
	"MissingContentLength":                  {411, "You must provide the Content-Length HTTP header."},
	"PreconditionFailed":                    {412, "At least one of the pre-conditions you specified did not hold"},
	"InvalidRange":                          {416, "The requested range is not satisfiable"},
	// 5xx: Tusk
	"InternalError":       {500, "We encountered an internal error. Please try again."},
	"NotImplemented":      {501, "A header or query you provided implies functionality that is not implemented."},
	"ServiceUnavailable":  {503, "Reduce your request rate."},
	"SlowDown":            {503, "Please reduce your request rate."},
	"InsufficientStorage": {507, "The store is out of space (full, or below its free-space floor); writes are refused until space is freed."},
}

// kr is a (kind, reason) pair: a key of reasonTable.
type kr struct {
	k errs.Kind
	r errs.Reason
}

// reasonTable is the S3 code of each (kind, reason) pair that the layers
// below s3api return. A pair not listed answers as its kind (kindTable).
var reasonTable = map[kr]string{
	{errs.NotExist, errs.Repo}:          "NoSuchBucket",
	{errs.NotExist, errs.Ref}:           "NoSuchBucket",
	{errs.NotExist, errs.Commit}:        "NoSuchVersion",
	{errs.NotExist, errs.Key}:           "NoSuchKey",
	{errs.NotExist, errs.Version}:       "NoSuchVersion",
	{errs.NotExist, errs.Upload}:        "NoSuchUpload",
	{errs.NotExist, errs.UnknownKey}:    "InvalidAccessKeyId", // 403, as S3
	{errs.Purged, errs.Version}:         "NoSuchVersion",
	{errs.Exist, errs.Repo}:             "BucketAlreadyOwnedByYou",
	{errs.Exist, errs.Ref}:              "BucketAlreadyOwnedByYou",
	{errs.Invalid, errs.Name}:           "InvalidBucketName",
	{errs.Invalid, errs.Key}:            "InvalidArgument", // ValidKey (names.go) answers InvalidURI for undecodable keys
	{errs.TooLarge, errs.Key}:           "KeyTooLongError",
	{errs.Invalid, errs.Argument}:       "InvalidArgument",
	{errs.Invalid, errs.Digest}:         "BadDigest",
	{errs.Invalid, errs.Range}:          "InvalidRange",
	{errs.Invalid, errs.IncompleteBody}: "IncompleteBody",
	{errs.Invalid, errs.Part}:           "InvalidPart",
	{errs.Conflict, errs.Part}:          "InvalidPart", // a part replaced during Complete: 400, as S3
	{errs.Invalid, errs.RefKind}:        "InvalidRequest",
	{errs.Invalid, errs.DeleteMarker}:   "MethodNotAllowed",
	{errs.Conflict, errs.NotEmpty}:      "BucketNotEmpty",
	{errs.Conflict, errs.Precondition}:  "PreconditionFailed",
	{errs.Conflict, errs.Busy}:          "OperationAborted",
	{errs.Permission, errs.UnknownKey}:  "InvalidAccessKeyId",
	{errs.Permission, errs.Blocked}:     "AccessDenied",
	{errs.Permission, errs.Protected}:   "AccessDenied",
	// Tusk codes beyond S3's list, for errors of the admin domain should one
	// reach an S3 answer (status by kind).
	{errs.NotExist, errs.User}:      "NoSuchUser",
	{errs.NotExist, errs.AccessKey}: "NoSuchAccessKey",
	{errs.NotExist, errs.Pipeline}:  "NoSuchPipeline",
	{errs.NotExist, errs.Job}:       "NoSuchJob",
	{errs.NotExist, errs.Datum}:     "NoSuchDatum",
	{errs.Exist, errs.User}:         "UserAlreadyExists",
	{errs.Conflict, errs.Merge}:     "MergeConflict",
}

// kindTable is the S3 code of each errs.Kind when the error gives no
// explicit answer.
var kindTable = map[errs.Kind]string{
	errs.Other:          "InternalError",
	errs.Internal:       "InternalError",
	errs.NotExist:       "NoSuchKey", // NoSuchBucket on bucket-level requests, see wireError
	errs.Exist:          "BucketAlreadyOwnedByYou",
	errs.Invalid:        "InvalidArgument",
	errs.Permission:     "AccessDenied",
	errs.Conflict:       "OperationAborted",
	errs.Transient:      "ServiceUnavailable",
	errs.NotImplemented: "NotImplemented",
	errs.TooLarge:       "EntityTooLarge",
	errs.NoSpace:        "InsufficientStorage",
	errs.ReadOnly:       "AccessDenied",
	errs.Purged:         "NoSuchVersion",
}

// kindStatus is the HTTP status of a Kind, used for codes not in codeTable.
var kindStatus = map[errs.Kind]int{
	errs.Other:          500,
	errs.Internal:       500,
	errs.NotExist:       404,
	errs.Exist:          409,
	errs.Invalid:        400,
	errs.Permission:     403,
	errs.Conflict:       409,
	errs.Transient:      503,
	errs.NotImplemented: 501,
	errs.TooLarge:       400,
	errs.NoSpace:        507,
	errs.ReadOnly:       403,
	errs.Purged:         404,
}

// explicit walks err's chain for its first explicit answer: an
// *s3code.Error's code, or the reasonTable code of an *errs.Error's (kind,
// reason). code is "" when there is none. msg is the message that goes
// with the answer: the Msg of the first explicit error that has one, else
// of the outermost *errs.Error that has one, else "".
func explicit(err error) (code, msg string) {
	first := ""
	for err != nil {
		var m, c string
		switch e := err.(type) {
		case *s3code.Error:
			c, m = e.Code, e.Err.Msg
			err = e.Err.Err
		case *errs.Error:
			if e.Reason != errs.NoReason {
				c = reasonTable[kr{e.Kind, e.Reason}]
			}
			m = e.Msg
			err = e.Err
		default:
			err = errors.Unwrap(err)
			continue
		}
		if c != "" && code == "" {
			code = c
		}
		if c != "" && m != "" {
			return code, m
		}
		if first == "" {
			first = m
		}
	}
	return code, first
}

// codeOf returns the S3 code err names explicitly, or "" when only its
// kind speaks.
func codeOf(err error) string {
	code, _ := explicit(err)
	return code
}

// ErrorCode returns the S3 code s3api answers err with (the same table
// the wire uses, for an object-level request). Conformance suites of the
// Backend (s3api/backendtest) assert codes through it.
func ErrorCode(err error) string { return wireError(err, true).Code }

// wireErr is an error as it goes on the wire.
type wireErr struct {
	Code    string
	Status  int
	Message string
}

// wireError maps err to its S3 code, status and message. objectLevel picks
// NoSuchKey over NoSuchBucket for an uncoded NotExist.
func wireError(err error, objectLevel bool) wireErr {
	kind := errs.KindOf(err)
	code, msg := explicit(err)
	if code == "" {
		code = kindTable[kind]
		if code == "" {
			code = "InternalError"
		}
		if kind == errs.NotExist && !objectLevel {
			code = "NoSuchBucket"
		}
	}
	w := wireErr{Code: code}
	info, known := codeTable[code]
	switch {
	case known:
		w.Status = info.Status
	case kindStatus[kind] != 0:
		w.Status = kindStatus[kind]
	default:
		w.Status = 500
	}
	if w.Status >= 500 && code != "InsufficientStorage" && code != "NotImplemented" {
		// Internal details stay in the log, never on the wire.
		w.Message = info.Msg
		if w.Message == "" {
			w.Message = codeTable["InternalError"].Msg
		}
		if kind == errs.Transient || code == "ServiceUnavailable" || code == "SlowDown" {
			if msg != "" {
				w.Message = msg
			}
		}
		return w
	}
	w.Message = msg
	if w.Message == "" {
		w.Message = info.Msg
	}
	if w.Message == "" {
		w.Message = code
	}
	return w
}

// messageOf returns the human message of err: the Msg of the error that
// gives the S3 answer, else of the outermost *errs.Error that has one, else "".
func messageOf(err error) string {
	_, msg := explicit(err)
	return msg
}

// errorXML is S3's error document.
type errorXML struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	Resource   string   `xml:"Resource"`
	RequestID  string   `xml:"RequestId"`
}

// writeError writes err as S3 error XML with its status. HEAD answers and
// 304 carry no body. Headers set before (x-amz-request-id,
// x-amz-delete-marker...) are kept; content headers are dropped.
func writeError(w http.ResponseWriter, r *http.Request, rc *reqCtx, err error) {
	we := wireError(err, rc != nil && rc.addr.Key != "")
	if rc != nil {
		rc.errCode = we.Code
		rc.err = err
	}
	h := w.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding",
		"Content-Disposition", "Content-Language", "Cache-Control", "Expires", "Accept-Ranges"} {
		h.Del(k)
	}
	if we.Code != "InvalidRange" {
		h.Del("Content-Range") // only 416 carries "bytes */size"
	}
	// An error after a handler set an object's headers (a read that fails
	// once they were set) must not describe the object: SDKs validate the
	// error body against x-amz-checksum-*. 304 keeps ETag and Last-Modified.
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-checksum-") || strings.HasPrefix(lk, "x-amz-meta-") || lk == "x-amz-mp-parts-count" ||
			(we.Status != http.StatusNotModified && (lk == "etag" || lk == "last-modified")) {
			h.Del(k)
		}
	}
	if we.Status == http.StatusNotModified || r.Method == http.MethodHead {
		w.WriteHeader(we.Status)
		return
	}
	doc := errorXML{Code: we.Code, Message: we.Message}
	if rc != nil {
		doc.RequestID = rc.id
		doc.Resource = resourceOf(r, rc)
		switch we.Code {
		case "NoSuchBucket", "BucketNotEmpty", "BucketAlreadyOwnedByYou", "InvalidBucketName":
			doc.BucketName = rc.addr.Bucket
		case "NoSuchKey", "KeyTooLongError":
			doc.Key = rc.addr.Key
			doc.BucketName = rc.addr.Bucket
		}
	}
	body, mErr := xml.Marshal(doc)
	if mErr != nil {
		body = []byte("<Error><Code>InternalError</Code></Error>")
	}
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(we.Status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// resourceOf names the resource of a request in error documents: the path
// as the client sent it, without the query.
func resourceOf(r *http.Request, rc *reqCtx) string {
	if rc.addr.Virtual {
		return "/" + rc.addr.Bucket + "/" + rc.addr.Key
	}
	p := r.URL.EscapedPath()
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// s3err builds a protocol-level error with an explicit S3 code; the kind
// follows the code's status so that errs.Is works on it too.
func s3err(code, format string, args ...any) *s3code.Error {
	return s3code.New("s3api", kindOfCode(code), code, format, args...)
}

// kindOfCode is the errs.Kind that goes with an S3 code.
func kindOfCode(code string) errs.Kind {
	switch code {
	case "EntityTooLarge", "KeyTooLongError", "MaxMessageLengthExceeded", "MetadataTooLarge", "RequestHeaderSectionTooLarge":
		return errs.TooLarge
	}
	switch codeTable[code].Status {
	case 403:
		return errs.Permission
	case 404:
		return errs.NotExist
	case 409, 412:
		return errs.Conflict
	case 501:
		return errs.NotImplemented
	case 500:
		return errs.Internal
	case 503:
		return errs.Transient
	}
	return errs.Invalid
}
