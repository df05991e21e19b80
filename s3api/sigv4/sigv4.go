package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// Credentials resolves an access key. NotExist with reason errs.UnknownKey
// when unknown (s3api answers InvalidAccessKeyId).
type Credentials interface {
	Secret(ctx context.Context, accessKey string) (secret, user string, err error)
}

// Verifier authenticates S3 requests. Its fields are read-only once it is in
// use; one Verifier serves any number of concurrent requests.
type Verifier struct {
	Creds   Credentials
	Region  string           // "" accepts any region in the credential scope
	Now     func() time.Time // nil = time.Now
	MaxSkew time.Duration    // 0 = 15 minutes
}

// Result is what Verify learned about a request.
type Result struct {
	Anonymous       bool // no auth information at all in the request
	User, AccessKey string
	// Body is the payload to read INSTEAD of r.Body: it removes aws-chunked
	// framing and verifies payload hashes and chunk signatures. Data read
	// from it is authenticated only once Read returns io.EOF; any other
	// error means the payload must be discarded.
	Body io.Reader
	// DecodedLength is the exact payload length when known
	// (x-amz-decoded-content-length or Content-Length), -1 otherwise.
	DecodedLength int64
	// Trailer returns trailing headers (e.g. x-amz-checksum-crc32) of an
	// aws-chunked body; valid after Body returned io.EOF; nil map if none.
	Trailer func() http.Header
}

const (
	algoHMAC        = "AWS4-HMAC-SHA256"
	algoECDSA       = "AWS4-ECDSA-P256-SHA256"
	amzDateFormat   = "20060102T150405Z"
	scopeDateFormat = "20060102"
	serviceS3       = "s3"
	scopeTerminator = "aws4_request"

	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSAPrefix     = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	emptySHA256              = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	defaultMaxSkew = 15 * time.Minute
	maxExpires     = 7 * 24 * 60 * 60 // seconds: presigned URLs live at most a week

	opVerify = "sigv4.Verify"
	opBody   = "sigv4.Body"
)

// fail and bodyFail build protocol-level errors: SigV4's failures are S3
// codes (s3code), which s3api and the admin API answer as they are.
func fail(k errs.Kind, code, format string, args ...any) *s3code.Error {
	return s3code.New(opVerify, k, code, format, args...)
}

func bodyFail(k errs.Kind, code, format string, args ...any) *s3code.Error {
	return s3code.New(opBody, k, code, format, args...)
}

func noTrailer() http.Header { return nil }

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) skew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return defaultMaxSkew
}

// auth is the parsed authentication information of one request, from the
// Authorization header or from the presigned query.
type auth struct {
	presigned     bool
	accessKey     string
	amzDate       string // the request time as signed, ISO 8601 basic
	scopeDate     string
	region        string
	signedHeaders string   // as sent (it is part of the canonical request)
	headerNames   []string // signedHeaders split
	signature     string
	payloadHash   string // the canonical request's last line
}

func (a *auth) scope() string {
	return a.scopeDate + "/" + a.region + "/" + serviceS3 + "/" + scopeTerminator
}

// malformed returns the "your auth parameters are broken" error of the form
// in use.
func (a *auth) malformed(format string, args ...any) *s3code.Error {
	if a.presigned {
		return fail(errs.Invalid, "AuthorizationQueryParametersError", format, args...)
	}
	return fail(errs.Invalid, "AuthorizationHeaderMalformed", format, args...)
}

func notImplemented(what string) *s3code.Error {
	return fail(errs.NotImplemented, "NotImplemented",
		"%s is not supported; sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256)", what)
}

