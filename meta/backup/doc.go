// Package backup keeps a copy of the metadata store in the backing store
// (the mirror) and rebuilds a store from it (SPEC §9, disaster recovery).
//
// Layout, under the reserved key prefix Prefix ("meta/") of the blob
// driver, which content keys ("blobs/", "tmp/") never share, so garbage
// collection and purge, which touch only those, never delete it:
//
//	meta/seg/<sha256>     a segment: one kv dump (meta/kv's dump format),
//	                      named by its SHA-256, written once, never changed
//	meta/manifest.json    the segments in order (a full checkpoint, then
//	                      incremental dumps), the mark of the last one and
//	                      the time every acknowledged write before which
//	                      is in them ("through")
//
// A Mirror step dumps what changed since the previous step (a tracked
// kv.Dumper mark, so deletions are carried), writes it as a segment and
// then the manifest; nothing is durable-in-backing-store before the
// manifest naming it is written. When the incremental chain cannot go on
// (first run, a restart after unmirrored writes, a restored store) or the
// incremental segments outgrow the checkpoint, the step writes a new full
// checkpoint and deletes the segments the new manifest no longer names.
//
// Users and access keys (auth's "gw/" records) and the installation
// secret K/compose are written sealed (AES-256-GCM under a key derived
// from the server key, SealKey): restoring them needs the server key.
// Restore rebuilds a Badger directory from the manifest's segments.
package backup
