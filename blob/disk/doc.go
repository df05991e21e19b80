// Package disk is the local-directory blob.Driver, Tusk's default backing
// store.
//
// A key "a/b/c" is the file root/a/b/c. Keys are checked (blob.CheckKey,
// plus a final check that the path stays under root) before any path is
// built, so no key reaches outside root; keys under ".tmp/" are reserved and
// refused. Writes go to a temporary file in root/.tmp, which is fsynced,
// renamed into place, and whose destination directory is fsynced (as are
// directories Put creates), so a Put that returns nil survives a crash and a
// Put that fails or is interrupted leaves nothing visible. A free-space floor
// (Options.MinFree) refuses writes with errs.NoSpace before the disk fills.
//
// One Driver per root: two processes sharing a root are not supported.
package disk
