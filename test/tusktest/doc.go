// Package tusktest holds what the end-to-end test packages share about the
// real `tusk` binary: Binary returns $TUSK_BIN (make test builds one for
// every package) or builds cmd/tusk once per test process.
package tusktest
