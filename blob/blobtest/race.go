//go:build race

package blobtest

// largeSize is the size of the large-stream tests: smaller under the race
// detector, which slows hashing and copying tenfold.
const largeSize = 16 << 20
