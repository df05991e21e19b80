// Package adminapi is Tusk's JSON admin API under /api/v1 (docs/api.md):
// repos, branches, tags, commits, objects, purge, users, keys, permissions,
// the audit log, gc and pipelines. New builds it from its dependencies
// (Deps: the metadata store, auth, the S3 backend, the pipelines service
// and the server operations in Ops); the gateway mounts it. Calls are
// signed with SigV4 or HTTP basic auth (access key id and secret), or
// anonymous (public repos only).
//
// Errors are internal/errs errors; toAPIError (errors.go) is the one table
// that turns their kinds and codes into HTTP statuses and JSON error codes.
// The wire types are in apiv1 (a leaf the CLI imports) and pipev1.
package adminapi
