// Package s3 is the blob.Driver over any S3-compatible service (AWS S3, GCS
// interoperability, Ceph, SeaweedFS, MinIO, versitygw), through minio-go v7.
//
// Keys are object names Config.Prefix+key in Config.Bucket. Put streams:
// memory per upload is bounded by a few parts (Config.PartSize), never by
// the object's size. S3 publishes an object only when its upload completes,
// so a failed Put leaves the key as it was. Move is a server-side copy and a
// delete (S3 has no rename): the destination is always either its old value
// or a complete copy. Errors are classified at this edge: a missing key is
// errs.NotExist, an unreachable or overloaded server errs.Transient, refused
// credentials errs.Permission, a refused range errs.Invalid.
//
// Tests run the blobtest conformance suite against a real versitygw server
// (scripts/install-versitygw.sh installs it).
package s3
