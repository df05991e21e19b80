package sigv4

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)

// Limits of the aws-chunked decoder. Memory per body is one bufio buffer
// (maxLine) plus the collected trailers (maxTrailerBytes); chunk data is
// never buffered, so maxChunkSize only bounds how much data can arrive
// before its signature is checked.
const (
	maxChunkSize    = 16 << 20
	maxLine         = 8 << 10
	maxTrailerBytes = 16 << 10
	maxTrailers     = 64
)

type chunkMode uint8

const (
	modeSigned          chunkMode = iota // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	modeSignedTrailer                    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	modeUnsignedTrailer                  // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

// streamSigner is what chunk and trailer signatures are computed with.
type streamSigner struct {
	key     []byte
	amzDate string
	scope   string
	seed    string // the request's own signature: the first "previous" one
}

// chunkDecoder removes aws-chunked framing from a body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[name:value\r\n ...] [x-amz-trailer-signature:sig\r\n] \r\n
//
// verifying chunk signatures (signed modes), each chained on the previous
// one, and collecting the trailing headers.
type chunkDecoder struct {
	src      *bufio.Reader
	mode     chunkMode
	ss       *streamSigner
	prevSig  string
	declared []string // x-amz-trailer names; nil accepts any

	decodedLen int64 // declared payload length, -1 if unknown
	total      int64 // payload bytes delivered so far
	remaining  int64 // data bytes left in the current chunk
	chunkSig   string
	h          hash.Hash

	err     error // sticky; io.EOF once the body is complete
	trailer http.Header
}

func newChunkDecoder(body io.Reader, mode chunkMode, ss *streamSigner, decodedLen int64, declared []string) *chunkDecoder {
	d := &chunkDecoder{
		src:        bufio.NewReaderSize(body, maxLine),
		mode:       mode,
		ss:         ss,
		declared:   declared,
		decodedLen: decodedLen,
	}
	if mode != modeUnsignedTrailer {
		d.prevSig = ss.seed
		d.h = sha256.New()
	}
	return d
}

func (d *chunkDecoder) signed() bool { return d.mode != modeUnsignedTrailer }

// Trailer returns the trailing headers once the body has been read to
// io.EOF; nil before that or when there were none.
func (d *chunkDecoder) Trailer() http.Header {
	if d.err != io.EOF || len(d.trailer) == 0 {
		return nil
	}
	return d.trailer.Clone()
}

func (d *chunkDecoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for d.remaining == 0 {
		if err := d.nextChunk(); err != nil {
			d.err = err
			return 0, err
		}
		if d.err == io.EOF {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > d.remaining {
		p = p[:d.remaining]
	}
	n, err := d.src.Read(p)
	if d.signed() {
		d.h.Write(p[:n])
	}
	d.remaining -= int64(n)
	d.total += int64(n)
	if err != nil {
		if err == io.EOF {
			err = incomplete("the aws-chunked body ended inside a chunk")
		} else {
			err = bodyErr(err)
		}
		d.err = err
		return 0, err
	}
	if d.decodedLen >= 0 && d.total > d.decodedLen {
		d.err = incomplete("the aws-chunked body holds more than x-amz-decoded-content-length (%d) bytes", d.decodedLen)
		return 0, d.err
	}
	if d.remaining == 0 {
		// The chunk's last bytes are in p: check the chunk before handing
		// them over.
		if err := d.endChunk(); err != nil {
			d.err = err
			return 0, err
		}
	}
	return n, nil
}

func incomplete(format string, args ...any) *s3code.Error {
	return bodyFail(errs.Invalid, "IncompleteBody", format, args...)
}

func malformedChunk(format string, args ...any) *s3code.Error {
	return bodyFail(errs.Invalid, "InvalidRequest", format, args...)
}

// readLine reads one line ending in "\n" (a "\r" before it is dropped). It
// returns io.EOF only when the body ends exactly at a line boundary.
func (d *chunkDecoder) readLine() (string, error) {
	line, err := d.src.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return "", malformedChunk("aws-chunked line longer than %d bytes", maxLine)
	case err == io.EOF && len(line) == 0:
		return "", io.EOF
	case err == io.EOF:
		return "", incomplete("the aws-chunked body ended inside a line")
	case err != nil:
		return "", bodyErr(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return string(line), nil
}

// nextChunk reads a chunk header; for the final (empty) chunk it also reads
// the trailers and sets d.err to io.EOF.
func (d *chunkDecoder) nextChunk() error {
	line, err := d.readLine()
	if err == io.EOF {
		return incomplete("the aws-chunked body ended before its final chunk")
	}
	if err != nil {
		return err
	}
	sizeStr, ext, _ := strings.Cut(line, ";")
	if sizeStr == "" || len(sizeStr) > 16 || !isHex(sizeStr) {
		return malformedChunk("malformed aws-chunked chunk header %q", truncate(line))
	}
	size, err := strconv.ParseUint(sizeStr, 16, 64)
	if err != nil || size > maxChunkSize {
		return malformedChunk("aws-chunked chunk of %s bytes (hex) is larger than the limit of %d", sizeStr, maxChunkSize)
	}
	var sig string
	if d.signed() {
		for _, e := range strings.Split(ext, ";") {
			if k, v, ok := strings.Cut(e, "="); ok && strings.TrimSpace(k) == "chunk-signature" {
				sig = strings.TrimSpace(v)
			}
		}
		if len(sig) != 64 || !isHex(sig) {
			return malformedChunk("aws-chunked chunk header %q has no valid chunk-signature", truncate(line))
		}
		sig = strings.ToLower(sig)
	}
	if size == 0 {
		if d.signed() {
			if err := d.checkChunk(emptySHA256, sig); err != nil {
				return err
			}
		}
		if err := d.readTrailers(); err != nil {
			return err
		}
		if d.decodedLen >= 0 && d.total != d.decodedLen {
			return incomplete("the aws-chunked body holds %d bytes, x-amz-decoded-content-length says %d", d.total, d.decodedLen)
		}
		d.err = io.EOF
		return nil
	}
	d.remaining = int64(size)
	d.chunkSig = sig
	if d.signed() {
		d.h.Reset()
	}
	return nil
}

// endChunk reads the CRLF after a chunk's data and checks its signature.
func (d *chunkDecoder) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(d.src, crlf[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return incomplete("the aws-chunked body ended after a chunk's data")
		}
		return bodyErr(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return malformedChunk("aws-chunked chunk data is not followed by CRLF")
	}
	if d.signed() {
		return d.checkChunk(hex.EncodeToString(d.h.Sum(nil)), d.chunkSig)
	}
	return nil
}

func (d *chunkDecoder) checkChunk(sum, sig string) error {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + d.ss.amzDate + "\n" + d.ss.scope + "\n" +
		d.prevSig + "\n" + emptySHA256 + "\n" + sum
	if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(d.ss.key, sts))), []byte(sig)) {
		return bodyFail(errs.Permission, "SignatureDoesNotMatch",
			"the chunk signature we calculated does not match the chunk-signature you provided")
	}
	d.prevSig = sig
	return nil
}

// readTrailers reads the trailer section to the end of the body. Blank lines
// are skipped: clients differ in how many CRLFs end the section.
func (d *chunkDecoder) readTrailers() error {
	var names, vals []string
	var sig string
	seenSig := false
	size := 0
	for {
		line, err := d.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if size += len(line) + 2; size > maxTrailerBytes {
			return malformedChunk("aws-chunked trailer section larger than %d bytes", maxTrailerBytes)
		}
		if line == "" {
			continue
		}
		name, val, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.Trim(val, " \t")
		switch {
		case !ok || !isToken(name):
			return malformedChunk("malformed aws-chunked trailer line %q", truncate(line))
		case d.mode == modeSigned:
			return malformedChunk("trailing header %q, but x-amz-content-sha256 declares no trailer", name)
		case name == "x-amz-trailer-signature":
			if seenSig {
				return malformedChunk("x-amz-trailer-signature given twice")
			}
			seenSig, sig = true, strings.ToLower(val)
			continue
		case seenSig:
			return malformedChunk("trailing header %q after x-amz-trailer-signature", name)
		case d.declared != nil && !slices.Contains(d.declared, name):
			return malformedChunk("trailing header %q is not declared in x-amz-trailer", name)
		case slices.Contains(names, name):
			return malformedChunk("trailing header %q given twice", name)
		case len(names) >= maxTrailers:
			return malformedChunk("more than %d trailing headers", maxTrailers)
		}
		names = append(names, name)
		vals = append(vals, val)
	}
	if d.mode == modeSignedTrailer && (len(names) > 0 || seenSig) {
		if err := d.checkTrailer(names, vals, sig); err != nil {
			return err
		}
	}
	if len(names) > 0 {
		d.trailer = make(http.Header, len(names))
		for i, n := range names {
			d.trailer[textproto.CanonicalMIMEHeaderKey(n)] = []string{vals[i]}
		}
	}
	return nil
}

// checkTrailer verifies the trailer signature: an HMAC over
// "AWS4-HMAC-SHA256-TRAILER", the date, the scope, the last chunk's signature
// and the SHA-256 of the trailers canonicalised as "name:value\n", sorted by
// name (the order as received is accepted too).
func (d *chunkDecoder) checkTrailer(names, vals []string, sig string) error {
	if len(sig) != 64 || !isHex(sig) {
		return bodyFail(errs.Permission, "SignatureDoesNotMatch", "the trailing headers carry no valid x-amz-trailer-signature")
	}
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	sorted := slices.Clone(order)
	sort.Slice(sorted, func(i, j int) bool { return names[sorted[i]] < names[sorted[j]] })
	for try, ord := range [][]int{sorted, order} {
		if try == 1 && slices.Equal(sorted, order) {
			break
		}
		var b strings.Builder
		for _, i := range ord {
			b.WriteString(names[i] + ":" + vals[i] + "\n")
		}
		sum := sha256.Sum256([]byte(b.String()))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + d.ss.amzDate + "\n" + d.ss.scope + "\n" +
			d.prevSig + "\n" + hex.EncodeToString(sum[:])
		if hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(d.ss.key, sts))), []byte(sig)) {
			d.prevSig = sig
			return nil
		}
	}
	return bodyFail(errs.Permission, "SignatureDoesNotMatch",
		"the trailer signature we calculated does not match the x-amz-trailer-signature you provided")
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
