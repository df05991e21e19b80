package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// The checksums of a multipart object, as S3 computes them.
//
//   - COMPOSITE (CRC32, CRC32C, SHA1, SHA256; the default for them): the
//     algorithm applied to the concatenation of the parts' raw checksums,
//     in part order, base64, followed by "-N" (N parts). It is what S3
//     returns for the object; a whole-object GET cannot be checked against
//     it, so SDKs skip validation of values with a "-N" suffix.
//   - FULL_OBJECT (CRC32, CRC32C, CRC64NVME; the only type for CRC64NVME):
//     the CRC of the whole object, which S3 derives from the parts' CRCs
//     without reading the object: crc(A||B) = combine(crc(A), crc(B),
//     len(B)), zlib's crc32_combine generalised to any reflected CRC with
//     all-ones init and final xor (CRC-32/ISO-HDLC, CRC-32C,
//     CRC-64/NVME). SHA1 and SHA256 cannot be combined and are refused
//     with FULL_OBJECT, as S3 does.
//
// The ETag of a multipart object is the MD5 of the concatenated binary
// MD5s of its parts, hex, followed by "-N".

// crcParam is a reflected CRC's polynomial (reflected form) and width.
type crcParam struct {
	poly  uint64
	width int
}

var crcParams = map[string]crcParam{
	"CRC32":     {0xEDB88320, 32},
	"CRC32C":    {0x82F63B78, 32},
	"CRC64NVME": {0x9A6C9329AC4BC9B5, 64},
}

// defaultChecksumType is the type S3 uses for algo when the client names
// none.
func defaultChecksumType(algo string) string {
	if algo == "CRC64NVME" {
		return "FULL_OBJECT"
	}
	return "COMPOSITE"
}

// gf2Times multiplies the GF(2) matrix mat (one column per bit) by vec.
func gf2Times(mat []uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat []uint64) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}

// crcCombine returns the CRC of A||B from crc1 = CRC(A), crc2 = CRC(B)
// and len2 = len(B), for the reflected CRC p (zlib's crc32_combine): the
// operator "append len2 zero bytes" is built by repeated squaring of the
// one-zero-bit operator and applied to crc1.
func crcCombine(p crcParam, crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	even := make([]uint64, p.width) // operator for 2^k zero bits, k even
	odd := make([]uint64, p.width)
	odd[0] = p.poly // one zero bit
	row := uint64(1)
	for n := 1; n < p.width; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(even, odd) // two zero bits
	gf2Square(odd, even) // four zero bits
	for {
		gf2Square(even, odd) // first pass: one zero byte
		if len2&1 != 0 {
			crc1 = gf2Times(even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(odd, even)
		if len2&1 != 0 {
			crc1 = gf2Times(odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

// decodeCRC reads a base64 big-endian CRC of width bits.
func decodeCRC(v string, width int) (uint64, bool) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != width/8 {
		return 0, false
	}
	if width == 32 {
		return uint64(binary.BigEndian.Uint32(raw)), true
	}
	return binary.BigEndian.Uint64(raw), true
}

func encodeCRC(c uint64, width int) string {
	var b [8]byte
	if width == 32 {
		binary.BigEndian.PutUint32(b[:4], uint32(c))
		return base64.StdEncoding.EncodeToString(b[:4])
	}
	binary.BigEndian.PutUint64(b[:], c)
	return base64.StdEncoding.EncodeToString(b[:])
}

// fullObjectChecksum combines the parts' CRCs (base64) into the whole
// object's. ok is false when a value does not decode or algo is no CRC.
func fullObjectChecksum(algo string, sums []string, sizes []int64) (string, bool) {
	p, isCRC := crcParams[algo]
	if !isCRC || len(sums) == 0 {
		return "", false
	}
	var crc uint64
	for i, v := range sums {
		c, ok := decodeCRC(v, p.width)
		if !ok {
			return "", false
		}
		if i == 0 {
			crc = c
		} else {
			crc = crcCombine(p, crc, c, sizes[i])
		}
	}
	return encodeCRC(crc, p.width), true
}

// compositeChecksum is algo over the parts' raw checksums, "-N".
func compositeChecksum(algo string, sums []string) (string, bool) {
	h := newChecksumHash(algo)
	if h == nil || len(sums) == 0 {
		return "", false
	}
	for _, v := range sums {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(raw) != h.Size() {
			return "", false
		}
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(sums)), true
}

// multipartETag is the ETag of an object made of parts with these ETags:
// hex MD5 of the concatenated binary MD5s, "-N". ok is false when an ETag
// is not an MD5 in hex (no stored part can then match it).
func multipartETag(etags []string) (string, bool) {
	h := md5.New()
	for _, e := range etags {
		raw, err := hex.DecodeString(strings.ToLower(e))
		if err != nil || len(raw) != md5.Size {
			return "", false
		}
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(etags)), true
}

// uploadChecksum reads CreateMultipartUpload's x-amz-checksum-algorithm
// and x-amz-checksum-type, with S3's defaults and refusals.
func uploadChecksum(h http.Header) (algo, typ string, err error) {
	algo = strings.ToUpper(strings.TrimSpace(h.Get("X-Amz-Checksum-Algorithm")))
	typ = strings.ToUpper(strings.TrimSpace(h.Get("X-Amz-Checksum-Type")))
	if algo != "" && newChecksumHash(algo) == nil {
		return "", "", s3err("InvalidRequest", "checksum algorithm %q is not supported (CRC32, CRC32C, CRC64NVME, SHA1, SHA256)", algo)
	}
	switch typ {
	case "", "COMPOSITE", "FULL_OBJECT":
	default:
		return "", "", s3err("InvalidRequest", "checksum type %q is not supported (COMPOSITE, FULL_OBJECT)", typ)
	}
	if algo == "" {
		if typ != "" {
			return "", "", s3err("InvalidRequest", "the x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header")
		}
		return "", "", nil
	}
	if typ == "" {
		typ = defaultChecksumType(algo)
	}
	if typ == "FULL_OBJECT" && (algo == "SHA1" || algo == "SHA256") {
		return "", "", s3err("InvalidRequest", "the FULL_OBJECT checksum type cannot be used with the %s checksum algorithm", strings.ToLower(algo))
	}
	if typ == "COMPOSITE" && algo == "CRC64NVME" {
		return "", "", s3err("InvalidRequest", "the COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm")
	}
	return algo, typ, nil
}
