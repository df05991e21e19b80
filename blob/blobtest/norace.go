//go:build !race

package blobtest

// largeSize is the size of the large-stream tests.
const largeSize = 64 << 20
