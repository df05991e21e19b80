package adminapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/auth"
	"github.com/tusk-data/tusk/internal/errs"
	"github.com/tusk-data/tusk/s3api"
)

// Limits of GET /repos/{repo}/preview.
const (
	defPreviewRows = 20
	maxPreviewRows = 100
	// maxPreviewPart bounds the footer and, separately, the first row
	// group: a preview never reads more than about twice this.
	maxPreviewPart = 64 << 20
	// previewBuffer is the size of one ranged read of a column's pages.
	previewBuffer = 1 << 20
)

// preview is GET /repos/{repo}/preview?ref=R&key=K[&versionId=V][&rows=N]:
// the schema, row count and first N rows (default 20, at most 100) of a
// Parquet object, read through ranged reads of the object: its trailer,
// its footer and the pages of the first row group it needs, never the
// whole object. It needs the read permission GetObject needs. An object
// that is not Parquet, or whose footer or pages are damaged, answers
// Invalid (400, InvalidArgument, "not a readable Parquet file: ..."); a
// footer or first row group over 64 MiB answers TooLarge (413).
func (a *API) preview(c *adminCall) (any, error) {
	repo := c.path("repo")
	if _, err := a.repo(c, repo, auth.PermRead, "read its objects"); err != nil {
		return nil, err
	}
	n, err := c.qint("rows", defPreviewRows, maxPreviewRows)
	if err != nil {
		return nil, err
	}
	ref, key, version := c.q("ref"), c.q("key"), c.q("versionId")
	bk, err := a.bucket(c, repo, ref)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fail(errs.Invalid, "InvalidArgument", "name the key: ?key=PATH")
	}
	caller := s3api.Caller{User: c.user}
	o, err := a.backend.Head(c.ctx, caller, bk, key, version)
	if err != nil {
		if errs.Is(err, errs.NotExist) {
			if version != "" {
				return nil, fail(errs.NotExist, "NoSuchVersion", "key %q has no version %q at %s@%s; tusk log %s@%s:%s lists its versions", key, version, repo, bk.Ref, repo, bk.Ref, key)
			}
			return nil, fail(errs.NotExist, "NoSuchKey", "key %q does not exist at %s@%s; tusk ls %s@%s shows what is there", key, repo, bk.Ref, repo, bk.Ref)
		}
		return nil, err
	}
	if o.DeleteMarker {
		return nil, fail(errs.Invalid, "InvalidArgument", "version %s of %q is a delete marker: there is nothing to preview", o.VersionID, key)
	}
	ra := &objectReaderAt{ctx: c.ctx, backend: a.backend, caller: caller, bucket: bk, obj: o, budget: 2*maxPreviewPart + 8*previewBuffer}
	out, err := previewParquet(ra, o.Size, maxPreviewPart, n, ra.classify)
	if err != nil {
		return nil, err
	}
	out.Repo, out.Ref, out.Key, out.Version, out.Size = repo, bk.Ref, key, o.VersionID, o.Size
	out.BytesRead = ra.read.Load()
	return out, nil
}

// notParquet is the error of an object that is not (valid) Parquet.
func notParquet(format string, args ...any) error {
	return fail(errs.Invalid, "InvalidArgument", "not a readable Parquet file: "+format, args...)
}

// tooLarge is the error of a footer or row group over the preview limit.
func tooLarge(format string, args ...any) error {
	return fail(errs.TooLarge, "TooLarge", format+"; download the object to read it whole", args...)
}

