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
// Store.Compose joins stored blobs (the parts of an S3 multipart upload)
// into one blob without reading them back: drivers that implement Composer
// do it themselves (blob/disk concatenates files with copy_file_range,
// blob/s3 uses the backend's own multipart upload with server-side part
// copies); for other drivers the parts stream through a temporary key. A
// composed blob's address is not the SHA-256 of its bytes (computing that
// would mean reading them all again) but HMAC-SHA-256, keyed with a
// per-installation secret (SetComposeKey), over the concatenated binary
// SHA-256s of the parts followed by the decimal part count
// (ComposeAddress): deterministic for the same parts, so a retried compose
// finds its blob already stored, and, being keyed, impossible to collide
// with the plain content address of any blob a client could upload.
//
// Key layout inside a driver: "blobs/ab/cd/abcd…" for content (see Key),
// "tmp/<random>" for uploads in progress (see Store.CleanTemp). Other
// top-level prefixes are free for other users of the same driver (for
// example metadata backups).
//
// blob imports nothing of meta or s3api.
package blob
