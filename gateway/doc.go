// Package gateway wires Tusk's server: configuration, the stores (meta,
// blob on disk or S3), the account store (auth), the S3 handler (s3api),
// the admin API (adminapi), health and Prometheus metrics behind one
// router, request logging, garbage collection, the byte side of purges,
// the pipelines service, and graceful shutdown. Backend implements
// s3api.Backend over meta and blob.
package gateway
