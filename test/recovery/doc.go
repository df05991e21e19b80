// Package recovery tests metadata recovery (SPEC §9, docs/operations.md)
// end to end, with the real `tusk` binary (built once, or $TUSK_BIN) and
// a real S3 client:
//
//   - restore_test.go builds a history (branches, a merge, a tag, a deleted
//     branch, a purge, a pipeline with provenance, a user), waits for the
//     metadata mirror, kills the gateway, deletes its Badger directory,
//     runs `tusk restore --from-backend`, restarts, and checks that every
//     version reads back byte-equal at its version id, ListObjectVersions,
//     `tusk log`, branches, tags and provenance answer the same, the
//     purged version stays purged and the user's key still signs.
//   - backup_test.go takes `tusk backup` while writers PUT, restores the
//     file, and checks that every write acknowledged before the backup
//     started is there, byte-equal.
package recovery
