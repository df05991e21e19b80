// Package auth is Tusk's account store: users, their per-repo permissions
// (read, write, admin) and access keys, whose secrets are kept sealed with
// the server key (AES-256-GCM). It answers the S3 layer's questions
// (s3api.Auth: may this user do this on that repo; sigv4.Credentials: the
// secret and user of an access key) and backs the admin API's user and key
// calls. The records live in the metadata store (meta); this package owns
// only their rules.
package auth
