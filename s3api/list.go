package s3api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/tusk-data/tusk/s3api/sigv4"
)

// maxListKeys is S3's default and cap of max-keys.
const maxListKeys = 1000

// parseMaxKeys reads max-keys: default and cap 1000; not a non-negative
// integer is InvalidArgument.
func parseMaxKeys(q url.Values) (int, error) {
	if !q.Has("max-keys") {
		return maxListKeys, nil
	}
	v := q.Get("max-keys")
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, s3err("InvalidArgument", "provided max-keys %q is not an integer or within integer range", v)
	}
	if n < 0 {
		return 0, s3err("InvalidArgument", "argument max-keys must be an integer between 0 and 2147483647")
	}
	if n > maxListKeys {
		n = maxListKeys
	}
	return int(n), nil
}

// encoder returns the function applied to keys, prefixes, delimiters and
// markers in list answers: identity, or S3's url encoding for
// encoding-type=url. Another encoding-type is InvalidArgument.
func encoder(q url.Values) (func(string) string, string, error) {
	switch et := q.Get("encoding-type"); et {
	case "":
		return func(s string) string { return s }, "", nil
	case "url":
		return urlEncodeKey, "url", nil
	default:
		return nil, "", s3err("InvalidArgument", "invalid encoding method %q specified in request (only url)", et)
	}
}

// urlEncodeKey percent-encodes every byte but the unreserved characters
// and '/'. A space becomes %20 and '+' %2B, so both plain and "plus"
// URL decoders (botocore's unquote_plus, minio-go's QueryUnescape, the
// AWS SDKs) recover the key exactly.
func urlEncodeKey(s string) string { return sigv4.URIEncode(s) }

// listQuery is what ListObjects and ListObjectVersions read alike:
// encoding-type (encoder), max-keys (parseMaxKeys), prefix and delimiter.
type listQuery struct {
	enc           func(string) string
	encType       string
	maxKeys       int
	prefix, delim string
}

func parseListQuery(q url.Values) (listQuery, error) {
	enc, encType, err := encoder(q)
	if err != nil {
		return listQuery{}, err
	}
	maxKeys, err := parseMaxKeys(q)
	if err != nil {
		return listQuery{}, err
	}
	return listQuery{enc: enc, encType: encType, maxKeys: maxKeys, prefix: q.Get("prefix"), delim: q.Get("delimiter")}, nil
}

// continuation tokens are opaque to clients: base64url of the key after
// which the next page starts.
func encodeToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeToken(tok string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !utf8.Valid(raw) {
		return "", s3err("InvalidArgument", "the continuation token provided is incorrect")
	}
	return string(raw), nil
}

// listObjects serves ListObjects (v1) and ListObjectsV2 (list-type=2).
func (s *server) listObjects(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	b, err := s.bucket(ctx, rc, ActRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v2 := false
	switch lt := q.Get("list-type"); lt {
	case "", "1":
	case "2":
		v2 = true
	default:
		return s3err("InvalidArgument", "invalid list-type %q", lt)
	}
	lq, err := parseListQuery(q)
	if err != nil {
		return err
	}
	enc, maxKeys, prefix, delim := lq.enc, lq.maxKeys, lq.prefix, lq.delim
	res := listBucketResult{
		NS: s3NS, Name: rc.addr.Bucket, Prefix: enc(prefix), Delimiter: enc(delim),
		MaxKeys: maxKeys, EncodingType: lq.encType,
		Contents: []objectXML{}, CommonPrefixes: []commonPrefixXML{},
	}
	var start string
	fetchOwner := true
	if v2 {
		fetchOwner = q.Get("fetch-owner") == "true"
		startAfter := q.Get("start-after")
		res.StartAfter = enc(startAfter)
		start = startAfter
		// An empty continuation-token is no token (as S3: clients send
		// "continuation-token=" for the first page).
		if tok := q.Get("continuation-token"); tok != "" {
			after, err := decodeToken(tok)
			if err != nil {
				return err
			}
			res.ContinuationToken = tok
			if after > start {
				start = after
			}
		}
	} else {
		// ListObjects v1 echoes Prefix as sent even with encoding-type=url,
		// as AWS does: clients (botocore) url-decode Delimiter, Marker,
		// NextMarker, keys and common prefixes of a v1 answer, never its
		// Prefix, so an encoded Prefix would reach the user encoded.
		res.Prefix = prefix
		marker := q.Get("marker")
		m := enc(marker)
		res.Marker = &m
		start = marker
	}
	var lr ListResult
	if maxKeys > 0 {
		lr, err = s.cfg.Backend.List(ctx, rc.caller(), b, ListOptions{Prefix: prefix, Delimiter: delim, StartAfter: start, MaxKeys: maxKeys})
		if err != nil {
			return err
		}
	}
	owner := rc.owner()
	for _, o := range lr.Objects {
		ox := objectXML{
			Key: enc(o.Key), LastModified: isoTime(o.LastModified), ETag: quoteETag(o.ETag),
			Size: o.Size, StorageClass: "STANDARD",
			ChecksumAlgorithm: checksumAlgorithmsOf(o),
		}
		if len(ox.ChecksumAlgorithm) > 0 {
			ox.ChecksumType = o.ChecksumType
		}
		if fetchOwner {
			ox.Owner = &owner
		}
		res.Contents = append(res.Contents, ox)
	}
	for _, p := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixXML{Prefix: enc(p)})
	}
	res.IsTruncated = lr.IsTruncated
	next := lr.Next
	if next == "" {
		next = lastListed(lr)
	}
	if v2 {
		n := len(lr.Objects) + len(lr.CommonPrefixes)
		res.KeyCount = &n
		if lr.IsTruncated {
			res.NextContinuationToken = encodeToken(next)
		}
	} else if lr.IsTruncated && delim != "" {
		// As S3: NextMarker only with a delimiter; without one, clients use
		// the last key.
		res.NextMarker = enc(next)
	}
	return writeXML(w, http.StatusOK, res)
}

