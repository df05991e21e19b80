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
