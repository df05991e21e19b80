package s3api

// Exported for the package's external tests (conformance_test.go): the
// in-memory TEST DOUBLE backend of fake_test.go with its own fakeAuth, in
// which user "admin" may do everything and any other user nothing.
func NewFakeBackend() Backend { return newFakeBackend() }