// previewParquet reads the schema, row count and first n rows of the
// Parquet file r of size bytes, refusing a footer or first row group over
// limit bytes (tooLarge). classify turns the decoder's errors into the
// answer: notParquet for the file's own (bad magic, damaged footer or
// pages), the read error for a failed read. A panic of the decoder is
// notParquet too.
func previewParquet(r io.ReaderAt, size, limit int64, n int, classify func(error) error) (out *apiv1.Preview, err error) {
	if size < 12 {
		return nil, notParquet("%d bytes is too short (a Parquet file has at least 12)", size)
	}
	var trailer [8]byte
	if _, err := r.ReadAt(trailer[:], size-8); err != nil {
		return nil, err
	}
	switch string(trailer[4:]) {
	case "PAR1":
	case "PARE":
		return nil, notParquet("its footer is encrypted")
	default:
		return nil, notParquet("it does not end with the magic PAR1")
	}
	if fl := int64(binary.LittleEndian.Uint32(trailer[:4])); fl > size-12 {
		return nil, notParquet("its footer of %d bytes does not fit in %d bytes", fl, size)
	} else if fl > limit {
		return nil, tooLarge("its footer is %d bytes, over the preview limit of %d", fl, limit)
	}
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, notParquet("the decoder failed: %v", p)
		}
	}()
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(previewBuffer))
	if err != nil {
		return nil, classify(err)
	}
	out = &apiv1.Preview{Format: "parquet", NumRows: f.NumRows(), RowGroups: len(f.RowGroups()), Columns: []apiv1.PreviewColumn{}, Rows: [][]any{}}
	schema := f.Schema()
	var leaves []parquet.LeafColumn
	for _, path := range schema.Columns() {
		leaf, ok := schema.Lookup(path...)
		if !ok {
			return nil, notParquet("column %s is in the schema but cannot be looked up", strings.Join(path, "."))
		}
		leaves = append(leaves, leaf)
		out.Columns = append(out.Columns, apiv1.PreviewColumn{Name: strings.Join(path, "."), Type: leaf.Node.Type().String(),
			Optional: leaf.MaxDefinitionLevel > 0 && leaf.MaxRepetitionLevel == 0, Repeated: leaf.MaxRepetitionLevel > 0})
	}
	if len(f.RowGroups()) == 0 || n == 0 {
		return out, nil
	}
	md := f.Metadata().RowGroups[0]
	rgSize := md.TotalCompressedSize
	var sum int64
	for _, cc := range md.Columns {
		sum += cc.MetaData.TotalCompressedSize
	}
	if sum > rgSize {
		rgSize = sum
	}
	if rgSize > limit {
		return nil, tooLarge("its first row group is %d bytes, over the preview limit of %d", rgSize, limit)
	}
	rows := f.RowGroups()[0].Rows()
	defer rows.Close()
	buf := make([]parquet.Row, n)
	got := 0
	for got < n {
		k, err := rows.ReadRows(buf[got:])
		got += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, classify(err)
		}
		if k == 0 {
			break
		}
	}
	for _, row := range buf[:got] {
		out.Rows = append(out.Rows, previewRow(row, leaves))
	}
	return out, nil
}

// previewRow turns a row into one JSON value per leaf column.
func previewRow(row parquet.Row, leaves []parquet.LeafColumn) []any {
	out := make([]any, len(leaves))
	for i, l := range leaves {
		if l.MaxRepetitionLevel > 0 {
			out[i] = []any{}
		}
	}
	for _, v := range row {
		i := v.Column()
		if i < 0 || i >= len(leaves) {
			continue
		}
		if leaves[i].MaxRepetitionLevel == 0 {
			out[i] = previewValue(v)
			continue
		}
		if !v.IsNull() { // a null in a repeated column is an empty (or absent) list
			out[i] = append(out[i].([]any), previewValue(v))
		}
	}
	return out
}

// previewValue is v as JSON: null, bool, number, or string (text as is,
// other bytes as 0x-prefixed hex).
func previewValue(v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return v.Int32()
	case parquet.Int64:
		return v.Int64()
	case parquet.Float:
		return v.Float()
	case parquet.Double:
		return v.Double()
	}
	b := v.ByteArray()
	if utf8.Valid(b) {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

// objectReaderAt reads an object through ranged opens of the backend, one
// per ReadAt, and refuses to read more than budget bytes in all.
type objectReaderAt struct {
	ctx     context.Context
	backend s3api.Backend
	caller  s3api.Caller
	bucket  s3api.Bucket
	obj     s3api.Object
	budget  int64
	read    atomic.Int64
	// backendErr is the first error of the backend itself (not of the
	// file's content), so classify can tell the two apart.
	backendErr atomic.Pointer[error]
}

// errBudget is a read past the preview's byte budget.
var errBudget = errors.New("preview byte budget spent")

// ReadAt implements io.ReaderAt over the object's bytes.
func (r *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= r.obj.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.obj.Size-off)
	if r.read.Add(want) > r.budget {
		r.fail(errBudget)
		return 0, errBudget
	}
	rc, err := r.backend.Open(r.ctx, r.caller, r.bucket, r.obj, off, want)
	if err != nil {
		r.fail(err)
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		err = fmt.Errorf("reading %d bytes at %d of %q: %w", want, off, r.obj.Key, err)
		r.fail(err)
		return n, err
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

func (r *objectReaderAt) fail(err error) { r.backendErr.CompareAndSwap(nil, &err) }

// classify returns the error of a failed decode: the backend's own error
// when a read failed (a transient store error stays one), a
// tooLarge past the budget, and NotParquet for a damaged file.
func (r *objectReaderAt) classify(err error) error {
	if be := r.backendErr.Load(); be != nil {
		if errors.Is(*be, errBudget) {
			return tooLarge("the preview would read more than %d bytes of the object", r.budget)
		}
		return *be
	}
	return notParquet("%v", err)
}
