package adminapi_test

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tusk-data/tusk/adminapi/apiv1"
	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// previewRow is the row type of the test files.
type previewRow struct {
	ID    int64    `parquet:"id"`
	Name  string   `parquet:"name"`
	Score *float64 `parquet:"score,optional"`
	Tags  []string `parquet:"tags,list"`
	Ok    bool     `parquet:"ok"`
}

// parquetFile writes n rows, perGroup rows a row group, the name of row i
// prefixed with prefix.
func parquetFile(t *testing.T, n, perGroup int, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[previewRow](&buf, parquet.MaxRowsPerRowGroup(int64(perGroup)))
	rows := make([]previewRow, n)
	for i := range rows {
		rows[i] = previewRow{ID: int64(i), Name: fmt.Sprintf("%s%d", prefix, i), Ok: i%2 == 0}
		if i%3 != 0 {
			s := float64(i) / 2
			rows[i].Score = &s
		}
		for j := 0; j < i%3; j++ {
			rows[i].Tags = append(rows[i].Tags, fmt.Sprintf("t%d", j))
		}
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPreviewParquet: GET /repos/{repo}/preview answers a Parquet object's
// schema, row count and head rows, for a version too; it refuses a
// non-Parquet or damaged object with 400 ("not a readable Parquet file") and a caller without
// read with 403.
func TestPreviewParquet(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{})
	adm := newAPI(t, srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	c := s3client(srv, gatewaytest.AccessKey, gatewaytest.SecretKey)
	adm.must("POST", "/repos", apiv1.CreateRepoRequest{Name: "alpha"}, nil)

	file := parquetFile(t, 250, 100, "row")
	v1 := put(t, c, "main.alpha", "data/t.parquet", string(file))
	put(t, c, "main.alpha", "data/t.parquet", string(parquetFile(t, 3, 100, "new")))
	put(t, c, "main.alpha", "notes.txt", "hello, this is not parquet at all")
	corrupt := bytes.Clone(file)
	fl := int(corrupt[len(corrupt)-8]) | int(corrupt[len(corrupt)-7])<<8 | int(corrupt[len(corrupt)-6])<<16
	for i := len(corrupt) - 8 - fl; i < len(corrupt)-8; i++ {
		corrupt[i] ^= 0x5a // every footer byte flipped: the magic stays, the metadata is garbage
	}
	put(t, c, "main.alpha", "bad-footer.parquet", string(corrupt))
	put(t, c, "main.alpha", "bad-length.parquet", string(append(bytes.Clone(file[:len(file)-8]), 0xff, 0xff, 0xff, 0x00, 'P', 'A', 'R', '1')))
	put(t, c, "main.alpha", "tiny.parquet", "PAR1PAR1")

	q := func(key string, extra string) string {
		return "/repos/alpha/preview?ref=main&key=" + url.QueryEscape(key) + extra
	}

	t.Run("schema rows and count", func(t *testing.T) {
		var p apiv1.Preview
		adm.must("GET", q("data/t.parquet", "&versionId="+v1+"&rows=5"), nil, &p)
		if p.Format != "parquet" || p.NumRows != 250 || p.RowGroups != 3 || p.Version != v1 || p.Size != int64(len(file)) {
			t.Fatalf("preview header: %+v", p)
		}
		want := []apiv1.PreviewColumn{
			{Name: "id", Type: "INT(64,true)"},
			{Name: "name", Type: "STRING"},
			{Name: "score", Type: "DOUBLE", Optional: true},
			{Name: "tags.list.element", Type: "STRING", Repeated: true},
			{Name: "ok", Type: "BOOLEAN"},
		}
		if fmt.Sprint(p.Columns) != fmt.Sprint(want) {
			t.Fatalf("columns:\n got %+v\nwant %+v", p.Columns, want)
		}
		got := fmt.Sprint(p.Rows)
		wantRows := "[[0 row0 <nil> [] true] [1 row1 0.5 [t0] false] [2 row2 1 [t0 t1] true] [3 row3 <nil> [] false] [4 row4 2 [t0] true]]"
		if got != wantRows {
			t.Fatalf("rows:\n got %s\nwant %s", got, wantRows)
		}
		if p.BytesRead <= 0 || p.BytesRead >= int64(len(file)) {
			t.Fatalf("read %d bytes of a %d-byte file: want some, not all", p.BytesRead, len(file))
		}
	})
	t.Run("defaults and caps", func(t *testing.T) {
		var p apiv1.Preview
		adm.must("GET", q("data/t.parquet", "&versionId="+v1), nil, &p)
		if len(p.Rows) != 20 {
			t.Fatalf("default rows: %d, want 20", len(p.Rows))
		}
		adm.must("GET", q("data/t.parquet", "&versionId="+v1+"&rows=1000"), nil, &p)
		if len(p.Rows) != 100 { // capped at 100; the first row group holds 100
			t.Fatalf("rows=1000 gave %d rows, want 100", len(p.Rows))
		}
		adm.must("GET", q("data/t.parquet", ""), nil, &p) // the latest version
		if p.NumRows != 3 || len(p.Rows) != 3 || p.Rows[2][1] != "new2" {
			t.Fatalf("latest version: %+v", p)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			key, extra, code string
			status           int
		}{
			{"notes.txt", "", "InvalidArgument", 400},
			{"bad-footer.parquet", "", "InvalidArgument", 400},
			{"bad-length.parquet", "", "InvalidArgument", 400},
			{"tiny.parquet", "", "InvalidArgument", 400},
			{"data/t.parquet", "&rows=x", "InvalidArgument", 400},
			{"missing.parquet", "", "NoSuchKey", 404},
			{"data/t.parquet", "&versionId=nosuchversion", "InvalidArgument", 400},
		} {
			t.Run(tc.key+tc.extra, func(t *testing.T) {
				r := adm.call("GET", q(tc.key, tc.extra), nil)
				if r.status != tc.status || r.err.Code != tc.code || (tc.status == 400 && tc.extra == "" && !strings.Contains(r.err.Message, "not a readable Parquet file")) {
					t.Fatalf("status %d code %s (%s), want %d %s", r.status, r.err.Code, r.err.Message, tc.status, tc.code)
				}
			})
		}
	})
	t.Run("permission", func(t *testing.T) {
		ps := setupUsers(t, srv, adm)
		for _, p := range ps {
			wantOK := p.name != "nobody" && p.name != "anonymous"
			r := newAPI(t, srv, p.ak, p.sk).call("GET", q("data/t.parquet", ""), nil)
			if r.ok() != wantOK || (!wantOK && (r.status != 403 && r.status != 401)) {
				t.Errorf("%s: %d %s, want ok=%v", p.name, r.status, r.err.Code, wantOK)
			}
			if p.name == "nobody" && r.status != 403 {
				t.Errorf("nobody: %d, want 403", r.status)
			}
		}
	})
}
