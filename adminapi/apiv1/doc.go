// Package apiv1 holds the wire types of Tusk's admin API (/api/v1,
// docs/api.md): the JSON request and answer bodies and the error body
// (APIError), shared by the server (adminapi) and its clients (the tusk
// CLI). It is a leaf: it imports only the standard library, so a client
// depends on nothing of the server. The pipeline calls' types are in
// adminapi/pipev1.
package apiv1
