package soak

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Payloads are self-describing: the first line is
//
//	TUSKSOAK <origin key> <n> <sha256 of the n bytes after the line>\n
//
// so that any version read back, acknowledged or not, is checked for
// tearing (a truncated, mixed or zero-filled body fails its own line).

const magic = "TUSKSOAK "

// makePayload returns a payload of about size bytes written for key, with
// the SHA-256 (hex) of the whole payload.
func makePayload(rng *rand.ChaCha8, key string, size int) (body []byte, sha string) {
	rest := make([]byte, size)
	_, _ = rng.Read(rest)
	h := sha256.Sum256(rest)
	head := fmt.Sprintf("%s%s %d %s\n", magic, key, size, hex.EncodeToString(h[:]))
	body = append([]byte(head), rest...)
	s := sha256.Sum256(body)
	return body, hex.EncodeToString(s[:])
}

// checkPayload reports why body is not a whole payload ("" when it is).
func checkPayload(body []byte) string {
	nl := bytes.IndexByte(body, '\n')
	if nl < 0 || nl > 2048 || !bytes.HasPrefix(body, []byte(magic)) {
		return fmt.Sprintf("no payload header in the first %d bytes", min(len(body), 2048))
	}
	f := bytes.Fields(body[len(magic):nl])
	if len(f) != 3 {
		return fmt.Sprintf("malformed payload header %q", body[:nl])
	}
	n, err := strconv.Atoi(string(f[1]))
	rest := body[nl+1:]
	if err != nil || n != len(rest) {
		return fmt.Sprintf("payload header says %s bytes, %d follow", f[1], len(rest))
	}
	h := sha256.Sum256(rest)
	if hex.EncodeToString(h[:]) != string(f[2]) {
		return "payload bytes do not match the SHA-256 in their header (torn or mixed)"
	}
	return ""
}

// sha256hex is the hex SHA-256 of b.
func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// md5hex is the hex MD5 of b (a single-part ETag).
func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
