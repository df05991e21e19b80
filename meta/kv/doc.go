// Package kv is the seam between meta and the store it keeps its records
// in: an ordered byte-key key-value store with snapshot-isolated
// transactions and a durability barrier. It imports no storage engine.
//
// meta/kv/badgerkv implements it on Badger (the production store),
// meta/kv/memkv in memory (unit tests), and meta/kv/kvtest is the
// conformance suite both run. The interface is kept small so that a
// distributed store (PostgreSQL, DynamoDB, FoundationDB) could implement it
// later: see docs/kv-seam.md for what each operation demands of one.
//
// The JSON helpers (GetJSON, PutJSON, ScanJSON, ListJSON, ScanKeys) are the
// one way Tusk's packages read and write typed records.
package kv
