// Package meta is Tusk's versioned metadata engine: repos, branches, tags,
// commits, open commits, key history, diff. It keeps its records in an
// ordered key-value store behind the meta/kv seam (Badger through
// meta/kv/badgerkv in production, meta/kv/memkv in tests); no other package
// sees the store: sibling packages keep their records in a namespace of
// their own (Store.Records).
//
// Every commit points at two immutable copy-on-write B+-trees of
// content-addressed nodes: the live tree (key -> version record) and the
// version tree ((key, first-parent depth) -> version record or delete
// marker). Writes go through one committer that groups concurrent writes
// into shared KV transactions with one sync each (group commit), while
// every write is still its own commit. See docs/architecture.md for the
// data model and the cost of each operation.
//
// meta knows nothing of HTTP or of where bytes live: an Entry names its
// content by SHA-256.
package meta
