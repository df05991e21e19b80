package errs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// protocolLayers are the paths (relative to the module root, slash
// separated; a prefix matches) that may speak wire error codes: s3api (with
// s3api/sigv4 and s3api/s3code) and the admin API. Everything else returns
// errs kinds and reasons.
var protocolLayers = []string{"s3api/", "adminapi/"}

// codeEdges may name S3 codes for another reason than answering: they read
// them. blob/s3 classifies the object store's S3 answers at its edge.
var codeEdges = []string{"blob/s3/"}

// s3Code matches the S3 error codes Tusk answers (and the admin-domain ones
// that used to be attached to errors below the protocol layers).
var s3Code = regexp.MustCompile(`^(NoSuch(Key|Bucket|Version|Upload|User|AccessKey|Pipeline|Job|Datum)|Invalid(BucketName|Argument|Request|URI|Range|Part|PartOrder|Digest|AccessKeyId)|` +
	`BucketAlreadyExists|BucketAlreadyOwnedByYou|UserAlreadyExists|AccessDenied|BucketNotEmpty|PreconditionFailed|NotModified|` +
	`BadDigest|IncompleteBody|KeyTooLongError|MethodNotAllowed|OperationAborted|MalformedXML|SignatureDoesNotMatch|` +
	`RequestTimeTooSkewed|SlowDown|MissingContentLength|EntityTooLarge|MergeConflict|AuthorizationHeaderMalformed)$`)

const errsPath = "github.com/tusk-data/tusk/internal/errs"
const s3codePath = "github.com/tusk-data/tusk/s3api/s3code"

// TestWireCodesOnlyInProtocolLayers: no package below the protocol layers
// picks a wire code. Outside protocolLayers, non-test Go files may not call
// WithCode, import s3api/s3code, or (when they build errors with
// internal/errs) hold an S3 error code as a string literal.
func TestWireCodesOnlyInProtocolLayers(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if under(rel, protocolLayers) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, msg := range violations(fset, f, !under(rel, codeEdges)) {
			t.Errorf("%s: %s", rel, msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d Go files checked under %s: the walk is broken", files, root)
	}
}

// violations lists f's wire-code uses. literals also checks string literals
// that are call arguments or Code fields, in files that import
// internal/errs.
func violations(fset *token.FileSet, f *ast.File, literals bool) []string {
	var out []string
	usesErrs := false
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		switch p {
		case errsPath:
			usesErrs = true
		case s3codePath:
			out = append(out, "imports s3api/s3code: return errs kinds and reasons; s3api picks the S3 code")
		}
	}
	lit := func(e ast.Expr) {
		b, ok := e.(*ast.BasicLit)
		if !ok || !literals || !usesErrs || b.Kind != token.STRING {
			return
		}
		if v, err := strconv.Unquote(b.Value); err == nil && s3Code.MatchString(v) {
			out = append(out, fset.Position(b.Pos()).String()+": S3 error code "+b.Value+" below the protocol layers")
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if n.Sel.Name == "WithCode" {
				out = append(out, fset.Position(n.Pos()).String()+": WithCode: use a Reason (errs.E(...).Because(...))")
			}
		case *ast.CallExpr:
			// A code handed to a helper that builds an error.
			for _, a := range n.Args {
				lit(a)
			}
		case *ast.KeyValueExpr:
			// Code: "NoSuchKey" in an error literal.
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Code" {
				lit(n.Value)
			}
		}
		return true
	})
	return out
}

func under(rel string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// TestViolationsSeen checks the checker on a file that breaks every rule.
func TestViolationsSeen(t *testing.T) {
	src := `package p
import (
	"fmt"

	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api/s3code"
)
var _ = s3code.Of
func f() error { return errs.E("p", errs.NotExist, "gone").WithCode("NoSuchKey") }
type e struct{ Code string }
var _ = e{Code: "BucketNotEmpty"}
var cases = []struct{ name string }{{"IncompleteBody"}}
func g() string { return fmt.Sprint("NoSuchKeyring") }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := violations(fset, f, true); len(v) != 4 {
		t.Fatalf("violations %q, want import, WithCode, call argument and Code field", v)
	}
	if v := violations(fset, f, false); len(v) != 2 {
		t.Fatalf("violations without literals %q, want import and WithCode", v)
	}
}
