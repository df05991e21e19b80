package adminapi

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tusk-data/tusk/internal/errs"
)

// TestPreviewLimits: a footer or first row group over the limit is refused
// with TooLarge before its bytes are read; under it the preview reads.
func TestPreviewLimits(t *testing.T) {
	type row struct {
		A int64  `parquet:"a"`
		B string `parquet:"b"`
	}
	rows := make([]row, 2000)
	for i := range rows {
		rows[i] = row{A: int64(i), B: strings.Repeat("x", i%50)}
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	footer := int64(file[len(file)-8]) | int64(file[len(file)-7])<<8
	for _, tc := range []struct {
		name  string
		limit int64
		want  string // "" for success
	}{
		{"under both", int64(len(file)), ""},
		{"footer over", footer - 1, "its footer is"},
		{"row group over", footer, "its first row group is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := previewParquet(bytes.NewReader(file), int64(len(file)), tc.limit, 3, func(err error) error { return err })
			if tc.want == "" {
				if err != nil || p.NumRows != 2000 || len(p.Rows) != 3 {
					t.Fatalf("preview: %v %+v", err, p)
				}
				return
			}
			if !errs.Is(err, errs.TooLarge) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want TooLarge %q", err, tc.want)
			}
		})
	}
}

// TestPreviewDamagedPages: a file whose footer is sound but whose pages
// are damaged answers Invalid ("not a readable Parquet file"), whatever
// the damage, never a panic or an unclassified error.
func TestPreviewDamagedPages(t *testing.T) {
	type row struct {
		A int64  `parquet:"a"`
		B string `parquet:"b"`
	}
	rows := make([]row, 500)
	for i := range rows {
		rows[i] = row{A: int64(i) * 7, B: strings.Repeat("y", i%40)}
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	footer := int(file[len(file)-8]) | int(file[len(file)-7])<<8
	pagesEnd := len(file) - 8 - footer
	for _, tc := range []struct {
		name     string
		from, to int // the bytes flipped, pages only
		step     int
	}{
		{"first page header", 4, 24, 1},
		{"every 7th byte", 4, pagesEnd, 7},
		{"second half", pagesEnd / 2, pagesEnd, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(file)
			for i := tc.from; i < tc.to; i += tc.step {
				bad[i] ^= 0xa5
			}
			p, err := previewParquet(bytes.NewReader(bad), int64(len(bad)), maxPreviewPart, 500, func(err error) error { return notParquet("%v", err) })
			if err == nil {
				t.Fatalf("damaged pages read as %d rows", len(p.Rows))
			}
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "not a readable Parquet file") {
				t.Fatalf("got %v, want Invalid not a readable Parquet file", err)
			}
		})
	}
}
