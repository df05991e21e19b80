// Package cli tests the `tusk` admin CLI end to end: TestMain builds the
// real binary once; each test starts `tusk serve` as a subprocess on a
// random port and drives it with the binary (and with aws-sdk-go-v2 for S3
// calls), parsing `-o json` and comparing human output with golden files
// under testdata/ (ids, keys and times masked). Rewrite the golden files
// after reviewing a change with:
//
//	go test ./test/cli/ -update
package cli
