package meta

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestEntryPartChecksums: part checksums round-trip, and an entry without
// them encodes exactly as before they existed (no trailing field).
func TestEntryPartChecksums(t *testing.T) {
	base := Entry{Version: "v", Time: time.Unix(0, 12345).UTC(), Content: hashOf(7), Size: 10, ETag: "e-2",
		Parts: []int64{5, 5}, Headers: map[string]string{"Content-Type": "t"}, User: map[string]string{"m": "\xe9"},
		Checksums: map[string]string{"CRC32": "AAAAAA==-2"}, ChecksumType: "COMPOSITE"}
	plain := base.Encode()
	if got, err := DecodeEntry(plain); err != nil || got.PartChecksums != nil || !reflect.DeepEqual(*got, base) {
		t.Fatalf("plain entry: %+v, %v", got, err)
	}
	with := base
	with.PartChecksums = []map[string]string{{"CRC32": "AQIDBA=="}, {"CRC32": "BQYHCA=="}}
	enc := with.Encode()
	if !bytes.HasPrefix(enc, plain) || len(enc) == len(plain) {
		t.Fatalf("part checksums are not a trailing field: %x vs %x", enc, plain)
	}
	got, err := DecodeEntry(enc)
	if err != nil || !reflect.DeepEqual(*got, with) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := DecodeEntry(append(enc[:len(enc):len(enc)], 1)); err == nil {
		t.Fatal("trailing garbage decoded")
	}
}

// TestExactStrings: header bytes that are not UTF-8 survive a JSON record;
// all-UTF-8 maps keep the plain object form older records have.
func TestExactStrings(t *testing.T) {
	for _, m := range []ExactStrings{
		{"a": "plain", "b": "é 日本"},
		{"latin1": "Hello World\xe9", "ok": "fine", "mixed": "\xc3\xa9\xff"},
	} {
		b, err := json.Marshal(struct {
			M ExactStrings `json:"m,omitempty"`
		}{m})
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			M ExactStrings `json:"m"`
		}
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.M, m) {
			t.Fatalf("%q -> %s -> %q (%v)", m, b, back.M, err)
		}
	}
	var old struct {
		M ExactStrings `json:"meta"`
	}
	if err := json.Unmarshal([]byte(`{"meta":{"foo":"bar"}}`), &old); err != nil || old.M["foo"] != "bar" {
		t.Fatalf("record written before: %v %v", old.M, err)
	}
	if b, _ := json.Marshal(ExactStrings{"a": "b"}); string(b) != `{"a":"b"}` {
		t.Fatalf("UTF-8 map encodes as %s", b)
	}
}
