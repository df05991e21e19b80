// Package disk is the local-directory blob.Driver, Tusk's default backing
// store.
//
// A key "a/b/c" is the file root/a/b/c. Keys are checked (blob.CheckKey,
// plus a final check that the path stays under root) before any path is
// built, so no key reaches outside root; keys under ".tmp/" are reserved and
// refused. Writes go to a new file in root/.tmp: an unnamed one (O_TMPFILE,
// Linux, when Open's probe finds root's file system has them) that is
// fsynced and then linked to its key (linkat through /proc/self/fd), or
// else a named temporary file that is fsynced and renamed to its key; the
// key's directory is then fsynced (as are directories Put creates), so a
// Put that returns nil survives a crash and a Put that fails or is
// interrupted leaves nothing visible (an unnamed file vanishes with its
// descriptor, or at the next mount after a crash). The link of an unnamed
// file is made durable by that directory fsync, which on journaling file
// systems (ext4, xfs) commits the new entry and the file's link count in one
// transaction. A free-space floor
// (Options.MinFree) refuses writes with errs.NoSpace before the disk fills.
//
// One Driver per root: two processes sharing a root are not supported.
package disk
