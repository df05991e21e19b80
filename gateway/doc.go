// Package gateway wires Tusk's server: configuration, the stores (meta on
// Badger, blob on disk or S3), users, keys and permissions, the S3 handler,
// health and Prometheus metrics, request logging, and graceful shutdown.
// Backend implements s3api.Backend over meta and blob; Auth implements
// s3api.Auth and sigv4.Credentials with secrets encrypted at rest.
package gateway