// lastListed is the greatest key or common prefix of a page.
func lastListed(lr ListResult) string {
	last := ""
	if n := len(lr.Objects); n > 0 {
		last = lr.Objects[n-1].Key
	}
	if n := len(lr.CommonPrefixes); n > 0 && lr.CommonPrefixes[n-1] > last {
		last = lr.CommonPrefixes[n-1]
	}
	return last
}

// listObjectVersions serves ListObjectVersions (?versions).
func (s *server) listObjectVersions(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	b, err := s.bucket(ctx, rc, ActRead)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		return err
	}
	enc, maxKeys, prefix, delim := lq.enc, lq.maxKeys, lq.prefix, lq.delim
	keyMarker, vidMarker := q.Get("key-marker"), q.Get("version-id-marker")
	if vidMarker != "" && keyMarker == "" {
		return s3err("InvalidArgument", "a version-id marker cannot be specified without a key marker")
	}
	res := listVersionsResult{
		NS: s3NS, Name: rc.addr.Bucket, Prefix: enc(prefix), Delimiter: enc(delim),
		KeyMarker: enc(keyMarker), VersionIDMarker: vidMarker,
		MaxKeys: maxKeys, EncodingType: lq.encType,
		Entries: []versionEntryXML{}, CommonPrefixes: []commonPrefixXML{},
	}
	if maxKeys > 0 {
		lr, err := s.cfg.Backend.ListVersions(ctx, rc.caller(), b, VersionListOptions{
			Prefix: prefix, Delimiter: delim, KeyMarker: keyMarker, VersionIDMarker: vidMarker, MaxKeys: maxKeys,
		})
		if err != nil {
			return err
		}
		owner := rc.owner()
		for _, v := range lr.Versions {
			e := versionEntryXML{
				Key: enc(v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest,
				LastModified: isoTime(v.LastModified), Owner: owner,
			}
			if v.DeleteMarker {
				e.XMLName.Local = "DeleteMarker"
			} else {
				e.XMLName.Local = "Version"
				e.ETag = quoteETag(v.ETag)
				size := v.Size
				e.Size = &size
				e.StorageClass = "STANDARD"
				e.ChecksumAlgorithm = checksumAlgorithmsOf(v.Object)
				if len(e.ChecksumAlgorithm) > 0 {
					e.ChecksumType = v.ChecksumType
				}
			}
			res.Entries = append(res.Entries, e)
		}
		for _, p := range lr.CommonPrefixes {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefixXML{Prefix: enc(p)})
		}
		res.IsTruncated = lr.IsTruncated
		if lr.IsTruncated {
			res.NextKeyMarker = enc(lr.NextKeyMarker)
			res.NextVersionIDMarker = lr.NextVersionIDMarker
		}
	}
	return writeXML(w, http.StatusOK, res)
}
