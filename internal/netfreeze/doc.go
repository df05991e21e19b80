// Package netfreeze is a TCP proxy for tests that can freeze the server
// behind it as a SIGSTOPped process is frozen: connections are still
// accepted (the kernel does that), and no byte moves either way until it
// thaws; then what was held goes through.
package netfreeze
