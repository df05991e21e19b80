package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Bounds of every XML request body, beyond the per-operation size caps
// (maxDeleteBody, maxCompleteBody, maxConfigBody). S3's request documents
// are at most five elements deep (AccessControlPolicy > AccessControlList >
// Grant > Grantee > ID); maxXMLDepth leaves room for that and nothing like
// the 100,000-deep nesting a hostile client sends to make the decoder work.
const (
	maxXMLDepth    = 16
	maxXMLElements = 100_000
)

// errXMLShape says why a document is refused before it is decoded.
var errXMLShape = errors.New("xml shape")

// checkXMLShape scans data as XML and refuses what no S3 request document
// holds: elements nested deeper than maxXMLDepth, more than maxXMLElements
// elements, text mixed with child elements (<Key>a<b/></Key>), anything
// but blanks, comments, processing instructions and a doctype-free prolog
// around one root element, and a document that ends before its root does.
// It stops at the first violation, so its work is bounded by the depth and
// the body's size cap.
func checkXMLShape(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth, elements, roots := 0, 0, 0
	// text[i] / child[i]: the element open at depth i+1 has non-blank text
	// / child elements.
	var text, child []bool
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if roots++; roots > 1 {
					return fmt.Errorf("%w: more than one root element", errXMLShape)
				}
			} else {
				if text[depth-1] {
					return fmt.Errorf("%w: element <%s> inside text", errXMLShape, t.Name.Local)
				}
				child[depth-1] = true
			}
			if depth++; depth > maxXMLDepth {
				return fmt.Errorf("%w: elements nested deeper than %d", errXMLShape, maxXMLDepth)
			}
			if elements++; elements > maxXMLElements {
				return fmt.Errorf("%w: more than %d elements", errXMLShape, maxXMLElements)
			}
			text, child = append(text, false), append(child, false)
		case xml.EndElement:
			if depth == 0 {
				return fmt.Errorf("%w: unexpected </%s>", errXMLShape, t.Name.Local)
			}
			depth--
			text, child = text[:depth], child[:depth]
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			if depth == 0 {
				return fmt.Errorf("%w: text outside the root element", errXMLShape)
			}
			if child[depth-1] {
				return fmt.Errorf("%w: text beside child elements", errXMLShape)
			}
			text[depth-1] = true
		case xml.Directive:
			return fmt.Errorf("%w: a <!%s> directive", errXMLShape, firstWord(t))
		}
	}
	switch {
	case depth > 0:
		return fmt.Errorf("%w: the document ends inside an element", errXMLShape)
	case roots == 0:
		return fmt.Errorf("%w: no root element", errXMLShape)
	}
	return nil
}

func firstWord(b []byte) string {
	if i := bytes.IndexAny(b, " \t\r\n"); i >= 0 {
		b = b[:i]
	}
	if len(b) > 16 {
		b = b[:16]
	}
	return string(b)
}

// decodeBody decodes a request document (already read under its size cap)
// into v after checkXMLShape. Either failure is code (MalformedXML, or
// MalformedACLError for ACLs) with what named in the message.
func decodeBody(data []byte, v any, code, what string) error {
	if err := checkXMLShape(data); err != nil {
		return s3err(code, "the %s is not well-formed: %v", what, err)
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return s3err(code, "the %s is not well-formed: %v", what, err)
	}
	return nil
}
