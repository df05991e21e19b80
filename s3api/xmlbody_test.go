package s3api

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func nested(n int) string { return strings.Repeat("<a>", n) + strings.Repeat("</a>", n) }

func TestCheckXMLShape(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		ok        bool
	}{
		{"plain", `<Delete><Object><Key>k</Key></Object></Delete>`, true},
		{"prolog, blanks and comments", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n<Delete>\n  <Object><Key> k </Key></Object>\n</Delete>\n", true},
		{"namespaced", `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet></Delete>`, true},
		{"ACL depth", `<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee></Grant></AccessControlList></AccessControlPolicy>`, true},
		{"at the depth limit", nested(maxXMLDepth), true},
		{"past the depth limit", nested(maxXMLDepth + 1), false},
		{"100,000 deep", "<Delete><Object><Key>k" + nested(100_000) + "</Key></Object></Delete>", false},
		{"element inside text", `<Delete><Object><Key>a<b/></Key></Object></Delete>`, false},
		{"text after an element", `<Delete><Object><Key>k</Key>junk</Object></Delete>`, false},
		{"two roots", `<Delete/><Delete/>`, false},
		{"text outside the root", `<Delete/>junk`, false},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]><Delete/>`, false},
		{"unclosed", `<Delete><Object>`, false},
		{"stray end", `</Delete>`, false},
		{"empty", ``, false},
		{"blank", " \n", false},
		{"not XML", `{"Delete": []}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkXMLShape([]byte(tc.doc))
			if (err == nil) != tc.ok {
				t.Fatalf("checkXMLShape = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	t.Run("element count", func(t *testing.T) {
		doc := "<Delete>" + strings.Repeat("<Q/>", maxXMLElements) + "</Delete>"
		if err := checkXMLShape([]byte(doc)); !errors.Is(err, errXMLShape) {
			t.Fatalf("%d elements: %v", maxXMLElements+1, err)
		}
	})
}

// hostileDocs are bodies no S3 document parser should take, whatever the
// root: each must answer the operation's malformed-document code. deep is
// how far they nest (within the operation's size cap).
func hostileDocs(root, leaf string, deep int) map[string]string {
	return map[string]string{
		"deep in a leaf":          "<" + root + "><" + leaf + ">x" + nested(deep) + "</" + leaf + "></" + root + ">",
		"deep in a root":          "<" + root + ">" + nested(deep) + "</" + root + ">",
		"deep, unclosed":          "<" + root + ">" + strings.Repeat("<a>", deep),
		"mixed content":           "<" + root + "><" + leaf + ">x<y/>z</" + leaf + "></" + root + ">",
		"a doctype with entities": `<!DOCTYPE d [<!ENTITY e "eeeeeeeeee">]><` + root + "/>",
		"two documents":           "<" + root + "/><" + root + "/>",
	}
}

// TestHostileXMLBodies: every XML body the gateway parses refuses hostile
// shapes with its malformed-document code (MalformedXML; MalformedACLError
// for an ACL) before looking at what they name.
func TestHostileXMLBodies(t *testing.T) {
	e := newEnv(t)
	e.mkRepo("hxx")
	e.put("hxx", "k", "v")
	var up initiateMultipartUploadResult
	decodeXML(t, e.req("POST", "/hxx/obj?uploads", ""), &up)
	// 100,000 deep fits the 4 and 8 MiB caps of DeleteObjects and
	// CompleteMultipartUpload; 5,000 the 64 KiB of configurations.
	for _, op := range []struct {
		name, method, target, root, leaf, code string
		deep                                   int
	}{
		{"DeleteObjects", "POST", "/hxx?delete", "Delete", "Object", "MalformedXML", 100_000},
		{"CompleteMultipartUpload", "POST", "/hxx/obj?uploadId=" + up.UploadID, "CompleteMultipartUpload", "Part", "MalformedXML", 100_000},
		{"PutBucketVersioning", "PUT", "/hxx?versioning", "VersioningConfiguration", "Status", "MalformedXML", 5_000},
		{"CreateBucket", "PUT", "/newhxx", "CreateBucketConfiguration", "LocationConstraint", "MalformedXML", 5_000},
		{"PutBucketAcl", "PUT", "/hxx?acl", "AccessControlPolicy", "Owner", "MalformedACLError", 5_000},
	} {
		for name, doc := range hostileDocs(op.root, op.leaf, op.deep) {
			t.Run(op.name+"/"+name, func(t *testing.T) {
				expectError(t, e.req(op.method, op.target, doc), 400, op.code)
			})
		}
	}
	// Nothing was deleted, completed or created on the way.
	if w := e.req("GET", "/hxx/k", ""); w.Code != 200 {
		t.Fatalf("k after the hostile deletes: %d", w.Code)
	}
	if w := e.req("HEAD", "/newhxx", ""); w.Code != 404 {
		t.Fatalf("newhxx after the hostile creates: %d", w.Code)
	}
	t.Run("DeleteObjects key limit", func(t *testing.T) {
		ok := "<Delete><Quiet>true</Quiet>" + strings.Repeat("<Object><Key>gone</Key></Object>", maxDeleteKeys) + "</Delete>"
		if w := e.req("POST", "/hxx?delete", ok); w.Code != 200 {
			t.Fatalf("%d keys: %d %s", maxDeleteKeys, w.Code, w.Body)
		}
		many := "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", maxDeleteKeys+1) + "</Delete>"
		expectError(t, e.req("POST", "/hxx?delete", many), 400, "MalformedXML")
	})
}

