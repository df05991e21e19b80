package meta

import (
	"encoding/binary"
	"encoding/hex"
	"sort"
	"time"

	"github.com/tusk-data/tusk/internal/errs"
)

// Entry is one version of a key: the value stored in live and version trees.
type Entry struct {
	// Version is the id of the commit that wrote this version (or the open
	// commit it was written into).
	Version string
	// Time is when that commit was made (the key's Last-Modified).
	Time time.Time
	// Deleted marks a delete marker (version trees only).
	Deleted bool
	// Null marks S3's "null" version: written while the branch's
	// versioning was Suspended. A branch view holds at most one null
	// version per key; a new one replaces it (SPEC §3).
	Null bool
	// Content is the SHA-256 (hex) of the bytes in the blob store; "" for
	// delete markers.
	Content string
	Size    int64
	ETag    string // unquoted
	// Parts holds the part sizes of a multipart object (nil otherwise).
	Parts []int64
	// Headers holds content headers by canonical name (Content-Type, ...).
	Headers map[string]string
	// User holds user metadata (x-amz-meta-*), lower-case names.
	User map[string]string
	// Checksums maps algorithm -> base64 value.
	Checksums    map[string]string
	ChecksumType string
	// Prov names the provenance record of a pipeline output ("" if none).
	Prov string
	// PartChecksums holds, for a multipart object uploaded with a checksum
	// algorithm, each part's checksums (algorithm -> base64), in part
	// order (GetObjectAttributes lists them); nil otherwise.
	PartChecksums []map[string]string
}

const entryFormat = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, m[k])
	}
	return b
}

// VersionID is the version id S3 clients see: "null" for a null version,
// else the id of the commit that wrote it.
func (e *Entry) VersionID() string {
	if e.Null {
		return NullVersion
	}
	return e.Version
}

// NullVersion is S3's version id of versions written while versioning was
// Suspended.
const NullVersion = "null"

// Encode returns e's stable binary encoding (equal entries encode equally,
// which diff relies on).
func (e *Entry) Encode() []byte {
	b := make([]byte, 0, 128)
	b = append(b, entryFormat)
	var flags byte
	if e.Deleted {
		flags |= 1
	}
	if e.Null {
		flags |= 2
	}
	b = append(b, flags)
	b = appendString(b, e.Version)
	b = binary.AppendVarint(b, e.Time.UnixNano())
	content, _ := hex.DecodeString(e.Content)
	b = appendString(b, string(content))
	b = binary.AppendVarint(b, e.Size)
	b = appendString(b, e.ETag)
	b = binary.AppendUvarint(b, uint64(len(e.Parts)))
	for _, p := range e.Parts {
		b = binary.AppendVarint(b, p)
	}
	b = appendMap(b, e.Headers)
	b = appendMap(b, e.User)
	b = appendMap(b, e.Checksums)
	b = appendString(b, e.ChecksumType)
	b = appendString(b, e.Prov)
	// Optional trailing fields: absent when empty, so that entries written
	// before they existed keep their encoding.
	if len(e.PartChecksums) > 0 {
		b = binary.AppendUvarint(b, uint64(len(e.PartChecksums)))
		for _, m := range e.PartChecksums {
			b = appendMap(b, m)
		}
	}
	return b
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint decodes zigzag over uvarint, as binary.Varint does.
func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if uint64(len(d.b)) < n {
		d.err = true
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte1() byte {
	if len(d.b) < 1 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) strmap() map[string]string {
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) {
		if n != 0 {
			d.err = true
		}
		return nil
	}
	m := make(map[string]string, n)
	for i := uint64(0); i < n && !d.err; i++ {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// DecodeEntry decodes an Entry encoded by Encode.
func DecodeEntry(b []byte) (*Entry, error) {
	d := &decoder{b: b}
	if d.byte1() != entryFormat {
		return nil, errs.E("meta.DecodeEntry", errs.Internal, "unknown entry format")
	}
	e := &Entry{}
	flags := d.byte1()
	e.Deleted = flags&1 != 0
	e.Null = flags&2 != 0
	e.Version = d.str()
	e.Time = time.Unix(0, d.varint()).UTC()
	if c := d.str(); c != "" {
		e.Content = hex.EncodeToString([]byte(c))
	}
	e.Size = d.varint()
	e.ETag = d.str()
	if n := d.uvarint(); n > 0 && n <= uint64(len(d.b)) {
		e.Parts = make([]int64, n)
		for i := range e.Parts {
			e.Parts[i] = d.varint()
		}
	}
	e.Headers = d.strmap()
	e.User = d.strmap()
	e.Checksums = d.strmap()
	e.ChecksumType = d.str()
	e.Prov = d.str()
	if len(d.b) > 0 && !d.err {
		if n := d.uvarint(); n > 0 && n <= uint64(len(d.b)) {
			e.PartChecksums = make([]map[string]string, n)
			for i := range e.PartChecksums {
				e.PartChecksums[i] = d.strmap()
			}
		} else {
			d.err = true
		}
	}
	if d.err || len(d.b) != 0 {
		return nil, errs.E("meta.DecodeEntry", errs.Internal, "corrupt entry")
	}
	return e, nil
}
