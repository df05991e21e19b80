// Package blobtest is the conformance suite every blob.Driver runs.
//
// A driver's test calls Run with a constructor that returns a fresh, empty
// driver for each subtest. Run checks the Driver contract (put, get, ranges,
// stat, delete, move, list, key validation, failing and mis-sized streams,
// large streams, concurrency, Compose for drivers that implement
// blob.Composer) and then the blob.Store built over it
// (content addressing, deduplication, Verify, IncompleteBody, CleanTemp,
// Compose with and without the driver's Composer).
package blobtest