// FuzzXMLDocs: for each request document type, a body either fails with
// an error or decodes to a value that, written back as XML, decodes to the
// same value (parse(format(x)) == x) and passes the shape check.
func FuzzXMLDocs(f *testing.F) {
	for _, s := range []string{
		`<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object><Object><Key>b&amp;c</Key></Object></Delete>`,
		`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"e"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>`,
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`,
		`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`,
		`<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`,
		`<Delete><Object><Key>a<b/></Key></Object></Delete>`,
		`<Delete><Object><Key>` + "\x00" + `</Key></Object></Delete>`,
	} {
		f.Add(uint8(0), []byte(s))
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		docs := []func() any{
			func() any { return new(deleteRequest) },
			func() any { return new(completeMultipartUpload) },
			func() any { return new(versioningConfiguration) },
			func() any { return new(createBucketConfiguration) },
			func() any { return new(aclPolicyIn) },
		}
		for i := range docs {
			v := docs[(int(kind)+i)%len(docs)]()
			if err := decodeBody(data, v, "MalformedXML", "document"); err != nil {
				if codeOf(err) != "MalformedXML" {
					t.Fatalf("%T: error %v has code %q", v, err, codeOf(err))
				}
				continue
			}
			if err := checkXMLShape(data); err != nil {
				t.Fatalf("%T decoded from a document of bad shape: %v", v, err)
			}
			if _, acl := v.(*aclPolicyIn); acl {
				continue // it has no writer: attributes of Grantee are read only
			}
			out, err := xml.Marshal(v)
			if err != nil {
				continue // a decoded string XML 1.0 cannot carry (e.g. \x00 via a char ref)
			}
			again := docs[(int(kind)+i)%len(docs)]()
			if err := decodeBody(out, again, "MalformedXML", "document"); err != nil {
				t.Fatalf("%T written back as %q does not decode: %v", v, out, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("%T: %+v written as %q decodes to %+v", v, v, out, again)
			}
		}
	})
}

// FuzzDeleteObjectsBody sends arbitrary bodies to DeleteObjects: the
// answer is 200 or a 4xx with a documented code, never a 5xx; a 200
// accounts for every object named (non-quiet), each key once.
func FuzzDeleteObjectsBody(f *testing.F) {
	f.Add(`<Delete><Object><Key>a</Key></Object><Object><Key>b</Key><VersionId>nosuch</VersionId></Object></Delete>`)
	f.Add(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`)
	f.Add(`<Delete><Object><Key></Key></Object><Object><Key>` + strings.Repeat("k", 1025) + `</Key></Object></Delete>`)
	f.Add(`<Delete><Object><Key>a</Key><ETag>"x"</ETag></Object></Delete>`)
	f.Add(`<Delete><Object><Key>k` + nested(20) + `</Key></Object></Delete>`)
	f.Fuzz(func(t *testing.T, body string) {
		e := newEnv(t)
		e.mkRepo("fzz")
		e.put("fzz", "a", "1")
		w := e.req("POST", "/fzz?delete", body)
		if w.Code != 200 {
			switch c := errorOf(t, w).Code; c {
			case "MalformedXML", "MaxMessageLengthExceeded", "NotImplemented":
			default:
				t.Fatalf("%d %s for %q", w.Code, c, body)
			}
			return
		}
		var req deleteRequest
		if err := xml.Unmarshal([]byte(body), &req); err != nil {
			t.Fatalf("200 for a body that does not decode: %v", err)
		}
		var res deleteResultXML
		decodeXML(t, w, &res)
		want := len(req.Objects)
		if req.Quiet {
			want = len(res.Errors) + len(res.Deleted) // quiet: errors only
			if len(res.Deleted) != 0 {
				t.Fatalf("quiet delete lists %d deleted", len(res.Deleted))
			}
		}
		if got := len(res.Deleted) + len(res.Errors); got != want {
			t.Fatalf("%d objects named, %d answered: %s", len(req.Objects), got, w.Body)
		}
	})
}