// Verify authenticates r (it reads headers and query only; the body is read
// lazily through Result.Body).
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	query := parseQuery(r.URL.RawQuery)
	authHeaders := r.Header.Values("Authorization")
	_, hasAlgo := query.get("X-Amz-Algorithm")

	switch {
	case len(authHeaders) == 0 && !hasAlgo:
		_, hasV2Key := query.get("AWSAccessKeyId")
		_, hasV2Sig := query.get("Signature")
		if hasV2Key && hasV2Sig {
			return nil, notImplemented("AWS Signature Version 2")
		}
		return v.anonymous(r, body)
	case len(authHeaders) > 0 && hasAlgo:
		return nil, fail(errs.Invalid, "InvalidArgument",
			"only one auth mechanism allowed: the X-Amz-Algorithm query parameter or the Authorization header")
	case len(authHeaders) > 1:
		return nil, fail(errs.Invalid, "AuthorizationHeaderMalformed", "more than one Authorization header")
	}

	var a *auth
	var err error
	if hasAlgo {
		a, err = v.parsePresigned(query)
	} else {
		a, err = v.parseHeader(r, authHeaders[0])
	}
	if err != nil {
		return nil, err
	}
	if err := checkPayloadHash(a.payloadHash); err != nil {
		return nil, err
	}

	if v.Creds == nil {
		return nil, errs.E(opVerify, errs.Internal, "no credentials store configured")
	}
	secret, user, err := v.Creds.Secret(r.Context(), a.accessKey)
	if err != nil {
		return nil, err
	}

	key := signingKey(secret, a.scopeDate, a.region)
	if !v.signatureMatches(r, query, a, key) {
		return nil, fail(errs.Permission, "SignatureDoesNotMatch",
			"the request signature we calculated does not match the signature you provided; check your key and signing method")
	}
	if err := checkUnsignedAmzHeaders(r, a); err != nil {
		return nil, err
	}

	res, err := payload(r, body, a.payloadHash, &streamSigner{
		key:     key,
		amzDate: a.amzDate,
		scope:   a.scope(),
		seed:    a.signature,
	})
	if err != nil {
		return nil, err
	}
	res.User = user
	res.AccessKey = a.accessKey
	return res, nil
}

// anonymous answers a request with no authentication. A payload hash header,
// if any, is still honoured: a hex hash is checked and an unsigned
// aws-chunked body is decoded; signed streaming needs a signature.
func (v *Verifier) anonymous(r *http.Request, body io.ReadCloser) (*Result, error) {
	ph := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case ph == "" || ph == unsignedPayload:
		return &Result{Anonymous: true, Body: body, DecodedLength: contentLength(r), Trailer: noTrailer}, nil
	case ph == streamingPayload || ph == streamingPayloadTrailer || strings.HasPrefix(ph, streamingECDSAPrefix):
		return nil, fail(errs.Invalid, "InvalidRequest", "a signed streaming payload (%s) needs a signed request", ph)
	}
	if err := checkPayloadHash(ph); err != nil {
		return nil, err
	}
	res, err := payload(r, body, ph, nil)
	if err != nil {
		return nil, err
	}
	res.Anonymous = true
	return res, nil
}

// parseHeader parses an Authorization header and the request's date.
func (v *Verifier) parseHeader(r *http.Request, h string) (*auth, error) {
	a := &auth{}
	h = strings.TrimSpace(h)
	algo, rest, _ := strings.Cut(h, " ")
	switch algo {
	case algoHMAC:
	case algoECDSA:
		return nil, notImplemented("AWS Signature Version 4A (" + algoECDSA + ")")
	case "AWS":
		return nil, notImplemented("AWS Signature Version 2")
	default:
		if h == "" {
			return nil, a.malformed("the Authorization header is empty")
		}
		return nil, fail(errs.Invalid, "InvalidArgument", "unsupported Authorization type %q", algo)
	}

	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, a.malformed("the authorization header is malformed: %q is not key=value", part)
		}
		val = strings.TrimSpace(val)
		var dup bool
		switch strings.TrimSpace(k) {
		case "Credential":
			dup, haveCred, cred = haveCred, true, val
		case "SignedHeaders":
			dup, haveSigned, signed = haveSigned, true, val
		case "Signature":
			dup, haveSig, sig = haveSig, true, val
		default:
			return nil, a.malformed("the authorization header is malformed: unknown component %q", k)
		}
		if dup {
			return nil, a.malformed("the authorization header is malformed: %s given twice", k)
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return nil, a.malformed("the authorization header is malformed; it needs Credential, SignedHeaders and Signature")
	}
	if err := v.setFields(a, cred, signed, sig); err != nil {
		return nil, err
	}

	// The request time: x-amz-date, or a Date header (RFC 1123) without it.
	var t time.Time
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		var err error
		if t, err = time.Parse(amzDateFormat, d); err != nil {
			return nil, fail(errs.Permission, "AccessDenied",
				"AWS authentication requires a valid Date or x-amz-date header")
		}
		a.amzDate = d
	} else if d := r.Header.Get("Date"); d != "" {
		var err error
		if t, err = http.ParseTime(d); err != nil {
			return nil, fail(errs.Permission, "AccessDenied",
				"AWS authentication requires a valid Date or x-amz-date header")
		}
		a.amzDate = t.UTC().Format(amzDateFormat)
	} else {
		return nil, fail(errs.Invalid, "MissingSecurityHeader", "the request needs an x-amz-date header")
	}
	if err := v.checkScopeDate(a, t); err != nil {
		return nil, err
	}
	now := v.now()
	if d := now.Sub(t); d > v.skew() || -d > v.skew() {
		return nil, fail(errs.Permission, "RequestTimeTooSkewed",
			"the difference between the request time (%s) and the server's time (%s) is too large",
			t.UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))
	}

	ph := r.Header.Values("X-Amz-Content-Sha256")
	switch {
	case len(ph) == 0:
		return nil, fail(errs.Invalid, "InvalidRequest", "missing required header for this request: x-amz-content-sha256")
	case len(ph) > 1:
		return nil, fail(errs.Invalid, "InvalidArgument", "x-amz-content-sha256 given more than once")
	}
	a.payloadHash = ph[0]
	return a, nil
}

