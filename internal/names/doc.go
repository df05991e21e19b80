// Package names is the one place for Tusk's name and key rules (SPEC §1
// and §2): repo names, branch and tag names, commit ids and prefixes, object
// keys, user names, and how an S3 bucket name reads as REF.REPO.
//
// Every check returns nil or an *errs.Error of kind Invalid with reason
// Name (repo, branch, tag and bucket names), Key (keys) or User (user
// names); a key over MaxKeyLen is TooLarge with reason Key. The protocol
// layers pick the wire codes.
package names
