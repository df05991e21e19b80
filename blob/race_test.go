//go:build race

package blob_test

// raceEnabled: under the race detector sync.Pool drops a random share of
// what it is given, so allocation counts say nothing about pooling.
const raceEnabled = true