// parsePresigned parses the X-Amz-* query parameters of a presigned URL and
// checks its validity window.
func (v *Verifier) parsePresigned(q queryParams) (*auth, error) {
	a := &auth{presigned: true}
	get := func(name string) (string, error) {
		vals := q.all(name)
		switch len(vals) {
		case 0:
			return "", a.malformed("query-string authentication requires the %s parameter", name)
		case 1:
			return vals[0], nil
		}
		return "", a.malformed("the %s parameter is given more than once", name)
	}
	algo, err := get("X-Amz-Algorithm")
	if err != nil {
		return nil, err
	}
	switch algo {
	case algoHMAC:
	case algoECDSA:
		return nil, notImplemented("AWS Signature Version 4A (" + algoECDSA + ")")
	default:
		return nil, a.malformed("X-Amz-Algorithm only supports %q", algoHMAC)
	}
	var cred, date, expires, signed, sig string
	for _, p := range []struct {
		name string
		dst  *string
	}{
		{"X-Amz-Credential", &cred}, {"X-Amz-Date", &date}, {"X-Amz-Expires", &expires},
		{"X-Amz-SignedHeaders", &signed}, {"X-Amz-Signature", &sig},
	} {
		if *p.dst, err = get(p.name); err != nil {
			return nil, err
		}
	}
	if err := v.setFields(a, cred, signed, sig); err != nil {
		return nil, err
	}
	t, err := time.Parse(amzDateFormat, date)
	if err != nil {
		return nil, a.malformed("X-Amz-Date must be in the ISO8601 long format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	a.amzDate = date
	if err := v.checkScopeDate(a, t); err != nil {
		return nil, err
	}
	secs, err := strconv.ParseInt(expires, 10, 64)
	switch {
	case err != nil && isDigits(expires):
		// Too large for int64: certainly more than a week.
		return nil, fail(errs.Invalid, "InvalidArgument", "X-Amz-Expires must be less than a week (in seconds); that is, %d", maxExpires)
	case err != nil:
		return nil, a.malformed("X-Amz-Expires should be a number")
	case secs < 0:
		return nil, a.malformed("X-Amz-Expires must be non-negative")
	case secs > maxExpires:
		return nil, fail(errs.Invalid, "InvalidArgument", "X-Amz-Expires must be less than a week (in seconds); that is, %d", maxExpires)
	}
	now := v.now()
	if t.Sub(now) > v.skew() {
		return nil, fail(errs.Permission, "AccessDenied", "Request is not valid yet")
	}
	if now.After(t.Add(time.Duration(secs) * time.Second)) {
		return nil, fail(errs.Permission, "AccessDenied", "Request has expired")
	}
	a.payloadHash = unsignedPayload
	if vals := q.all("X-Amz-Content-Sha256"); len(vals) == 1 {
		a.payloadHash = vals[0]
	} else if len(vals) > 1 {
		return nil, a.malformed("the X-Amz-Content-Sha256 parameter is given more than once")
	}
	return a, nil
}

// setFields sets a's credential, signed headers and signature, as sent in
// the Authorization header or the presigned query alike.
func (v *Verifier) setFields(a *auth, cred, signed, sig string) error {
	if err := v.parseCredential(a, cred); err != nil {
		return err
	}
	if err := a.setSignedHeaders(signed); err != nil {
		return err
	}
	return a.setSignature(sig)
}

// parseCredential parses "AKID/yyyymmdd/region/s3/aws4_request".
func (v *Verifier) parseCredential(a *auth, cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return a.malformed("the credential %q is malformed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"", cred)
	}
	n := len(parts)
	a.accessKey = strings.Join(parts[:n-4], "/")
	a.scopeDate, a.region = parts[n-4], parts[n-3]
	service, term := parts[n-2], parts[n-1]
	switch {
	case a.accessKey == "":
		return a.malformed("the credential %q has no access key", cred)
	case len(a.scopeDate) != 8 || !isDigits(a.scopeDate):
		return a.malformed("invalid credential date %q; it must be in YYYYMMDD format", a.scopeDate)
	case a.region == "":
		return a.malformed("the credential %q has no region", cred)
	case v.Region != "" && a.region != v.Region:
		return a.malformed("the region '%s' is wrong; expecting '%s'", a.region, v.Region)
	case service != serviceS3:
		return a.malformed("the service '%s' is wrong; expecting 's3'", service)
	case term != scopeTerminator:
		return a.malformed("the credential terminator '%s' is wrong; expecting '%s'", term, scopeTerminator)
	}
	return nil
}

func (v *Verifier) checkScopeDate(a *auth, t time.Time) error {
	if a.scopeDate != t.UTC().Format(scopeDateFormat) {
		return a.malformed("invalid credential date %q: it is not the same as the request date %s",
			a.scopeDate, t.UTC().Format(scopeDateFormat))
	}
	return nil
}

func (a *auth) setSignedHeaders(s string) error {
	if s == "" {
		return a.malformed("SignedHeaders is empty")
	}
	a.signedHeaders = s
	a.headerNames = strings.Split(s, ";")
	host := false
	for i, name := range a.headerNames {
		if name == "" || !isToken(name) {
			return a.malformed("SignedHeaders %q is malformed", s)
		}
		name = strings.ToLower(name)
		a.headerNames[i] = name
		host = host || name == "host"
	}
	if !host {
		return a.malformed("SignedHeaders must include host")
	}
	return nil
}

func (a *auth) setSignature(sig string) error {
	if len(sig) != 64 || !isHex(sig) {
		return a.malformed("the signature must be 64 hexadecimal characters")
	}
	a.signature = strings.ToLower(sig)
	return nil
}

// checkPayloadHash accepts the x-amz-content-sha256 values Tusk implements.
func checkPayloadHash(ph string) error {
	switch ph {
	case unsignedPayload, streamingPayload, streamingPayloadTrailer, streamingUnsignedTrailer:
		return nil
	}
	if strings.HasPrefix(ph, streamingECDSAPrefix) {
		return notImplemented("AWS Signature Version 4A streaming (" + ph + ")")
	}
	if len(ph) != 64 || !isHex(ph) {
		return fail(errs.Invalid, "InvalidArgument",
			"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], STREAMING-UNSIGNED-PAYLOAD-TRAILER or a hex SHA-256, not %q", ph)
	}
	return nil
}

// checkUnsignedAmzHeaders refuses a request carrying x-amz-* headers that the
// signature does not cover: someone holding a signed request could otherwise
// add headers that change its meaning.
func checkUnsignedAmzHeaders(r *http.Request, a *auth) error {
	var unsigned []string
	for name := range r.Header {
		l := strings.ToLower(name)
		if !strings.HasPrefix(l, "x-amz-") {
			continue
		}
		signed := false
		for _, s := range a.headerNames {
			if s == l {
				signed = true
				break
			}
		}
		if !signed {
			unsigned = append(unsigned, l)
		}
	}
	if len(unsigned) > 0 {
		sort.Strings(unsigned)
		return fail(errs.Permission, "AccessDenied",
			"there were headers present in the request which were not signed: %s", strings.Join(unsigned, ", "))
	}
	return nil
}

// signatureMatches computes the request's signature and compares it with the
// one given, in constant time. The URI path is tried in its normalised S3
// form and, failing that, exactly as sent: both decode to the same key.
func (v *Verifier) signatureMatches(r *http.Request, q queryParams, a *auth, key []byte) bool {
	raw := rawPath(r)
	norm := canonicalPath(raw)
	query := q.canonical(a.presigned)
	headers := canonicalHeaders(r, a.headerNames)
	want := []byte(a.signature)
	for i, path := range []string{norm, raw} {
		if i == 1 && (path == norm || path == "") {
			break
		}
		cr := strings.Join([]string{r.Method, path, query, headers, a.signedHeaders, a.payloadHash}, "\n")
		sum := sha256.Sum256([]byte(cr))
		sts := algoHMAC + "\n" + a.amzDate + "\n" + a.scope() + "\n" + hex.EncodeToString(sum[:])
		if hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(key, sts))), want) {
			return true
		}
	}
	return false
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the SigV4 signing key for date (YYYYMMDD) and region.
func signingKey(secret, date, region string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, serviceS3)
	return hmacSHA256(k, scopeTerminator)
}

func contentLength(r *http.Request) int64 {
	if r.ContentLength >= 0 {
		return r.ContentLength
	}
	return -1
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (a valid header name).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}
