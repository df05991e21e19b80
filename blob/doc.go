// Package blob stores object content, content-addressed, in a backing store.
//
// A Store (the concrete type the rest of Tusk uses) sits over a small Driver
// interface implemented by blob/disk (a local directory, the default) and
// blob/s3 (any S3-compatible service through minio-go). The Store streams
// each upload to a temporary key while computing its size, MD5 and SHA-256,
// lets the caller verify it, and then moves it to its content address
// "blobs/<h0h1>/<h2h3>/<sha256>" (or drops it when that content is already
// stored). Memory never grows with object size. blob/blobtest is the
// conformance suite every driver runs.
//
// Key layout inside a driver: "blobs/ab/cd/abcd…" for content (see Key),
// "tmp/<random>" for uploads in progress (see Store.CleanTemp). Other
// top-level prefixes are free for other users of the same driver (for
// example metadata backups).
//
// blob imports nothing of meta or s3api.
package blob
