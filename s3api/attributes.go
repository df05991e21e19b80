package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// GetObjectAttributes (GET ?attributes): the attributes named by
// x-amz-object-attributes, of the current version or of ?versionId, in one
// document, as AWS answers it:
//   - the header is required: missing or empty is 400 InvalidRequest; a name
//     that is not ETag, Checksum, ObjectParts, StorageClass or ObjectSize is
//     400 InvalidArgument;
//   - ETag is unquoted; Checksum carries the stored checksums and their type
//     (absent when none were stored);
//   - ObjectParts is present for multipart objects only, with PartsCount
//     (TotalPartsCount in the SDKs); its Part elements (number, size,
//     checksums) are listed only when the parts carry checksums (an upload
//     made with a checksum algorithm), paginated by x-amz-max-parts
//     (default and cap 1000; an invalid value is ignored, as S3 does) and
//     x-amz-part-number-marker;
//   - a delete marker answers as GetObject does (404 NoSuchKey, or 405 when
//     named by version id, with x-amz-delete-marker).

// objectAttributeNames are the attribute names S3 knows.
var objectAttributeNames = map[string]bool{
	"ETag": true, "Checksum": true, "ObjectParts": true, "StorageClass": true, "ObjectSize": true,
}

type objectAttributesResult struct {
	XMLName      xml.Name              `xml:"GetObjectAttributesResponse"`
	NS           string                `xml:"xmlns,attr"`
	ETag         string                `xml:"ETag,omitempty"`
	Checksum     *attributesChecksum   `xml:"Checksum,omitempty"`
	ObjectParts  *objectAttributeParts `xml:"ObjectParts,omitempty"`
	StorageClass string                `xml:"StorageClass,omitempty"`
	ObjectSize   *int64                `xml:"ObjectSize,omitempty"`
}

type attributesChecksum struct {
	checksumFields
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type objectAttributeParts struct {
	PartsCount           int                   `xml:"PartsCount"`
	PartNumberMarker     *int                  `xml:"PartNumberMarker,omitempty"`
	NextPartNumberMarker *int                  `xml:"NextPartNumberMarker,omitempty"`
	MaxParts             *int                  `xml:"MaxParts,omitempty"`
	IsTruncated          *bool                 `xml:"IsTruncated,omitempty"`
	Parts                []objectAttributePart `xml:"Part"`
}

type objectAttributePart struct {
	checksumFields
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
}

// objectAttributes parses x-amz-object-attributes (one or several header
// lines, each a comma-separated list).
func objectAttributes(h http.Header) (map[string]bool, error) {
	want := map[string]bool{}
	for _, line := range h.Values("X-Amz-Object-Attributes") {
		for _, name := range strings.Split(line, ",") {
			name = strings.Trim(strings.TrimSpace(name), `"`)
			if name == "" {
				continue
			}
			if !objectAttributeNames[name] {
				return nil, s3err("InvalidArgument", "Invalid attribute name specified: %q", name)
			}
			want[name] = true
		}
	}
	if len(want) == 0 {
		return nil, s3err("InvalidRequest", "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	return want, nil
}

// headerInt reads a non-negative integer header; def when absent or not
// such an integer (S3 ignores invalid pagination values here).
func headerInt(h http.Header, name string, def int) int {
	v := strings.TrimSpace(h.Get(name))
	n, err := strconv.ParseInt(v, 10, 32)
	if v == "" || err != nil || n < 0 {
		return def
	}
	return int(n)
}

func (s *server) getObjectAttributes(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	want, err := objectAttributes(r.Header)
	if err != nil {
		return err
	}
	obj, err := s.objectForSub(w, r, rc)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	if obj.VersionID != "" {
		h.Set("X-Amz-Version-Id", obj.VersionID)
	}
	res := objectAttributesResult{NS: s3NS}
	if want["ETag"] {
		res.ETag = obj.ETag
	}
	if want["Checksum"] && len(obj.Checksums) > 0 {
		typ := obj.ChecksumType
		if typ == "" {
			typ = "FULL_OBJECT"
		}
		res.Checksum = &attributesChecksum{checksumFields: checksumFieldsOf(obj.Checksums), ChecksumType: typ}
	}
	if want["ObjectParts"] && len(obj.Parts) > 0 {
		res.ObjectParts = objectParts(obj, headerInt(r.Header, "X-Amz-Max-Parts", maxListParts),
			headerInt(r.Header, "X-Amz-Part-Number-Marker", 0))
	}
	if want["StorageClass"] {
		res.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		size := obj.Size
		res.ObjectSize = &size
	}
	return writeXML(w, http.StatusOK, res)
}

// objectParts is the ObjectParts element of a multipart object: parts
// above marker, at most max (capped at 1000), listed only when the parts
// carry checksums.
func objectParts(obj Object, max, marker int) *objectAttributeParts {
	op := &objectAttributeParts{PartsCount: len(obj.Parts)}
	if len(obj.PartChecksums) != len(obj.Parts) {
		return op
	}
	max = min(max, maxListParts)
	truncated := false
	next := 0
	for i, size := range obj.Parts {
		n := i + 1
		if n <= marker {
			continue
		}
		if len(op.Parts) == max {
			truncated = true
			break
		}
		op.Parts = append(op.Parts, objectAttributePart{checksumFields: checksumFieldsOf(obj.PartChecksums[i]), PartNumber: n, Size: size})
		next = n
	}
	op.PartNumberMarker, op.NextPartNumberMarker, op.MaxParts, op.IsTruncated = &marker, &next, &max, &truncated
	return op
}
